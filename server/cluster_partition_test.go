package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/clustertest"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
)

// partitionWait bounds the waits of partition tests: failure detection,
// re-planning and re-joining after a heal (re-join back-off up to 10 s).
const partitionWait = 45 * time.Second

// pollFor polls cond until it holds or partitionWait passes.
func pollFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(partitionWait)
	polls := 0
	for !cond() {
		if time.Now().After(deadline) {
			dumpStacks(t)
			t.Fatalf("%s: not reached within %v", what, partitionWait)
		}
		pollPause(&polls)
	}
}

// oneTable reports whether every node serves (state ok) the same table
// version with exactly len(nodes) members.
func oneTable(nodes []*Server) bool {
	v := nodes[0].cl.view.Load().t.Version()
	for _, s := range nodes {
		if s.cl.down() || s.cl.view.Load().t.Version() != v || s.cl.view.Load().t.Len() != len(nodes) ||
			s.cl.view.Load().t.Staged() != 0 || !s.cl.view.Load().t.Balanced() { // slot moves finished (handoff.go)
			return false
		}
	}
	return true
}

func clusterStateOf(t *testing.T, rc *redis.Client) string {
	t.Helper()
	info, err := rc.ClusterInfo(ctxT(t)).Result()
	if err != nil {
		t.Fatalf("CLUSTER INFO: %v", err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "cluster_state:"); ok {
			return v
		}
	}
	t.Fatalf("no cluster_state in %q", info)
	return ""
}

// TestClusterPartitionMinorityDownHealNoStaleHits cuts the coordinator off
// from four nodes: it answers CLUSTERDOWN and cluster_state:fail, the four
// re-plan its slots and accept new values for its keys; after the heal all
// five hold one table, every node reads either the new value or a miss
// (never the isolated node's old copy), and the isolated node holds no key
// of a slot it does not own.
func TestClusterPartitionMinorityDownHealNoStaleHits(t *testing.T) {
	nw := clustertest.NewNet()
	nodes := startCluster(t, 5, func(c *config.Config) {
		c.Cluster.NodeTimeout = 200
		c.Cluster.Transport = nw.Transport
	})
	pollFor(t, "five nodes on one table", func() bool { return oneTable(nodes) })
	iso := nodes[0]
	for _, s := range nodes {
		if s.cl.node.Load().ID() < iso.cl.node.Load().ID() {
			iso = s
		}
	}
	var rest []*Server
	var restGossip []string
	for _, s := range nodes {
		if s != iso {
			rest = append(rest, s)
			restGossip = append(restGossip, s.cl.node.Load().GossipAddr())
		}
	}
	isoRC := newClient(t, iso, nil)
	var keys []string
	for i := 0; len(keys) < 20; i++ {
		mine, _ := keysFor(t, iso, fmt.Sprintf("p%d-", i))
		keys = append(keys, mine)
		mustDo(t, isoRC, "set", mine, "old")
	}

	nw.Partition([]string{iso.cl.node.Load().GossipAddr()}, restGossip)
	pollFor(t, "the isolated node answers CLUSTERDOWN", func() bool {
		_, err := isoRC.Get(ctxT(t), keys[0]).Result()
		return err != nil && err.Error() == protocol.ErrClusterDown
	})
	wantErr(t, isoRC, protocol.ErrClusterDown, "set", keys[1], "during")
	if st := clusterStateOf(t, isoRC); st != "fail" {
		t.Fatalf("isolated node cluster_state %q, want fail", st)
	}
	pollFor(t, "the four re-plan without it", func() bool { return oneTable(rest) })
	for _, k := range keys {
		v := rest[0].cl.view.Load()
		owner := v.addrs[v.t.OwnerIndex(keySlot(k))]
		for _, s := range rest {
			if s.Addr() == owner {
				mustDo(t, newClient(t, s, nil), "set", k, "new")
			}
		}
	}

	nw.Heal()
	pollFor(t, "one table on all five after the heal", func() bool { return oneTable(nodes) })
	fresh := 0
	for _, s := range nodes {
		cc := newClusterClient(t, s.Addr())
		for _, k := range keys {
			got, err := cc.Get(ctxT(t), k).Result()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				t.Fatalf("GET %s via %s: %v", k, s.Addr(), err)
			case got == "old":
				t.Fatalf("GET %s via %s: stale value from before the partition", k, s.Addr())
			case got == "new":
				fresh++
			default:
				t.Fatalf("GET %s via %s = %q", k, s.Addr(), got)
			}
		}
	}
	v := iso.cl.view.Load()
	back := 0
	for _, k := range keys {
		if v.t.OwnerIndex(keySlot(k)) == v.self {
			back++ // the isolated node serves it again: it must have dropped "old"
		}
	}
	// All misses are allowed: a node that missed a table version (tables
	// churn on a loaded machine) drops every slot it owned, by design.
	t.Logf("after the heal: %d reads of the new value, %d of %d keys back on the isolated node", fresh, back, len(keys))
	// It may hold a slot again as its primary or as a replica (then it
	// receives a fresh copy); any other slot's keys must be gone.
	self := v.t.Member(v.self).ID
	for _, k := range keys {
		sl := keySlot(k)
		holds := slices.ContainsFunc(v.t.Preference(sl), func(m cluster.Member) bool { return m.ID == self })
		if !holds && iso.Store().CountKeysInSlot(sl) != 0 {
			t.Errorf("isolated node still holds keys of slot %d it neither serves nor replicates", sl)
		}
	}
	// How its old keys went (dropped as lost slots, or flushed when it
	// loaded a slot's snapshot as a replica) depends on which tables it
	// saw: only where they went is checked above.
	t.Logf("isolated node dropped %d keys of lost slots", iso.LostSlotKeys())
}

// TestClusterUnreachableSeedDownUntilJoined: a node whose seed is down
// answers CLUSTERDOWN, reports cluster_state:fail and is not ready until the
// seed comes up; a node without seeds is ok at once.
func TestClusterUnreachableSeedDownUntilJoined(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	joiner := startClusterNode(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
	rc := newClient(t, joiner, nil)
	wantErr(t, rc, protocol.ErrClusterDown, "get", "k")
	wantErr(t, rc, protocol.ErrClusterDown, "set", "k", "v")
	if st := clusterStateOf(t, rc); st != "fail" {
		t.Fatalf("cluster_state %q before joining, want fail", st)
	}
	if code, _ := readyzCode(t, joiner); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d before joining, want 503", code)
	}
	seed := startClusterNode(t, "", func(c *config.Config) { c.Cluster.Port = port })
	if seed.cl.down() {
		t.Fatal("a node without seeds is down at start")
	}
	pollFor(t, "joined", func() bool { return oneTable([]*Server{seed, joiner}) })
	if st := clusterStateOf(t, rc); st != "ok" {
		t.Fatalf("cluster_state %q after joining, want ok", st)
	}
	if code, _ := readyzCode(t, joiner); code != http.StatusOK {
		t.Fatalf("/readyz %d after joining, want 200", code)
	}
	// The joiner's slots answer TRYAGAIN until the seed's seal arrives
	// (repl_flip.go): a client retries that; the test waits it out.
	pollFor(t, "the hand-over sealed", func() bool {
		rs := joiner.repl.Load()
		return rs == nil || rs.gated.Load() == 0
	})
	mine, _ := keysFor(t, joiner, "k")
	mustDo(t, rc, "set", mine, "v")
}
