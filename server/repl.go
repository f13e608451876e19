package server

// Replication wiring (cluster mode with cluster-replicas > 0): the node is
// primary for the slots the agreed table gives it first and replica for the
// slots where it follows in the preference list.
//
//   - Primary side: replState is the server's EffectSink; every committed
//     unit's effects of slots this node is primary for go to one
//     repl.Primary (its backlog and links). Snapshots come from the store's
//     per-slot key lists (store.SnapshotSlot, DUMP payloads); replicas
//     connect to the RESP port with REPLSYNC (a node-to-node internal), whose
//     connection is detached and handed to Primary.Handoff.
//   - Replica side: one repl.Replica per primary this node replicates slots
//     of, reconfigured when the table changes (SetSlots); its applier runs
//     each effect as a command on an internal client whose Txs see replica
//     keys past their TTL as live (store.LockApply). Replica slots are marked
//     in the store: never expired or evicted here, expired keys hidden from
//     reads.
//   - WAIT: each client notes the slots it writes (replClient); WAIT waits
//     until numreplicas replicas of all of them acknowledged everything
//     appended up to the moment WAIT runs (repl.Token).

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/server/config"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/rdb"
)

// replPoll is how often the table is checked for changes of the replica set.
const replPoll = 50 * time.Millisecond

// replState is the node's replication: one Primary, one Replica per primary
// it follows. The run goroutine owns replicas and view.
type replState struct {
	s     *Server
	p     *repl.Primary
	pacer *repl.Pacer // snapshot work of the Primary and every Replica (repl/pace.go; repl-snapshot-pace)
	log   *slog.Logger

	owned atomic.Pointer[[store.Slots]bool] // slots this node is primary for
	pool  sync.Pool                         // *commitBuf for CommitEffects

	dialFault atomic.Bool                             // tests: replicas' dials fail (an injected network fault)
	dialWrap  atomic.Pointer[func(net.Conn) net.Conn] // tests: wraps replicas' new connections (injected network faults); nil: none

	snapHook atomic.Pointer[func(slot int)] // tests: runs as snapshotter.snapped; nil: none

	loading [store.Slots]atomic.Bool // slots whose snapshot is being loaded: not served to READONLY (repl_apply.go)

	ctx    context.Context // ends at Close: WAITs return
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex // protects replicas (Stats reads it)
	replicas map[string]*replicaLink
	// followed is, per slot, the link that follows it as of the last
	// change to replicas, published under mu by each change
	// (publishFollowsLocked), for readers on the request path that must
	// not take mu (ownerHandingOver); nil: none yet.
	followed atomic.Pointer[followIndex]
	view     atomic.Pointer[clusterView] // the table last applied
	// seals counts the seals the replicas took (sealArrived, called after
	// the Replica stored the seal): followIndex.cleanAt's clock.
	seals atomic.Uint64

	cfgMu    sync.Mutex           // serializes applying views (subscriber, poll)
	pos      map[int]slotPosition // positions of the slots of Replicas just closed; cfgMu
	flips    map[int]*flip        // slots taken over from a live primary, waiting for its seal; cfgMu
	holds    map[int]*hold        // slots kept on their old primary's link until its seal; cfgMu (setReplicas)
	flipWait time.Duration        // flipWait (tests change it before the first flip)
	// nextOwnerWait is nextOwnerWait (repl_flip.go) in ns; tests lengthen it.
	nextOwnerWait atomic.Int64
	poke          chan struct{} // capacity 1: flips were planned or a seal arrived (finishFlips)
	takeovers     atomic.Uint64 // slots taken over as primary from a replica copy
	// flipsSealed and flipsLate count the slots taken over from a live
	// primary with its seal, and without it after flipWait.
	flipsSealed, flipsLate atomic.Uint64

	gate       [store.Slots]atomic.Bool      // slots answering TRYAGAIN (repl_flip.go)
	gated      atomic.Int32                  // how many
	flipOpened atomic.Pointer[chan struct{}] // closed when a gate opens (awaitFlip)
}

// replicaLink is this node's Replica of one primary.
type replicaLink struct {
	primaryID string
	addr      string
	r         *repl.Replica
	slots     []int
}

// followLink is a published copy of a replicaLink's primary and Replica
// (replState.followed).
type followLink struct {
	primaryID string
	r         *repl.Replica
}

// followIndex is a published copy of the replica links, per slot
// (replState.followed).
type followIndex struct {
	// cleanAt is seals+1 as read before a look at every followed slot
	// found none sealed (0: some was, or not looked yet): while seals
	// still reads cleanAt-1, no link holds a seal of a slot it follows,
	// and ownerHandingOver needs no per-slot read (two cache misses per
	// forwarded request, ≈2.5 % of a forwarding node's CPU).
	cleanAt atomic.Uint64
	links   [store.Slots]*followLink // the link that follows each slot, or nil
}

// publishFollowsLocked publishes, per slot, the link that follows it to
// followed (a slot is followed from one primary at most), then marks it
// clean if no followed slot is sealed; rs.mu must be held, and every
// function that changes replicas or a link's slots (setReplicas, promote,
// dropTakenLocked, closeRepl) calls it once before it unlocks.
func (rs *replState) publishFollowsLocked() {
	idx := new(followIndex)
	for id, l := range rs.replicas {
		f := &followLink{primaryID: id, r: l.r}
		for _, s := range l.slots {
			idx.links[s] = f
		}
	}
	rs.followed.Store(idx)
	rs.markClean(idx)
}

// markClean sets idx.cleanAt if no slot idx follows is sealed. A seal
// stored before seals is read here is seen by the look at the slots; one
// stored later moves seals on (sealArrived), which voids cleanAt. Any
// goroutine may call it: publishFollowsLocked for each new index, run
// for the current one while seals arrived since (a join's seals come
// after the links changed).
func (rs *replState) markClean(idx *followIndex) {
	n := rs.seals.Load()
	for s, f := range idx.links {
		if f != nil {
			if _, sealed := f.r.Sealed(s); sealed {
				return
			}
		}
	}
	idx.cleanAt.Store(n + 1)
}

// sealsPending reports whether a link may hold a seal of a slot it
// follows in idx: false only if idx was found clean and no seal arrived
// since.
func (rs *replState) sealsPending(idx *followIndex) bool {
	return idx.cleanAt.Load() != rs.seals.Load()+1
}

// startRepl starts replication once the cluster node runs.
func (s *Server) startRepl() error {
	if s.cl == nil || s.cfg.Cluster.Replicas == 0 {
		return nil
	}
	rs := &replState{s: s, log: s.log.With("component", "repl"), replicas: map[string]*replicaLink{},
		done: make(chan struct{}), pos: map[int]slotPosition{}, flips: map[int]*flip{}, holds: map[int]*hold{}, poke: make(chan struct{}, 1),
		flipWait: flipWait}
	rs.nextOwnerWait.Store(int64(nextOwnerWait))
	// One pacer for all snapshot work of the process, sending and
	// loading: a node that joins loads from every primary at once. It
	// rests as repl-snapshot-pace says (CONFIG SET changes it through
	// applyHotConfig; 25 % by default), and only while the node serves
	// clients: with no command for snapshotIdleAfter a move runs unpaced.
	// Off (100 %), it costs an atomic load per slot.
	rs.pacer = repl.NewPacer(repl.DefaultSnapshotWork, 0)
	rs.pacer.SetShare(s.cfg.Cluster.SnapshotPace)
	rs.pacer.SetActivity(s.dataActivity(), snapshotIdleAfter) // polled by cron too (Pacer.Poll)
	hard, soft, softFor := replicaBufferLimits(s.cfg.ClientOutputBufferLimit.Replica)
	p, err := repl.NewPrimary(repl.Config{
		BacklogSize:   int(s.cfg.Cluster.ReplBacklogSize),
		BufferHard:    hard,
		BufferSoft:    soft,
		BufferSoftFor: softFor,
		SnapshotRate:  s.cfg.Cluster.SnapshotRate,
		Pacer:         rs.pacer,
		Auth:          s.cfg.Cluster.Secret,
		Logger:        rs.log,
	}, snapshotter{st: s.store, owned: func(slot int) bool { return rs.owned.Load()[slot] }, member: s.cl.listed, snapped: rs.snapped})
	if err != nil {
		return err
	}
	rs.p = p
	rs.owned.Store(new([store.Slots]bool))
	rs.openedGate() // installs the first flipOpened channel
	rs.pool.New = func() any { return new(commitBuf) }
	rs.ctx, rs.cancel = context.WithCancel(context.Background())
	rs.reconfigure() // before the sink: owned slots are known
	s.repl.Store(rs)
	s.SetEffectSink(rs)
	go rs.run()
	return nil
}

// closeRepl stops replication: WAITs return, replicas and links close.
func (s *Server) closeRepl() {
	rs := s.repl.Load()
	if rs == nil {
		return
	}
	rs.cancel()
	<-rs.done
	rs.cfgMu.Lock() // a view applied by the subscriber now starts nothing
	rs.mu.Lock()
	for id, l := range rs.replicas {
		_ = l.r.Close()
		delete(rs.replicas, id)
	}
	rs.publishFollowsLocked()
	rs.mu.Unlock()
	rs.cfgMu.Unlock()
	_ = rs.p.Close()
}

// run follows the cluster table until Close.
func (rs *replState) run() {
	defer close(rs.done)
	t := time.NewTicker(replPoll)
	defer t.Stop()
	fast := time.NewTicker(flipPoll)
	defer fast.Stop()
	for {
		var flipC <-chan time.Time
		if rs.gated.Load() > 0 {
			flipC = fast.C
		}
		select {
		case <-rs.ctx.Done():
			return
		case <-t.C:
			rs.reconfigure()
			rs.releaseHolds()
			rs.reportHeld() // handoff.go
			if idx := rs.followed.Load(); idx != nil && rs.sealsPending(idx) {
				rs.markClean(idx) // seals came since: ownerHandingOver's fast path back once none is pending
			}
		case <-rs.poke:
			rs.finishFlips()
		case <-flipC:
			rs.finishFlips()
		}
	}
}

// reconfigure applies the current routing view if it changed.
func (rs *replState) reconfigure() {
	rs.cfgMu.Lock()
	defer rs.cfgMu.Unlock()
	if v := rs.s.cl.view.Load(); v != rs.view.Load() {
		rs.applyLocked(v, func() {})
	}
}

// switchView makes v the routing view (route stores it), applying it to
// replication around the store: slots this node takes over are promoted
// before routing serves them, slots it gives up stop feeding its stream
// only after routing sends their commands elsewhere.
func (rs *replState) switchView(v *clusterView, route func()) {
	rs.cfgMu.Lock()
	defer rs.cfgMu.Unlock()
	rs.applyLocked(v, route)
}

// applyLocked applies view v: which slots are this node's own, which it
// replicates from which primary; route is called between the promotion
// of the slots it takes over and the rest. rs.cfgMu must be held.
func (rs *replState) applyLocked(v *clusterView, route func()) {
	if v == nil || rs.ctx.Err() != nil {
		route()
		rs.view.Store(v)
		return
	}
	// A node the table does not list (planned out while it was frozen or
	// cut off) follows nothing: its copies are closed and flushed below, so
	// that it never reports an old copy live when it is planned back in.
	self := v.t.Member(v.self).ID
	owned, follow, members := viewSlots(v)
	prev := rs.owned.Load()
	rs.planFlips(v, owned, prev, follow, members) // repl_flip.go
	both := new([store.Slots]bool)
	for s := range store.Slots {
		both[s] = owned[s] || prev[s]
	}
	rs.promote(owned, prev, follow, members)
	rs.unfence(owned)    // slots served again (repl_flip.go)
	rs.owned.Store(both) // until they are sealed, the slots given up still feed the stream
	// repl_flip.go: the slots given up are fenced and sealed before routing
	// answers MOVED for them, so that the seal is on its way to the new
	// primary before a redirected client reaches it (ownerHandingOver);
	// meanwhile they answer TRYAGAIN (fencedError).
	rs.sealSlots(owned, prev)
	route()
	rs.view.Store(v)
	// After the view: a WAIT that saw the view before it counted the
	// incoming members only for writes before their marks (mark.go).
	rs.p.SetMarks(v.t.Version(), stagedOut(v))
	rs.owned.Store(owned)
	followed := followedSlots(follow)
	for slot := range store.Slots { // new replica slots are marked before their Replica starts
		if followed[slot] && !owned[slot] {
			rs.s.store.SetReplicaSlot(slot, true)
		}
	}
	rs.setReplicas(self, follow, members)
	clear(rs.pos) // positions of closed Replicas were handed to the new ones
	var stale []int
	for slot := range store.Slots { // slots no longer followed: unmarked, their stale copy dropped
		rep := followed[slot]
		was := rs.s.store.ReplicaSlot(slot)
		rs.s.store.SetReplicaSlot(slot, rep && !owned[slot])
		if was && !rep && !owned[slot] { // a copy no longer followed is stale
			stale = append(stale, slot)
		}
	}
	rs.s.cl.drops.drop(stale) // in the background, paced (slotdrop.go)
}

// viewSlots splits v's slots for this node: owned (primary here), and
// followed (replica or incoming member here) by the primary's ID.
func viewSlots(v *clusterView) (owned *[store.Slots]bool, follow map[string][]int, members map[string]cluster.Member) {
	owned = new([store.Slots]bool)
	follow = map[string][]int{}
	members = map[string]cluster.Member{}
	if v.self < 0 {
		return owned, follow, members
	}
	// By member index first: no allocation per slot (this runs on every
	// table, for all slots).
	byPrimary := make([][]int, v.t.Len())
	for slot := range store.Slots {
		switch p := v.t.OwnerIndex(slot); {
		case p < 0:
		case p == v.self:
			owned[slot] = true
		case v.t.Holds(slot, v.self): // an incoming member syncs like a replica (handoff.go)
			byPrimary[p] = append(byPrimary[p], slot)
		}
	}
	for p, slots := range byPrimary {
		if len(slots) > 0 {
			m := v.t.Member(p)
			follow[m.ID], members[m.ID] = slots, m
		}
	}
	return owned, follow, members
}

// stagedOut lists, by incoming member's ID, the slots of this node that v
// stages to another member, ascending.
func stagedOut(v *clusterView) map[string][]int {
	var out map[string][]int
	if v.self < 0 {
		return nil
	}
	for slot := range store.Slots {
		if v.t.OwnerIndex(slot) != v.self {
			continue
		}
		if in, ok := v.t.Incoming(slot); ok {
			if out == nil {
				out = map[string][]int{}
			}
			out[in.ID] = append(out[in.ID], slot)
		}
	}
	return out
}

// followedSlots marks the slots follow lists.
func followedSlots(follow map[string][]int) *[store.Slots]bool {
	out := new([store.Slots]bool)
	for _, slots := range follow {
		for _, s := range slots {
			out[s] = true
		}
	}
	return out
}

// setReplicas starts, retargets and stops Replicas to match follow.
func (rs *replState) setReplicas(self string, follow map[string][]int, members map[string]cluster.Member) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	defer rs.publishFollowsLocked()
	// First the positions the new links may resume from (rs.pos, through
	// ReplicaConfig.Resume, also when a running link adds the slots): those
	// of slots leaving a link (resumeOrHoldLocked, which keeps a link
	// followed for nothing else while it holds slots), then a closed
	// link's live slots (closeLinkLocked). A primary at a new address is
	// another process: its link closes first, nothing is held on it.
	for id, l := range rs.replicas {
		if _, ok := follow[id]; ok && members[id].Addr() != l.addr {
			rs.closeLinkLocked(l)
		}
	}
	rs.resumeOrHoldLocked(follow, time.Now())
	for id, l := range rs.replicas {
		if _, ok := follow[id]; !ok {
			rs.closeLinkLocked(l)
		}
	}
	for id, l := range rs.replicas {
		if slots := follow[id]; !slices.Equal(slots, l.slots) {
			l.slots = slots
			l.r.SetSlots(slots)
			rs.log.Info("replica slots changed", "primary", id, "slots", len(slots))
		}
	}
	for id, slots := range follow {
		if _, ok := rs.replicas[id]; ok {
			continue
		}
		addr := members[id].Addr()
		r, err := repl.NewReplica(repl.ReplicaConfig{
			Addr: addr, Auth: rs.s.cfg.Cluster.Secret, ID: self, Slots: slots,
			Dial: rs.s.replDial, Logger: rs.log.With("primary", id),
			Resume: rs.resume, Pacer: rs.pacer, OnSeal: rs.sealArrived,
		}, countingApplier{Applier: newApplier(rs.s), h: &rs.s.handoff})
		if err != nil {
			rs.log.Error("replica not started", "primary", id, "error", err)
			continue
		}
		rs.replicas[id] = &replicaLink{primaryID: id, addr: addr, r: r, slots: slots}
		rs.log.Info("replica started", "primary", id, "addr", addr, "slots", len(slots))
	}
}

// resumeOrHoldLocked handles the slots that leave a link for another
// primary's (follow: the links' slots to be; a link follow does not name
// is to close, and stays for the slots it holds). A slot moved to a new
// primary, which adopts the old primary's sealed position: a copy that
// stands at that seal (copyAtSeal) leaves its position in rs.pos, so the
// replica, which stays in the slot's row, continues from there instead of
// loading a snapshot of what it holds. A copy short of the seal is not
// final (the old primary may still send records): while it can still get
// there (holdDone) the slot stays on the old link (a hold: follow is
// changed to keep it there), and releaseHolds applies the view again once
// it can move. rs.mu and rs.cfgMu must be held.
func (rs *replState) resumeOrHoldLocked(follow map[string][]int, now time.Time) {
	var carrier *[store.Slots]string // the primary each slot is followed from in follow; built on first need
	var heldNow *[store.Slots]bool   // slots held in this pass
	heldFrom := map[string][]int{}   // per old primary, the slots held on its link
	heldTo := map[string]bool{}      // the new primaries they wait to move to
	for id, l := range rs.replicas {
		if slices.Equal(follow[id], l.slots) {
			continue
		}
		kept := new([store.Slots]bool)
		for _, s := range follow[id] {
			kept[s] = true
		}
		for _, s := range l.slots {
			if kept[s] {
				continue
			}
			if copyAtSeal(l, s) {
				hist, seq, _ := l.r.Position(s)
				rs.pos[s] = slotPosition{hist: hist, seq: seq, primary: id}
				rs.s.handoff.sealResumes.Add(1)
				continue
			}
			if carrier == nil {
				carrier = new([store.Slots]string)
				for to, ss := range follow {
					for _, x := range ss {
						carrier[x] = to
					}
				}
			}
			h := rs.holds[s]
			held := h != nil && h.from == id
			if !held {
				h = &hold{from: id, since: now}
			}
			to := carrier[s]
			if to == "" || rs.holdDone(l, s, h, now) {
				if held {
					rs.s.handoff.holdsAbandoned.Add(1)
				}
				continue
			}
			if !held {
				rs.s.handoff.holds.Add(1)
				if len(follow[id]) == 0 {
					rs.s.handoff.holdsWholeLink.Add(1)
				}
			}
			rs.holds[s] = h
			if heldNow == nil {
				heldNow = new([store.Slots]bool)
			}
			heldNow[s] = true
			heldFrom[id] = append(heldFrom[id], s)
			heldTo[to] = true
		}
	}
	// Held slots stay on the old link and wait to join the new one (new
	// slices: follow's are the view's). A new primary's link loses only
	// the slots held for it: where two primaries swap slots, each link
	// keeps the slots held on it for the other.
	for to := range heldTo {
		if follow[to] = slices.DeleteFunc(slices.Clone(follow[to]), func(x int) bool { return heldNow[x] && carrier[x] == to }); len(follow[to]) == 0 {
			delete(follow, to)
		}
	}
	for id, held := range heldFrom {
		follow[id] = slices.Sorted(slices.Values(slices.Concat(follow[id], held)))
	}
	for s := range rs.holds { // every slot still held was held again above
		if heldNow == nil || !heldNow[s] {
			delete(rs.holds, s)
		}
	}
}

// holdDone reports whether slot s, held on link l (nil once closed), may
// leave it: its copy reached the seal, the link dropped, it waited
// flipWait, or the copy is not live (its snapshot pending: the old
// primary, which gave the slot away, no longer snapshots it, and its
// link would wait repl.OwnWait for the slot before it fails).
func (rs *replState) holdDone(l *replicaLink, s int, h *hold, now time.Time) bool {
	if l == nil || !l.r.Connected() || copyAtSeal(l, s) || now.Sub(h.since) >= rs.flipWait {
		return true
	}
	_, _, live := l.r.Position(s)
	return !live
}

// hold is a slot that left its old primary's link in the current view
// but stays on it until the copy reaches the old primary's seal, the link
// drops, or flipWait passes (setReplicas).
type hold struct {
	from  string // the old primary's ID
	since time.Time
}

// releaseHolds applies the current view again when a held slot can move:
// its copy reached the seal (it then resumes at the new primary), its link
// dropped, or it waited flipWait.
func (rs *replState) releaseHolds() {
	rs.cfgMu.Lock()
	defer rs.cfgMu.Unlock()
	if len(rs.holds) == 0 {
		return
	}
	now := time.Now()
	rs.mu.Lock()
	due := false
	for s, h := range rs.holds {
		if rs.holdDone(rs.replicas[h.from], s, h, now) {
			due = true
			break
		}
	}
	rs.mu.Unlock()
	if due {
		rs.applyLocked(rs.view.Load(), func() {})
	}
}

// replicaBufferLimits turns the replica class of client-output-buffer-limit
// into repl.Config's Buffer limits: how far a connected replica may fall
// behind before its link is cut (Redis's 0, no limit, is repl's -1).
func replicaBufferLimits(l config.OutputBufferLimit) (hard, soft int64, softFor time.Duration) {
	hard, soft = l.Hard, l.Soft
	if hard <= 0 {
		hard = -1
	}
	if soft <= 0 {
		soft = -1
	}
	return hard, soft, time.Duration(l.SoftSeconds) * time.Second
}

// snapped runs the test hook snapHook, if one is set.
func (rs *replState) snapped(slot int) {
	if f := rs.snapHook.Load(); f != nil {
		(*f)(slot)
	}
}

// CommitEffects is the EffectSink: the effects of slots this node is
// primary for go to the Primary, as one unit. Runs with shard locks held.
func (rs *replState) CommitEffects(r *store.Record) {
	n := r.NumEffects()
	if n == 0 {
		return
	}
	owned := rs.owned.Load()
	b := rs.pool.Get().(*commitBuf)
	unit, args := b.unit[:0], b.args[:0]
	for i := range n {
		start := len(args)
		e := r.AppendEffect(args, i)
		if e.Slot < 0 || !owned[e.Slot] { // keyless (FLUSHALL …) or a replica's slot
			continue
		}
		// Every Record's Args is a window of one buffer; where the buffer
		// grew, the earlier windows keep the array they were cut from.
		args = e.Args
		unit = append(unit, repl.Record{Slot: e.Slot, Seq: e.Seq, DB: e.DB, Args: args[start:len(args):len(args)]})
	}
	if len(unit) > 0 {
		rs.p.Append(unit)
	}
	clear(unit)
	clear(args)
	if cap(args) > 1<<10 { // a huge unit's buffer is not kept pooled
		args = nil
	}
	b.unit, b.args = unit[:0], args[:0]
	rs.pool.Put(b)
}

// commitBuf is CommitEffects' pooled scratch: the unit's Records and the
// outer slices of their Args.
type commitBuf struct {
	unit []repl.Record
	args [][]byte
}

// snapshotter is the Primary's view of the store.
type snapshotter struct {
	st    *store.Store
	owned func(slot int) bool
	// snapped, if set, runs after a slot's keys were emitted and its lock
	// released, before the link sends the values lent (tests).
	snapped func(slot int)
	member  func(id string) bool // Member
}

// Snapshot emits every key of slot under the slot's shard lock. A large
// string is lent, not copied (store.Entry.PinStr): the link writes it
// after the lock is released, and a write to it meanwhile copies it.
// The link snapshots only a slot the node owns (Owns, repl.Owner): its
// copy of another node's slot is numbered by that node's stream.
func (sn snapshotter) Snapshot(slot int, emit func(db int, key, head, body []byte, pexpireAt int64, release func()) error) (uint64, error) {
	var buf []byte // one payload head at a time: emit does not keep it
	seq, err := sn.st.SnapshotSlot(slot, func(key []byte, e store.Entry) error {
		str, pin, lent := e.PinStr()
		if !lent {
			str = e.Str()
		}
		head, body, err := rdb.SnapshotParts(buf, e.Type(), str, e.Object())
		if err != nil {
			pin.Release()
			return err
		}
		buf = head
		var release func()
		if lent {
			release = pin.Release
		}
		return emit(0, key, head, body, e.ExpireAt(), release)
	})
	if sn.snapped != nil {
		sn.snapped(slot)
	}
	return seq, err
}

// Owns is repl.Owner: whether this node is the slot's primary (the link
// waits for it before it snapshots a slot or decides a handshake's resume).
func (sn snapshotter) Owns(slot int) bool { return sn.owned(slot) }

// Member is repl.Members: whether routing's table lists the node id (a
// handshake presenting copies from a node it does not list is refused).
func (sn snapshotter) Member(id string) bool { return sn.member(id) }

// snapshotIdleAfter is how long a node must have served no client command
// before its snapshot work stops resting (repl.Pacer.SetActivity): pacing
// keeps client latency low during a move, and without clients a move runs
// at full speed (docs/cluster.md "Pace and visibility").
const snapshotIdleAfter = time.Second
