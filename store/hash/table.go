package hash

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// ErrFull is returned by Table.Set (and the Hash and Set writes built on it)
// when the arena would pass 4 GiB, the most its 32-bit offsets can address.
var ErrFull = errors.New("hash: collection exceeds 4 GiB")

// seed keys the table hash; one per process, so tables can be cloned.
var seed = maphash.MakeSeed()

const (
	minSlots  = 8
	maxArena  = math.MaxUint32 - 1
	tableHead = 64 // the Table struct (two slice headers, two ints) in its size class
)

// Table is a map from byte-string keys to byte-string values, packed for
// memory: every record (uvarint key length, key, uvarint value length,
// value) lives in one byte arena, and an open-addressing index of uint32
// arena offsets (linear probing, backward-shift deletion, power-of-two size)
// finds them. It holds no pointers besides its two slices, so the garbage
// collector never scans its members. Replaced and deleted records leave
// garbage in the arena, reclaimed by compaction when it passes half of it.
//
// The zero value is an empty table. Slices it returns point into the arena:
// valid until the next write. Not safe for concurrent use.
type Table struct {
	arena []byte
	slots []uint32 // 0: empty; otherwise 1 + arena offset of a record
	n     int      // records
	dead  int      // arena bytes of removed records
}

func hashOf(b []byte) uint64 { return maphash.Bytes(seed, b) }

// Len returns the number of keys.
func (t *Table) Len() int { return t.n }

// Size returns the bytes the table costs: both slices' capacities and the
// headers.
func (t *Table) Size() int64 {
	return int64(cap(t.arena)) + 4*int64(cap(t.slots)) + tableHead
}

// record decodes the record at arena offset off.
func (t *Table) record(off uint32) (key, val []byte, end int) {
	p := int(off)
	kl, n := binary.Uvarint(t.arena[p:])
	p += n
	key = t.arena[p : p+int(kl) : p+int(kl)]
	p += int(kl)
	vl, n := binary.Uvarint(t.arena[p:])
	p += n
	val = t.arena[p : p+int(vl) : p+int(vl)]
	return key, val, p + int(vl)
}

func (t *Table) keyAt(slot uint32) []byte {
	k, _, _ := t.record(slot - 1)
	return k
}

// find returns the slot holding key, or the empty slot where it would go.
func (t *Table) find(key []byte) (int, bool) {
	if len(t.slots) == 0 {
		return -1, false
	}
	mask := len(t.slots) - 1
	i := int(hashOf(key)) & mask
	for {
		s := t.slots[i]
		if s == 0 {
			return i, false
		}
		if string(t.keyAt(s)) == string(key) {
			return i, true
		}
		i = (i + 1) & mask
	}
}

// Get returns key's value.
func (t *Table) Get(key []byte) ([]byte, bool) {
	i, ok := t.find(key)
	if !ok {
		return nil, false
	}
	_, v, _ := t.record(t.slots[i] - 1)
	return v, true
}

// Has reports whether key is present.
func (t *Table) Has(key []byte) bool {
	_, ok := t.find(key)
	return ok
}

func recordLen(kl, vl int) int {
	return uvarintLen(kl) + kl + uvarintLen(vl) + vl
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// appendRecord appends a record and returns its offset.
func (t *Table) appendRecord(key, val []byte) (uint32, error) {
	if len(t.arena)+recordLen(len(key), len(val)) > maxArena {
		if t.dead == 0 {
			return 0, ErrFull
		}
		t.compact()
		if len(t.arena)+recordLen(len(key), len(val)) > maxArena {
			return 0, ErrFull
		}
	}
	off := uint32(len(t.arena))
	t.arena = binary.AppendUvarint(t.arena, uint64(len(key)))
	t.arena = append(t.arena, key...)
	t.arena = binary.AppendUvarint(t.arena, uint64(len(val)))
	t.arena = append(t.arena, val...)
	return off, nil
}

// Set sets key to val and reports whether key is new. It fails only with
// ErrFull, leaving the table unchanged.
func (t *Table) Set(key, val []byte) (bool, error) {
	i, ok := t.find(key)
	if ok {
		old := t.slots[i] - 1
		k, v, end := t.record(old)
		if len(v) == len(val) {
			copy(t.arena[end-len(v):end], val)
			return false, nil
		}
		off, err := t.appendRecord(key, val)
		if err != nil {
			return false, err
		}
		t.dead += recordLen(len(k), len(v))
		t.slots[i] = off + 1
		t.maybeCompact()
		return false, nil
	}
	off, err := t.appendRecord(key, val)
	if err != nil {
		return false, err
	}
	if len(t.slots) == 0 || (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(minSlots, len(t.slots)*2))
	}
	i, _ = t.find(key)
	t.slots[i] = off + 1
	t.n++
	return true, nil
}

// Delete removes key and reports whether it was present.
func (t *Table) Delete(key []byte) bool {
	i, ok := t.find(key)
	if !ok {
		return false
	}
	k, v, _ := t.record(t.slots[i] - 1)
	t.dead += recordLen(len(k), len(v))
	t.n--
	t.removeSlot(i)
	if t.n == 0 {
		*t = Table{}
		return true
	}
	if len(t.slots) > minSlots && t.n*8 < len(t.slots) {
		t.resize(len(t.slots) / 2)
	}
	t.maybeCompact()
	return true
}

// removeSlot empties slot i and shifts back the records of its probe run.
func (t *Table) removeSlot(i int) {
	mask := len(t.slots) - 1
	t.slots[i] = 0
	j := i
	for {
		j = (j + 1) & mask
		s := t.slots[j]
		if s == 0 {
			return
		}
		k := int(hashOf(t.keyAt(s))) & mask
		// The record at j stays if its home k lies cyclically in (i, j].
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		t.slots[i] = s
		t.slots[j] = 0
		i = j
	}
}

// Reserve sizes the index for n keys at once, so that filling the table
// from another one in its index order (a restored dump) does not pile keys
// into long probe runs while the index grows.
func (t *Table) Reserve(n int) {
	want := minSlots
	for n*4 > want*3 {
		want *= 2
	}
	if want > len(t.slots) {
		t.resize(want)
	}
}

// Grow prepares the table for n more keys whose records take bytes
// bytes (uvarint length and bytes of each key and value): the index is
// sized for them and the arena grown once, so adding them copies neither.
func (t *Table) Grow(n, bytes int) {
	t.Reserve(t.n + n)
	if len(t.arena)+bytes <= maxArena {
		t.arena = slices.Grow(t.arena, bytes)
	}
}

// resize rebuilds the index with n slots (a power of two).
func (t *Table) resize(n int) {
	old := t.slots
	t.slots = make([]uint32, n)
	mask := n - 1
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := int(hashOf(t.keyAt(s))) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

func (t *Table) maybeCompact() {
	if t.dead > 64 && t.dead*2 > len(t.arena) {
		t.compact()
	}
}

// compact copies the live records into a new arena of the exact size.
func (t *Table) compact() {
	live := len(t.arena) - t.dead
	arena := make([]byte, 0, live)
	for i, s := range t.slots {
		if s == 0 {
			continue
		}
		_, _, end := t.record(s - 1)
		t.slots[i] = uint32(len(arena)) + 1
		arena = append(arena, t.arena[s-1:end]...)
	}
	t.arena = arena
	t.dead = 0
}

// Each calls fn for every key and value until fn returns false. fn must
// not modify the table.
func (t *Table) Each(fn func(key, val []byte) bool) {
	for _, s := range t.slots {
		if s == 0 {
			continue
		}
		k, v, _ := t.record(s - 1)
		if !fn(k, v) {
			return
		}
	}
}

// Random returns a uniformly chosen key and value; ok is false when the
// table is empty.
func (t *Table) Random() (key, val []byte, ok bool) {
	if t.n == 0 {
		return nil, nil, false
	}
	for {
		s := t.slots[rand.IntN(len(t.slots))]
		if s != 0 {
			k, v, _ := t.record(s - 1)
			return k, v, true
		}
	}
}

// Scan visits the records of buckets from cursor until it has visited
// count records (or 10*count buckets, as Redis bounds the work) and returns
// the next cursor, 0 when the iteration is complete. A bucket is the set of
// keys whose hash has the same low bits (their home slot); cursors advance
// in reverse-binary order as Redis's dictScan does, so every key present for
// the whole iteration is visited at least once even if the table grows or
// shrinks between calls (some may be visited twice). fn must not modify
// the table.
func (t *Table) Scan(cursor uint64, count int, fn func(key, val []byte)) uint64 {
	if t.n == 0 {
		return 0
	}
	count = max(count, 1)
	mask := uint64(len(t.slots) - 1)
	seen := 0
	for budget := 10 * count; budget > 0 && seen < count; budget-- {
		seen += t.scanBucket(int(cursor&mask), fn)
		cursor |= ^mask
		cursor = bits.Reverse64(bits.Reverse64(cursor) + 1)
		if cursor == 0 {
			return 0
		}
	}
	return cursor
}

// scanBucket visits the keys whose home slot is b: they all sit in the
// probe run that starts at b.
func (t *Table) scanBucket(b int, fn func(key, val []byte)) int {
	mask := len(t.slots) - 1
	n := 0
	for i := b; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return n
		}
		k, v, _ := t.record(s - 1)
		if int(hashOf(k))&mask == b {
			fn(k, v)
			n++
		}
	}
}

// Clone returns a deep copy with a compacted arena.
func (t *Table) Clone() *Table {
	c := &Table{slots: append([]uint32(nil), t.slots...), n: t.n}
	c.arena = t.arena
	c.dead = t.dead
	c.compact() // writes a fresh arena and rewrites c.slots only
	return c
}
