package server

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
)

// startClusterNode starts one cluster-enabled node on free ports, joining
// seed (a gossip address) if not empty.
func startClusterNode(t testing.TB, seed string, mutate func(c *config.Config)) *Server {
	t.Helper()
	return startServer(t, func(c *config.Config) {
		c.Cluster.Enabled = true
		c.Cluster.Port = 0 // port 0: a free gossip port too
		// Failure detection a loaded -race run cannot trip by itself: with
		// the LAN-fast defaults (100 ms probe timeout, 500 ms node timeout)
		// scheduling stalls on a busy 2-core machine made live nodes
		// suspect and re-plan. Tests that need other timings set them.
		c.Cluster.ProbeInterval, c.Cluster.ProbeTimeout, c.Cluster.NodeTimeout = testProbeInterval, testProbeTimeout, testNodeTimeout
		// Snapshots unpaced, as before repl-snapshot-pace defaulted to 25:
		// a paced sync of every slot outlasts the table changes of a
		// forming cluster, which cut it. TestSnapshotPaceDefault and the
		// binaries' tests (cmd/cached) run the default.
		c.Cluster.SnapshotPace = 100
		if seed != "" {
			c.Cluster.Join = []string{seed}
		}
		if mutate != nil {
			mutate(c)
		}
	})
}

// Failure-detector timings of test nodes, in ms (see startClusterNode).
const (
	testProbeInterval = 500
	testProbeTimeout  = 400
	testNodeTimeout   = 1500
)

// startCluster starts n nodes that join the first one and waits until every
// node sees all n.
func startCluster(t testing.TB, n int, mutate func(c *config.Config)) []*Server {
	t.Helper()
	nodes := []*Server{startClusterNode(t, "", mutate)}
	for range n - 1 {
		nodes = append(nodes, startClusterNode(t, nodes[0].cl.node.Load().GossipAddr(), mutate))
	}
	waitMembers(t, nodes, n)
	return nodes
}

// waitMembers waits (up to settleWait: slot moves sync the slots first,
// handoff.go) until every node's slot table has want members, no staged
// slot move and balanced primaries, and no node waits for a hand-over.
func waitMembers(t testing.TB, nodes []*Server, want int) {
	t.Helper()
	deadline := time.Now().Add(settleWait)
	polls := 0
	for {
		ok := true
		for _, s := range nodes {
			if t := s.cl.view.Load().t; t.Len() != want || t.Staged() != 0 || !t.Balanced() {
				ok = false
			}
			// A slot flipped to this node is served once the old primary's
			// seal arrived (TRYAGAIN until then, repl_flip.go).
			if rs := s.repl.Load(); rs != nil && rs.gated.Load() > 0 {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, s := range nodes {
				v := s.cl.view.Load()
				fmt.Fprintf(&b, "%s sees %d, %d staged; ", s.Addr(), v.t.Len(), v.t.Staged())
			}
			t.Fatalf("timed out waiting for a settled table: %s", b.String())
		}
		pollPause(&polls)
	}
}

// settleWait bounds waitMembers: a join's slots are synced before they
// move, which takes seconds on a loaded machine.
const settleWait = time.Minute

// ownerOf returns the node that owns key's slot, per nodes[0]'s table.
func ownerOf(nodes []*Server, key string) *Server {
	v := nodes[0].cl.view.Load()
	addr := v.addrs[v.t.OwnerIndex(keySlot(key))]
	for _, s := range nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// keyOwnedBy returns a key with the given prefix whose slot s owns, and one
// it does not own.
func keysFor(t testing.TB, s *Server, prefix string) (mine, other string) {
	t.Helper()
	v := s.cl.view.Load()
	for i := 0; mine == "" || other == ""; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if v.t.OwnerIndex(keySlot(k)) == v.self {
			if mine == "" {
				mine = k
			}
		} else if other == "" {
			other = k
		}
		if i > 100000 {
			t.Fatal("no keys found")
		}
	}
	return mine, other
}

// clusterSlotsText renders CLUSTER SLOTS as one comparable string.
func clusterSlotsText(t testing.TB, rc *redis.Client) string {
	t.Helper()
	//lint:ignore SA1019 cluster clients still read CLUSTER SLOTS
	slots, err := rc.ClusterSlots(ctxT(t)).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Start < slots[j].Start })
	var b strings.Builder
	for _, s := range slots {
		fmt.Fprintf(&b, "%d-%d:", s.Start, s.End)
		for _, n := range s.Nodes {
			b.WriteString(n.Addr + "/" + n.ID + ",")
		}
		b.WriteByte(';')
	}
	return b.String()
}

// clusterClient returns a go-redis ClusterClient seeded with one node.
func newClusterClient(t testing.TB, addr string) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr},
		DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, PoolSize: 4})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func keySlot(k string) int { return protocol.KeySlot([]byte(k)) }
