package server

// Graceful hand-over of a slot between two live nodes (a staged move or a
// leave, see docs/replication.md "Failover"). The old primary applies the
// table that gives the slot away: it stops appending the slot's effects
// and seals the slot's stream (repl.Primary.Seal), then routing answers
// MOVED for it. The new primary was the slot's replica: it keeps
// following the slot from the old primary and answers TRYAGAIN for it until
// its copy holds everything up to the seal, then continues the old
// primary's stream (Adopt) and serves the slot. If no seal arrives within
// flipWait and the link to the old primary is down (it died), or within
// flipWaitLinked while the link is up, it takes the slot over with what it
// has and logs it.

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
	"github.com/cached/cached/store"
)

// flipWait bounds how long a node that takes a slot over from a live
// primary waits for the primary's seal; commands of the slot wait with it
// (awaitFlip) and get TRYAGAIN only past it.
const flipWait = time.Second

// flipWaitLinked bounds the wait for a seal while the link to the old
// primary is up: the old primary is alive and still delivering the slot's
// stream (a silent link is cut by its read timeout), so its seal is
// coming, only queued behind other slots' snapshot data on a busy
// machine, or the old primary has not applied the table that gives the
// slot away yet and still takes writes for it. Taking the slot over
// without the seal would drop the writes it acknowledged after our copy's
// position: the 5 -> 6 hand-off test under load lost 1-5 acknowledged
// writes that way when every wait ended at flipWait. Commands of the slot
// get TRYAGAIN meanwhile (past awaitFlip's wait).
const flipWaitLinked = 30 * time.Second

// flipPoll is how often pending hand-overs are checked.
const flipPoll = 2 * time.Millisecond

// errHandOver is the answer for a slot being handed over to this node;
// clients retry TRYAGAIN (go-redis, redis-cli, ioredis do).
const errHandOver = "TRYAGAIN Slot is being handed over to this node, try again"

// errHandingOff answers a command admitted to a slot this node fenced
// while no other node is named its owner yet.
const errHandingOff = "TRYAGAIN Slot is being handed over to another node, try again"

// fencedError is the answer to a command that routing let in as its
// slot's primary before this node handed the slot over and that reached the
// slot after its fence (sealSlots): MOVED to the slot's owner now, as
// routing would answer it now. The fence goes up just before the view
// that names the new owner is stored (switchView), so a command that meets
// it in between waits for that view, up to flipWait, rather than answering
// TRYAGAIN at once: go-redis retries TRYAGAIN only after a backoff (8 ms
// and more, measured 15-30 ms on the issue #12 hand-off test) and redis-cli
// -c not at all. It runs on the client's goroutine, its locks released.
func (s *Server) fencedError(slot int) string {
	cs := s.cl
	if cs == nil {
		return errHandingOff
	}
	rs := s.repl.Load()
	if rs == nil {
		return fencedErrorIn(cs.view.Load(), slot)
	}
	deadline := time.Now().Add(rs.flipWait)
	var start time.Time // of the wait, once it began
	for waited := false; ; waited = true {
		v := cs.view.Load()
		if msg := fencedErrorIn(v, slot); msg != errHandingOff || v == nil || !s.store.SlotFenced(slot) {
			if waited {
				s.handoff.waits.observe(waitFenced, start)
			}
			return msg // a slot no longer fenced is served again: the client's retry reaches it
		}
		if !waited {
			start = s.handoff.waits.begin()
		}
		cs.viewWaits.Add(1)
		if !cs.awaitView(v, deadline, rs.ctx.Done()) {
			s.handoff.waits.observe(waitFenced, start)
			return errHandingOff
		}
	}
}

// fencedErrorIn is fencedError's answer by routing view v (nil while the
// node starts).
func fencedErrorIn(v *clusterView, slot int) string {
	if v != nil {
		if o := v.t.OwnerIndex(slot); o >= 0 && o != v.self {
			return protocol.Moved(slot, v.addrs[o])
		}
	}
	return errHandingOff
}

// ownerHandingOver reports whether the owner of slot in routing view v
// (index owner, not this node) is giving the slot up, so that MOVED to it
// would come straight back: this node follows the slot from that owner
// and the owner has sealed the slot's stream (it applied the table that
// moves the slot and answers MOVED for it), or the cluster node already
// holds a table that gives the slot to someone else and the subscriber
// has not delivered it yet. During a hand-over the old primary may apply
// the new table before the new one does; both would then answer MOVED to
// the other, and a client's redirects run out (go-redis allows 3). The
// caller waits for the view to change instead (awaitView).
func (rs *replState) ownerHandingOver(slot int, v *clusterView, owner int) bool {
	if n := rs.s.cl.node.Load(); n != nil {
		if t := n.Table(); t != v.t && t.Version() >= v.t.Version() {
			if o := t.OwnerIndex(slot); o >= 0 && t.Member(o).ID != v.t.Member(owner).ID {
				return true
			}
		}
	}
	idx := rs.followed.Load() // not rs.mu: this runs per forwarded request
	if idx == nil || !rs.sealsPending(idx) {
		return false // no followed slot is sealed: no per-slot read
	}
	l := idx.links[slot]
	if l == nil || l.primaryID != v.t.Member(owner).ID {
		return false
	}
	_, sealed := l.r.Sealed(slot)
	return sealed
}

// nextOwnerWait bounds how long a node about to take a slot over holds a
// command of the slot before it answers MOVED to the slot's current owner
// (awaitNextOwner). The owner may have applied the table that flips the
// slot here, and sent a client here, before this node got that table or
// the owner's seal: MOVED back would start a loop that ends the client's
// redirects (go-redis allows 3; TestClusterClientThroughJoin failed so).
// A client the owner sent here waits a replication round trip or a
// gossip hop; a client with no reason to be here (a stale slot map, a
// plain client) pays the whole wait, once per command, while the move is
// pending.
const nextOwnerWait = 100 * time.Millisecond

// awaitNextOwner holds a command of slot, owned in routing view v by the
// member at index owner, that would be answered MOVED to that owner,
// while this node is the slot's incoming member (a join's staged move)
// and follows it live from that owner: until the view changes (true: the
// caller routes again) or nextOwnerWait (rs.nextOwnerWait) passes; if the
// owner's seal came meanwhile (ownerHandingOver), up to flipWait. A
// replica promoted by a flip (a leave, a rebalance) does not wait: after
// the flip the old primary is the new one's replica, and a stale client
// at the old primary would wait there on every move. Such a flip can
// still bounce a client between the two (TestHandoffLeave fails on any
// client error; none in 40 runs, stop 31).
func (rs *replState) awaitNextOwner(slot int, v *clusterView, owner int) bool {
	if v.t.IncomingIndex(slot) != v.self {
		return false
	}
	l := rs.followLink(slot)
	if l == nil || l.primaryID != v.t.Member(owner).ID {
		return false
	}
	if _, _, live := l.r.Position(slot); !live {
		return false
	}
	cs := rs.s.cl
	start := rs.s.handoff.waits.begin()
	cs.viewWaits.Add(1)
	defer rs.s.handoff.waits.observe(waitNextOwner, start)
	if cs.awaitView(v, start.Add(time.Duration(rs.nextOwnerWait.Load())), rs.ctx.Done()) {
		return true
	}
	return rs.ownerHandingOver(slot, v, owner) && cs.awaitView(v, start.Add(flipWait), rs.ctx.Done())
}

// routeMayWait reports whether routing cmd may hold it for a hand-over
// (awaitFlip for a slot being handed to this node, awaitNextOwner for a
// slot staged to it), so that an event loop parks it (loopPark) rather
// than hold every other connection of the loop with it. It hashes the
// command's keys only while this node has gated slots or slots staged to
// it. In proxy mode a plain client's command of a staged slot is
// forwarded, not held.
func (s *Server) routeMayWait(cl *client, cmd *command, args [][]byte) bool {
	cs, rs := s.cl, s.repl.Load()
	if cs == nil || rs == nil {
		return false
	}
	v := cs.view.Load()
	if v == nil {
		return false
	}
	gated := rs.gated.Load() > 0
	staged := v.incoming && (!cs.proxy || cl.clu.peer) // a proxy forwards a plain client's command
	if !gated && !staged {
		return false
	}
	slot, n, cross := cs.commandSlot(cmd, args)
	if n == 0 || cross {
		return false
	}
	return gated && rs.flipping(slot) || staged && v.t.IncomingIndex(slot) == v.self
}

// flip is a slot this node takes over from a live primary.
type flip struct {
	from  string         // the old primary's ID
	m     cluster.Member // the old primary, whose link carries the slot until the seal
	since time.Time
}

// flipping reports whether keyed commands of slot answer TRYAGAIN.
func (rs *replState) flipping(slot int) bool {
	return rs.gated.Load() > 0 && rs.gate[slot].Load()
}

// awaitFlip waits, up to flipWait and a little more, for the hand-over of
// slot to this node to end (the seal normally arrives within a replication
// round trip), so that a command meets a short delay rather than TRYAGAIN,
// which some clients (redis-cli -c) do not retry. It reports whether the
// slot is still being handed over. It runs on the client's goroutine and
// sleeps until a gate opens (setGate closes flipOpened), re-checking at
// least every flipRecheck.
func (rs *replState) awaitFlip(slot int) bool {
	deadline := time.Now().Add(flipWait + 100*time.Millisecond)
	for {
		opened := rs.flipOpened.Load() // before the check: a gate opening after it closes this channel
		if !rs.flipping(slot) {
			return false
		}
		wait := min(time.Until(deadline), flipRecheck)
		if wait <= 0 || rs.ctx.Err() != nil {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-*opened:
		case <-t.C:
		case <-rs.ctx.Done():
		}
		t.Stop()
	}
}

// flipRecheck bounds how long awaitFlip sleeps between two checks of its
// slot's gate.
const flipRecheck = 20 * time.Millisecond

func (rs *replState) setGate(slot int, on bool) {
	if rs.gate[slot].Swap(on) != on {
		if on {
			rs.gated.Add(1)
		} else {
			rs.gated.Add(-1)
			rs.openedGate()
		}
	}
}

// openedGate wakes the commands waiting in awaitFlip: it closes the
// current flipOpened channel, after the gate was opened, and installs a
// fresh one.
func (rs *replState) openedGate() {
	ch := make(chan struct{})
	if old := rs.flipOpened.Swap(&ch); old != nil {
		close(*old)
	}
}

// planFlips finds, in view v, the slots this node becomes primary of that
// it followed from a primary still in the table (a graceful hand-over),
// or held on a live link to one the table no longer lists (sealFrom),
// and those already waiting (also when their old primary left the table:
// the flip keeps its member, and so its link): they are not owned yet
// (owned[s] cleared), stay followed from the old primary (added to
// follow) and answer TRYAGAIN. Slots no longer given to this node stop
// waiting. rs.cfgMu must be held.
func (rs *replState) planFlips(v *clusterView, owned, prev *[store.Slots]bool, follow map[string][]int, members map[string]cluster.Member) {
	now := time.Now()
	touched := map[string]bool{}
	for s := range store.Slots {
		f := rs.flips[s]
		if !owned[s] {
			if f != nil {
				delete(rs.flips, s)
				rs.setGate(s, false)
			}
			continue
		}
		if f == nil {
			if prev[s] || !rs.s.store.ReplicaSlot(s) {
				continue
			}
			from := rs.followedFrom(s)
			m, ok := rs.sealFrom(v, s, from)
			if !ok {
				continue // the old primary is gone: a failover, promoted at once
			}
			f = &flip{from: from, m: m, since: now}
			rs.flips[s] = f
			rs.setGate(s, true)
		}
		owned[s] = false
		follow[f.from] = append(follow[f.from], s)
		members[f.from] = f.m
		if i := v.t.IndexOf(f.from); i >= 0 {
			members[f.from] = v.t.Member(i)
		}
		touched[f.from] = true
	}
	for id := range touched {
		slices.Sort(follow[id])
		follow[id] = slices.Compact(follow[id])
	}
	if len(rs.flips) > 0 {
		rs.pokeFlips()
	}
}

// pokeFlips has the run loop call finishFlips soon.
func (rs *replState) pokeFlips() {
	select {
	case rs.poke <- struct{}{}:
	default:
	}
}

// sealArrived is the replicas' OnSeal: ownerHandingOver looks at every
// forwarded slot again (seals), and a flip waiting for this seal finishes
// now rather than at the next flipPoll.
func (rs *replState) sealArrived(int) {
	rs.seals.Add(1)
	rs.pokeFlips()
}

// sealFrom returns the old primary this node takes slot over from, which
// its copy follows (from, "" if none), when that primary's seal is still
// to come: it is listed in v (a hand-over between live members), or the
// slot is held on its link (resumeOrHoldLocked) and the link is up. The
// second case is a failover during a hold (docs/replication.md,
// 2026-12-05): the slot's new primary died while this node's copy stood
// short of the old primary's seal, and the old primary, alive but leaving,
// is no longer listed; its link is the only way to the writes it
// acknowledged before it sealed. A held link that is down, or a primary
// neither listed nor held from, is gone: the slot is promoted at once.
// rs.cfgMu must be held.
func (rs *replState) sealFrom(v *clusterView, slot int, from string) (cluster.Member, bool) {
	if from == "" {
		return cluster.Member{}, false
	}
	if i := v.t.IndexOf(from); i >= 0 {
		return v.t.Member(i), true
	}
	if h := rs.holds[slot]; h == nil || h.from != from {
		return cluster.Member{}, false
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	l := rs.replicas[from]
	if l == nil || !l.r.Connected() {
		return cluster.Member{}, false
	}
	host, port, err := config.SplitHostPort(l.addr)
	if err != nil {
		return cluster.Member{}, false
	}
	return cluster.Member{ID: from, Host: host, Port: port}, true // Addr() is l.addr: setReplicas keeps the link
}

// followedFrom returns the ID of the primary whose Replica carries slot,
// or "" (followLink).
func (rs *replState) followedFrom(slot int) string {
	if l := rs.followLink(slot); l != nil {
		return l.primaryID
	}
	return ""
}

// followLink returns the published link that follows slot, or nil: from
// followed, which every change to the links renews before it releases
// rs.mu, so a reader needs no lock.
func (rs *replState) followLink(slot int) *followLink {
	if idx := rs.followed.Load(); idx != nil {
		return idx.links[slot]
	}
	return nil
}

// sealSlots seals the stream of every slot owned in prev and not in owned
// (this node gave them up while alive), just before routing stops serving
// them. It fences each slot first (store.FenceSlot, under the slot's shard
// lock): the commits in flight end, still appended (the caller keeps the
// slots in rs.owned until the seal), and a command routing let in before
// and that locks the slot after gets TRYAGAIN, or MOVED once routing names
// the new owner (kernel.Ctx.CheckFence, fencedError), so no write is
// applied here after the seal and never streamed.
//
// Each sealed slot's position (this node's history, the sealed sequence
// number) goes to rs.pos: the copy here is the slot at that position, the
// one its new primary adopts when its own copy reaches the seal. When this
// node stays in the slot's row as a replica (a crash's interim primary
// hands the slot to its target primary, cluster.nextTable), its Replica of
// the new primary resumes there (ReplicaConfig.Resume) instead of loading a
// snapshot of what it holds. setReplicas, later in the same applyLocked,
// is the only reader; the entries are cleared after it. rs.cfgMu must be
// held.
func (rs *replState) sealSlots(owned, prev *[store.Slots]bool) {
	var gone []int
	for s := range store.Slots {
		if prev[s] && !owned[s] {
			rs.s.store.FenceSlot(s, true)
			gone = append(gone, s)
		}
	}
	if len(gone) > 0 {
		seqs := rs.p.Seal(gone...)
		self := rs.p.ID()
		for i, s := range gone {
			rs.pos[s] = slotPosition{hist: self, seq: seqs[i], primary: "self (sealed)"}
		}
		rs.log.Info("sealed the streams of slots given up", "slots", len(gone))
	}
}

// unfence lifts the fence of every slot in owned that has one (this node
// handed it over earlier and serves it again). Called before the slots are
// served.
func (rs *replState) unfence(owned *[store.Slots]bool) {
	for s := range store.Slots {
		if owned[s] && rs.s.store.SlotFenced(s) {
			rs.s.store.FenceSlot(s, false)
		}
	}
}

// finishFlips takes over the waiting slots whose old primary sealed them
// and whose copy holds everything up to the seal, and those that waited
// flipWait with the link to the old primary down (or flipWaitLinked).
func (rs *replState) finishFlips() {
	rs.cfgMu.Lock()
	defer rs.cfgMu.Unlock()
	if len(rs.flips) == 0 || rs.ctx.Err() != nil {
		return
	}
	owned := *rs.owned.Load()
	var sealed, late []int
	var lt lateFlips
	changed := map[*replicaLink]bool{}
	// One clock reading per poll, not one per pending slot: a join leaves
	// thousands of flips pending for several polls (every flipPoll), and
	// a clock reading costs up to 2 µs on a virtual machine.
	now := time.Now()
	rs.mu.Lock()
	for s, f := range rs.flips {
		l := rs.replicas[f.from]
		done := l != nil && copyAtSeal(l, s)
		if waited := now.Sub(f.since); !done && (waited < rs.flipWait || waited < flipWaitLinked && l != nil && l.r.Connected()) {
			continue
		}
		how, n := rs.adoptFlipLocked(s, l)
		if l != nil {
			changed[l] = true
		}
		owned[s] = true
		delete(rs.flips, s)
		if done {
			sealed = append(sealed, s)
		} else {
			late = append(late, s)
			lt.note(f, l, s, how, n, now)
		}
	}
	rs.dropTakenLocked(changed, &owned)
	rs.mu.Unlock()
	rs.unfence(&owned) // a slot this node had handed over earlier
	rs.owned.Store(&owned)
	rs.logFlips(sealed, late, &lt) // counted before the gates open: whoever sees a gate open sees the count
	for _, s := range slices.Concat(sealed, late) {
		rs.setGate(s, false)
	}
}

// copyAtSeal reports whether l's copy of slot is live at the sequence
// number its primary sealed the slot at.
func copyAtSeal(l *replicaLink, slot int) bool {
	_, seq, live := l.r.Position(slot)
	end, ok := l.r.Sealed(slot)
	return ok && live && seq == end
}

// adoptFlipLocked makes this node's copy of slot, followed through l (nil
// if that Replica is gone), the slot's stream, where it stands (copyAt:
// live, or at a presented seal). Otherwise the slot starts empty
// (adoptEmpty), as a promotion out of sync does: a snapshot was under
// way, or its old primary could not serve it, not owning it yet. It
// returns how the copy stood and the keys dropped. rs.mu and rs.cfgMu
// must be held.
func (rs *replState) adoptFlipLocked(slot int, l *replicaLink) (how, dropped int) {
	rs.s.store.SetReplicaSlot(slot, false) // the applier leaves it alone from here
	if l != nil {
		var hist, seq uint64
		if hist, seq, how = l.copyAt(slot); how != copyNone {
			rs.p.Adopt(slot, hist, seq)
			rs.s.store.ContinueSlot(slot, seq)
			return how, 0
		}
	}
	return copyNone, rs.adoptEmpty(slot)
}

// lateFlips describes the slots one finishFlips took over without their
// old primary's seal, for the log: what their copies were, whether a seal
// had come at all, from whom, and the longest wait.
type lateFlips struct {
	live, presented, empty, noLink, sealSeen, dropped int
	from                                              map[string]bool
	waited                                            time.Duration
}

// note adds a slot taken over late from flip f through l (nil if none),
// whose copy stood as how (copyAt), with dropped keys dropped.
func (lt *lateFlips) note(f *flip, l *replicaLink, slot, how, dropped int, now time.Time) {
	switch how {
	case copyLive:
		lt.live++
	case copyPresented:
		lt.presented++
	default:
		lt.empty++
	}
	if l == nil {
		lt.noLink++
	} else if _, ok := l.r.Sealed(slot); ok {
		lt.sealSeen++
	}
	lt.dropped += dropped
	if lt.from == nil {
		lt.from = map[string]bool{}
	}
	lt.from[f.from] = true
	lt.waited = max(lt.waited, now.Sub(f.since))
}

// dropTakenLocked removes the slots now owned from the changed links
// (UNFOLLOW on the running link: the slots still waiting for their seal
// on it go on undisturbed). rs.mu and rs.cfgMu must be held.
func (rs *replState) dropTakenLocked(changed map[*replicaLink]bool, owned *[store.Slots]bool) {
	for l := range changed {
		l.slots = slices.DeleteFunc(slices.Clone(l.slots), func(x int) bool { return owned[x] })
		if len(l.slots) == 0 {
			rs.closeLinkLocked(l)
		} else {
			l.r.SetSlots(l.slots)
		}
	}
	rs.publishFollowsLocked()
	clear(rs.pos) // positions of slots this node now owns: nobody resumes from them
}

// logFlips logs and counts the slots taken over with and without a seal;
// lt describes the late ones.
func (rs *replState) logFlips(sealed, late []int, lt *lateFlips) {
	slices.Sort(sealed)
	slices.Sort(late)
	if len(sealed) > 0 {
		rs.log.Info("took over slots from their primary (sealed)", "slots", len(sealed), "ranges", slotRangesText(sealed))
		rs.takeovers.Add(uint64(len(sealed)))
		rs.flipsSealed.Add(uint64(len(sealed)))
	}
	if len(late) > 0 {
		from := slices.Sorted(maps.Keys(lt.from))
		rs.log.Warn("took over slots without their primary's seal (waited too long)", "slots", len(late),
			"ranges", slotRangesText(late), "waited", lt.waited.Round(time.Millisecond), "from", strings.Join(from, ","),
			"copies_live", lt.live, "copies_at_presented_seal", lt.presented, "copies_not_live", lt.empty,
			"no_link", lt.noLink, "seal_arrived", lt.sealSeen)
		rs.takeovers.Add(uint64(len(late)))
		rs.flipsLate.Add(uint64(len(late)))
	}
	if lt.dropped > 0 {
		rs.log.Warn("dropped the keys of slots taken over out of sync", "keys", lt.dropped, "slots", lt.empty)
	}
}
