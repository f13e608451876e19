package store

// index maps a 32-bit hash tag to record numbers by open addressing with
// linear probing. Each slot is tag<<32 | record; 0 is an empty slot (record
// 0 is never used). A tag's home slot is tag & mask, so
// entries can be moved (growth, backward-shift deletion) without looking at
// the records. Not safe for concurrent use: the shard lock guards it.
type index struct {
	slots []uint64
	n     int // entries in use
}

const minIndexSlots = 8

func newIndex() index { return index{slots: make([]uint64, minIndexSlots)} }

// insert adds rec under tag; the caller has checked it is not present.
func (x *index) insert(tag, rec uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.resize(len(x.slots) * 2)
	}
	x.place(uint64(tag)<<32 | uint64(rec))
	x.n++
}

func (x *index) place(v uint64) {
	mask := uint32(len(x.slots) - 1)
	for i := uint32(v>>32) & mask; ; i = (i + 1) & mask {
		if x.slots[i] == 0 {
			x.slots[i] = v
			return
		}
	}
}

func (x *index) resize(n int) {
	old := x.slots
	x.slots = make([]uint64, n)
	for _, v := range old {
		if v != 0 {
			x.place(v)
		}
	}
}

// position returns the slot holding exactly tag|rec, or -1.
func (x *index) position(tag, rec uint32) int {
	want := uint64(tag)<<32 | uint64(rec)
	mask := uint32(len(x.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		switch x.slots[i] {
		case want:
			return int(i)
		case 0:
			return -1
		}
	}
}

// removeAt empties slot i with backward-shift deletion, so probe chains stay
// unbroken without tombstones.
func (x *index) removeAt(i int) {
	mask := len(x.slots) - 1
	j := i
	for {
		j = (j + 1) & mask
		v := x.slots[j]
		if v == 0 {
			break
		}
		k := int(uint32(v>>32)) & mask // home of the entry at j
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
	if x.n*8 < len(x.slots) && len(x.slots) > 1024 {
		x.resize(len(x.slots) / 2)
	}
}
