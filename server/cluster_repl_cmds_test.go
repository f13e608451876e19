package server

import (
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/store"
)

// TestReplicaTopologyFormats: with cluster-replicas 1, CLUSTER SHARDS,
// NODES, REPLICAS and ROLE describe the replicas as the slot table has them,
// in formats go-redis and redis-cli --cluster check parse.
func TestReplicaTopologyFormats(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	conns := connsTo(t, nodes)
	ctx := ctxT(t)
	writeMix(t, nodes, conns, "t", 300)
	for _, s := range nodes {
		if n, err := conns[s].Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
			t.Fatalf("WAIT: %d %v", n, err)
		}
	}
	v := nodes[0].cl.view.Load()
	for _, s := range nodes {
		c := conns[s]
		self := s.cl.node.Load().ID()
		checkShards(t, s, c, v)
		// REPLICAS: the nodes that replicate any of this node's slots.
		want := map[string]bool{}
		for slot := range store.Slots {
			if p := v.t.Preference(slot); p[0].ID == self {
				for _, m := range p[1:] {
					want[m.ID] = true
				}
			}
		}
		for _, sub := range []string{"REPLICAS", "SLAVES"} {
			lines, err := c.Do(ctx, "CLUSTER", sub, self).StringSlice()
			if err != nil || len(lines) != len(want) || len(want) == 0 {
				t.Fatalf("CLUSTER %s %s = %q %v; want %d lines", sub, self, lines, err, len(want))
			}
			for _, l := range lines {
				if f := strings.Fields(l); len(f) < 8 || !want[f[0]] || f[2] != "master" || f[3] != "-" {
					t.Fatalf("CLUSTER %s line %q", sub, l)
				}
			}
		}
		checkRole(t, s, c)
	}
	cli := redisTool(t, "redis-cli")
	h, p := hostPort(t, nodes[1])
	out, err := exec.CommandContext(ctx, cli, "--cluster", "check", h+":"+p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[OK] All 16384 slots covered.") ||
		!strings.Contains(string(out), "[OK] All nodes agree about slots configuration.") {
		t.Fatalf("redis-cli --cluster check: %v\n%s", err, out)
	}
}

// checkShards parses CLUSTER SHARDS as go-redis does and compares it with
// the table: every slot once, each shard's nodes its preference list; the
// replicas of s's own shards are online with an acknowledged offset.
func checkShards(t *testing.T, s *Server, c *redis.Conn, v *clusterView) {
	t.Helper()
	shards, err := c.ClusterShards(ctxT(t)).Result()
	if err != nil {
		t.Fatal(err)
	}
	self := s.cl.node.Load().ID()
	seen := make([]bool, store.Slots)
	for _, sh := range shards {
		for _, r := range sh.Slots {
			for slot := r.Start; slot <= r.End; slot++ {
				p := v.t.Preference(int(slot))
				if seen[slot] || len(sh.Nodes) != len(p) {
					t.Fatalf("slot %d listed twice or with %d nodes", slot, len(sh.Nodes))
				}
				seen[slot] = true
				for i, m := range p {
					if sh.Nodes[i].ID != m.ID || sh.Nodes[i].Port != int64(m.Port) || sh.Nodes[i].IP != m.Host {
						t.Fatalf("slot %d: node %d is %+v, want %s", slot, i, sh.Nodes[i], m.ID)
					}
				}
			}
		}
		if sh.Nodes[0].Role != "master" || sh.Nodes[1].Role != "replica" {
			t.Fatalf("roles %q %q", sh.Nodes[0].Role, sh.Nodes[1].Role)
		}
		if sh.Nodes[0].ID == self && (sh.Nodes[1].Health != "online" || sh.Nodes[1].ReplicationOffset <= 0 ||
			sh.Nodes[0].ReplicationOffset < sh.Nodes[1].ReplicationOffset) {
			t.Fatalf("%s's shard: replica %+v, primary offset %d", self, sh.Nodes[1], sh.Nodes[0].ReplicationOffset)
		}
	}
	if i := slices.Index(seen, false); i >= 0 {
		t.Fatalf("CLUSTER SHARDS misses slot %d", i)
	}
}

// checkRole checks ROLE's master form: the node's offset and, per replica
// link, the replica's RESP address and acknowledged offset.
func checkRole(t *testing.T, s *Server, c *redis.Conn) {
	t.Helper()
	role, err := c.Do(ctxT(t), "ROLE").Slice()
	if err != nil || len(role) != 3 || role[0] != "master" {
		t.Fatalf("ROLE = %v %v", role, err)
	}
	off := role[1].(int64)
	reps := role[2].([]any)
	var addrs []string
	for _, r := range reps {
		e := r.([]any)
		ack, err := strconv.ParseInt(e[2].(string), 10, 64)
		if len(e) != 3 || err != nil || ack <= 0 || ack > off {
			t.Fatalf("ROLE replica entry %v (offset %d)", e, off)
		}
		addrs = append(addrs, e[0].(string)+":"+e[1].(string))
	}
	var want []string
	v := s.cl.view.Load()
	self := s.cl.node.Load().ID()
	for _, m := range v.t.Members() {
		for slot := range store.Slots {
			if p := v.t.Preference(slot); p[0].ID == self && slices.ContainsFunc(p[1:], func(x cluster.Member) bool { return x.ID == m.ID }) {
				want = append(want, m.Addr())
				break
			}
		}
	}
	sort.Strings(addrs)
	sort.Strings(want)
	if fmt.Sprint(addrs) != fmt.Sprint(want) {
		t.Fatalf("ROLE replicas %v, want %v", addrs, want)
	}
}

// TestReplicaClientsRoute: go-redis ClusterClient with ReadOnly, and
// redis-cli -c, work against replicated nodes. (RouteByLatency:
// cluster_repl_latency_test.go, built without -race.)
func TestReplicaClientsRoute(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	ctx := ctxT(t)
	checkClusterClient(t, &redis.ClusterOptions{Addrs: []string{nodes[0].Addr()}, ReadOnly: true})
	cli := redisTool(t, "redis-cli")
	h, p := hostPort(t, nodes[2])
	for i := range 20 {
		k := fmt.Sprintf("cli:%d", i)
		if out, err := exec.CommandContext(ctx, cli, "-c", "-h", h, "-p", p, "SET", k, "v").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("redis-cli -c SET: %v %s", err, out)
		}
		if out, err := exec.CommandContext(ctx, cli, "-c", "-h", h, "-p", p, "GET", k).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "v" {
			t.Fatalf("redis-cli -c GET: %v %s", err, out)
		}
	}
}

// checkClusterClient writes 200 keys through a ClusterClient made with opt
// and reads each back (a replica may lag: within the poll's deadline).
func checkClusterClient(t *testing.T, opt *redis.ClusterOptions) {
	t.Helper()
	ctx := ctxT(t)
	cc := redis.NewClusterClient(opt)
	defer cc.Close()
	for i := range 200 {
		k := fmt.Sprintf("rc:%d", i)
		if err := cc.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		k := fmt.Sprintf("rc:%d", i)
		var got string
		var err error
		waitUntil(t, func() bool { got, err = cc.Get(ctx, k).Result(); return err == nil && got == k },
			func() string { return fmt.Sprintf("GET %s = %q %v", k, got, err) })
	}
}
