package server

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/peer"
)

// rawPipeline writes every request in one write and reads as many replies
// (or want replies when want >= 0), each as its RESP bytes.
func rawPipeline(t *testing.T, nc net.Conn, br *bufio.Reader, reqs [][]string, want int) []string {
	t.Helper()
	var buf []byte
	for _, r := range reqs {
		args := make([][]byte, len(r))
		for i, a := range r {
			args[i] = []byte(a)
		}
		buf = protocol.AppendCommand(buf, args...)
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(buf); err != nil {
		t.Fatal(err)
	}
	if want < 0 {
		want = len(reqs)
	}
	out := make([]string, want)
	for i := range out {
		b, err := peer.ReadRaw(br, nil)
		if err != nil {
			t.Fatalf("reply %d of %d: %v", i, want, err)
		}
		out[i] = string(b)
	}
	return out
}

// TestClusterProxyPipelineOrder sends pipelines that mix this node's keys,
// other nodes' keys (forwarded, their replies owed until the connection
// settles), keyless commands (which settle first), errors from the owner,
// more requests than a connection may owe at once (maxOwed) and CLIENT
// REPLY OFF/SKIP, and checks every reply in order.
func TestClusterProxyPipelineOrder(t *testing.T) {
	nodes := startCluster(t, 3, proxyMode)
	s := nodes[0]
	v := s.cl.view.Load()
	var mine, other []string
	for i := 0; len(mine) < 40 || len(other) < 160; i++ {
		k := fmt.Sprintf("po%d", i)
		if v.t.OwnerIndex(keySlot(k)) == v.self {
			mine = append(mine, k)
		} else {
			other = append(other, k)
		}
	}
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)

	// 200 SETs and 200 GETs, one of this node's keys after every four
	// forwarded ones, a PING and a DBSIZE among them, an error from an owner.
	var keys []string
	for i := range 40 {
		keys = append(keys, other[4*i:4*i+4]...)
		keys = append(keys, mine[i])
	}
	var reqs [][]string
	var want []string
	for i, k := range keys {
		reqs = append(reqs, []string{"SET", k, fmt.Sprint("v", i)})
		want = append(want, "+OK\r\n")
		if i == 97 {
			reqs = append(reqs, []string{"PING", "mid"})
			want = append(want, "$3\r\nmid\r\n")
		}
	}
	reqs = append(reqs, []string{"INCR", other[0]}, []string{"INCR", mine[0]})
	want = append(want, "-ERR value is not an integer or out of range\r\n", "-ERR value is not an integer or out of range\r\n")
	for i, k := range keys {
		val := fmt.Sprint("v", i)
		reqs = append(reqs, []string{"GET", k})
		want = append(want, fmt.Sprintf("$%d\r\n%s\r\n", len(val), val))
	}
	got := rawPipeline(t, nc, br, reqs, -1)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reply %d to %q = %q, want %q", i, reqs[i], got[i], want[i])
		}
	}

	// CLIENT REPLY: OFF drops the replies of forwarded and local commands
	// alike, SKIP the next one's only.
	got = rawPipeline(t, nc, br, [][]string{
		{"CLIENT", "REPLY", "OFF"},
		{"SET", other[1], "off"}, {"GET", other[1]}, {"SET", mine[1], "off"},
		{"CLIENT", "REPLY", "ON"},
		{"CLIENT", "REPLY", "SKIP"},
		{"GET", other[1]},
		{"GET", other[2]},
		{"GET", mine[1]},
	}, 3)
	if want := []string{"+OK\r\n", "$2\r\nv2\r\n", "$3\r\noff\r\n"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("CLIENT REPLY pipeline: %q, want %q", got, want)
	}
	// Every forwarded request's reply was taken (CLUSTER INFO's stats).
	if s.cl.sent.Load() < 300 || s.cl.received.Load() != s.cl.sent.Load() {
		t.Fatalf("node-to-node messages sent %d, received %d", s.cl.sent.Load(), s.cl.received.Load())
	}
}
