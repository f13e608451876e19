package cluster

import (
	"cmp"
	"math"
	"math/bits"
	"net"
	"slices"
	"sort"
	"strconv"

	"github.com/cespare/xxhash/v2"
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
// (primary first, then up to Replicas replicas). It is a pure function of the
// member set (plus the replica count): the same members, in any order, give
// the same table. A Table is safe for concurrent use; the zero value and a nil
// *Table are not valid, use [BuildTable].
type Table struct {
	version  uint64
	replicas int
	width    int      // entries per slot in prefs: min(1+replicas, len(members))
	members  []Member // sorted by ID, unique IDs
	prefs    []uint16 // NumSlots*width member indexes; prefs[s*width] is slot s's primary
}

// BuildTable computes the slot table of a member set with rendezvous (HRW)
// hashing: for each slot, every member scores xxhash(seed(ID), slot) where
// seed(ID) = xxhash(ID); the highest score is the primary, the next
// `replicas` are the replicas (ties go to the lower ID). Members are sorted
// by ID first and duplicate IDs dropped (the first in sort order by ID, Host,
// Port, GossipAddr is kept); at most 65535 members are used. replicas < 0
// counts as 0. BuildTable does not keep a reference to members.
//
// Cost: one 16-byte xxhash per (slot, member), its first half precomputed
// per member, and no allocation in the loop; 16384 slots × 50 members take
// about 2 ms.
func BuildTable(members []Member, replicas int, version uint64) *Table {
	ms := normalizeMembers(members)
	replicas = max(replicas, 0)
	t := &Table{version: version, replicas: replicas, members: ms}
	t.width = min(1+replicas, len(ms))
	if t.width == 0 {
		return t
	}
	states := make([]uint64, len(ms))
	for i, m := range ms {
		states[i] = seedState(xxhash.Sum64String(m.ID))
	}
	t.prefs = make([]uint16, NumSlots*t.width)
	if t.width == 1 {
		fillPrimaries(t.prefs, states)
	} else {
		fillPreferences(t.prefs, states, t.width)
	}
	return t
}

// xxh64 primes (github.com/Cyan4973/xxHash, as in cespare/xxhash).
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

func xxRound(acc, input uint64) uint64 {
	acc += input * prime2
	return bits.RotateLeft64(acc, 31) * prime1
}

// seedState is xxh64's state (seed 0) for a 16-byte input after its first
// 8 bytes, the little-endian seed: computed once per member.
func seedState(seed uint64) uint64 {
	h := prime5 + 16
	h ^= xxRound(0, seed)
	return bits.RotateLeft64(h, 27)*prime1 + prime4
}

// score is the rendezvous weight of a member for a slot: exactly
// xxhash.Sum64 of the 16 bytes LE(xxhash(ID)) ‖ LE(slot), finished from the
// member's precomputed seedState (inlined, no allocation).
func score(state, slot uint64) uint64 {
	h := state ^ xxRound(0, slot)
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

// fillPrimaries sets prefs[s] to the highest-scoring member of each slot s.
func fillPrimaries(prefs []uint16, states []uint64) {
	for s := range NumSlots {
		best, bestIdx := uint64(0), 0
		for i, st := range states {
			if sc := score(st, uint64(s)); i == 0 || sc > best {
				best, bestIdx = sc, i
			}
		}
		prefs[s] = uint16(bestIdx)
	}
}

// fillPreferences sets prefs[s*w:(s+1)*w] to the w highest-scoring members of
// each slot s, best first; w <= len(states).
func fillPreferences(prefs []uint16, states []uint64, w int) {
	scores := make([]uint64, w) // top-w scores of the current slot, descending
	for s := range NumSlots {
		top := prefs[s*w : (s+1)*w]
		n := 0 // filled entries of top/scores
		for i, st := range states {
			sc := score(st, uint64(s))
			if n == w && sc <= scores[w-1] {
				continue
			}
			// Insert at j, the first position with a strictly lower score,
			// so that equal scores keep the lower index first.
			j := min(n, w-1)
			for j > 0 && scores[j-1] < sc {
				scores[j], top[j] = scores[j-1], top[j-1]
				j--
			}
			scores[j], top[j] = sc, uint16(i)
			n = min(n+1, w)
		}
	}
}

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

// Version returns the table's version: the local count of member-set changes
// (CLUSTER INFO cluster_current_epoch). Versions of different nodes are not
// comparable.
func (t *Table) Version() uint64 { return t.version }

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
func (t *Table) Preference(slot int) []Member {
	if t.width == 0 || slot < 0 || slot >= NumSlots {
		return nil
	}
	out := make([]Member, t.width)
	for k, i := range t.prefs[slot*t.width : (slot+1)*t.width] {
		out[k] = t.members[i]
	}
	return out
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
