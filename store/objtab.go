package store

import "encoding/binary"

// The collection objects of a shard live in an objTable: fixed chunks of
// objRefs addressed by an object number, which the key's record keeps as
// the 4-byte value of its item (objNumLen). A map from record number to
// objRef cost ≈50 bytes per collection key at Go's map load factors, and
// its doubling left as much again as garbage while a store filled; a chunk
// costs 24 bytes per slot, is allocated once and never copied, and only
// shards that hold collections have one.

// objChunkBits sets the slots per chunk: 256 slots, 6 KiB.
const objChunkBits = 8

// objNumLen is the size of the object number stored after a collection
// key's bytes in its item.
const objNumLen = 4

// objRef is a collection value kept beside its record, and the bytes it
// reported (what UsedMemory counts for it).
type objRef struct {
	obj  any
	size int64
}

// objTable is a shard's collection objects. Free slots are linked through
// their size field (1 + next free number; 0 ends the list). The zero value
// is empty. Guarded by the shard's lock.
type objTable struct {
	chunks [][]objRef
	next   uint32 // slots handed out so far
	free   uint32 // 1 + first free slot; 0 = none
}

func (t *objTable) ref(n uint32) *objRef {
	return &t.chunks[n>>objChunkBits][n&(1<<objChunkBits-1)]
}

// alloc stores o in a free slot and returns its number.
func (t *objTable) alloc(o objRef) uint32 {
	var n uint32
	if t.free != 0 {
		n = t.free - 1
		t.free = uint32(t.ref(n).size)
	} else {
		n = t.next
		if int(n>>objChunkBits) == len(t.chunks) {
			t.chunks = append(t.chunks, make([]objRef, 1<<objChunkBits))
		}
		t.next++
	}
	*t.ref(n) = o
	return n
}

// release frees slot n (dropping its object for the collector).
func (t *objTable) release(n uint32) {
	*t.ref(n) = objRef{size: int64(t.free)}
	t.free = n + 1
}

// objNum returns the object number of collection record r.
func (s *shard) objNum(r *record) uint32 {
	return binary.LittleEndian.Uint32(s.val(r))
}

// objOf returns collection record i's objRef.
func (s *shard) objOf(i uint32) *objRef { return s.objs.ref(s.objNum(s.rec(i))) }

// objVal is the item value of a collection key: its object number.
func objVal(n uint32) (b [objNumLen]byte) {
	binary.LittleEndian.PutUint32(b[:], n)
	return b
}
