package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/clustertest"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
)

// slotKeys returns one key per slot ("fo:N" for the first N that hashes
// there).
func slotKeys() []string {
	keys := make([]string, cluster.NumSlots)
	left := cluster.NumSlots
	for i := 0; left > 0; i++ {
		k := fmt.Sprintf("fo:%d", i)
		if s := protocol.KeySlot([]byte(k)); keys[s] == "" {
			keys[s] = k
			left--
		}
	}
	return keys
}

// ackLog records what writers sent and what WAIT acknowledged.
type ackLog struct {
	mu      sync.Mutex
	acked   map[string]string // key -> value acknowledged by WAIT
	unacked map[string]string // key -> value written, WAIT short or failed
	errs    int
	lastErr error
}

func (a *ackLog) note(k, v string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok {
		a.acked[k] = v
		delete(a.unacked, k)
	} else {
		a.unacked[k] = v
	}
}

func (a *ackLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked)
}

// waitAcked waits (up to partitionWait) until n writes were acknowledged,
// failing with what the writers saw.
func (a *ackLog) waitAcked(t *testing.T, when string, n int) {
	t.Helper()
	deadline := time.Now().Add(partitionWait)
	polls := 0
	for a.count() < n {
		if time.Now().After(deadline) {
			dumpStacks(t)
			a.mu.Lock()
			defer a.mu.Unlock()
			t.Fatalf("writes acknowledged %s: %d of %d within %v (%d unacknowledged, %d errors, last error %v)",
				when, len(a.acked), n, partitionWait, len(a.unacked), a.errs, a.lastErr)
		}
		pollPause(&polls)
	}
}

// ackedWriter writes keys prefix:0, prefix:1, … until ctx ends: each SET
// goes through the ClusterClient's map (MasterForKey) and is followed by
// WAIT wait 1000 on the same connection; a write counts as acknowledged
// when WAIT answers at least wait. After an error it reloads the map.
func ackedWriter(ctx context.Context, cc *redis.ClusterClient, prefix string, wait int, log *ackLog) {
	for i := 0; ctx.Err() == nil; i++ {
		k, v := fmt.Sprintf("%s:%d", prefix, i), fmt.Sprintf("v%d", i)
		n, err := setWait(ctx, cc, k, v, wait)
		log.note(k, v, err == nil && n >= int64(wait))
		if err != nil {
			log.mu.Lock()
			log.errs++
			log.lastErr = err
			log.mu.Unlock()
			cc.ReloadState(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// setWait sets k on its primary (per cc's map) and waits for wait replicas.
func setWait(ctx context.Context, cc *redis.ClusterClient, k, v string, wait int) (int64, error) {
	c, err := cc.MasterForKey(ctx, k)
	if err != nil {
		return 0, err
	}
	pipe := c.Pipeline()
	set := pipe.Set(ctx, k, v, 0)
	w := pipe.Do(ctx, "WAIT", wait, 1000)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	if set.Err() != nil {
		return 0, set.Err()
	}
	return w.Int64()
}

// crashNode stops s as a killed process would look to its peers: its
// gossip is cut off first (no leave message reaches anyone), then it
// closes (clients and replication links see their connections drop).
func crashNode(nw *clustertest.Net, nodes []*Server, s *Server) {
	nw.Partition([]string{s.cl.node.Load().GossipAddr()}, othersGossip(nodes, s))
	_ = s.Close()
}

// startNetCluster starts n nodes with cluster-replicas replicas whose
// gossip goes through a clustertest.Net (crashNode cuts it), and waits
// until every node sees all n and every replica copy is live. mutate is
// the nodes' configuration, for nodes started later.
func startNetCluster(t *testing.T, n, replicas int) (nw *clustertest.Net, nodes []*Server, mutate func(c *config.Config)) {
	t.Helper()
	nw = clustertest.NewNet()
	mutate = func(c *config.Config) {
		c.Cluster.Replicas = replicas
		c.Cluster.Transport = nw.Transport
	}
	nodes = startCluster(t, n, mutate)
	waitReplSynced(t, nodes)
	return nw, nodes, mutate
}

// lowestID returns the node with the lowest cluster ID (the coordinator).
// othersGossip returns the gossip addresses of nodes other than s.
func othersGossip(nodes []*Server, s *Server) []string {
	var rest []string
	for _, o := range nodes {
		if o != s {
			rest = append(rest, o.cl.node.Load().GossipAddr())
		}
	}
	return rest
}

// lastNonCoordinator returns the last of nodes, or the one before it if
// the last has the lowest ID (the coordinator).
func lastNonCoordinator(nodes []*Server) *Server {
	if s := nodes[len(nodes)-1]; s != lowestID(nodes) {
		return s
	}
	return nodes[len(nodes)-2]
}

func lowestID(nodes []*Server) *Server {
	lo := nodes[0]
	for _, s := range nodes {
		if s.cl.node.Load().ID() < lo.cl.node.Load().ID() {
			lo = s
		}
	}
	return lo
}

// TestFailoverKeepsAcknowledgedWrites kills a node (gossip cut, then
// closed: no leave) under continuous go-redis writes, each followed by
// WAIT; afterwards every acknowledged key reads back with its value,
// every slot takes writes again, every range has its replicas again and
// replicas are identical to their primaries. With 2 replicas the sibling
// of the promoted replica continues from its backlog (no snapshot). The
// second case kills the coordinator, so the failover is planned by its
// successor (a separate 5-node case of that took 27 s of the package's
// -race run).
func TestFailoverKeepsAcknowledgedWrites(t *testing.T) {
	for _, tc := range []struct {
		nodes, replicas int
		coordinator     bool // kill the coordinator
	}{{3, 1, false}, {4, 2, true}} {
		t.Run(fmt.Sprintf("nodes=%d,replicas=%d,coordinator=%v", tc.nodes, tc.replicas, tc.coordinator), func(t *testing.T) {
			failoverRun(t, tc.nodes, tc.replicas, tc.coordinator)
		})
	}
}

func failoverRun(t *testing.T, n, replicas int, killCoordinator bool) {
	nw, nodes, _ := startNetCluster(t, n, replicas)
	victim := lowestID(nodes)
	if !killCoordinator {
		victim = lastNonCoordinator(nodes)
	}
	var all []string
	var survivors []*Server
	for _, s := range nodes {
		all = append(all, s.Addr())
		if s != victim {
			survivors = append(survivors, s)
		}
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: all, DialTimeout: time.Second,
		ReadTimeout: 2 * time.Second, PoolSize: 8})
	defer cc.Close()
	ctx, stop := context.WithTimeout(context.Background(), 3*time.Minute) // the writers stop with stop(); the polls bound the test
	defer stop()
	log := &ackLog{acked: map[string]string{}, unacked: map[string]string{}}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ackedWriter(ctx, cc, fmt.Sprintf("w%d", w), replicas, log)
		}()
	}
	defer func() { stop(); wg.Wait() }()
	log.waitAcked(t, "before the kill", 400)

	partial0 := continuedSlots(survivors)
	view0 := survivors[0].cl.view.Load()
	victimID := victim.cl.node.Load().ID()
	var affected []int
	for s := range cluster.NumSlots {
		if view0.t.Owner(s).ID == victimID {
			affected = append(affected, s)
		}
	}
	crashNode(nw, nodes, victim)
	t.Logf("killed %s (%d slots)", victimID[:8], len(affected))
	keys := slotKeys()
	pollFor(t, "writes to every slot of the dead node", func() bool {
		return writeSlots(ctx, cc, keys, &affected) == 0
	})
	log.waitAcked(t, "after the failover", 800)
	stop()
	wg.Wait()

	// Read back once the survivors settled: while slots still move, a read
	// may wait for a hand-over, and the check is about data, not timing.
	pollFor(t, "every range has its replicas again", func() bool { return replicasRestored(t, survivors, replicas, victimID) })
	waitReplSynced(t, survivors)
	checkAcked(t, survivors, log)
	checkReplicasIdentical(t, survivors)
	if partial := continuedSlots(survivors); replicas > 1 && partial == partial0 {
		t.Errorf("no sibling replica continued from the promoted node's backlog")
	}
}

// writeSlots writes the key of each slot in *slots through cc (following
// MOVED) and keeps in *slots those that failed; it returns how many did.
func writeSlots(ctx context.Context, cc *redis.ClusterClient, keys []string, slots *[]int) int {
	pipe := cc.Pipeline()
	cmds := make([]*redis.StatusCmd, len(*slots))
	for i, s := range *slots {
		cmds[i] = pipe.Set(ctx, keys[s], "probe", 0)
	}
	_, _ = pipe.Exec(ctx)
	var left []int
	for i, s := range *slots {
		if cmds[i].Err() != nil {
			left = append(left, s)
		}
	}
	*slots = left
	if len(left) > 0 {
		cc.ReloadState(ctx) // go-redis reloads by itself only on MOVED
	}
	return len(left)
}

// checkAcked reads every acknowledged key back from the survivors: it must
// hold the acknowledged value (or, for a key written again after its
// acknowledgement without one, that later value). Unacknowledged writes
// lost are logged.
func checkAcked(t *testing.T, survivors []*Server, log *ackLog) {
	t.Helper()
	var all []string
	for _, s := range survivors {
		all = append(all, s.Addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: all})
	defer cc.Close()
	ctx := longCtx(t)
	lostAcked, lostUnacked := 0, 0
	for k, v := range log.acked {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		got, err := cc.Get(rctx, k).Result()
		cancel()
		if err != nil || got != v {
			lostAcked++
			if lostAcked == 1 {
				dumpStacks(t)
			}
			if lostAcked <= 5 {
				owner := "none of the survivors"
				if o := ownerOf(survivors, k); o != nil {
					owner = o.Addr()
				}
				t.Errorf("acknowledged %s=%s (slot %d, owner %s) reads %q (%v)", k, v, keySlot(k), owner, got, err)
			}
		}
	}
	for k, v := range log.unacked {
		if got, err := cc.Get(ctx, k).Result(); err != nil || got != v {
			lostUnacked++
		}
	}
	if lostAcked > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lostAcked, len(log.acked))
	}
	t.Logf("%d acknowledged writes, none lost; %d of %d unacknowledged lost; %d write errors",
		len(log.acked), lostUnacked, len(log.unacked), log.errs)
}

// replicasRestored reports whether CLUSTER SLOTS on every survivor lists
// 1+replicas distinct nodes for every range, none of them the dead one.
func replicasRestored(t *testing.T, survivors []*Server, replicas int, deadID string) bool {
	t.Helper()
	want := min(1+replicas, len(survivors))
	for _, s := range survivors {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1}) // one per poll, closed: polls are many
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		//lint:ignore SA1019 cluster clients still read CLUSTER SLOTS
		slots, err := rc.ClusterSlots(ctx).Result()
		cancel()
		_ = rc.Close()
		if err != nil {
			return false
		}
		covered := 0
		for _, r := range slots {
			ids := make([]string, 0, len(r.Nodes))
			for _, nd := range r.Nodes {
				ids = append(ids, nd.ID)
			}
			slices.Sort(ids)
			if len(slices.Compact(ids)) != want || slices.Contains(ids, deadID) {
				return false
			}
			covered += r.End - r.Start + 1
		}
		if covered != cluster.NumSlots {
			return false
		}
	}
	return true
}

// applyView makes t the routing view of s, as a delivered table would
// (the table itself stays the node's: tests hand slots over with it).
func applyView(s *Server, t *cluster.Table) {
	v := newClusterView(t, s.cl.node.Load().ID())
	s.repl.Load().switchView(v, func() { s.cl.setView(v) })
}

// TestHandOverLosesNoWrite hands slots from their live primary A to its
// replica B (cluster.Flip applied on every node at once) while clients
// write them without WAIT: every write A or B answered OK reads back
// afterwards, B took every slot over with A's seal (none timed out), and
// A ends as B's replica with an identical copy.
func TestHandOverLosesNoWrite(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	v := nodes[0].cl.view.Load()
	a := nodes[0]
	aID := a.cl.node.Load().ID()
	// B: the node that replicates most of A's slots; they move to B.
	byReplica := map[string][]int{}
	for s := range cluster.NumSlots {
		if p := v.t.Preference(s); p[0].ID == aID {
			byReplica[p[1].ID] = append(byReplica[p[1].ID], s)
		}
	}
	var slots []int
	var bID string
	for id, ss := range byReplica {
		if len(ss) > len(slots) {
			bID, slots = id, ss
		}
	}
	b := nodeByID(nodes, bID)
	keys := slotKeys()
	var all []string
	for _, s := range nodes {
		all = append(all, s.Addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: all, MaxRedirects: 16})
	defer cc.Close()
	ctx, stop := context.WithTimeout(context.Background(), 3*time.Minute) // the writers stop with stop(); the polls bound the test
	defer stop()
	var mu sync.Mutex
	acked := map[string]string{}
	failed, lastErr := 0, error(nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("%s:%d", keys[slots[(i*4+w)%len(slots)]], w)
				val := fmt.Sprintf("v%d", i)
				err := cc.Set(ctx, k, val, 0).Err()
				mu.Lock()
				if err == nil {
					acked[k] = val
				} else {
					failed++
					lastErr = err
				}
				mu.Unlock()
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	defer func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("writers: %d acknowledged, %d failed, last error %v", len(acked), failed, lastErr)
			mu.Unlock()
		}
	}()
	pollFor(t, "writes before the hand-over", func() bool { return count() >= 300 })

	// B applies the table first and waits for A's seal (TRYAGAIN), while
	// A, still on the old table, accepts more writes; then the others.
	flipped := cluster.Flip(v.t, slots, bID, v.t.Version()+1)
	// Staged moves while the cluster formed were sealed hand-overs too:
	// count only this one.
	sealed0, late0 := b.repl.Load().flipsSealed.Load(), b.repl.Load().flipsLate.Load()
	b.repl.Load().cfgMu.Lock()
	b.repl.Load().flipWait = time.Minute // only the seal ends the wait
	b.repl.Load().cfgMu.Unlock()
	applyView(b, flipped)
	before := count()
	pollFor(t, "A takes writes after B applied the table", func() bool { return count() >= before+100 })
	for _, s := range nodes {
		if s != b {
			applyView(s, flipped)
		}
	}
	before = count()
	pollFor(t, "B serves the slots", func() bool { return b.repl.Load().gated.Load() == 0 })
	pollFor(t, "writes after the hand-over", func() bool { return count() >= before+300 })
	stop()
	wg.Wait()

	rs := b.repl.Load()
	if got, late := rs.flipsSealed.Load()-sealed0, rs.flipsLate.Load()-late0; int(got) != len(slots) || late != 0 {
		t.Errorf("B took over %d slots with the seal and %d without; want all %d sealed", got, late, len(slots))
	}
	cc.ReloadState(ctx)
	read := redis.NewClusterClient(&redis.ClusterOptions{Addrs: all})
	defer read.Close()
	lost := 0
	for k, val := range acked {
		if got, err := read.Get(ctxT(t), k).Result(); err != nil || got != val {
			lost++
			if lost <= 5 {
				t.Errorf("%s: wrote %s, reads %q (%v)", k, val, got, err)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost in the hand-over", lost, len(acked))
	}
	for _, sl := range []int{slots[0], slots[len(slots)-1]} {
		if !a.store.SlotFenced(sl) {
			t.Errorf("slot %d handed over is not fenced on its old primary", sl)
		}
	}
	t.Logf("%d slots handed over from %s to %s; %d writes, none lost", len(slots), aID[:8], bID[:8], len(acked))
	waitReplSynced(t, nodes)
	checkReplicasIdentical(t, nodes)
}

// TestWaitAfterSlotMovedAway: on a connection that wrote a slot its node
// has since handed over, the first WAIT answers 0 (it cannot vouch for the
// moved slot's writes) and later ones count the replicas of the slots the
// node still owns; before, such a pooled connection answered 0 at every
// WAIT from then on.
func TestWaitAfterSlotMovedAway(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	a := nodes[0]
	v := a.cl.view.Load()
	aID := a.cl.node.Load().ID()
	moved, kept, bID := -1, -1, ""
	for s := range cluster.NumSlots {
		if p := v.t.Preference(s); p[0].ID == aID {
			if moved < 0 {
				moved, bID = s, p[1].ID
			} else if kept < 0 {
				kept = s
			}
		}
	}
	keys := slotKeys()
	ctx := ctxT(t)
	conn := newClient(t, a, nil).Conn()
	defer conn.Close()
	if err := conn.Set(ctx, keys[moved], "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT before the move: %d %v", n, err)
	}
	flipped := cluster.Flip(v.t, []int{moved}, bID, v.t.Version()+1)
	b := nodeByID(nodes, bID)
	for _, s := range append([]*Server{b}, nodes...) {
		applyView(s, flipped)
	}
	pollFor(t, "B serves the moved slot", func() bool { return b.repl.Load().gated.Load() == 0 })
	if err := conn.Set(ctx, keys[kept], "2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The first WAIT after the move cannot vouch for the moved slot's
	// writes (one may have committed after the seal): 0, at once.
	if n, err := conn.Wait(ctx, 1, 5000).Result(); err != nil || n != 0 {
		t.Fatalf("first WAIT after slot %d moved away: %d %v, want 0", moved, n, err)
	}
	if n, err := conn.Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT after slot %d moved away: %d %v, want 1", moved, n, err)
	}
}

// TestFencedSlotRefusesAdmittedCommands: a command that routing let in as
// its slot's primary and that reaches the slot after the node fenced it
// (the fence a hand-over sets before its seal, sealSlots) is refused with
// nothing applied, whichever path it takes (SET's and GET's fast paths, a
// Tx, a script, EXEC), and the connection stays usable; lifting the fence
// serves the slot again.
func TestFencedSlotRefusesAdmittedCommands(t *testing.T) {
	nodes := replNodes(t, 2, nil)
	a := nodes[0]
	key, _ := keysFor(t, a, "fence")
	slot := keySlot(key)
	counter := "{" + key + "}n" // another key of the same slot
	rc := newClient(t, a, nil)
	ctx := ctxT(t)
	if err := rc.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	a.repl.Load().flipWait = 50 * time.Millisecond // how long a refused command waits for a view naming another owner (none comes)
	a.store.FenceSlot(slot, true)                  // routing still gives the slot to a: only the fence refuses
	refused := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.HasPrefix(err.Error(), "TRYAGAIN ") {
			t.Errorf("%s on a fenced slot: %v, want TRYAGAIN (no other owner in the table)", what, err)
		}
	}
	refused("SET", rc.Set(ctx, key, "after", 0).Err())
	refused("GET", rc.Get(ctx, key).Err())
	refused("INCR", rc.Incr(ctx, counter).Err())
	refused("EVAL", rc.Eval(ctx, "return redis.call('SET', KEYS[1], 'lua')", []string{key}).Err())
	_, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, "multi", 0)
		return nil
	})
	refused("EXEC", err)
	if n := a.stats.commandPanics.Load(); n != 0 {
		t.Errorf("%d command panics counted: a fenced command is not a failure", n)
	}
	a.store.FenceSlot(slot, false)
	if got, err := rc.Get(ctx, key).Result(); err != nil || got != "before" {
		t.Fatalf("after the fence is lifted: %q %v; a refused command changed the key", got, err)
	}
	if n, err := rc.Exists(ctx, counter).Result(); err != nil || n != 0 {
		t.Fatalf("the refused INCR created its key: %d %v", n, err)
	}
	if err := rc.Set(ctx, key, "after", 0).Err(); err != nil {
		t.Fatal(err)
	}
}
