package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
	"github.com/redis/go-redis/v9"
)

// TestHandOverNoRedirectLoop hands a slot from its primary A to its
// replica B with A applying the new table first (B still routes by the
// old one, as when gossip reaches A first): A answers MOVED to B, and B,
// whose Replica holds A's seal, must not answer MOVED back to A (a client
// would bounce between the two until its redirects run out); it holds the
// command until its own view moves and then serves it.
func TestHandOverNoRedirectLoop(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	v := nodes[0].cl.view.Load()
	a := nodes[0]
	aID := a.cl.node.Load().ID()
	slot := -1
	for s := range cluster.NumSlots {
		if v.t.Preference(s)[0].ID == aID {
			slot = s
			break
		}
	}
	if slot < 0 {
		t.Fatal("A owns no slot")
	}
	bID := v.t.Preference(slot)[1].ID
	b := nodeByID(nodes, bID)
	key := slotKeys()[slot]
	ctx := ctxT(t)
	ra, rb := newClient(t, a, nil), newClient(t, b, nil)
	if err := ra.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatalf("SET on A before the hand-over: %v", err)
	}
	pollFor(t, "B's copy of the slot is live", func() bool {
		rs := b.repl.Load()
		rs.mu.Lock()
		defer rs.mu.Unlock()
		l := rs.replicas[aID]
		if l == nil {
			return false
		}
		_, _, live := l.r.Position(slot)
		return live
	})

	flipped := cluster.Flip(v.t, []int{slot}, bID, v.t.Version()+1)
	applyView(a, flipped)
	err := ra.Get(ctx, key).Err()
	if want := protocol.Moved(slot, v.addrs[v.t.IndexOf(bID)]); err == nil || err.Error() != want {
		t.Fatalf("GET on A after it applied the table: %v, want %s", err, want)
	}
	pollFor(t, "B receives A's seal of the slot", func() bool {
		rs := b.repl.Load()
		rs.mu.Lock()
		defer rs.mu.Unlock()
		l := rs.replicas[aID]
		if l == nil {
			return false
		}
		_, ok := l.r.Sealed(slot)
		return ok
	})
	answer := getHeld(t, ctx, b, rb, key, "before it applied the table")
	for _, s := range nodes {
		if s != a {
			applyView(s, flipped)
		}
	}
	if val, err := answer(); err != nil || val != "before" {
		t.Fatalf("GET on B after the hand-over = %q, %v; want \"before\"", val, err)
	}
	if err := rb.Get(ctx, key).Err(); err != nil && strings.HasPrefix(err.Error(), "MOVED") {
		t.Fatalf("B after the hand-over: %v", err)
	}
}

// TestIncomingHoldsRedirectedCommand: the join's form of the loop above.
// A slot of A is staged to B (B is its incoming member, its copy live);
// A applies the table that flips the slot to B and answers MOVED to B
// before B has that table or A's seal (B's reads from A are withheld).
// B must not answer MOVED back to A: it holds the command (awaitNextOwner)
// until its own view moves, then serves it once the seal is in. The hold
// does not stop B's event loop (one, in this test) from serving others.
func TestIncomingHoldsRedirectedCommand(t *testing.T) {
	loopsPerServer = 1 // every connection on one loop: the hold must not stop it
	t.Cleanup(func() { loopsPerServer = 0 })
	nodes := replNodes(t, 3, func(c *config.Config) { c.IOEventLoop = true })
	loopsPerServer = 0
	a := nodes[0]
	aID := a.cl.node.Load().ID()
	v := a.cl.view.Load()
	slot, bID := -1, ""
	for s := range cluster.NumSlots {
		if p := v.t.Preference(s); p[0].ID == aID && len(p) == 2 {
			for _, n := range nodes {
				if id := n.cl.node.Load().ID(); id != aID && id != p[1].ID {
					slot, bID = s, id
				}
			}
			break
		}
	}
	if slot < 0 {
		t.Fatal("no slot of A with one replica and a third node")
	}
	b := nodeByID(nodes, bID)
	gate := &lossyGate{addr: a.Addr()}
	t.Cleanup(gate.release)
	wrap := gate.wrap
	b.repl.Load().dialWrap.Store(&wrap)
	b.repl.Load().nextOwnerWait.Store(int64(time.Minute)) // only the view ends the hold
	dropReplicaLinks(b)
	waitReplSynced(t, nodes)

	key := slotKeys()[slot]
	ctx := ctxT(t)
	ra, rb := newClient(t, a, nil), newClient(t, b, nil)
	if err := ra.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatalf("SET on A: %v", err)
	}
	staged := cluster.Stage(v.t, []int{slot}, bID, v.t.Version()+1)
	for _, n := range nodes {
		applyView(n, staged)
	}
	pollFor(t, "B's incoming copy of the slot is live", func() bool {
		l := b.repl.Load().followLink(slot)
		if l == nil || l.primaryID != aID {
			return false
		}
		_, _, live := l.r.Position(slot)
		return live
	})

	gate.hold() // A's seal does not reach B
	flipped := cluster.Flip(staged, []int{slot}, bID, staged.Version()+1)
	applyView(a, flipped)
	if err := ra.Get(ctx, key).Err(); err == nil || err.Error() != protocol.Moved(slot, b.Addr()) {
		t.Fatalf("GET on A after it applied the flip: %v, want MOVED to B", err)
	}
	answer := getHeld(t, ctx, b, rb, key, "before it had the flip or the seal")
	// The hold is parked off the loop (routeMayWait): B's only loop serves
	// a new connection meanwhile.
	if b.loops == nil || b.loops.Len() != 1 {
		t.Fatal("B does not run one event loop")
	}
	if err := newClient(t, b, nil).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING on B while it holds the GET: %v", err)
	}
	for _, n := range nodes {
		if n != a {
			applyView(n, flipped)
		}
	}
	// The GET's wait for the table ended, and it waits again: for the
	// seal the gate withholds. (Released before that, the seal could
	// land first, and the GET would not wait for it.)
	w := &b.handoff.waits
	pollFor(t, "B holds the GET for the seal", func() bool {
		return w.kind[waitNextOwner].Total() == 1 && w.holding.Load() == 1
	})
	if held := infoFields(newClient(t, b, nil).Info(ctx, "migration").Val())["migration_commands_held"]; held != "1" {
		t.Errorf("INFO migration on B while it holds the GET: migration_commands_held %q, want 1", held)
	}
	gate.release()
	if val, err := answer(); err != nil || val != "before" {
		t.Fatalf("GET on B after the flip = %q, %v; want \"before\"", val, err)
	}
	// The GET waited twice, and INFO migration says so: for the table that
	// gives B the slot, then for the seal.
	if n, f := w.kind[waitNextOwner].Total(), w.kind[waitFlip].Total(); n != 1 || f != 1 {
		t.Errorf("B's waits: next_owner %d, flip %d; want 1 and 1", n, f)
	}
	info := infoFields(rb.Info(ctx, "migration").Val())
	if info["migration_command_waits"] != "2" || info["migration_commands_held"] != "0" || !strings.HasPrefix(info["migration_command_wait_percentiles_usec"], "p50=") ||
		info["migration_command_waits_by_kind"] != "flip=1,owner_sealed=0,next_owner=1,fenced=0" {
		t.Errorf("INFO migration on B: waits %q, by kind %q, percentiles %q", info["migration_command_waits"],
			info["migration_command_waits_by_kind"], info["migration_command_wait_percentiles_usec"])
	}
}

// getHeld sends GET key to node b through rb and waits until b holds it
// for its view to change (b.cl.viewWaits grows); it fails the test if b
// answers first (when, for the message). The function it returns waits
// for the answer.
func getHeld(t *testing.T, ctx context.Context, b *Server, rb *redis.Client, key, when string) func() (string, error) {
	t.Helper()
	waits := b.cl.viewWaits.Load()
	type result struct {
		val string
		err error
	}
	got := make(chan result, 1)
	go func() {
		val, err := rb.Get(ctx, key).Result()
		got <- result{val, err}
	}()
	var early *result
	pollFor(t, "B holds the GET (or answers it)", func() bool {
		select {
		case r := <-got:
			early = &r
			return true
		default:
		}
		return b.cl.viewWaits.Load() > waits
	})
	if early != nil {
		t.Fatalf("B answered %s: %q, %v (A answers MOVED to B)", when, early.val, early.err)
	}
	return func() (string, error) {
		t.Helper()
		select {
		case r := <-got:
			return r.val, r.err
		case <-ctx.Done():
			t.Fatalf("no answer from B after it applied the new table")
			return "", nil
		}
	}
}

// TestFencedSlotWaitsForTheNewOwner: a command that meets the fence of a
// slot its node is handing over (sealSlots fences the slot just before the
// view naming the new owner is stored) waits for that view and answers
// MOVED to the new owner, not TRYAGAIN, which clients retry only after a
// backoff (issue #12: 15-30 ms per such command).
func TestFencedSlotWaitsForTheNewOwner(t *testing.T) {
	nodes := replNodes(t, 2, nil)
	a := nodes[0]
	key, _ := keysFor(t, a, "fencewait")
	slot := keySlot(key)
	v := a.cl.view.Load()
	var bID string
	for _, s := range nodes {
		if s != a {
			bID = s.cl.node.Load().ID()
		}
	}
	rc := newClient(t, a, nil)
	ctx := ctxT(t)
	if err := rc.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	a.repl.Load().flipWait = time.Minute // only the new view ends the wait
	a.store.FenceSlot(slot, true)        // as sealSlots does, before the view that moves the slot
	waits := a.cl.viewWaits.Load()
	got := make(chan error, 1)
	go func() { got <- rc.Get(ctx, key).Err() }()
	var early error
	answered := false
	pollFor(t, "the GET waits for the view (or is answered)", func() bool {
		select {
		case early = <-got:
			answered = true
			return true
		default:
		}
		return a.cl.viewWaits.Load() > waits
	})
	if answered {
		t.Fatalf("GET on the fenced slot answered before the view moved it: %v", early)
	}
	flipped := cluster.Flip(v.t, []int{slot}, bID, v.t.Version()+1)
	applyView(a, flipped)
	var err error
	select {
	case err = <-got:
	case <-ctx.Done():
		t.Fatal("no answer after the view moved the slot")
	}
	if want := protocol.Moved(slot, v.addrs[v.t.IndexOf(bID)]); err == nil || err.Error() != want {
		t.Fatalf("GET on the fenced slot: %v, want %s", err, want)
	}
}

// BenchmarkOwnerHandingOver is the proxy's per-forward check whether the
// owner of a slot is handing it over (replState.ownerHandingOver), on a
// node that follows that owner (replicas 1), from parallel goroutines as
// the event loops call it.
func BenchmarkOwnerHandingOver(b *testing.B) {
	nodes := startCluster(b, 3, nil)
	waitBalanced(b, nodes, 3, 2*time.Minute)
	s := nodes[0]
	rs := s.repl.Load()
	v := s.cl.view.Load()
	slot, owner := -1, -1
	rs.mu.Lock()
	for id, l := range rs.replicas {
		if len(l.slots) > 0 {
			slot, owner = l.slots[0], v.t.IndexOf(id)
			break
		}
	}
	rs.mu.Unlock()
	if slot < 0 || owner < 0 {
		b.Fatal("the node follows no slot")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rs.ownerHandingOver(slot, v, owner) {
				b.Fatal("handing over in a settled cluster")
			}
		}
	})
}
