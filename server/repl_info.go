package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/store"
)

// info writes INFO replication (fields documented in docs/replication.md).
// The node is primary of its own slots and replica of others', so it
// reports role:master with its replica links (slaveN, Redis's fields
// first, then per-link ones), the slot counts per role, the backlog and
// sync counters, and one replica_ofN line per primary it follows.
func (rs *replState) info(b *strings.Builder) {
	ps := rs.p.Stats()
	field(b, "role", "master")
	primary, replica := rs.slotCounts()
	field(b, "slots_primary", primary)
	field(b, "slots_replica", replica)
	field(b, "connected_slaves", len(ps.Links))
	slices.SortFunc(ps.Links, func(a, b repl.LinkStats) int { return strings.Compare(a.ID, b.ID) })
	for i, l := range ps.Links {
		host, port := rs.replicaAddr(l)
		state := "online"
		if !l.Ready || l.SnapSlotsLeft > 0 {
			state = "wait_bgsave"
		}
		field(b, "slave"+strconv.Itoa(i), fmt.Sprintf("ip=%s,port=%s,state=%s,offset=%d,lag=%d,"+
			"id=%s,slots=%d,lag_records=%d,lag_ms=%d,snapshot_slots_left=%d,snapshot_slots_done=%d,snapshot_keys=%d,snapshot_bytes=%d",
			host, port, state, l.AckIndex, int64(l.AckAge/time.Second),
			l.ID, l.Slots, l.LagRecords, l.LagMs, l.SnapSlotsLeft, l.SnapSlotsDone, l.SnapKeys, l.SnapBytes))
	}
	field(b, "master_failover_state", "no-failover")
	field(b, "master_replid", fmt.Sprintf("%040x", rs.p.ID()))
	field(b, "master_replid2", strings.Repeat("0", 40))
	field(b, "master_repl_offset", ps.LastIndex)
	field(b, "second_repl_offset", -1)
	field(b, "repl_backlog_active", 1)
	field(b, "repl_backlog_size", ps.BacklogSize)
	field(b, "repl_backlog_first_byte_offset", ps.FirstIndex)
	field(b, "repl_backlog_histlen", ps.BacklogUsed)
	field(b, "repl_backlog_first_index", ps.FirstIndex)
	field(b, "repl_backlog_last_index", ps.LastIndex)
	field(b, "repl_full_sync_slots", ps.FullSyncs)
	field(b, "repl_partial_syncs", ps.PartialSyncs)
	field(b, "repl_partial_sync_slots", ps.PartialSlots)
	field(b, "repl_behind_cuts", ps.BehindCuts)
	field(b, "repl_links_accepted", ps.LinksAccepted)
	for i, f := range rs.follows() {
		field(b, "replica_of"+strconv.Itoa(i), fmt.Sprintf("primary=%s,addr=%s,link=%s,offset=%d,slots=%d,slots_live=%d,slots_syncing=%d,"+
			"full_syncs=%d,partial_slots=%d,gaps=%d,duplicates=%d,reconnects=%d,slot_changes=%d",
			f.id, f.addr, f.link(), f.st.AckIndex, f.slots, f.st.SlotsLive, f.st.SlotsSyncing,
			f.st.FullSyncs, f.st.PartialSlots, f.st.Gaps, f.st.Duplicates, f.st.Reconnects, f.st.SlotChanges))
	}
}

// follow is one primary this node replicates, with its Replica's numbers.
type follow struct {
	id, addr string
	slots    int
	st       repl.ReplicaStats
}

func (f follow) link() string {
	if f.st.Connected {
		return "up"
	}
	return "down"
}

// follows returns the primaries followed, by ID.
func (rs *replState) follows() []follow {
	rs.mu.Lock()
	out := make([]follow, 0, len(rs.replicas))
	for id, l := range rs.replicas {
		out = append(out, follow{id: id, addr: l.addr, slots: len(l.slots), st: l.r.Stats()})
	}
	rs.mu.Unlock()
	slices.SortFunc(out, func(a, b follow) int { return strings.Compare(a.id, b.id) })
	return out
}

// slotCounts returns how many slots this node is primary and replica of.
func (rs *replState) slotCounts() (primary, replica int) {
	owned := rs.owned.Load()
	for slot := range store.Slots {
		if owned[slot] {
			primary++
		} else if rs.s.store.ReplicaSlot(slot) {
			replica++
		}
	}
	return primary, replica
}
