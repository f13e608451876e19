package server

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/server/config"
)

// TestRestartedNodeRoutesByNoOldTable: a node killed and restarted at once
// under its old ID, RESP port and gossip port adopts the old member's table
// as soon as a peer's gossip brings it, possibly before routing reads the
// node's first table (startNode). CI run 119 lost every write to the
// victim's slots that WAIT 1 had acknowledged that way: the restarted
// process routed by the old table, became primary of its old slots with an
// empty store, and sent their empty snapshots to the survivors' replicas,
// which held the only copies, before the cluster planned it out. Here the
// test hook holds startNode until the node has found itself in the old
// table; then the node must route by no slot of it, and every acknowledged
// write must read back once the cluster settled with the node back in.
func TestRestartedNodeRoutesByNoOldTable(t *testing.T) {
	nw, nodes, mutate := startNetCluster(t, 3, 1)
	victim := lastNonCoordinator(nodes)
	victimID := victim.cl.node.Load().ID()
	old := nodes[0].cl.view.Load().t
	var addrs []string
	for _, s := range nodes {
		addrs = append(addrs, s.Addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acked := map[string]string{}
	for s, k := range slotKeys() {
		if len(acked) == 64 {
			break
		}
		if old.Owner(s).ID != victimID {
			continue
		}
		v := "v" + strconv.Itoa(s)
		pollFor(t, "SET + WAIT 1 of "+k, func() bool {
			n, err := setWait(ctx, cc, k, v, 1)
			return err == nil && n == 1
		})
		acked[k] = v
	}

	_, respPort, _ := net.SplitHostPort(victim.Addr())
	_, gossipPort, _ := net.SplitHostPort(victim.cl.node.Load().GossipAddr())
	seed := lowestID(nodes).cl.node.Load().GossipAddr()
	crashNode(nw, nodes, victim)
	nw.Heal() // the old process is closed: its addresses are the new one's
	var found atomic.Bool
	startedHook = func(n *cluster.Node) {
		for deadline := time.Now().Add(10 * time.Second); !n.Restarted() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		found.Store(n.Restarted())
	}
	defer func() { startedHook = nil }()
	again := startClusterNode(t, seed, func(c *config.Config) {
		mutate(c)
		c.Cluster.NodeID = victimID
		c.Port, _ = strconv.Atoi(respPort)
		gp, _ := strconv.Atoi(gossipPort)
		c.Cluster.Transport = func(host string) (cluster.Transport, error) { return nw.TransportOn(host, gp) }
	})
	startedHook = nil
	if !found.Load() {
		t.Fatalf("the restarted node did not find itself in the old table within 10 s: the case this test is about did not happen")
	}
	if v := again.cl.view.Load(); v.t.Version() <= old.Version() && ownedBy(v) > 0 {
		t.Errorf("the restarted node routes by table %d (the old member's is %d), as primary of %d slots", v.t.Version(), old.Version(), ownedBy(v))
	}

	members := append(without(nodes, victim), again)
	pollFor(t, "the cluster settles with the restarted node", func() bool { return settled(t, members, members) })
	readsBackAny(t, checkSettledCluster(t, members), wantAcked(acked))
	t.Logf("%d keys acknowledged on %s before the kill read back; the restarted node is primary of %d slots (table %d)",
		len(acked), victimID[:8], ownedBy(again.cl.view.Load()), again.cl.view.Load().t.Version())
}

// ownedBy returns how many slots v gives its node as primary.
func ownedBy(v *clusterView) int {
	n := 0
	for s := range cluster.NumSlots {
		if v.self >= 0 && v.t.OwnerIndex(s) == v.self {
			n++
		}
	}
	return n
}
