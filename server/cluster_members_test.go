package server

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
)

// nodeIDs returns the node IDs s lists in CLUSTER NODES.
func nodeIDs(t testing.TB, s *Server) []string {
	t.Helper()
	rc := newClient(t, s, nil)
	text, err := do(t, rc, "CLUSTER", "NODES")
	if err != nil {
		t.Fatalf("CLUSTER NODES: %v", err)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(text.(string)), "\n") {
		ids = append(ids, strings.Fields(l)[0])
	}
	return ids
}

func TestClusterJoinAndLeave(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	// A node that joins appears in every CLUSTER NODES.
	late := startClusterNode(t, nodes[2].cl.node.Load().GossipAddr(), nil)
	lateID := late.cl.node.Load().ID()
	all := append(append([]*Server(nil), nodes...), late)
	waitUntil(t, func() bool {
		for _, s := range all {
			if ids := nodeIDs(t, s); len(ids) != 4 || !strings.Contains(strings.Join(ids, " "), lateID) {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprint(nodeIDs(t, nodes[0])) })
	// A node that closes disappears from every survivor's.
	goneID := nodes[1].cl.node.Load().ID()
	_ = nodes[1].Close()
	survivors := []*Server{nodes[0], nodes[2], late}
	waitUntil(t, func() bool {
		for _, s := range survivors {
			if ids := nodeIDs(t, s); len(ids) != 3 || strings.Contains(strings.Join(ids, " "), goneID) {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprint(nodeIDs(t, nodes[0])) })
	// The survivors' slot maps converge (staged moves take a few tables).
	clients := make([]*redis.Client, len(survivors))
	for i, s := range survivors {
		clients[i] = newClient(t, s, nil)
	}
	var texts []string
	waitUntil(t, func() bool {
		texts = texts[:0]
		for _, rc := range clients {
			texts = append(texts, clusterSlotsText(t, rc))
		}
		return texts[0] == texts[1] && texts[1] == texts[2]
	}, func() string { return "survivors disagree on CLUSTER SLOTS: " + strings.Join(texts, " | ") })
}

func TestClusterMeetAndReset(t *testing.T) {
	a := startClusterNode(t, "", nil)
	b := startClusterNode(t, "", nil)
	rc := newClient(t, a, nil)
	_, bport, _ := config.SplitHostPort(b.Addr())
	_, gport, _ := config.SplitHostPort(b.cl.node.Load().GossipAddr())
	mustDo(t, rc, "CLUSTER", "MEET", "127.0.0.1", bport, gport)
	waitMembers(t, []*Server{a, b}, 2)
	// RESET: a leaves and is a one-node cluster again; HARD takes a new ID.
	oldID := a.cl.node.Load().ID()
	mustDo(t, rc, "CLUSTER", "RESET", "HARD")
	if a.cl.node.Load().ID() == oldID {
		t.Fatal("RESET HARD kept the node ID")
	}
	waitMembers(t, []*Server{a}, 1)
	waitUntil(t, func() bool {
		ids := nodeIDs(t, b)
		return len(ids) == 1
	}, func() string { return fmt.Sprint(nodeIDs(t, b)) })
	if got := mustDo(t, rc, "CLUSTER", "INFO").(string); !strings.Contains(got, "cluster_known_nodes:1\r\n") {
		t.Fatalf("after RESET: %s", got)
	}
	// Then either every slot is a's again (its one-node table), or b, which
	// still reaches a's gossip address, takes a back as a new member under
	// its new ID (unlike Redis, where only a MEET brings it back): never the
	// old membership.
	newID := a.cl.node.Load().ID()
	waitUntil(t, func() bool {
		if _, err := do(t, rc, "SET", "k", "v"); err == nil {
			return true
		}
		ids := nodeIDs(t, b)
		return len(ids) == 2 && slices.Contains(ids, newID) && !slices.Contains(ids, oldID)
	}, func() string {
		_, err := do(t, rc, "SET", "k", "v")
		return fmt.Sprint("SET after RESET: ", err, "; b knows ", nodeIDs(t, b))
	})
}

func TestClusterRedisCLIFollowsMoved(t *testing.T) {
	cli := redisTool(t, "redis-cli")
	nodes := startCluster(t, 3, nil)
	h, p := hostPort(t, nodes[0])
	for i := range 20 {
		k := fmt.Sprintf("cli%d", i)
		out, err := exec.Command(cli, "-c", "-h", h, "-p", p, "SET", k, "v"+k).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("redis-cli -c SET: %v %q", err, out)
		}
		out, err = exec.Command(cli, "-c", "-h", h, "-p", p, "GET", k).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "v"+k {
			t.Fatalf("redis-cli -c GET: %v %q", err, out)
		}
		if got := ownerOf(nodes, k).Store().DBSize(0); got == 0 {
			t.Fatalf("owner of %s holds no key", k)
		}
	}
}

func TestClusterRedisBenchmark(t *testing.T) {
	bench := redisTool(t, "redis-benchmark")
	nodes := startCluster(t, 3, nil)
	h, p := hostPort(t, nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bench, "--cluster", "-h", h, "-p", p, "-t", "set,get",
		"-n", "20000", "-c", "20", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark --cluster: %v\n%s", err, out)
	}
	text := string(out)
	if strings.Contains(strings.ToLower(text), "error") || !strings.Contains(text, "SET:") || !strings.Contains(text, "GET:") {
		t.Fatalf("redis-benchmark output:\n%s", text)
	}
	for _, s := range nodes {
		if s.Store().DBSize(0) == 0 {
			t.Fatalf("%s got no keys", s.Addr())
		}
	}
	t.Logf("%s", text)
}

// TestClusterClientThroughJoin runs a go-redis ClusterClient workload while
// a node joins: redirects are followed with no error (a key whose slot
// moved is a miss on its new owner, which the workload allows).
func TestClusterClientThroughJoin(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	cc := newClusterClient(t, nodes[0].Addr())
	ctx := ctxT(t)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			k := fmt.Sprintf("j%d", i%500)
			if err := cc.Set(ctx, k, "v", 0).Err(); err != nil {
				done <- fmt.Errorf("SET %s: %w", k, err)
				return
			}
			if err := cc.Get(ctx, k).Err(); err != nil && err != redis.Nil {
				done <- fmt.Errorf("GET %s: %w", k, err)
				return
			}
		}
	}()
	var once sync.Once
	var werr error
	halt := func() error {
		once.Do(func() { close(stop); werr = <-done })
		return werr
	}
	defer func() { _ = halt() }() // on a failed wait too: the writer ends before the test
	late := startClusterNode(t, nodes[0].cl.node.Load().GossipAddr(), nil)
	waitMembers(t, append(nodes, late), 4)
	// Keep going until the client has been redirected to the new node.
	waitUntil(t, func() bool { return late.Store().DBSize(0) > 0 }, func() string { return "no key reached the new node" })
	if err := halt(); err != nil {
		t.Fatal(err)
	}
}
