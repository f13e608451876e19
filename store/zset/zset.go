// Package zset is the sorted set value of cached: members (byte strings)
// ordered by a float64 score, then by member bytes, with O(log n) rank,
// select and range queries (ZADD, ZRANK, ZRANGE… in server/).
//
// A small set (at most zset-max-listpack-entries members of at most
// zset-max-listpack-value bytes: SetListpackLimits, by default
// MaxListpackEntries and MaxListpackValue) lives in one packed []byte,
// Redis's "listpack" encoding; past either threshold it converts, for good, to the "skiplist"
// encoding (Redis's name; here no skiplist but an equivalent): members in
// one arena of records, an open-addressing hash table of record offsets
// for member lookups, and an order-statistic B+tree of (score, offset)
// entries for ranks and ranges. Neither holds a pointer per member, so a
// set of millions costs the garbage collector a few thousand pointers.
// It knows nothing of RESP; the store's shard lock guards it (a ZSet is
// not safe for concurrent use).
package zset

import (
	"slices"

	"github.com/cached/cached/store/internal/packed"
)

// Redis's default zset-max-listpack-entries and zset-max-listpack-value:
// the defaults of SetListpackLimits.
const (
	MaxListpackEntries = 128
	MaxListpackValue   = 64
)

// maxListpackBytes bounds a listpack whatever the limits allow (Redis's
// LISTPACK_MAX_SAFETY_SIZE): a write that would pass it converts the set;
// it also keeps the packed length in 32 bits.
const maxListpackBytes = 1 << 30

// limits are the thresholds in force, for every sorted set of the process
// (as redis-server's configuration is server-wide): SetListpackLimits.
var limits packed.Limits

func init() { SetListpackLimits(MaxListpackEntries, MaxListpackValue) }

// SetListpackLimits sets zset-max-listpack-entries and
// zset-max-listpack-value for every sorted set of the process. As in
// Redis, a set keeps its encoding until a write finds it past the new
// limits.
func SetListpackLimits(entries, value int) {
	limits.Set(entries, value)
}

func maxEntries() int { return limits.Entries() }
func maxValue() int   { return limits.Value() }

// ZSet is a sorted set. The zero value is not usable: call New.
type ZSet struct {
	pk packed.Bytes // small encoding (lp, setLP), empty once big
	n  int          // members in the listpack
	b  *big         // big encoding
}

// lp returns the listpack.
func (z *ZSet) lp() []byte { return z.pk.Slice() }

// setLP replaces the listpack.
func (z *ZSet) setLP(b []byte) { z.pk = packed.Of(b) }

// New returns an empty sorted set meant to receive about sizeHint members
// of up to maxMemberLen bytes: a hint past the listpack thresholds starts
// it in the big encoding, as Redis's zsetTypeCreate.
func New(sizeHint, maxMemberLen int) *ZSet {
	z := &ZSet{}
	if sizeHint > maxEntries() || maxMemberLen > maxValue() {
		z.b = newBig(sizeHint)
		return z
	}
	return z
}

// ReservePairs makes room in a listpack-encoded set for the members of
// ZADD's arguments, so that adding them one by one copies nothing on the
// way: pairs are score, member, score, member… and scores[i] is the score
// of pairs[2i+1]. It does nothing for the big encoding or for more pairs
// than a listpack may hold (adding them converts the set).
func (z *ZSet) ReservePairs(scores []float64, pairs [][]byte) {
	if z.b != nil || z.n+len(scores) > maxEntries() {
		return
	}
	need := 0
	for i, s := range scores {
		need += entryLen(pairs[2*i+1], s)
	}
	if len(z.lp())+need > maxListpackBytes {
		return
	}
	z.setLP(slices.Grow(z.lp(), need))
}

// Len is the number of members.
func (z *ZSet) Len() int {
	if z.b != nil {
		return z.b.used
	}
	return z.n
}

// Encoding is Redis's OBJECT ENCODING name: "listpack" or "skiplist".
func (z *ZSet) Encoding() string {
	if z.b != nil {
		return "skiplist"
	}
	return "listpack"
}

// Score returns member's score.
func (z *ZSet) Score(member []byte) (float64, bool) {
	if z.b != nil {
		_, ref, ok := z.b.find(member)
		if !ok {
			return 0, false
		}
		return z.b.scoreAt(ref), true
	}
	off := lpFind(z.lp(), member)
	if off < 0 {
		return 0, false
	}
	_, s, _ := lpAt(z.lp(), off)
	return s, true
}

// Set gives member the score, adding it if absent; it reports whether it
// was added. Score must not be NaN.
func (z *ZSet) Set(member []byte, score float64) (added bool) {
	if z.b == nil && (len(member) > maxValue() || len(z.lp())+entryLen(member, score) > maxListpackBytes ||
		z.n >= maxEntries() && lpFind(z.lp(), member) < 0) {
		z.convert()
	}
	if z.b == nil {
		off := lpFind(z.lp(), member)
		if off >= 0 {
			if _, s, _ := lpAt(z.lp(), off); s == score {
				return false
			}
			z.setLP(lpDelete(z.lp(), off))
			z.n--
		}
		z.setLP(lpInsert(z.lp(), member, score))
		z.n++
		return off < 0
	}
	_, ref, ok := z.b.find(member)
	if !ok {
		z.b.add(member, score)
		return true
	}
	if z.b.scoreAt(ref) != score {
		z.b.setScore(ref, score)
	}
	return false
}

// convert moves a listpack set to the big encoding.
func (z *ZSet) convert() {
	z.b = newBig(z.n + 1)
	for off := 0; off < len(z.lp()); {
		m, s, next := lpAt(z.lp(), off)
		z.b.add(m, s)
		off = next
	}
	z.setLP(nil)
	z.n = 0
}

// Remove deletes member; it reports whether it was present.
func (z *ZSet) Remove(member []byte) bool {
	if z.b == nil {
		off := lpFind(z.lp(), member)
		if off < 0 {
			return false
		}
		z.setLP(lpDelete(z.lp(), off))
		z.n--
		return true
	}
	slot, ref, ok := z.b.find(member)
	if !ok {
		return false
	}
	z.b.remove(slot, ref)
	z.b.compactIfNeeded()
	return true
}

// Rank returns member's 0-based rank in ascending order and its score.
func (z *ZSet) Rank(member []byte) (rank int, score float64, ok bool) {
	if z.b == nil {
		for off := 0; off < len(z.lp()); rank++ {
			m, s, next := lpAt(z.lp(), off)
			if string(m) == string(member) {
				return rank, s, true
			}
			off = next
		}
		return 0, 0, false
	}
	_, ref, ok := z.b.find(member)
	if !ok {
		return 0, 0, false
	}
	e := entry{score: z.b.scoreAt(ref), ref: ref}
	return z.b.t.countBefore(func(x entry) bool { return z.b.less(x, e) }), e.score, true
}

// Walk calls fn with the members from ascending rank start on, going up
// (or down when rev), until fn returns false or the set ends. The member
// slice is valid only during the call and must not be modified; fn must
// not modify the set.
func (z *ZSet) Walk(start int, rev bool, fn func(member []byte, score float64) bool) {
	if start < 0 || start >= z.Len() {
		return
	}
	if z.b != nil {
		z.b.t.walk(start, rev, func(e entry) bool { return fn(z.b.member(e.ref), e.score) })
		return
	}
	var buf [MaxListpackEntries + 1]int32 // enough unless the limit was raised
	offs := lpOffsets(z.lp(), buf[:0])
	for i := start; i >= 0 && i < len(offs); {
		m, s, _ := lpAt(z.lp(), int(offs[i]))
		if !fn(m, s) {
			return
		}
		if rev {
			i--
		} else {
			i++
		}
	}
}

// ScoreRank is the number of members with a score below x (or at most x
// when orEqual).
func (z *ZSet) ScoreRank(x float64, orEqual bool) int {
	before := func(s float64) bool { return s < x || orEqual && s == x }
	if z.b != nil {
		return z.b.t.countBefore(func(e entry) bool { return before(e.score) })
	}
	r := 0
	for off := 0; off < len(z.lp()); r++ {
		_, s, next := lpAt(z.lp(), off)
		if !before(s) {
			break
		}
		off = next
	}
	return r
}

// LexRank is the number of members below x in byte order (or at most x
// when orEqual). As Redis, it is meaningful only when all scores are equal.
func (z *ZSet) LexRank(x []byte, orEqual bool) int {
	before := func(m string) bool { return m < string(x) || orEqual && m == string(x) }
	if z.b != nil {
		return z.b.t.countBefore(func(e entry) bool { return before(string(z.b.member(e.ref))) })
	}
	r := 0
	for off := 0; off < len(z.lp()); r++ {
		m, _, next := lpAt(z.lp(), off)
		if !before(string(m)) {
			break
		}
		off = next
	}
	return r
}

// RemoveRange deletes the members of ascending ranks [first, last) and
// calls fn (if not nil) with each before it goes, in ascending order.
func (z *ZSet) RemoveRange(first, last int, fn func(member []byte, score float64)) int {
	first, last = max(first, 0), min(last, z.Len())
	if first >= last {
		return 0
	}
	if z.b == nil {
		var buf [MaxListpackEntries + 1]int32 // enough unless the limit was raised
		offs := append(lpOffsets(z.lp(), buf[:0]), int32(len(z.lp())))
		if fn != nil {
			for i := first; i < last; i++ {
				m, s, _ := lpAt(z.lp(), int(offs[i]))
				fn(m, s)
			}
		}
		z.setLP(lpShrink(append(z.lp()[:offs[first]], z.lp()[offs[last]:]...)))
		z.n -= last - first
		return last - first
	}
	gone := make([]entry, 0, last-first)
	z.b.t.walk(first, false, func(e entry) bool {
		gone = append(gone, e)
		return len(gone) < last-first
	})
	for _, e := range gone {
		m := z.b.member(e.ref)
		if fn != nil {
			fn(m, e.score)
		}
		slot, _, _ := z.b.find(m)
		z.b.remove(slot, e.ref)
	}
	z.b.compactIfNeeded()
	return len(gone)
}

// Clone returns a deep copy (store.Cloner, for COPY).
func (z *ZSet) Clone() any {
	c := &ZSet{n: z.n}
	if z.b == nil {
		c.setLP(append(slices.Grow([]byte(nil), len(z.lp())), z.lp()...))
		return c
	}
	c.b = newBig(z.b.used)
	z.b.t.walk(0, false, func(e entry) bool {
		c.b.add(z.b.member(e.ref), e.score)
		return true
	})
	return c
}

// baseSize is the ZSet header (32 bytes, its Go size class).
const baseSize = 32

// Size is the bytes the set costs: its header, the listpack's capacity,
// or the arena, hash table and tree nodes as allocated.
func (z *ZSet) Size() int64 {
	if z.b == nil {
		return baseSize + int64(cap(z.lp()))
	}
	return baseSize + z.b.size()
}
