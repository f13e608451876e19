package store

import (
	"sync/atomic"

	"github.com/cached/cached/internal/bigcopy"
)

// The slab allocator keeps every key's packed bytes (record.kv) in large
// pointer-free byte slabs mapped off the Go heap (arena.go; the Go heap when
// mapping is not possible, slab.mapped false), so the collector sees none of
// them, and RSS follows the live data instead of the heap goal.
//
// Each slab belongs to one size class and is carved into items of that size
// (a bump offset for never-used items, an intrusive free list for freed
// ones: a free item's first 4 bytes hold the offset+1 of the next). A class
// keeps the slabs that have room on a doubly linked partial list; allocation
// takes the first of them. Slabs of a class start at slabMin bytes and double
// with each slab the class holds, up to slabGrowMax (or 8 items of the class,
// up to slabMax), so a small store stays small and a shard's partly filled
// slabs cost at most about a slab per class in use: the never-used tail of a
// class's newest slab was 9.5 bytes a key with 1 MiB slabs in the steady
// 1,000,000-key case (16 shards), 2.9 with 256 KiB (off the heap its
// untouched pages cost no RSS, but held counts them).
//
// Memory moves between classes through empty slabs: when a slab's last item
// is freed the slab leaves its class; the shard keeps one such empty slab
// (the spare) for the next class that needs a slab of at most its size, and
// unmaps the previous spare (one from the Go heap goes back to the OS
// through its scavenger). Keeping the last emptied slab mapped also means
// bytes freed earlier in a locked operation stay readable until it ends.
// The Store counts the mapped spares, and the never-used tails of slabs
// made from them, as idle (SlabIdleBytes: resident, and holding no key),
// and FreeMemory drops the spares of the shards it does not hold before
// it evicts; the never-used tails of newly mapped slabs are untouched
// pages (UnwrittenBytes).
// A class's freed items are reused by that class only, so a workload that
// moves from one value size to another, or deletes keys, leaves partly used
// slabs. The Store counts those freed items (SlabFreedBytes), a server that
// owns the process has eviction answer to them (server/server.go's cron),
// and compaction (compact.go) moves a sparse slab's items into the holes
// of its class's other slabs, so that it empties and goes back.
//
// Items of largeMin bytes or more get their own []byte in the Go heap, in a
// per-shard table; handles with largeBit set index that table. A large buffer is
// never reused once its item is freed or outgrown: a Pin (largepin.go)
// may still be reading it.
//
// An item knows the length of its content (setLength, length), so a record
// need not keep it. A slab item's first byte is its header, the rest its
// room: the header holds room minus length when that is below 255 (every
// item of a class up to 3 KiB, where classes are < 255 bytes apart, and
// most above); else it is 255 and the length is the le32 just before the
// item's last 4 bytes (which the shard keeps for a TTL position), inside
// the 255 or more unused bytes. A large item's length is its []byte's len
// (its room is its cap).
//
// An item's handle is one uint32: slab number<<itemBits | item number in
// the slab (its offset / its class's size), or largeBit | index in the large
// table. A shard has at most maxSlabs slabs (8 GiB of 256 KiB slabs for
// items up to 32 KiB); past that, small items too get their own []byte in
// the large table.
//
// A slabAlloc is not safe for concurrent use: the shard lock guards it.

const (
	slabMax = 1 << 20  // largest slab
	slabMin = 16 << 10 // first slab of a class
	// slabGrowMax (256 KiB) is the largest slab a class's doubling reaches;
	// larger items still get 8 to a slab, up to slabMax.
	slabGrowShift = 4
	slabGrowMax   = slabMin << slabGrowShift
	largeMin      = slabMax / 8 // items above this are large values
	largeBit      = 1 << 31     // handle flag: index into slabAlloc.large

	itemBits = 16 // item number bits of a handle: slabMax / the smallest class
	itemMask = 1<<itemBits - 1
	maxSlabs = largeBit >> itemBits // slab numbers a handle can hold
)

func init() {
	if slabMax/slabClasses[0] > 1<<itemBits {
		panic("store: slab items outnumber a handle's item bits")
	}
}

// slab is one []byte carved into items of one class.
type slab struct {
	buf        []byte // nil: this slot of slabAlloc.slabs is unused
	class      uint8
	used       uint32 // items in use
	bump       uint32 // offset of the first never-used item
	free       uint32 // offset+1 of the first freed item; 0 = none
	prev, next uint32 // partial list links: slab index+1; 0 = none
	partial    bool   // on its class's partial list
	mapped     bool   // buf is off the Go heap (arena.go)
	draining   bool   // compaction moves its items out (compact.go): off the partial list
	fresh      bool   // buf was newly mapped: its bytes from bump on were never written
}

func (b *slab) full() bool {
	return b.free == 0 && int(b.bump)+int(slabClasses[b.class]) > len(b.buf)
}

// slabClass is the state of one size class in a shard.
type slabClass struct {
	partial uint32 // first slab with room: index+1; 0 = none
	slabs   uint32 // slabs the class holds
	bytes   int64  // their bytes (len of their bufs)
}

// slabAlloc is one shard's allocator.
type slabAlloc struct {
	slabs     []slab
	unused    []uint32 // indexes of slabs with buf nil
	classes   []slabClass
	spare     []byte   // an empty slab's bytes kept for the next slab; nil = none
	spareMap  bool     // spare is off the Go heap
	large     [][]byte // large values; nil = unused entry
	largeFree []uint32 // indexes of nil entries of large
	held      int64    // bytes of slabs and large values (spare included)
	// released counts the bytes given back to the Go heap (the Store's
	// ReleasedBytes); written under the shard lock, read without.
	released *atomic.Int64
	// offHeap counts the bytes of slabs mapped off the Go heap (the
	// Store's OffHeapBytes); written under the shard lock, read without.
	offHeap *atomic.Int64
	// freed counts the bytes of freed items the slabs keep on their free
	// lists (the Store's SlabFreedBytes); written under the shard lock,
	// read without.
	freed *atomic.Int64
	// idle counts the mapped bytes that were written before and hold no
	// item now but for the free lists: the spare, and the tails (from bump
	// on) of slabs made from a spare (the Store's SlabIdleBytes); written
	// under the shard lock, read without.
	idle *atomic.Int64
	// spares counts the shards' mapped spares (the Store's, for
	// FreeMemory's dropSpares); written under the shard lock, read
	// without.
	spares *atomic.Int32
	// pins counts per entry of large the Pins holding its buffer
	// (largepin.go); nil until the first pin.
	pins map[uint32]*atomic.Int32
}

func newSlabAlloc(released, offHeap, freed, idle *atomic.Int64, spares *atomic.Int32) slabAlloc {
	return slabAlloc{classes: make([]slabClass, len(slabClasses)), released: released, offHeap: offHeap, freed: freed, idle: idle, spares: spares}
}

// idleIn returns the bytes of slab b that count in idle: the tail of a
// mapped slab made from a spare.
func idleIn(b *slab) int64 {
	if !b.mapped || b.fresh {
		return 0
	}
	return int64(cap(b.buf)) - int64(b.bump)
}

// setSpare makes buf, the bytes of an emptied slab, the spare, dropping
// the previous one.
func (a *slabAlloc) setSpare(buf []byte, mapped bool) {
	a.dropSpare()
	a.spare, a.spareMap = buf, mapped
	if mapped {
		a.idle.Add(int64(cap(buf)))
		a.spares.Add(1)
	}
}

// takeSpare returns the spare's bytes for a new slab, which keeps them
// counted in idle as its tail, and leaves the allocator without one.
func (a *slabAlloc) takeSpare() (buf []byte, mapped bool) {
	buf, mapped = a.spare, a.spareMap
	a.spare = nil
	if mapped {
		a.spares.Add(-1)
	}
	return buf, mapped
}

// dropSpare unmaps the spare (one from the Go heap is left to the
// collector) and returns the bytes it counted in idle.
func (a *slabAlloc) dropSpare() int64 {
	if a.spare == nil {
		return 0
	}
	var n int64
	if a.spareMap {
		n = int64(cap(a.spare))
		a.idle.Add(-n)
		a.spares.Add(-1)
	}
	a.drop(a.spare, a.spareMap)
	a.spare = nil
	return n
}

// freedIn returns the bytes of slab b's freed items: every item below its
// bump that is not in use.
func freedIn(b *slab) int64 {
	return int64(b.bump) - int64(b.used)*int64(slabClasses[b.class])
}

// drop forgets buf, a slab or large value the allocator held: a buffer off
// the Go heap (mapped) is unmapped at once, one of the Go heap is left to
// the collector (counted in released).
func (a *slabAlloc) drop(buf []byte, mapped bool) {
	a.held -= int64(cap(buf))
	if mapped {
		a.offHeap.Add(-int64(cap(buf)))
		freeOffHeap(buf)
		return
	}
	a.released.Add(int64(cap(buf)))
}

// dropAll forgets every buffer the allocator holds (a flush): the caller
// then replaces it by a new one.
func (a *slabAlloc) dropAll() {
	for i := range a.slabs {
		if b := &a.slabs[i]; b.buf != nil {
			a.freed.Add(-freedIn(b))
			a.idle.Add(-idleIn(b))
			a.drop(b.buf[:cap(b.buf)], b.mapped)
			b.buf = nil
		}
	}
	for i, b := range a.large {
		if b != nil {
			a.drop(b, false)
			a.large[i] = nil
		}
	}
	a.dropSpare()
}

// alloc returns a handle to an item with room for n bytes (n > 0), whose
// content and length are arbitrary (setLength sets the length).
func (a *slabAlloc) alloc(n uint32) uint32 {
	if n >= largeMin {
		return a.allocLarge(make([]byte, n))
	}
	c := classOf(n + 1) // the header byte
	if a.classes[c].partial == 0 && !a.newSlab(c) {
		return a.allocLarge(make([]byte, n)) // out of slab numbers
	}
	return a.allocPartial(c)
}

// allocPartial takes an item of class c from the first slab of its
// partial list, which the caller has checked is not empty.
func (a *slabAlloc) allocPartial(c uint8) uint32 {
	cl := &a.classes[c]
	si := cl.partial - 1
	b := &a.slabs[si]
	var off uint32
	if b.free != 0 {
		off = b.free - 1
		b.free = le32(b.buf[off:])
		a.freed.Add(-int64(slabClasses[c]))
	} else {
		off = b.bump
		b.bump += slabClasses[c]
		if b.mapped && !b.fresh {
			a.idle.Add(-int64(slabClasses[c]))
		}
	}
	b.used++
	if b.full() {
		a.unlinkPartial(si)
	}
	return si<<itemBits | off/slabClasses[c]
}

func (a *slabAlloc) allocLarge(buf []byte) uint32 {
	a.held += int64(cap(buf))
	if k := len(a.largeFree); k > 0 {
		i := a.largeFree[k-1]
		a.largeFree = a.largeFree[:k-1]
		a.large[i] = buf
		return i | largeBit
	}
	a.large = append(a.large, buf)
	return uint32(len(a.large)-1) | largeBit
}

// newSlab gives class c a new empty slab at the head of its partial list;
// false if the shard has maxSlabs slabs already.
func (a *slabAlloc) newSlab(c uint8) bool {
	if len(a.unused) == 0 && len(a.slabs) >= maxSlabs {
		return false
	}
	cl := &a.classes[c]
	item := int(slabClasses[c])
	size := min(slabMax, max(slabMin<<min(cl.slabs, slabGrowShift), 8*item))
	size -= size % item
	var buf []byte
	mapped, fresh := false, false
	if a.spare != nil && len(a.spare) >= size {
		buf, mapped = a.takeSpare()
		buf = buf[:len(buf)-len(buf)%item]
	} else {
		if buf = offHeapBytes(size); buf != nil {
			mapped, fresh = true, true
			a.offHeap.Add(int64(cap(buf)))
		} else {
			buf = make([]byte, size)
		}
		a.held += int64(cap(buf))
	}
	var si uint32
	if k := len(a.unused); k > 0 {
		si = a.unused[k-1]
		a.unused = a.unused[:k-1]
	} else {
		a.slabs = append(a.slabs, slab{})
		si = uint32(len(a.slabs) - 1)
	}
	a.slabs[si] = slab{buf: buf, class: c, mapped: mapped, fresh: fresh}
	cl.slabs++
	cl.bytes += int64(len(buf))
	a.linkPartial(si)
	return true
}

// unwritten returns the bytes of the slabs' newly mapped tails that no
// item has used yet (from bump to the mapping's end): untouched pages,
// which hold no RSS.
func (a *slabAlloc) unwritten() int64 {
	var n int64
	for i := range a.slabs {
		if b := &a.slabs[i]; b.fresh {
			n += int64(cap(b.buf)) - int64(b.bump)
		}
	}
	return n
}

// slabItem returns the slab and offset of slab item handle h.
func (a *slabAlloc) slabItem(h uint32) (*slab, uint32) {
	b := &a.slabs[h>>itemBits]
	return b, (h & itemMask) * slabClasses[b.class]
}

// free releases item h.
func (a *slabAlloc) free(h uint32) {
	if h&largeBit != 0 {
		i := h &^ largeBit
		a.drop(a.large[i], false)
		a.large[i] = nil
		a.forgetPins(i)
		a.largeFree = append(a.largeFree, i)
		return
	}
	si := h >> itemBits
	b, off := a.slabItem(h)
	putLE32(b.buf[off:], b.free)
	b.free = off + 1
	b.used--
	a.freed.Add(int64(slabClasses[b.class]))
	switch {
	case b.used == 0:
		a.releaseSlab(si)
	case !b.partial && !b.draining:
		a.linkPartial(si)
	}
}

// releaseSlab takes empty slab si from its class; its bytes become the
// spare (the previous spare is unmapped, or left to the collector).
func (a *slabAlloc) releaseSlab(si uint32) {
	b := &a.slabs[si]
	if b.partial {
		a.unlinkPartial(si)
	}
	a.freed.Add(-freedIn(b)) // all of it: the slab is empty
	a.idle.Add(-idleIn(b))
	a.classes[b.class].slabs--
	a.classes[b.class].bytes -= int64(len(b.buf))
	a.setSpare(b.buf[:cap(b.buf)], b.mapped)
	*b = slab{}
	a.unused = append(a.unused, si)
}

func (a *slabAlloc) linkPartial(si uint32) {
	b := &a.slabs[si]
	cl := &a.classes[b.class]
	b.partial, b.prev, b.next = true, 0, cl.partial
	if cl.partial != 0 {
		a.slabs[cl.partial-1].prev = si + 1
	}
	cl.partial = si + 1
}

func (a *slabAlloc) unlinkPartial(si uint32) {
	b := &a.slabs[si]
	if b.prev != 0 {
		a.slabs[b.prev-1].next = b.next
	} else {
		a.classes[b.class].partial = b.next
	}
	if b.next != 0 {
		a.slabs[b.next-1].prev = b.prev
	}
	b.partial, b.prev, b.next = false, 0, 0
}

// bytes returns the first n bytes of item h's room.
func (a *slabAlloc) bytes(h, n uint32) []byte {
	if h&largeBit != 0 {
		return a.large[h&^largeBit][:n:n]
	}
	b, off := a.slabItem(h)
	off++ // the header
	return b.buf[off : off+n : off+n]
}

// content returns item h's first length(h) bytes.
func (a *slabAlloc) content(h uint32) []byte {
	if h&largeBit != 0 {
		b := a.large[h&^largeBit]
		return b[:len(b):len(b)]
	}
	b, off := a.slabItem(h)
	room := slabClasses[b.class] - 1
	n := room - uint32(b.buf[off])
	if b.buf[off] == 255 {
		end := off + room + 1
		n = le32(b.buf[end-8:])
	}
	off++
	return b.buf[off : off+n : off+n]
}

// length returns the length of item h's content.
func (a *slabAlloc) length(h uint32) uint32 { return uint32(len(a.content(h))) }

// setLength makes n (at most its room) the length of item h's content.
// The bytes from n on are left as they are, except in a slab item with 255
// or more bytes to spare, where the 4 before the last 4 hold n.
func (a *slabAlloc) setLength(h, n uint32) {
	if h&largeBit != 0 {
		i := h &^ largeBit
		a.large[i] = a.large[i][:n]
		return
	}
	b, off := a.slabItem(h)
	room := slabClasses[b.class] - 1
	if room-n < 255 {
		b.buf[off] = byte(room - n)
		return
	}
	b.buf[off] = 255
	end := off + room + 1
	putLE32(b.buf[end-8:], n)
}

// tail returns the last 4 bytes of item h's room.
func (a *slabAlloc) tail(h uint32) []byte {
	if h&largeBit != 0 {
		b := a.large[h&^largeBit]
		return b[cap(b)-4 : cap(b)]
	}
	b, off := a.slabItem(h)
	end := off + slabClasses[b.class]
	return b.buf[end-4 : end]
}

// room returns the bytes item h can hold.
func (a *slabAlloc) room(h uint32) uint32 {
	if h&largeBit != 0 {
		return uint32(cap(a.large[h&^largeBit]))
	}
	return slabClasses[a.slabs[h>>itemBits].class] - 1
}

// size returns the bytes item h takes: its class's size (its room and
// header), or a large item's capacity.
func (a *slabAlloc) size(h uint32) uint32 {
	if h&largeBit != 0 {
		return uint32(cap(a.large[h&^largeBit]))
	}
	return slabClasses[a.slabs[h>>itemBits].class]
}

// growLarge replaces large item h (holding n bytes) by one of capacity
// c >= n with the same first n bytes and length n, reusing its table entry.
func (a *slabAlloc) growLarge(h, n, c uint32) {
	i := h &^ largeBit
	old := a.large[i]
	buf := make([]byte, c)
	bigcopy.Copy(buf, old[:n])
	a.drop(old, false)
	a.held += int64(c)
	a.large[i] = buf[:n]
	a.forgetPins(i) // a Pin keeps old
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
