package cluster

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// crash stops the node without a leave broadcast, as a killed process would
// (peers must detect it by probing). Test-only.
func (n *Node) crash() error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(false) })
	return n.closeErr
}

// setBan changes how long Forget keeps a node out. Test-only.
func (n *Node) setBan(d time.Duration) {
	n.mu.Lock()
	n.banFor = d
	n.mu.Unlock()
}

// startNode starts a node on 127.0.0.1 at a free gossip port and closes it at
// the end of the test.
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	cfg.BindAddr = "127.0.0.1"
	if cfg.AnnounceHost == "" {
		cfg.AnnounceHost = "127.0.0.1"
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// startCluster starts k nodes; all but the first join the first in the
// background (Config.Join). It does not wait for convergence.
func startCluster(t testing.TB, k int, cfg Config) []*Node {
	t.Helper()
	first := cfg
	first.AnnouncePort = 7000
	nodes := []*Node{startNode(t, first)}
	for i := 1; i < k; i++ {
		c := cfg
		c.AnnouncePort = 7000 + i
		c.Join = []string{nodes[0].GossipAddr()}
		nodes = append(nodes, startNode(t, c))
	}
	return nodes
}

// converged reports whether every node's table has exactly the given nodes
// as members and all tables are the same agreed table: same version,
// planner and assignment of every slot.
func converged(nodes []*Node) bool {
	ids := map[string]bool{}
	for _, n := range nodes {
		ids[n.ID()] = true
	}
	first := nodes[0].Table()
	for _, n := range nodes {
		tab := n.Table()
		if tab.Len() != len(nodes) {
			return false
		}
		for _, m := range tab.Members() {
			if !ids[m.ID] {
				return false
			}
		}
		if tab.Version() != first.Version() || tab.Planner() != first.Planner() || !sameAssignment(first, tab) {
			return false
		}
	}
	return true
}

// views describes every node's table (version and member IDs), for failure
// messages.
func views(nodes []*Node) string {
	var b strings.Builder
	for _, n := range nodes {
		tab := n.Table()
		b.WriteString("\n  " + n.ID()[:8] + " v" + strconv.FormatUint(tab.Version(), 10) + ":")
		for _, m := range tab.Members() {
			b.WriteString(" " + m.ID[:8])
		}
		b.WriteString(" (memberlist knows " + strconv.Itoa(n.KnownPeers()) + ")")
	}
	return b.String()
}

// waitConverged waits until converged(nodes) holds, or fails the test with
// every node's view.
func waitConverged(t testing.TB, nodes []*Node, what string) {
	t.Helper()
	deadline := time.Now().Add(convergeWithin)
	for !converged(nodes) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; views:%s", what, convergeWithin, views(nodes))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond every few milliseconds until it holds or d passes, and
// returns how long it took.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not reached within %v", what, d)
		}
		<-tick.C
	}
	return time.Since(start)
}

// logRecorder is a slog.Handler keeping every message with its attributes
// ("key=value"), for assertions.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	r.msgs = append(r.msgs, line)
	r.mu.Unlock()
	return nil
}

// count returns how many recorded messages contain s.
func (r *logRecorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := 0
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			c++
		}
	}
	return c
}
