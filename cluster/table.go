package cluster

import (
	"cmp"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
)

// NumSlots is the number of hash slots, as in Redis Cluster.
const NumSlots = 16384

// maxMembers is the largest member set a Table indexes (indexes are uint16).
const maxMembers = math.MaxUint16

// Member is one node as every other node sees it. ID, Host and Port travel in
// memberlist node meta (well under memberlist's 512-byte limit).
type Member struct {
	ID         string // 40 lower-case hex chars, Redis Cluster node ID style
	Host       string // announced RESP host (AnnounceHost, else the gossip address's host)
	Port       int    // announced RESP port
	GossipAddr string // host:port of the memberlist transport
	Self       bool   // this node (set in the local view only)
}

// Addr returns the member's RESP address, "host:port" ("[v6]:port" for IPv6).
func (m Member) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// SlotRange is a contiguous range of slots, both ends inclusive.
type SlotRange struct{ Start, End int }

// Table is an immutable snapshot mapping every slot to its preference list
// (primary first, then up to Replicas replicas on other members). It is made
// by [BuildTable] (bootstrap) or [Plan] (the successor of a previous table)
// and agreed cluster-wide by version (see [Node]). A Table is safe for
// concurrent use; the zero value and a nil *Table are not valid.
type Table struct {
	version uint64
	// term counts the changes of planner along the table's line: a node
	// that plans from a table planned by another node plans the next term
	// (see newer). 0 for BuildTable/Plan and a node's own first table.
	term     uint64
	planner  string // ID of the node that planned it ("" for BuildTable/Plan)
	replicas int
	width    int      // entries per slot in prefs: min(1+replicas, len(members))
	members  []Member // sorted by ID, unique IDs
	prefs    []uint16 // NumSlots*width member indexes; prefs[s*width] is slot s's primary
	// incoming is nil, or per slot the member that is syncing the slot to
	// take it over as primary (noMember for none): a staged move, see
	// stage.go. It is in the slot's preference list only as its last
	// replica, where every member holds the slot.
	incoming []uint16
	// since is nil when incoming is (or the table came in an older wire
	// format); else, for a staged slot, the version of the first table of
	// the unbroken run of tables that staged it to the same incoming
	// member from the same primary (0 where none is incoming): a mark the
	// primary sent under any of them still holds (StagedSince).
	since []uint64
	// oldPos is nil when incoming is; else, for a staged slot, the index
	// its current primary has in the target's preference list (0: not in
	// it). With it the target row is the incoming member, then the row
	// after the primary with the primary put back at oldPos (stage.go).
	oldPos []uint8
	// retained is nil, or per slot a member the slot's row no longer lists
	// that keeps its copy (it follows the slot like a replica) until every
	// replica in the row reported its copy live (noMember for none): a
	// replica move is staged so that the copy the old row's order vouched
	// for (WAIT) is not dropped before the new one is complete (issue 11,
	// stage.go). Never in the row, never the incoming member; non-nil only
	// when incoming is.
	retained []uint16
}

// noMember marks a slot without an incoming member (member indexes are
// below maxMembers).
const noMember = math.MaxUint16

// normalizeMembers returns a sorted, de-duplicated copy of members.
func normalizeMembers(members []Member) []Member {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int {
		return cmp.Or(
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Host, b.Host),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.GossipAddr, b.GossipAddr),
		)
	})
	ms = slices.CompactFunc(ms, func(a, b Member) bool { return a.ID == b.ID })
	if len(ms) > maxMembers {
		ms = ms[:maxMembers]
	}
	return slices.Clip(ms)
}

// Version returns the table's version (epoch): every table planned from
// another has a higher version, and all nodes converge on the same table for
// a version (CLUSTER INFO cluster_current_epoch).
func (t *Table) Version() uint64 { return t.version }

// Term returns the table's term: how often the planner changed along the
// line of tables it was planned from (a node that plans from a table
// another node planned takes the next term). Of two tables of one version
// the one with the higher term wins (see [Node]).
func (t *Table) Term() uint64 { return t.term }

// Planner returns the ID of the node that planned the table (the
// coordinator of its version), "" for a table built by BuildTable or Plan.
func (t *Table) Planner() string { return t.planner }

// Replicas returns the replica count the table was built with.
func (t *Table) Replicas() int { return t.replicas }

// Len returns the number of members.
func (t *Table) Len() int { return len(t.members) }

// Members returns the members sorted by ID. The slice is shared by every
// caller: it must not be modified.
func (t *Table) Members() []Member { return t.members }

// Member returns Members()[i], or the zero Member if i is out of range.
func (t *Table) Member(i int) Member {
	if i < 0 || i >= len(t.members) {
		return Member{}
	}
	return t.members[i]
}

// IndexOf returns the index in Members() of the member with this ID, or -1.
func (t *Table) IndexOf(id string) int {
	i := sort.Search(len(t.members), func(i int) bool { return t.members[i].ID >= id })
	if i < len(t.members) && t.members[i].ID == id {
		return i
	}
	return -1
}

// OwnerIndex returns the index in Members() of the slot's primary, or -1 if
// the table is empty or slot is outside [0, NumSlots). It is the cheap
// hot-path lookup: one bounds check and one load.
func (t *Table) OwnerIndex(slot int) int {
	if t.width == 0 || slot < 0 || slot >= NumSlots {
		return -1
	}
	return int(t.prefs[slot*t.width])
}

// Owner returns the slot's primary, or the zero Member if the table is empty
// or slot is outside [0, NumSlots).
func (t *Table) Owner(slot int) Member { return t.Member(t.OwnerIndex(slot)) }

// Preference returns the slot's preference list: the primary, then up to
// Replicas() replicas (fewer if there are fewer members), in a new slice.
// It returns nil if the table is empty or slot is outside [0, NumSlots).
// A loop over many slots should use AppendPreference, Width and
// PreferenceIndex, or Rank instead: they allocate nothing.
func (t *Table) Preference(slot int) []Member {
	if t.width == 0 || slot < 0 || slot >= NumSlots {
		return nil
	}
	return t.AppendPreference(make([]Member, 0, t.width), slot)
}

// AppendPreference appends the slot's preference list (see Preference) to
// dst and returns the extended slice; it allocates only if dst lacks room.
func (t *Table) AppendPreference(dst []Member, slot int) []Member {
	if t.width == 0 || slot < 0 || slot >= NumSlots {
		return dst
	}
	for _, i := range t.prefs[slot*t.width : (slot+1)*t.width] {
		dst = append(dst, t.members[i])
	}
	return dst
}

// Width returns the length of every slot's preference list:
// min(1+Replicas(), Len()).
func (t *Table) Width() int { return t.width }

// PreferenceIndex returns the index in Members() of entry k of the slot's
// preference list (k 0 is the primary), or -1 if there is no such entry.
func (t *Table) PreferenceIndex(slot, k int) int {
	if k < 0 || k >= t.width || slot < 0 || slot >= NumSlots {
		return -1
	}
	return int(t.prefs[slot*t.width+k])
}

// Rank returns the position of member index m in the slot's preference
// list: 0 for the primary, 1.. for its replicas, -1 if m is not in it (the
// incoming member is not, unless every member holds the slot: see
// IncomingIndex).
func (t *Table) Rank(slot, m int) int {
	if t.width == 0 || m < 0 || slot < 0 || slot >= NumSlots {
		return -1
	}
	for k, p := range t.prefs[slot*t.width : (slot+1)*t.width] {
		if int(p) == m {
			return k
		}
	}
	return -1
}

// Holds reports whether member index m holds the slot's data or receives
// it: it is in the slot's preference list or is its incoming member.
func (t *Table) Holds(slot, m int) bool {
	return slot >= 0 && slot < NumSlots && t.holdsIndex(slot, m)
}

// Ranges returns the contiguous slot ranges whose primary is the member with
// this ID, in ascending order; nil if it owns none or is unknown.
func (t *Table) Ranges(id string) []SlotRange {
	idx := t.IndexOf(id)
	if idx < 0 {
		return nil
	}
	var out []SlotRange
	start := -1
	for s := 0; s <= NumSlots; s++ {
		owned := s < NumSlots && int(t.prefs[s*t.width]) == idx
		switch {
		case owned && start < 0:
			start = s
		case !owned && start >= 0:
			out = append(out, SlotRange{Start: start, End: s - 1})
			start = -1
		}
	}
	return out
}

// IncomingIndex returns the index in Members() of the member that is
// syncing slot to become its primary (a staged move: the current primary
// keeps serving until the table flips the slot), or -1 if none. It is not
// in the slot's preference list, except as its last replica where the
// row would be short without it (the target row lists the current primary
// as a replica, and no current replica is left to fill its place): a
// replica is staged as incoming before it takes the slot over, unless it
// is the first (see flipReady in stage.go).
func (t *Table) IncomingIndex(slot int) int { return columnIndex(t.incoming, slot) }

// columnIndex reads a member column (incoming, retained) at slot: the
// member index, or -1 for none, an absent column or a slot out of range.
func columnIndex(col []uint16, slot int) int {
	if col == nil || slot < 0 || slot >= NumSlots || col[slot] == noMember {
		return -1
	}
	return int(col[slot])
}

// StagedSince returns the version of the first table of the unbroken run
// of tables, up to this one, that staged slot to its current incoming
// member from its current primary; 0 if the slot is not staged or the
// table does not say (an older wire format). Once the primary marked the
// member's copy under any table of the run, its WAIT counted the member
// without a break, so the copy is complete for a flip
// (cluster/repl/mark.go).
func (t *Table) StagedSince(slot int) uint64 {
	if t.since == nil || slot < 0 || slot >= NumSlots || t.IncomingIndex(slot) < 0 {
		return 0
	}
	return t.since[slot]
}

// Incoming returns the member syncing slot to take it over (see
// IncomingIndex); ok is false if there is none.
func (t *Table) Incoming(slot int) (m Member, ok bool) {
	i := t.IncomingIndex(slot)
	return t.Member(i), i >= 0
}

// Holders returns every member that holds or receives the slot's data: the
// preference list, then the incoming member if any, then the retained
// member if any, in a new slice. Replication follows it (a node replicates
// every slot for which it is listed after the primary).
func (t *Table) Holders(slot int) []Member {
	if t.width == 0 || slot < 0 || slot >= NumSlots {
		return nil
	}
	out := t.AppendPreference(make([]Member, 0, t.width+1), slot)
	if m, ok := t.Incoming(slot); ok && t.Rank(slot, t.IncomingIndex(slot)) < 0 {
		out = append(out, m)
	}
	if m, ok := t.Retained(slot); ok {
		out = append(out, m)
	}
	return out
}

// RetainedIndex returns the index in Members() of the member that keeps
// its copy of slot although the slot's preference list dropped it (until
// the list's new replicas have theirs live), or -1 if none.
func (t *Table) RetainedIndex(slot int) int { return columnIndex(t.retained, slot) }

// Retained returns the member that keeps its copy of slot (see
// RetainedIndex); ok is false if there is none.
func (t *Table) Retained(slot int) (m Member, ok bool) {
	i := t.RetainedIndex(slot)
	return t.Member(i), i >= 0
}

// Staged returns how many slots have an incoming member.
func (t *Table) Staged() int {
	c := 0
	for _, m := range t.incoming {
		if m != noMember {
			c++
		}
	}
	return c
}

// holdsIndex reports whether member index m holds slot s in t: it is in
// the slot's preference list or is its incoming or retained member.
func (t *Table) holdsIndex(s, m int) bool {
	if t.width == 0 || m < 0 {
		return false
	}
	for _, p := range t.prefs[s*t.width : (s+1)*t.width] {
		if int(p) == m {
			return true
		}
	}
	return t.IncomingIndex(s) == m || t.RetainedIndex(s) == m
}
