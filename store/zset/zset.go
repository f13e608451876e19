// Package zset is the sorted set value of cached: members (byte strings)
// ordered by a float64 score, then by member bytes, with O(log n) rank,
// select and range queries (ZADD, ZRANK, ZRANGE… in server/).
//
// A small set (at most MaxListpackEntries members of at most
// MaxListpackValue bytes) lives in one packed []byte, Redis's "listpack"
// encoding; past either threshold it converts, for good, to the "skiplist"
// encoding: an order-statistic B+tree of (score, member) plus a member →
// score map. It knows nothing of RESP; the store's shard lock guards it (a
// ZSet is not safe for concurrent use).
package zset

import "math/bits"

// Redis's default zset-max-listpack-entries and zset-max-listpack-value.
const (
	MaxListpackEntries = 128
	MaxListpackValue   = 64
)

// ZSet is a sorted set. The zero value is not usable: call New.
type ZSet struct {
	lp       []byte             // small encoding, nil once big
	n        int                // members in lp
	dict     map[string]float64 // big encoding: member -> score
	t        *tree              // big encoding: entries in order
	memBytes int64              // big encoding: bytes of member strings, rounded to allocation sizes
}

// New returns an empty sorted set meant to receive about sizeHint members
// of up to maxMemberLen bytes: a hint past the listpack thresholds starts
// it in the big encoding, as Redis's zsetTypeCreate.
func New(sizeHint, maxMemberLen int) *ZSet {
	z := &ZSet{}
	if sizeHint > MaxListpackEntries || maxMemberLen > MaxListpackValue {
		z.dict = make(map[string]float64, sizeHint)
		z.t = newTree()
		return z
	}
	z.lp = make([]byte, 0, 64)
	return z
}

// Len is the number of members.
func (z *ZSet) Len() int {
	if z.t != nil {
		return z.t.n
	}
	return z.n
}

// Encoding is Redis's OBJECT ENCODING name: "listpack" or "skiplist".
func (z *ZSet) Encoding() string {
	if z.t != nil {
		return "skiplist"
	}
	return "listpack"
}

// Score returns member's score.
func (z *ZSet) Score(member []byte) (float64, bool) {
	if z.t != nil {
		s, ok := z.dict[string(member)]
		return s, ok
	}
	off := lpFind(z.lp, member)
	if off < 0 {
		return 0, false
	}
	_, s, _ := lpAt(z.lp, off)
	return s, true
}

// Set gives member the score, adding it if absent; it reports whether it
// was added. Score must not be NaN.
func (z *ZSet) Set(member []byte, score float64) (added bool) {
	if z.t == nil && (len(member) > MaxListpackValue || z.n >= MaxListpackEntries && lpFind(z.lp, member) < 0) {
		z.convert()
	}
	if z.t == nil {
		off := lpFind(z.lp, member)
		if off >= 0 {
			if _, s, _ := lpAt(z.lp, off); s == score {
				return false
			}
			z.lp = lpDelete(z.lp, off)
			z.n--
		}
		z.lp = lpInsert(z.lp, member, score)
		z.n++
		return off < 0
	}
	if old, ok := z.dict[string(member)]; ok {
		if old == score {
			return false
		}
		m := z.keyOf(member, old)
		z.t.delete(entry{score: old, member: m})
		z.t.insert(entry{score: score, member: m})
		z.dict[m] = score
		return false
	}
	m := string(member)
	z.dict[m] = score
	z.t.insert(entry{score: score, member: m})
	z.memBytes += strAlloc(len(m))
	return true
}

// keyOf returns the stored string of a present member (to share its bytes).
func (z *ZSet) keyOf(member []byte, score float64) string {
	n, i := z.t.seek(z.t.countBefore(func(e entry) bool { return e.less(entry{score, string(member)}) }))
	return n.ents[i].member
}

// convert moves a listpack set to the big encoding.
func (z *ZSet) convert() {
	z.dict = make(map[string]float64, z.n+1)
	z.t = newTree()
	for off := 0; off < len(z.lp); {
		mb, s, next := lpAt(z.lp, off)
		m := string(mb)
		z.dict[m] = s
		z.t.insert(entry{score: s, member: m})
		z.memBytes += strAlloc(len(m))
		off = next
	}
	z.lp, z.n = nil, 0
}

// Remove deletes member; it reports whether it was present.
func (z *ZSet) Remove(member []byte) bool {
	if z.t == nil {
		off := lpFind(z.lp, member)
		if off < 0 {
			return false
		}
		z.lp = lpDelete(z.lp, off)
		z.n--
		return true
	}
	s, ok := z.dict[string(member)]
	if !ok {
		return false
	}
	z.t.delete(entry{score: s, member: string(member)})
	delete(z.dict, string(member))
	z.memBytes -= strAlloc(len(member))
	return true
}

// Rank returns member's 0-based rank in ascending order and its score.
func (z *ZSet) Rank(member []byte) (rank int, score float64, ok bool) {
	if z.t == nil {
		for off := 0; off < len(z.lp); rank++ {
			m, s, next := lpAt(z.lp, off)
			if string(m) == string(member) {
				return rank, s, true
			}
			off = next
		}
		return 0, 0, false
	}
	s, ok := z.dict[string(member)]
	if !ok {
		return 0, 0, false
	}
	e := entry{score: s, member: string(member)}
	return z.t.countBefore(func(x entry) bool { return x.less(e) }), s, true
}

// Walk calls fn with the members from ascending rank start on, going up
// (or down when rev), until fn returns false or the set ends. The member
// slice is valid only during the call and must not be modified; fn must
// not modify the set.
func (z *ZSet) Walk(start int, rev bool, fn func(member []byte, score float64) bool) {
	if start < 0 || start >= z.Len() {
		return
	}
	if z.t != nil {
		z.t.walk(start, rev, func(e entry) bool { return fn(strBytes(e.member), e.score) })
		return
	}
	var buf [MaxListpackEntries + 1]int32
	offs := lpOffsets(z.lp, buf[:0])
	for i := start; i >= 0 && i < len(offs); {
		m, s, _ := lpAt(z.lp, int(offs[i]))
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
	if z.t != nil {
		return z.t.countBefore(func(e entry) bool { return before(e.score) })
	}
	r := 0
	for off := 0; off < len(z.lp); r++ {
		_, s, next := lpAt(z.lp, off)
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
	if z.t != nil {
		return z.t.countBefore(func(e entry) bool { return before(e.member) })
	}
	r := 0
	for off := 0; off < len(z.lp); r++ {
		m, _, next := lpAt(z.lp, off)
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
	if z.t == nil {
		var buf [MaxListpackEntries + 1]int32
		offs := append(lpOffsets(z.lp, buf[:0]), int32(len(z.lp)))
		if fn != nil {
			for i := first; i < last; i++ {
				m, s, _ := lpAt(z.lp, int(offs[i]))
				fn(m, s)
			}
		}
		z.lp = append(z.lp[:offs[first]], z.lp[offs[last]:]...)
		z.n -= last - first
		return last - first
	}
	gone := make([]entry, 0, last-first)
	z.t.walk(first, false, func(e entry) bool {
		gone = append(gone, e)
		return len(gone) < last-first
	})
	for _, e := range gone {
		if fn != nil {
			fn(strBytes(e.member), e.score)
		}
		z.t.delete(e)
		delete(z.dict, e.member)
		z.memBytes -= strAlloc(len(e.member))
	}
	return len(gone)
}

// Clone returns a deep copy (store.Cloner, for COPY).
func (z *ZSet) Clone() any {
	c := &ZSet{n: z.n}
	if z.t == nil {
		c.lp = append(make([]byte, 0, cap(z.lp)), z.lp...)
		return c
	}
	c.dict = make(map[string]float64, len(z.dict))
	c.t = newTree()
	z.t.walk(0, false, func(e entry) bool {
		c.dict[e.member] = e.score
		c.t.insert(e)
		return true
	})
	c.memBytes = z.memBytes
	return c
}

// Per-member costs of the big encoding, measured (TestSizeHonest): the
// tree's entry at average leaf fill, the map slot with its load factor and
// the string header allocation.
const (
	bigPerMember = 80
	baseSize     = 64
)

// Size is an estimate of the bytes the set costs.
func (z *ZSet) Size() int64 {
	if z.t == nil {
		return baseSize + int64(cap(z.lp))
	}
	return baseSize + int64(z.t.n)*bigPerMember + z.memBytes
}

// strAlloc is the bytes Go's allocator takes for an n-byte string.
func strAlloc(n int) int64 {
	switch {
	case n == 0:
		return 0
	case n <= 8:
		return 8
	case n <= 16:
		return 16
	case n <= 128:
		return int64((n + 15) &^ 15)
	default:
		return int64(1) << bits.Len(uint(n-1))
	}
}
