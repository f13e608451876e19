package repl

import (
	"slices"
	"time"
)

// PrimaryStats are a Primary's numbers for INFO replication and metrics.
type PrimaryStats struct {
	BacklogSize   int    // configured ring size, bytes (repl_backlog_size)
	BacklogUsed   uint64 // bytes of records kept (repl_backlog_histlen): over BacklogSize while a replica lags
	BacklogHeld   uint64 // bytes of memory the backlog holds (mem_total_replication_buffers)
	FirstIndex    uint64 // index of the oldest record in the ring
	LastIndex     uint64 // index of the newest record appended (master_repl_offset, in records)
	FullSyncs     uint64 // slots sent as snapshots (sync_full counts connections in Redis)
	PartialSlots  uint64 // slots continued from the backlog at a handshake or a FOLLOW
	PartialSyncs  uint64 // handshakes that continued at least one slot (sync_partial_ok)
	BehindCuts    uint64 // links cut because their replica fell behind the backlog
	LinksAccepted uint64 // replica connections served since start
	Links         []LinkStats
}

// LinkStats describe one connected replica.
type LinkStats struct {
	ID            string // the replica's ID from its handshake
	Addr          string // its remote address
	Ready         bool   // the handshake finished
	Slots         int    // slots the link carries (its handshake's, then FOLLOW and UNFOLLOW)
	AckIndex      uint64 // last record index it acknowledged
	LagRecords    uint64 // records appended after AckIndex (all slots)
	LagMs         int64  // append time of the newest record minus that of the acknowledged one (before the first acknowledgement at most the link's age); 0 when caught up
	AckAge        time.Duration
	SnapSlotsLeft int    // slots waiting for, or in, a snapshot
	SnapSlotsDone uint64 // snapshots sent on this link
	SnapBytes     uint64 // snapshot bytes written
	SnapKeys      uint64 // snapshot keys written
}

// Buffer returns the bytes of memory the backlog holds and its configured
// size: what it holds over the size is kept for replicas that lag.
func (p *Primary) Buffer() (held, size uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bl.held(), p.bl.size
}

// SnapshotHeld returns the snapshot bytes the links have gathered and are
// writing to their replicas: memory held for replicas beside Buffer's.
func (p *Primary) SnapshotHeld() int64 { return p.snapHeld.Load() }

// Stats returns the current numbers.
func (p *Primary) Stats() PrimaryStats {
	p.mu.Lock()
	st := PrimaryStats{
		BacklogSize: int(p.bl.size),
		BacklogHeld: p.bl.held(),
		BacklogUsed: p.bl.used(),
		FirstIndex:  p.bl.firstIndex,
		LastIndex:   p.bl.lastIndex,
	}
	lastMs := p.bl.lastMs
	ls := slices.Clone(p.links)
	p.mu.Unlock()
	st.FullSyncs = p.fullSyncs.Load()
	st.PartialSlots = p.partialSlots.Load()
	st.PartialSyncs = p.partialConns.Load()
	st.BehindCuts = p.cuts.Load()
	st.LinksAccepted = p.links0.Load()
	now := p.now()
	for _, l := range ls {
		st.Links = append(st.Links, l.stats(st.LastIndex, lastMs, now))
	}
	return st
}

func (l *link) stats(last uint64, lastMs int64, now time.Time) LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := LinkStats{
		ID: l.id, Addr: l.conn.RemoteAddr().String(), Ready: l.ready,
		AckIndex: l.ackIndex, SnapSlotsLeft: l.snapLeft, Slots: l.nslots,
		SnapSlotsDone: l.snapDone.Load(), SnapBytes: l.snapBytes.Load(), SnapKeys: l.snapKeys.Load(),
	}
	if l.ready {
		ls.AckAge = now.Sub(l.ackAt)
	}
	if last > l.ackIndex {
		ls.LagRecords = last - l.ackIndex
		ls.LagMs = max(lastMs-l.ackMs, 0)
		if l.ackMs <= 0 && l.ready { // nothing acknowledged yet: the link's age, not the epoch's
			ls.LagMs = min(ls.LagMs, now.Sub(l.ackAt).Milliseconds())
		}
	}
	return ls
}

// ReplicaStats are a Replica's numbers.
type ReplicaStats struct {
	Primary      string
	Connected    bool   // handshake done, link up (master_link_status)
	AckIndex     uint64 // primary's record index applied (slave_repl_offset, in records)
	SlotsLive    int    // slots following the stream
	SlotsSyncing int    // slots waiting for or loading a snapshot, or added and not answered yet
	FullSyncs    uint64 // slot snapshots loaded
	PartialSlots uint64 // slots continued from the primary's backlog at handshakes and FOLLOWs
	Gaps         uint64 // sequence gaps seen (each heals by a snapshot of the slot)
	Duplicates   uint64 // records skipped as already applied
	Reconnects   uint64 // connections that ended or failed
	SlotChanges  uint64 // SetSlots changes sent on a connected link (FOLLOW, UNFOLLOW) instead of a reconnect
}

// Connected reports whether the link to the primary is up (handshake done).
// A link that goes silent is cut by its read timeout, so a connected link
// is delivering the stream.
func (r *Replica) Connected() bool { return r.connected.Load() }

// Stats returns the current numbers. It scans the slot states.
func (r *Replica) Stats() ReplicaStats {
	st := ReplicaStats{
		Primary:      r.cfg.Addr,
		Connected:    r.connected.Load(),
		AckIndex:     r.ackIndex.Load(),
		FullSyncs:    r.fullSyncs.Load(),
		PartialSlots: r.partialSlots.Load(),
		Gaps:         r.gaps.Load(),
		Duplicates:   r.dups.Load(),
		Reconnects:   r.reconnects.Load(),
		SlotChanges:  r.slotChanges.Load(),
	}
	r.mu.Lock() // a FOLLOWED turns an asked slot live under it: no slot counted twice or missed
	defer r.mu.Unlock()
	for i := range r.state {
		switch r.state[i].Load() {
		case slotLive:
			st.SlotsLive++
		case slotWaiting, slotLoading:
			st.SlotsSyncing++
		}
	}
	st.SlotsSyncing += len(r.asked) // added, FOLLOWED not back yet (off meanwhile)
	return st
}
