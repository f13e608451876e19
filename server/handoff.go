package server

// Slot hand-off (docs/cluster.md "Moving slots without a miss"): with
// replication on, the coordinator stages slot moves (cluster/stage.go). This
// node's part:
//
//   - It replicates every slot it holds in the table as replica or incoming
//     member (repl.go follows Table.Holders) and reports, for each table it
//     applied, which of those slots are not live yet (Node.ReportHeld); the
//     coordinator flips a staged slot once its incoming member has it live.
//   - A graceful shutdown (SIGTERM, SHUTDOWN) first announces the leave
//     (Node.BeginLeave) and keeps serving until the table no longer gives
//     this node any slot, at most cluster-shutdown-handoff-timeout, and
//     logs what it handed over and what it abandoned.
//   - Progress: INFO migration and the cached_migration_* metrics.

import (
	"cmp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/repl"
)

// handoffPoll is how often a leaving node checks whether it is done.
const handoffPoll = 20 * time.Millisecond

// A node that handed all its slots over keeps answering (MOVED to the new
// owners) before it closes its listeners, until every other member has
// applied its last table (Node.PeersReported) and then it has sent no
// MOVED for handoffQuiet, at most handoffLinger: cluster clients reload
// their slot map on a MOVED, while a refused connection teaches them
// nothing (go-redis keeps routing to the closed node until something else
// makes it reload, and a pipeline fails). A reload from a member that had
// not applied the last table yet would still route that table's slots
// here, so the quiet time counts only from when they all have.
const (
	handoffQuiet  = 300 * time.Millisecond
	handoffLinger = 3 * time.Second
)

// handoffState is the node's migration bookkeeping. The zero value is ready.
type handoffState struct {
	mu       sync.Mutex // protects the fields below
	reported *clusterView
	followed []heldSlot // slots held as replica or incoming member in reported
	// wasLive marks the slots whose copy was live on a connected link while
	// reported (or an earlier table with the same primary, carriedLive)
	// was the table: they stay reported live when the link drops (the
	// primary crashed: the copy is as complete as a failover can get).
	wasLive  []bool
	lastView *clusterView
	lastOwn  []bool // primary slots in lastView (nil before the first)

	slotsIn, slotsOut          atomic.Uint64 // slots this node became / stopped being primary of, while alive in both tables
	keysLoaded, bytesLoaded    atomic.Uint64 // snapshot keys and payload bytes this node restored
	incoming, incomingLive     atomic.Int64  // slots staged to this node in the current table; of which live
	outgoing                   atomic.Int64  // slots this node is primary of and staged to another
	handedOff, abandoned       atomic.Int64  // slots of the last graceful leave
	leaveRetained              atomic.Int64  // most slots the last leave kept a copy of as retained member
	leaveStarted, leaveElapsed atomic.Int64  // unix ns; ns
	peersReported              atomic.Bool   // the last leave's linger saw every member apply its last table
	// Replica slots whose primary changed while this node kept them
	// (replState.resumeOrHoldLocked): moved on with the copy at the old
	// primary's seal (the new primary's link resumes them); held on the
	// old link until the seal, of which on a link followed for nothing
	// else; held and then let go short of the seal (link down or
	// flipWait: they load a snapshot).
	sealResumes, holds, holdsWholeLink, holdsAbandoned atomic.Uint64
	// waits times the client commands held by hand-overs (handoff_waits.go).
	waits handoverWaits
}

// heldSlot is a slot this node holds as replica or incoming member, and
// the primary it follows.
type heldSlot struct {
	slot     int
	primary  string
	incoming bool
}

// reportHeld tells the cluster node which slots of the table last applied
// by reconfigure are not live here yet. Called by replState.run.
func (rs *replState) reportHeld() {
	v := rs.view.Load()
	n := rs.s.cl.node.Load()
	if v == nil || v.self < 0 || n == nil {
		return
	}
	h := &rs.s.handoff
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reported != v {
		followed := heldSlots(v)
		h.wasLive = carriedLive(h.followed, h.wasLive, followed)
		h.reported, h.followed = v, followed
		h.countFlips(v)
	}
	var notLive, flushed []cluster.SlotRange
	var in, inLive int64
	rs.mu.Lock()
	// The link of the previous slot's primary: runs of slots share one,
	// so a poll (every replPoll, over up to NumSlots × replicas slots)
	// looks a link up per run, not per slot. A slot turns live only on a
	// connected link (not a copy from before a freeze).
	primary, link := "", (*replicaLink)(nil) // no link for no primary
	for _, f := range h.followed {
		if rs.loading[f.slot].Load() { // dropped for a snapshot still loading (applier.FlushSlot)
			flushed = appendSlot(flushed, f.slot)
		}
		if f.primary != primary {
			primary, link = f.primary, rs.replicas[f.primary]
			if link != nil && !link.r.Connected() {
				link = nil
			}
		}
		live := false
		if link != nil {
			_, _, live = link.r.Position(f.slot)
			// An incoming copy is live for the coordinator's flip only once
			// the primary marked it under a table of the unbroken run of
			// tables that staged it here (Table.StagedSince; this table's
			// version where the table does not say): WAIT counted it from
			// then on, so it lacks no write a WAIT acknowledged
			// (cluster/repl/mark.go).
			live = live && (!f.incoming || link.r.Marked(f.slot) >= cmp.Or(v.t.StagedSince(f.slot), v.t.Version()))
			h.wasLive[f.slot] = live
		} else if !f.incoming {
			// Link down (the primary is gone, or the link restarts): a
			// copy that was live still is the most complete one a
			// failover can promote (it has every write a WAIT counted it
			// for), so its report does not change while the tables keep
			// its primary (the coordinator may plan several before it
			// sees the crash). Not for an incoming copy: a flip to it
			// must find its link up (it waits for the old primary's seal
			// on it).
			live = h.wasLive[f.slot]
		}
		if f.incoming {
			in++
			if live {
				inLive++
			}
		}
		if !live {
			notLive = appendSlot(notLive, f.slot)
		}
	}
	rs.mu.Unlock()
	h.incoming.Store(in)
	h.incomingLive.Store(inLive)
	n.ReportHeld(v.t.Version(), notLive, flushed)
}

// appendSlot adds slot s, not below any slot of rs, to the sorted ranges
// rs (a slot held twice, as incoming and retained, is added once).
func appendSlot(rs []cluster.SlotRange, s int) []cluster.SlotRange {
	if k := len(rs); k > 0 && rs[k-1].End >= s-1 {
		rs[k-1].End = max(rs[k-1].End, s)
		return rs
	}
	return append(rs, cluster.SlotRange{Start: s, End: s})
}

// carriedLive returns wasLive for a new table whose held slots are now,
// from the previous table's (prev, was): a copy held (not as incoming
// member) in both with the same primary keeps its mark. Its link did not
// restart for the new table, so a mark only matters while the link is
// down, when it is the copy's last known state. (A slot dropped and
// followed again between two reports would keep a mark its new copy has
// not earned; its link resyncs it, and a connected link's Position
// replaces the mark at once.)
func carriedLive(prev []heldSlot, was []bool, now []heldSlot) []bool {
	out := make([]bool, cluster.NumSlots)
	if was == nil {
		return out
	}
	from := make([]string, cluster.NumSlots) // primary of each slot marked live
	for _, f := range prev {
		if !f.incoming && was[f.slot] {
			from[f.slot] = f.primary
		}
	}
	for _, f := range now {
		if !f.incoming && f.primary != "" && from[f.slot] == f.primary {
			out[f.slot] = true
		}
	}
	return out
}

// heldSlots lists, in slot order, the slots v gives this node as replica,
// incoming or retained member (a retained copy's report lets a failover
// promote it, cluster.Table.Retained).
func heldSlots(v *clusterView) []heldSlot {
	var out []heldSlot
	if v.self < 0 {
		return nil
	}
	for s := range cluster.NumSlots {
		switch {
		case v.t.OwnerIndex(s) == v.self:
		case v.t.IncomingIndex(s) == v.self:
			out = append(out, heldSlot{slot: s, primary: v.t.Owner(s).ID, incoming: true})
		case v.t.Rank(s, v.self) > 0:
			out = append(out, heldSlot{slot: s, primary: v.t.Owner(s).ID})
		}
		if v.t.RetainedIndex(s) == v.self {
			out = append(out, heldSlot{slot: s, primary: v.t.Owner(s).ID})
		}
	}
	return out
}

// countFlips counts the slots this node gained and lost as primary from the
// previous reported table to v, and the slots of its own staged to others.
// h.mu must be held.
func (h *handoffState) countFlips(v *clusterView) {
	own := make([]bool, cluster.NumSlots)
	var out int64
	for s := range cluster.NumSlots {
		own[s] = v.t.OwnerIndex(s) == v.self
		if own[s] && v.t.IncomingIndex(s) >= 0 {
			out++
		}
		if h.lastOwn == nil || h.lastView.t.Version() == 0 {
			continue
		}
		switch {
		case own[s] && !h.lastOwn[s]:
			h.slotsIn.Add(1)
		case !own[s] && h.lastOwn[s]:
			h.slotsOut.Add(1)
		}
	}
	h.outgoing.Store(out)
	h.lastView, h.lastOwn = v, own
}

// handOff runs first in a graceful Shutdown: in cluster mode with
// replication, it announces the leave and waits until the agreed table no
// longer gives this node any slot (its slots flipped to their next
// primaries, which synced them first), at most
// cluster-shutdown-handoff-timeout. The node keeps serving meanwhile. It
// logs what it handed over and what it abandoned (slots still its own at
// the deadline: their replicas take them over when the node is gone, less
// the writes not yet replicated).
func (s *Server) handOff(reason string) {
	cs, rs := s.cl, s.repl.Load()
	limit := time.Duration(s.cfg.Cluster.ShutdownHandoffTimeout) * time.Millisecond
	if cs == nil || rs == nil || limit <= 0 {
		return
	}
	n := cs.node.Load()
	if n == nil {
		return
	}
	if st := n.State(); st != cluster.StateOK && !s.leaveUnplanned(n, reason, st, limit) {
		return
	}
	if n.Table().Len() < 2 {
		return
	}
	start := time.Now()
	before := ownedSlots(n)
	s.handoff.leaveStarted.Store(start.UnixNano())
	s.log.Warn("cluster: handing slots over before leaving", "reason", reason, "slots", before, "timeout", limit)
	n.BeginLeave()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(handoffPoll)
	defer tick.Stop()
	s.handoff.leaveRetained.Store(0)
	for !n.HandedOff() {
		// The leaver keeps following the slots it replicated as their
		// retained member until their new replicas report live (a failover
		// meanwhile promotes its copy): the wait covers those too.
		if r := int64(retainedSlots(n)); r > s.handoff.leaveRetained.Load() {
			s.handoff.leaveRetained.Store(r)
		}
		select {
		case <-deadline.C:
			s.logHandoff(n, before, start, false)
			return
		case <-tick.C:
		}
	}
	s.logHandoff(n, before, start, true)
	s.lingerWhileMoved(n, deadline.C)
}

// plannedInGrace is how long a node that is not planned in when it is
// asked to stop waits for a table that planned it in before the
// coordinator saw its leave flag (the coordinator plans planDelay, 20 ms,
// after a change and the flag travels by gossip).
const plannedInGrace = time.Second

// leaveUnplanned handles a graceful stop of a node that is not ok. One
// listed in its table that has been ok before (cut off, or just thawed)
// hands nothing over: its replicas take its slots over when it is gone,
// as after a crash. Every other one sets its leave flag first, so that
// the coordinator does not plan it in (again) while it stops. One
// restarted under its old ID (listed by the table from before,
// cluster.Node.Restarted) holds nothing and leaves. One not planned in
// yet (joining, or re-joining after its restart was planned out), or
// planned in a moment ago and not ok yet, waits: if a table plans it in
// (within plannedInGrace, at most limit), it returns true once the node
// is ok (another plannedInGrace at most from when its table listed it:
// the node turns ok after its subscribers have that table), and the node
// hands over as any member. It logs what it did.
func (s *Server) leaveUnplanned(n *cluster.Node, reason string, st cluster.State, limit time.Duration) bool {
	if n.Table().IndexOf(n.ID()) >= 0 && n.BeenOK() {
		s.log.Warn("cluster: not handing slots over before leaving: the node is not ok; its replicas take its slots over",
			"reason", reason, "state", st.String(), "slots", ownedSlots(n))
		return false
	}
	n.BeginLeave()
	if n.Table().IndexOf(n.ID()) >= 0 && n.Restarted() {
		s.log.Warn("cluster: leaving before being planned in: nothing to hand over; listed by the table from before its restart, its replicas take its slots over",
			"reason", reason, "state", st.String(), "slots", ownedSlots(n))
		return false
	}
	start := time.Now()
	until := start.Add(min(plannedInGrace, limit))
	listed := false
	tick := time.NewTicker(handoffPoll)
	defer tick.Stop()
	for {
		if n.Table().IndexOf(n.ID()) >= 0 {
			if n.State() == cluster.StateOK {
				return true
			}
			if !listed { // planned in: give it the time to turn ok (never sooner than the first grace ends)
				listed = true
				until = time.Now().Add(plannedInGrace)
				if end := start.Add(limit); until.After(end) {
					until = end
				}
			}
		}
		if time.Now().After(until) {
			if listed {
				s.log.Warn("cluster: not handing slots over before leaving: planned in, but the node did not turn ok; its replicas take its slots over",
					"reason", reason, "state", n.State().String(), "slots", ownedSlots(n))
				return false
			}
			s.log.Warn("cluster: leaving before being planned in: nothing to hand over", "reason", reason, "state", st.String())
			return false
		}
		<-tick.C
	}
}

// retainedSlots counts the slots n keeps a copy of as their retained
// member in its current table.
func retainedSlots(n *cluster.Node) int {
	t := n.Table()
	self := t.IndexOf(n.ID())
	c := 0
	for s := range cluster.NumSlots {
		if self >= 0 && t.RetainedIndex(s) == self {
			c++
		}
	}
	return c
}

// lingerWhileMoved waits until every other member has applied n's table
// and this node has then answered no MOVED for handoffQuiet (clients have
// learned the new owners), at most handoffLinger or until deadline fires.
// It logs how long it lingered and whether the members had all applied the
// table.
func (s *Server) lingerWhileMoved(n *cluster.Node, deadline <-chan time.Time) {
	start := time.Now()
	limit := time.NewTimer(handoffLinger)
	defer limit.Stop()
	tick := time.NewTicker(handoffPoll)
	defer tick.Stop()
	last, quietSince := s.movedReplies(), start
	reported := n.PeersReported()
wait:
	for !reported || time.Since(quietSince) < handoffQuiet {
		select {
		case <-limit.C:
			break wait
		case <-deadline:
			break wait
		case <-tick.C:
		}
		reported = reported || n.PeersReported()
		if m := s.movedReplies(); m != last || !reported {
			last, quietSince = m, time.Now()
		}
	}
	s.handoff.peersReported.Store(reported)
	s.log.Warn("cluster: lingered for clients to reload the slot map", "took", time.Since(start).Round(time.Millisecond),
		"peers_applied_last_table", reported, "table", n.Table().Version())
}

// movedReplies returns how many MOVED errors the node has answered.
func (s *Server) movedReplies() uint64 {
	codes, counts := s.stats.errorCounts()
	for i, c := range codes {
		if c == "MOVED" {
			return counts[i]
		}
	}
	return 0
}

// logHandoff logs and records the result of a graceful leave.
func (s *Server) logHandoff(n *cluster.Node, before int, start time.Time, done bool) {
	left := ownedSlots(n)
	took := time.Since(start)
	s.handoff.handedOff.Store(int64(before - left))
	s.handoff.abandoned.Store(int64(left))
	s.handoff.leaveElapsed.Store(int64(took))
	kept := s.handoff.leaveRetained.Load()
	if done {
		s.log.Warn("cluster: slots handed over", "slots", before, "retained_copies", kept,
			"took", took.Round(time.Millisecond))
		return
	}
	s.log.Error("cluster: hand-over timed out, leaving anyway", "handed", before-left, "abandoned", left,
		"took", took.Round(time.Millisecond), "staged", n.Table().Staged(), "retained_copies", kept,
		"still_retained", retainedSlots(n))
}

// ownedSlots counts the slots n is primary of in its current table.
func ownedSlots(n *cluster.Node) int {
	t := n.Table()
	self := t.IndexOf(n.ID())
	c := 0
	for s := range cluster.NumSlots {
		if self >= 0 && t.OwnerIndex(s) == self {
			c++
		}
	}
	return c
}

// countingApplier counts the snapshot keys and bytes a replica restores.
type countingApplier struct {
	repl.Applier
	h *handoffState
}

// Restore implements repl.Applier.
func (a countingApplier) Restore(slot, db int, key, payload []byte, pexpireAt int64) error {
	a.h.keysLoaded.Add(1)
	a.h.bytesLoaded.Add(uint64(len(key) + len(payload)))
	return a.Applier.Restore(slot, db, key, payload, pexpireAt)
}

// infoMigration writes INFO's migration section: staged moves in the
// current table, this node's share, and what it moved since start.
func (s *Server) infoMigration(b *strings.Builder) {
	h := &s.handoff
	state, staged := "off", 0
	if s.cl != nil && s.repl.Load() != nil {
		state = "idle"
		if v := s.cl.view.Load(); v != nil {
			if staged = v.t.Staged(); staged > 0 {
				state = "moving"
			}
		}
		if n := s.cl.node.Load(); n != nil && n.Leaving() {
			state = "leaving"
		}
	}
	var keysSent, bytesSent uint64
	dropping := 0
	if s.cl != nil {
		dropping = s.cl.drops.pendingSlots()
	}
	pace := 100
	var unpaced time.Duration
	if rs := s.repl.Load(); rs != nil {
		pace = rs.pacer.Share()
		unpaced = rs.pacer.IdleWorked()
		for _, l := range rs.p.Stats().Links {
			keysSent += l.SnapKeys
			bytesSent += l.SnapBytes
		}
	}
	writeFields(b, []any{
		"migration_state", state,
		"migration_table_staged_slots", staged,
		"migration_incoming_slots", h.incoming.Load(),
		"migration_incoming_slots_live", h.incomingLive.Load(),
		"migration_outgoing_slots", h.outgoing.Load(),
		"migration_slots_in", h.slotsIn.Load(),
		"migration_slots_out", h.slotsOut.Load(),
		"migration_snapshot_keys_loaded", h.keysLoaded.Load(),
		"migration_snapshot_bytes_loaded", h.bytesLoaded.Load(),
		"migration_snapshot_keys_sent_links", keysSent,
		"migration_snapshot_bytes_sent_links", bytesSent,
		"migration_leave_handed_slots", h.handedOff.Load(),
		"migration_leave_abandoned_slots", h.abandoned.Load(),
		"migration_leave_retained_slots", h.leaveRetained.Load(),
		"migration_leave_ms", time.Duration(h.leaveElapsed.Load()).Milliseconds(),
		"migration_seal_resumes", h.sealResumes.Load(),
		"migration_holds", h.holds.Load(),
		"migration_holds_whole_link", h.holdsWholeLink.Load(),
		"migration_holds_abandoned", h.holdsAbandoned.Load(),
		"migration_snapshot_pace", pace,
		"migration_snapshot_unpaced_idle_ms", unpaced.Milliseconds(),
		"migration_drop_pending_slots", dropping,
	})
	h.waits.appendInfo(b)
}

// writeFields writes INFO fields from name, value pairs.
func writeFields(b *strings.Builder, kv []any) {
	for i := 0; i+1 < len(kv); i += 2 {
		field(b, kv[i].(string), kv[i+1])
	}
}
