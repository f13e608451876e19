package server

import (
	"fmt"
	"strings"
	"testing"
)

// libraryNames is the node's loaded libraries, "name,name".
func libraryNames(s *Server) string {
	var names []string
	for _, lib := range s.scripts.ListLibraries() {
		names = append(names, lib.Name)
	}
	return strings.Join(names, ",")
}

// waitLibraries waits until every node holds exactly the libraries want.
func waitLibraries(t *testing.T, nodes []*Server, want string) {
	t.Helper()
	waitUntil(t, func() bool {
		for _, s := range nodes {
			if libraryNames(s) != want {
				return false
			}
		}
		return true
	}, func() string {
		var b strings.Builder
		for _, s := range nodes {
			fmt.Fprintf(&b, "%s holds %q; ", s.Addr(), libraryNames(s))
		}
		return "libraries " + want + " everywhere: " + b.String()
	})
}

const (
	libA = "#!lua name=liba\nredis.register_function('fa', function(keys, args) return 'a' end)"
	libB = "#!lua name=libb\nredis.register_function{function_name='fb', callback=function(keys, args) return 'b' end, flags={'no-writes'}}"
)

// TestFunctionsAreClusterWide: a FUNCTION LOAD, DELETE, RESTORE or FLUSH on
// one node reaches every member, and a node that joins later gets the set,
// so FCALL finds its function wherever its slot goes.
func TestFunctionsAreClusterWide(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	c0 := newClient(t, nodes[0], nil)
	if got := mustDo(t, c0, "FUNCTION", "LOAD", libA); got != "liba" {
		t.Fatalf("FUNCTION LOAD = %v", got)
	}
	waitLibraries(t, nodes, "liba")
	c2 := newClient(t, nodes[2], nil)
	if got := mustDo(t, c2, "FCALL", "fa", "0"); got != "a" {
		t.Fatalf("FCALL fa on another node = %v", got)
	}

	// A change on another node: the newer set wins everywhere.
	c1 := newClient(t, nodes[1], nil)
	mustDo(t, c1, "FUNCTION", "LOAD", libB)
	waitLibraries(t, nodes, "liba,libb")
	mustDo(t, c2, "FUNCTION", "DELETE", "liba")
	waitLibraries(t, nodes, "libb")

	// A node that joins later gets the set.
	nodes = append(nodes, startClusterNode(t, nodes[0].cl.node.Load().GossipAddr(), nil))
	waitLibraries(t, nodes, "libb")
	c3 := newClient(t, nodes[3], nil)
	if got := mustDo(t, c3, "FCALL_RO", "fb", "0"); got != "b" {
		t.Fatalf("FCALL_RO fb on the joined node = %v", got)
	}

	// RESTORE and FLUSH travel too.
	dump := mustDo(t, c3, "FUNCTION", "DUMP").(string)
	mustDo(t, c3, "FUNCTION", "FLUSH")
	waitLibraries(t, nodes, "")
	mustDo(t, c0, "FUNCTION", "RESTORE", dump)
	waitLibraries(t, nodes, "libb")
	// A refused change (the library exists) changes nothing and pushes nothing.
	wantErr(t, c1, "ERR Library 'libb' already exists", "FUNCTION", "LOAD", libB)
}

// TestXFunctionsTakesOnlyNewer: a pushed set replaces the node's only if
// its (version, origin) is higher; bad payloads are refused.
func TestXFunctionsTakesOnlyNewer(t *testing.T) {
	s := startClusterNode(t, "", nil)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "FUNCTION", "LOAD", libA) // version 1, origin: this node
	mustDo(t, rc, "FUNCTION", "LOAD", libB) // version 2
	dumpAB := mustDo(t, rc, "FUNCTION", "DUMP").(string)
	mustDo(t, rc, "FUNCTION", "DELETE", "libb") // version 3
	self := s.cl.node.Load().ID()
	if got := mustDo(t, rc, "CLUSTER", "X-FUNCTIONS", "2", "zzzz", dumpAB); got != int64(0) {
		t.Fatalf("older version taken: %v", got)
	}
	if got := libraryNames(s); got != "liba" {
		t.Fatalf("after an older push: %q", got)
	}
	// Same version: the higher origin wins.
	lower, higher := "", self+"z"
	if got := mustDo(t, rc, "CLUSTER", "X-FUNCTIONS", "3", lower, dumpAB); got != int64(0) {
		t.Fatalf("same version, lower origin taken: %v", got)
	}
	if got := mustDo(t, rc, "CLUSTER", "X-FUNCTIONS", "3", higher, dumpAB); got != int64(1) {
		t.Fatalf("same version, higher origin not taken: %v", got)
	}
	if got := libraryNames(s); got != "liba,libb" {
		t.Fatalf("after a newer push: %q", got)
	}
	wantErr(t, rc, "ERR DUMP payload version or checksum are wrong", "CLUSTER", "X-FUNCTIONS", "9", "x", "junk")
	wantErr(t, rc, "ERR invalid library version", "CLUSTER", "X-FUNCTIONS", "v", "x", dumpAB)
	if got := libraryNames(s); got != "liba,libb" {
		t.Fatalf("after refused pushes: %q", got)
	}
	// A local change after a push numbers above it.
	mustDo(t, rc, "FUNCTION", "FLUSH")
	if got := mustDo(t, rc, "CLUSTER", "X-FUNCTIONS", "3", higher+"z", dumpAB); got != int64(0) {
		t.Fatalf("a push older than the local change was taken: %v", got)
	}
}
