package store

import "sync/atomic"

// index maps a 32-bit hash tag to record numbers by open addressing with
// linear probing. Each slot is tag<<32 | record; 0 is an empty slot (record
// 0 is never used). A tag's home slot is tag scaled to the table's length
// (tag × len / 2^32), so the length need not be a power of two and entries
// can be moved (growth, backward-shift deletion) without looking at the
// records. Not safe for concurrent use: the shard lock guards it.
//
// The table grows by half when an insert would fill more than 4/5 of it,
// so its load stays between 0.53 and 0.8 (8 bytes a slot: 10-15 bytes a
// key) instead of the 0.375-0.75 of doubling at 3/4 (up to 21 bytes a
// key). Growing by a quarter (0.64-0.8) left four times the final table
// as garbage over a load instead of two, and under the server's GC floor
// that garbage, not the table, set the RSS. Linear probing at 0.8 looks at 3 slots on average for a
// key that is there and 13 for one that is not, all in one or two cache
// lines of tags: far less than the record and item a hit then reads.
//
// A table of arenaMin bytes or more lives off the Go heap (arena.go) when
// off is set: growing it unmaps the old table at once instead of leaving
// it to the collector.
type index struct {
	slots  []uint64
	n      int           // entries in use
	mapped bool          // slots is off the Go heap
	off    *atomic.Int64 // the Store's off-heap byte count; nil: always the Go heap
}

const minIndexSlots = 8

// Load bounds: grow past maxLoadNum/maxLoadDen by half; shrink when
// under a quarter full (and larger than minShrinkSlots) to half full.
const (
	maxLoadNum     = 4
	maxLoadDen     = 5
	minShrinkSlots = 1024
)

func newIndex() index { return index{slots: make([]uint64, minIndexSlots)} }

// alloc returns a zeroed table of n slots, off the Go heap if it can.
func (x *index) alloc(n int) ([]uint64, bool) {
	if x.off != nil && n*8 >= arenaMin {
		if w := offHeapWords(n); w != nil {
			x.off.Add(int64(pageRound(n * 8)))
			return w, true
		}
	}
	return make([]uint64, n), false
}

// release gives back the table's memory; the index is unusable after it.
func (x *index) release() {
	if x.mapped {
		x.off.Add(-int64(pageRound(len(x.slots) * 8)))
		freeOffHeap(wordBytes(x.slots))
	}
	x.slots, x.mapped = nil, false
}

// home returns the home slot of tag in a table of n slots.
func home(tag uint32, n int) int { return int(uint64(tag) * uint64(n) >> 32) }

// insert adds rec under tag; the caller has checked it is not present.
func (x *index) insert(tag, rec uint32) {
	if (x.n+1)*maxLoadDen > len(x.slots)*maxLoadNum {
		x.resize(len(x.slots) + max(len(x.slots)/2, minIndexSlots))
	}
	x.place(uint64(tag)<<32 | uint64(rec))
	x.n++
}

func (x *index) place(v uint64) {
	n := len(x.slots)
	for i := home(uint32(v>>32), n); ; {
		if x.slots[i] == 0 {
			x.slots[i] = v
			return
		}
		if i++; i == n {
			i = 0
		}
	}
}

func (x *index) resize(n int) {
	old := *x
	x.slots, x.mapped = x.alloc(n)
	for _, v := range old.slots {
		if v != 0 {
			x.place(v)
		}
	}
	old.release()
}

// position returns the slot holding exactly tag|rec, or -1.
func (x *index) position(tag, rec uint32) int {
	want := uint64(tag)<<32 | uint64(rec)
	n := len(x.slots)
	for i := home(tag, n); ; {
		switch x.slots[i] {
		case want:
			return i
		case 0:
			return -1
		}
		if i++; i == n {
			i = 0
		}
	}
}

// removeAt empties slot i with backward-shift deletion, so probe chains stay
// unbroken without tombstones.
func (x *index) removeAt(i int) {
	n := len(x.slots)
	j := i
	for {
		if j++; j == n {
			j = 0
		}
		v := x.slots[j]
		if v == 0 {
			break
		}
		k := home(uint32(v>>32), n) // home of the entry at j
		// The entry at j may move to i unless its home lies cyclically in (i, j].
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		x.slots[i] = v
		i = j
	}
	x.slots[i] = 0
	x.n--
	if x.n*4 < n && n > minShrinkSlots {
		x.resize(max(2*x.n, minIndexSlots))
	}
}
