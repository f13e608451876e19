package server

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/clustertest"
	"github.com/cached/cached/server/config"
)

// Failovers during a hold (docs/replication.md "Graceful hand-over"): a
// table moves slot S from its old primary A to B and R, S's replica that
// stays in the row, keeps S on its link to A until its copy reaches A's
// seal. These tests run the move as the cluster does it (A leaves:
// Node.BeginLeave, the coordinator flips A's slots to their first
// replicas) with A's seal withheld from R (lossygate_test.go), then kill
// B (the new primary) or A (the old one) while R holds, or R itself,
// which restarts (repl_hold_restart_test.go).

// holdFailover is the setup of the failover-during-a-hold tests: 4 nodes
// with cluster-replicas 2; A (not the coordinator) leaves, which flips its
// slots to their first replicas; R is the node that is the second replica
// of most of A's slots and stays in their rows. R's replication
// connections to A pass a lossyGate.
type holdFailover struct {
	nw    *clustertest.Net
	nodes []*Server
	a, r  *Server
	gate  *lossyGate
	keys  map[int]string // slot -> key, for the slots of A whose second replica is R
	rOwn  []int          // the slots R was primary of before A's leave
}

func newHoldFailover(t *testing.T) *holdFailover {
	t.Helper()
	nw := clustertest.NewNet()
	mutate := func(c *config.Config) {
		c.Cluster.Replicas = 2
		c.Cluster.Transport = nw.Transport
	}
	nodes := []*Server{startClusterNode(t, "", mutate)}
	for range 3 {
		nodes = append(nodes, startClusterNode(t, nodes[0].cl.node.Load().GossipAddr(), mutate))
	}
	// waitMembers's minute is too short for 4 nodes with 2 replicas each
	// under -race on the loaded 2-core machine (seen once in 5 runs): the
	// staged moves that form the cluster sync every slot twice.
	formWait := 4 * settleWait
	for deadline, polls := time.Now().Add(formWait), 0; !formed(nodes); pollPause(&polls) {
		if time.Now().After(deadline) {
			t.Fatalf("4 nodes did not form a settled table within %v", formWait)
		}
	}
	waitReplSynced(t, nodes)
	coord := lowestID(nodes)
	a := nodes[0]
	if a == coord {
		a = nodes[1]
	}
	v := a.cl.view.Load()
	aID := a.cl.node.Load().ID()
	bySecond := map[string][]int{}
	for s := range cluster.NumSlots {
		if p := v.t.Preference(s); len(p) == 3 && p[0].ID == aID {
			bySecond[p[2].ID] = append(bySecond[p[2].ID], s)
		}
	}
	var rID string
	var slots []int
	for id, ss := range bySecond {
		if len(ss) > len(slots) {
			rID, slots = id, ss
		}
	}
	if len(slots) == 0 {
		t.Fatal("A has no slot with two replicas")
	}
	all := slotKeys()
	m := &holdFailover{nw: nw, nodes: nodes, a: a, r: nodeByID(nodes, rID), gate: &lossyGate{addr: a.Addr()}, keys: map[int]string{}}
	for _, s := range slots {
		m.keys[s] = all[s]
	}
	for s := range cluster.NumSlots {
		if v.t.Preference(s)[0].ID == rID {
			m.rOwn = append(m.rOwn, s)
		}
	}
	rs := m.r.repl.Load()
	rs.cfgMu.Lock()
	rs.flipWait = time.Minute // only the seal, or the link dropping, ends a hold
	rs.cfgMu.Unlock()
	wrap := m.gate.wrap
	rs.dialWrap.Store(&wrap)
	dropReplicaLinks(m.r)
	waitReplSynced(t, nodes)
	t.Cleanup(m.gate.release)
	return m
}

// formed reports whether every node's table lists all nodes, with no
// staged move and balanced primaries, and no node waits for a seal (the
// condition of waitMembers).
func formed(nodes []*Server) bool {
	for _, s := range nodes {
		if t := s.cl.view.Load().t; t.Len() != len(nodes) || t.Staged() != 0 || !t.Balanced() {
			return false
		}
		if rs := s.repl.Load(); rs != nil && rs.gated.Load() > 0 {
			return false
		}
	}
	return true
}

// restoreFlipWait gives R its default flipWait back (newHoldFailover
// lengthened it to keep the hold open).
func (m *holdFailover) restoreFlipWait() {
	rs := m.r.repl.Load()
	rs.cfgMu.Lock()
	rs.flipWait = flipWait
	rs.cfgMu.Unlock()
}

// writeOnA sets every key to val on A in one pipeline followed by WAIT
// wait 30000 and fails unless WAIT answers at least wait.
func (m *holdFailover) writeOnA(t *testing.T, val string, wait int, acked map[string]string) {
	t.Helper()
	keys := slices.Collect(maps.Values(m.keys))
	setAndWait(t, m.a, "A", keys, val, wait)
	for _, k := range keys {
		acked[k] = val
	}
}

// setAndWait sets keys to val on s (named name in failures) in one
// pipeline followed by WAIT wait 30000, asking again after a transient
// CLUSTERDOWN (a node stalled past the reach window on the loaded
// machine, see readOnlyGet) until partitionWait, and fails unless WAIT
// answers at least wait.
func setAndWait(t *testing.T, s *Server, name string, keys []string, val string, wait int) {
	t.Helper()
	rc := newClient(t, s, func(o *redis.Options) { o.ReadTimeout = time.Minute }) // WAIT waits up to 30 s
	ctx := longCtx(t)
	var w *redis.Cmd
	deadline := time.Now().Add(partitionWait)
	for polls := 0; ; pollPause(&polls) {
		pipe := rc.Pipeline()
		for _, k := range keys {
			pipe.Set(ctx, k, val, 0)
		}
		w = pipe.Do(ctx, "WAIT", wait, 30000)
		_, err := pipe.Exec(ctx)
		if err == nil {
			break
		}
		if !strings.HasPrefix(err.Error(), "CLUSTERDOWN") || time.Now().After(deadline) {
			t.Fatalf("writes on %s: %v", name, err)
		}
	}
	if n, err := w.Int64(); err != nil || n < int64(wait) {
		t.Fatalf("WAIT %d on %s after %d writes: %d, %v", wait, name, len(keys), n, err)
	}
}

// waitOneOnA sets key on A and returns what WAIT 1 300 answers after it.
func (m *holdFailover) waitOneOnA(t *testing.T, key string) int64 {
	t.Helper()
	rc := newClient(t, m.a, nil)
	ctx := longCtx(t)
	deadline := time.Now().Add(partitionWait)
	for polls := 0; ; pollPause(&polls) { // a transient CLUSTERDOWN is asked again (writeOnA)
		pipe := rc.Pipeline()
		pipe.Set(ctx, key, "v", 0)
		w := pipe.Do(ctx, "WAIT", 1, 300)
		_, err := pipe.Exec(ctx)
		if err == nil {
			n, _ := w.Int64()
			return n
		}
		if !strings.HasPrefix(err.Error(), "CLUSTERDOWN") || time.Now().After(deadline) {
			t.Fatalf("SET and WAIT on A: %v", err)
		}
	}
}

// heldState is what R does with the slots of m.keys in the table its
// replication applied.
type heldState struct {
	version     uint64
	ownedByA    int            // slots A is still primary of
	stagedToR   []int          // of those, staged to R (incoming): R is their next primary
	toR         []int          // slots R becomes primary of
	held        map[int]string // slots R holds on its link to A, by their new primary's ID
	notHeld     int            // slots of another primary, in R's row, not held
	holdsTotal  int            // len(rs.holds)
	linkToAUp   bool
	onLinkToA   int
	newPrimarys map[string]int // held slots per new primary
}

func (m *holdFailover) heldState() heldState {
	rs := m.r.repl.Load()
	rs.cfgMu.Lock()
	defer rs.cfgMu.Unlock()
	v := rs.view.Load()
	aID := m.a.cl.node.Load().ID()
	st := heldState{version: v.t.Version(), held: map[int]string{}, newPrimarys: map[string]int{}, holdsTotal: len(rs.holds)}
	rs.mu.Lock()
	l := rs.replicas[aID]
	if l != nil {
		st.linkToAUp = l.r.Connected()
		st.onLinkToA = len(l.slots)
	}
	rs.mu.Unlock()
	for s := range m.keys {
		switch p := v.t.OwnerIndex(s); {
		case p < 0:
		case v.t.Member(p).ID == aID:
			st.ownedByA++
			if v.t.IncomingIndex(s) == v.self {
				st.stagedToR = append(st.stagedToR, s)
			}
		case p == v.self:
			st.toR = append(st.toR, s)
		case rs.holds[s] != nil:
			id := v.t.Member(p).ID
			st.held[s] = id
			st.newPrimarys[id]++
		case v.t.Rank(s, v.self) > 0:
			st.notHeld++
		}
	}
	return st
}

// leaveWithHold writes the keys on A with WAIT 2 ("before"), closes R's
// gate, writes them again with WAIT 1 ("held": on A and its first
// replica, not on R), makes A leave and waits until R applied the table
// that moves A's slots and holds them on its link to A, and their new
// primaries serve them; then it writes the held slots' keys on their new
// primaries ("after", returned by key). It returns what A acknowledged,
// and ok false if R's link to A restarted meanwhile: with the gate
// closed its handshake never completes, so the holds end (as designed)
// before the kill. Until a table's slot changes went on the running link
// (FOLLOW, UNFOLLOW), a table of the leave that changed the slots R
// follows from A restarted it (about 1 run in 4); a restart for another
// reason (its read timeout on a stalled machine) is still retried.
func (m *holdFailover) leaveWithHold(t *testing.T) (acked, after map[string]string, st heldState, ok bool) {
	t.Helper()
	acked = map[string]string{}
	m.writeOnA(t, "before", 2, acked)
	m.gate.hold()
	m.writeOnA(t, "held", 1, acked) // WAIT 1 counts the first replica; R's copy is withheld
	m.a.cl.node.Load().BeginLeave()
	pollFor(t, "R holds A's moved slots on its link to A", func() bool {
		st = m.heldState()
		// The slots whose next primary is R, their second replica, stay
		// A's, staged to R: R reports them live only once A marked them
		// (cluster/repl/mark.go), and the gate withholds the marks.
		return !st.linkToAUp || st.ownedByA == len(st.stagedToR) && len(st.held) > 0 && st.notHeld == 0
	})
	if !st.linkToAUp {
		return nil, nil, st, false
	}
	for id := range st.newPrimarys {
		b := nodeByID(m.nodes, id)
		pollFor(t, "the new primary "+id[:8]+" serves its slots", func() bool {
			v := b.cl.view.Load()
			return b.repl.Load().gated.Load() == 0 && v.t.Version() >= st.version
		})
	}
	t.Logf("table %d: R holds %d of A's %d slots on its link to A (link up %v, %d slots on it), %d slots went to R, %d are staged to it, per new primary %v",
		st.version, len(st.held), len(m.keys), st.linkToAUp, st.onLinkToA, len(st.toR), len(st.stagedToR), shortIDs(st.newPrimarys))
	after = m.writeHeldOnNew(t, st)
	if hs := m.heldState(); len(hs.held) != len(st.held) || !hs.linkToAUp {
		t.Logf("R holds %d of %d slots, link to A up %v", len(hs.held), len(st.held), hs.linkToAUp)
		return nil, nil, st, false
	}
	return acked, after, st, true
}

// setUpHold runs newHoldFailover and leaveWithHold until the hold is in
// place (at most 3 clusters; one whose link to A restarted is closed).
// With wantStaged it also tries up to 4 clusters for one whose leave
// stages some of the slots to R, and returns the last if none did: which
// member takes a leaver's slot over is the planner's choice (a slot goes
// to its first replica while that one is below its share, the rest to the
// member furthest below it), and R, their second replica, got some in 10
// of the 16 clusters counted (2026-12-05).
func setUpHold(t *testing.T, wantStaged bool) (m *holdFailover, acked, after map[string]string, st heldState) {
	t.Helper()
	restarts, clusters := 0, 0
	for {
		m = newHoldFailover(t)
		clusters++
		var ok bool
		if acked, after, st, ok = m.leaveWithHold(t); ok {
			if !wantStaged || len(st.stagedToR) > 0 || clusters == 4 {
				return m, acked, after, st
			}
			t.Logf("cluster %d: the leave staged none of the slots to R; again with a new cluster", clusters)
		} else {
			if restarts++; restarts == 3 {
				t.Fatalf("R's link to A restarted before the kill in %d clusters: no hold to fail over in", restarts)
			}
			t.Logf("cluster %d: R's link to A restarted during the leave (table %d), the holds ended; again with a new cluster", clusters, st.version)
		}
		m.gate.release()
		for _, s := range m.nodes {
			_ = s.Close()
		}
	}
}

// writeHeldOnNew sets the keys of the held slots to "after" on their new
// primaries, one pipeline per primary (plain SET: WAIT 1 would count R,
// which is not on their link while it holds), and returns the values by
// key. A transient CLUSTERDOWN (a node stalled past the reach window on
// the loaded machine, see readOnlyGet) is asked again.
func (m *holdFailover) writeHeldOnNew(t *testing.T, st heldState) map[string]string {
	t.Helper()
	byPrimary := map[string][]string{}
	for s, id := range st.held {
		byPrimary[id] = append(byPrimary[id], m.keys[s])
	}
	out := map[string]string{}
	ctx := longCtx(t)
	for id, keys := range byPrimary {
		rc := newClient(t, nodeByID(m.nodes, id), nil)
		deadline := time.Now().Add(partitionWait)
		for polls := 0; ; pollPause(&polls) {
			pipe := rc.Pipeline()
			for _, k := range keys {
				pipe.Set(ctx, k, "after", 0)
			}
			_, err := pipe.Exec(ctx)
			if err == nil {
				break
			}
			if !strings.HasPrefix(err.Error(), "CLUSTERDOWN") || time.Now().After(deadline) {
				t.Fatalf("SET on the new primary %s: %v", id[:8], err)
			}
		}
		for _, k := range keys {
			out[k] = "after"
		}
	}
	return out
}

// wantAcked is readsBackAny's want for acknowledged values: each key must
// read its own.
func wantAcked(acked map[string]string) map[string][]string {
	want := make(map[string][]string, len(acked))
	for k, v := range acked {
		want[k] = []string{v}
	}
	return want
}

// without returns nodes but gone, in a new slice.
func without(nodes []*Server, gone *Server) []*Server {
	return slices.DeleteFunc(slices.Clone(nodes), func(s *Server) bool { return s == gone })
}

func shortIDs(m map[string]int) map[string]int {
	out := map[string]int{}
	for id, n := range m {
		out[id[:8]] = n
	}
	return out
}

// holdsOf returns how many slots s holds (replState.holds).
func holdsOf(s *Server) int {
	rs := s.repl.Load()
	rs.cfgMu.Lock()
	defer rs.cfgMu.Unlock()
	return len(rs.holds)
}

// settled reports whether every node of alive applied the same table,
// which lists exactly members, moves nothing (no staged slot), and no
// node waits for a seal or holds a slot, and every member answers
// cluster_state:ok.
func settled(t *testing.T, alive, members []*Server) bool {
	t.Helper()
	v := members[0].cl.view.Load().t
	for _, s := range alive {
		w := s.cl.view.Load().t
		if w.Version() != v.Version() || w.Len() != len(members) || w.Staged() != 0 {
			return false
		}
		if rs := s.repl.Load(); rs.gated.Load() > 0 || rs.view.Load() != s.cl.view.Load() || holdsOf(s) > 0 {
			return false
		}
	}
	for _, s := range members {
		if v.IndexOf(s.cl.node.Load().ID()) < 0 {
			return false
		}
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		info, err := rc.ClusterInfo(ctxT(t)).Result()
		_ = rc.Close()
		if err != nil || !containsLine(info, "cluster_state:ok") {
			return false
		}
	}
	return true
}

func containsLine(text, line string) bool {
	return slices.Contains(strings.Split(text, "\r\n"), line)
}

// checkSettledCluster checks the end state of a failover test: every slot
// takes writes through a ClusterClient, every member replicates what its
// table gives it, live, every copy of every slot (all replicas, not only
// the first) is identical to its primary's, and no node holds a slot.
func checkSettledCluster(t *testing.T, members []*Server) *redis.ClusterClient {
	t.Helper()
	var addrs []string
	for _, s := range members {
		addrs = append(addrs, s.Addr())
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: 2 * time.Second,
		ReadTimeout: 30 * time.Second, PoolSize: 4})
	t.Cleanup(func() { _ = cc.Close() })
	ctx := longCtx(t)
	all := slotKeys()
	every := make([]int, cluster.NumSlots)
	probes := make([]string, cluster.NumSlots)
	for s := range every {
		every[s], probes[s] = s, "{"+all[s]+"}probe"
	}
	pollFor(t, "writes to every slot", func() bool { return writeSlots(ctx, cc, probes, &every) == 0 })
	waitReplSynced(t, members)
	checkCopiesIdentical(t, members)
	for _, s := range members {
		if n := holdsOf(s); n != 0 {
			t.Errorf("%s still holds %d slots", s.Addr(), n)
		}
	}
	return cc
}

// checkCopiesIdentical compares every replica's copy of every slot with
// its primary's (DUMP payloads and expiry), polling until they agree.
func checkCopiesIdentical(t *testing.T, nodes []*Server) {
	t.Helper()
	v := nodes[0].cl.view.Load()
	var diff string
	waitUntil(t, func() bool {
		for slot := range cluster.NumSlots {
			prefs := v.t.Preference(slot)
			p := nodeByID(nodes, prefs[0].ID)
			want := slotDump(t, p, slot)
			for _, m := range prefs[1:] {
				if got := slotDump(t, nodeByID(nodes, m.ID), slot); got != want {
					diff = fmt.Sprintf("slot %d: primary %s\n%.300s\nreplica %s\n%.300s", slot, prefs[0].ID[:8], want, m.ID[:8], got)
					return false
				}
			}
		}
		return true
	}, func() string { return diff })
}

// readsBackAny reads every key of want through cc, polling until each
// reads one of its allowed values, and returns the value each read.
func readsBackAny(t *testing.T, cc *redis.ClusterClient, want map[string][]string) map[string]string {
	t.Helper()
	ctx := longCtx(t)
	got := map[string]string{}
	var bad string
	for deadline, polls := time.Now().Add(settleWait), 0; ; pollPause(&polls) {
		bad = ""
		for k, vals := range want {
			v, err := cc.Get(ctx, k).Result()
			if err != nil || !slices.Contains(vals, v) {
				bad = fmt.Sprintf("%s (slot %d) reads %q (%v), want one of %q", k, keySlot(k), v, err, vals)
				cc.ReloadState(ctx)
				break
			}
			got[k] = v
		}
		if bad == "" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged writes do not read back within %v: %s", settleWait, bad)
		}
	}
}

// TestHoldFailoverNewPrimaryDies (case a): A leaves, its slots flip to
// their first replicas (B), R stays in their rows and holds them on its
// link to A, A's seal withheld. B is killed (gossip cut, then closed)
// while R holds. The failover must end with a live primary for every
// slot (cluster_state:ok on every member), no hold left, every write A
// acknowledged with WAIT 1 (on A and B, not R) reading back, and every
// copy identical to its primary's. R must not take a held slot over
// short of A's seal while A is alive (its link up): that would drop the
// writes A acknowledged after R's copy.
func TestHoldFailoverNewPrimaryDies(t *testing.T) {
	m, acked, after, st := setUpHold(t, false)
	// B: the new primary of most held slots.
	var bID string
	for id, n := range st.newPrimarys {
		if bID == "" || n > st.newPrimarys[bID] {
			bID = id
		}
	}
	b := nodeByID(m.nodes, bID)
	start := time.Now()
	crashNode(m.nw, m.nodes, b)
	var alive []*Server
	for _, s := range m.nodes {
		if s != b {
			alive = append(alive, s)
		}
	}
	// R applies a table without B while its gate still withholds A's seal.
	var fst heldState
	pollFor(t, "R applies a table without B", func() bool {
		v := m.r.repl.Load().view.Load()
		if v.t.IndexOf(bID) >= 0 {
			return false
		}
		fst = m.heldState()
		return true
	})
	t.Logf("%v after the kill R applied table %d: holds %d of the key slots (total %d), %d of them go to R, link to A up %v",
		time.Since(start).Round(time.Millisecond), fst.version, len(fst.held), fst.holdsTotal, len(fst.toR), fst.linkToAUp)
	toR := 0 // held slots of B the failover gave R: it waits for A's seal on the held link (sealFrom)
	v := m.r.repl.Load().view.Load()
	for s, id := range st.held {
		if id == bID && v.t.OwnerIndex(s) == v.self {
			toR++
		}
	}
	// A is alive and its link up: the failover's table (which no longer
	// lists A, its leave done) must not end R's holds, or its own
	// hand-overs from A, by closing that link. Before the fix it did
	// (planFlips gave the link the zero member: 0 held, link down).
	if len(fst.held)+toR != len(st.held) || !fst.linkToAUp {
		t.Errorf("after the failover R holds %d of %d slots (%d more given to R), link to A up %v; want all on a live link",
			len(fst.held), len(st.held), toR, fst.linkToAUp)
	}
	t.Logf("the failover gave R %d of B's %d held slots", toR, st.newPrimarys[bID])
	m.restoreFlipWait()
	m.gate.release()

	members := without(alive, m.a)
	pollFor(t, "the cluster settles without B and A", func() bool { return settled(t, alive, members) })
	t.Logf("settled %v after the kill", time.Since(start).Round(time.Millisecond))
	cc := checkSettledCluster(t, members)
	want := wantAcked(acked)
	// The slots the leave flipped to R itself wait for A's seal as R's
	// hand-over, on the link to A the failover kept. Until the tables'
	// slot changes went on the running link (FOLLOW, UNFOLLOW), a table
	// step restarted that link, and in some runs R took them over without
	// the seal and lost these writes (284 to 1,365 of 1,365 keys).
	for _, s := range append(slices.Clone(st.toR), st.stagedToR...) {
		want[m.keys[s]] = []string{"held"}
	}
	for s, id := range st.held {
		if k := m.keys[s]; id == bID {
			want[k] = []string{"held", "after"} // "after" was acknowledged by B alone, which died
		} else {
			want[k] = []string{"after"} // its primary lives
		}
	}
	got := readsBackAny(t, cc, want)
	kept := 0
	for k := range after {
		if got[k] == "after" {
			kept++
		}
	}
	t.Logf("%d keys acknowledged with WAIT read back (%d in the slots flipped or staged to R); of %d writes B acknowledged without a replica, %d survived",
		len(acked), len(st.toR)+len(st.stagedToR), len(after), kept)
}

// TestHoldFailoverOldPrimaryDies (case b): as above, but A, the old
// primary, is killed while R holds and before its seal reached R (the
// bytes in flight are lost). R's hold must end (its link to A is down),
// R must load the held slots from their new primaries, every write A
// acknowledged with WAIT 1 and every write the new primaries
// acknowledged must read back, and every copy must equal its primary's.
func TestHoldFailoverOldPrimaryDies(t *testing.T) {
	m, acked, after, st := setUpHold(t, true)
	maps.Copy(acked, after) // their primaries survive
	if len(st.stagedToR) > 0 {
		// R's copy is live on A's link but held back: WAIT counts R, the
		// slot's incoming member, so a write there gets no replica
		// although the first replica has it.
		key := "{" + m.keys[st.stagedToR[0]] + "}:wait"
		if n := m.waitOneOnA(t, key); n != 0 {
			t.Errorf("WAIT 1 after a write to a slot staged to R, whose copy is held back: %d, want 0", n)
		}
	}
	loaded0 := m.r.handoff.keysLoaded.Load()
	start := time.Now()
	m.gate.cutAll()
	crashed := make(chan struct{})
	go func() { // Close may take long (cutAll); the test waits for it at its end
		defer close(crashed)
		crashNode(m.nw, m.nodes, m.a)
	}()
	defer func() { <-crashed }()
	pollFor(t, "R's holds end once its link to A is down", func() bool {
		hs := m.heldState()
		return hs.holdsTotal == 0
	})
	t.Logf("R's holds ended %v after A was killed, gate still closed", time.Since(start).Round(time.Millisecond))
	m.restoreFlipWait()
	m.gate.release()
	alive := without(m.nodes, m.a)
	pollFor(t, "the cluster settles without A", func() bool { return settled(t, alive, alive) })
	t.Logf("settled %v after the kill", time.Since(start).Round(time.Millisecond))
	cc := checkSettledCluster(t, alive)
	want := wantAcked(acked)
	// The slots whose next primary is R (their second replica) stayed
	// A's, staged to R, since the gate withheld A's marks: the failover
	// promotes their first replica, which holds the "held" writes WAIT 1
	// counted. Before the marks (2026-12-05) the leave flipped them to
	// R, which took them over after A died with what its copy had: 1,364
	// of 1,364 such keys lost in one run.
	if len(st.toR) > 0 {
		t.Errorf("%d slots flipped to R while its copy was held back (%d staged to it): want none", len(st.toR), len(st.stagedToR))
	}
	if len(st.stagedToR) == 0 {
		t.Log("none of the slots was staged to R in 4 clusters: the staged case went untested in this run")
	}
	readsBackAny(t, cc, want)
	t.Logf("%d acknowledged keys read back (%d in the slots staged to R); R loaded %d keys by snapshot after the kill",
		len(acked), len(st.stagedToR), m.r.handoff.keysLoaded.Load()-loaded0)
}
