package zset

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
)

// hashSeed is random per process, so that clients cannot aim members at
// one chain of the table (hash flooding).
var hashSeed = maphash.MakeSeed()

func hashOf(m []byte) uint64 { return maphash.Bytes(hashSeed, m) }

// big is the "skiplist" encoding, pointer-free per member: the members
// live in one arena of records (score as 8 bytes, uvarint length, bytes),
// an open-addressing hash table of record offsets finds a member, and the
// B+tree orders (score, offset) entries. Removed records stay in the arena
// as garbage until it is half garbage, then the arena is compacted.
type big struct {
	arena []byte
	dead  int      // bytes of removed records in arena
	slots []uint64 // 0 empty, tombstone, or tag<<tagShift | (ref+1)
	used  int      // live members
	tombs int      // tombstone slots
	t     *tree
}

const (
	tagShift  = 40 // refs below 1 TiB; the hash's top 24 bits tag a slot
	refMask   = 1<<tagShift - 1
	tombstone = math.MaxUint64
)

func newBig(hint int) *big {
	b := &big{}
	b.t = newTree(b.less)
	b.slots = make([]uint64, slotsFor(hint))
	return b
}

// slotsFor is the table size for n members: a power of two, at most 3/4 full.
func slotsFor(n int) int {
	s := 8
	for s*3/4 < n+1 {
		s *= 2
	}
	return s
}

// member returns the bytes of the record at ref.
func (b *big) member(ref uint64) []byte {
	l, k := binary.Uvarint(b.arena[ref+8:])
	start := ref + 8 + uint64(k)
	return b.arena[start : start+l : start+l]
}

func (b *big) scoreAt(ref uint64) float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(b.arena[ref:]))
}

func (b *big) recordLen(ref uint64) int {
	l, k := binary.Uvarint(b.arena[ref+8:])
	return 8 + k + int(l)
}

func (b *big) less(x, y entry) bool {
	if x.score != y.score {
		return x.score < y.score
	}
	if x.ref == y.ref {
		return false
	}
	return bytes.Compare(b.member(x.ref), b.member(y.ref)) < 0
}

// find returns the slot of member and its record, or found false and the
// slot where it would go.
func (b *big) find(member []byte) (slot int, ref uint64, found bool) {
	h := hashOf(member)
	tag := h >> tagShift
	mask := uint64(len(b.slots) - 1)
	free := -1
	for i := h & mask; ; i = (i + 1) & mask {
		s := b.slots[i]
		switch {
		case s == 0:
			if free < 0 {
				free = int(i)
			}
			return free, 0, false
		case s == tombstone:
			if free < 0 {
				free = int(i)
			}
		case s>>tagShift == tag && bytes.Equal(b.member(s&refMask-1), member):
			return int(i), s&refMask - 1, true
		}
	}
}

// add appends a record for a new member and indexes it.
func (b *big) add(member []byte, score float64) {
	if (b.used+b.tombs+1)*4 > len(b.slots)*3 {
		b.rehash(slotsFor(b.used + 1))
	}
	slot, _, _ := b.find(member)
	ref := uint64(len(b.arena))
	b.arena = binary.LittleEndian.AppendUint64(b.arena, math.Float64bits(score))
	b.arena = binary.AppendUvarint(b.arena, uint64(len(member)))
	b.arena = append(b.arena, member...)
	if b.slots[slot] == tombstone {
		b.tombs--
	}
	b.slots[slot] = hashOf(member)>>tagShift<<tagShift | (ref + 1)
	b.used++
	b.t.insert(entry{score: score, ref: ref})
}

// setScore moves the member at ref to a new score.
func (b *big) setScore(ref uint64, score float64) {
	b.t.delete(entry{score: b.scoreAt(ref), ref: ref})
	binary.LittleEndian.PutUint64(b.arena[ref:], math.Float64bits(score))
	b.t.insert(entry{score: score, ref: ref})
}

// remove drops the member at slot (record ref) from the tree and table.
func (b *big) remove(slot int, ref uint64) {
	b.t.delete(entry{score: b.scoreAt(ref), ref: ref})
	b.slots[slot] = tombstone
	b.tombs++
	b.used--
	b.dead += b.recordLen(ref)
}

// compactIfNeeded rewrites the arena without garbage once it is at least
// half garbage, and rebuilds the table without tombstones.
func (b *big) compactIfNeeded() {
	if b.dead < 4096 || b.dead*2 < len(b.arena) {
		return
	}
	old := b.arena
	b.arena = make([]byte, 0, len(old)-b.dead)
	b.t.remap(func(ref uint64) uint64 {
		n := uint64(len(b.arena))
		l, k := binary.Uvarint(old[ref+8:])
		b.arena = append(b.arena, old[ref:ref+8+uint64(k)+l]...)
		return n
	})
	b.dead = 0
	b.rehash(slotsFor(b.used))
}

// rehash rebuilds the table with size slots from the tree.
func (b *big) rehash(size int) {
	b.slots = make([]uint64, size)
	b.tombs = 0
	mask := uint64(size - 1)
	b.t.walk(0, false, func(e entry) bool {
		m := b.member(e.ref)
		h := hashOf(m)
		i := h & mask
		for b.slots[i] != 0 {
			i = (i + 1) & mask
		}
		b.slots[i] = h>>tagShift<<tagShift | (e.ref + 1)
		return true
	})
}

// Node sizes as Go's allocator rounds them (size classes), for Size.
const (
	nodeBytes  = 112
	leafBytes  = nodeBytes + 2304 // (maxLeaf+1)*16 = 2064 -> 2304
	innerBytes = nodeBytes + 576 + 576 + 1152
)

func (b *big) size() int64 {
	return int64(cap(b.arena)) + 8*int64(len(b.slots)) +
		int64(b.t.leaves)*leafBytes + int64(b.t.inners)*innerBytes + 64
}
