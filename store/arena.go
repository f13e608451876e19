package store

import (
	"sync/atomic"
	"unsafe"
)

// Off-heap arenas: the per-key memory of a shard (slab buffers, record
// chunks, a large index) comes from anonymous mmap'd memory, not from the Go
// heap, so the collector neither scans it nor counts it in its heap target,
// and the process's RSS follows the live bytes instead of the heap goal
// (GOGC's headroom and the gc-min-heap floor paid on every key).
//
// Such memory holds no Go pointers (records, index words and packed bytes
// are plain integers and bytes): the collector would not see a pointer kept
// there, so nothing that points into the Go heap may ever be stored in it.
//
// An unmapped buffer is gone: a slice still pointing into it faults. So no
// slice of slab, record or index memory may be kept past the shard lock
// (doc.go lists the rule; large values, which may be pinned past it, stay
// in the Go heap), and memory is unmapped only under the lock of the shard
// that owns it. An emptied slab is kept as the shard's spare until the next
// slab empties, so bytes freed earlier in the same locked operation remain
// readable until it ends (dropLocked reads the key before removeLocked).
//
// offHeapBytes falls back to the Go heap (returns nil) where mmap is
// missing (arena_other.go), when it fails, or past maxArenaMaps live
// mappings: the kernel limits a process's mappings (vm.max_map_count,
// 65530 by default) and the Go runtime needs some for itself. Each record
// chunk (1024 keys) and each slab is a mapping, so the default half of
// 65530 lasts to about 25,000,000 keys of small values; past it new
// chunks and slabs come from the Go heap.

// maxArenaMaps is the most mappings the process's stores keep at once:
// half of vm.max_map_count (arenaMapLimit). A variable for tests.
var maxArenaMaps = arenaMapLimit() / 2

// arenaMaps counts the live mappings of every store in the process.
var arenaMaps atomic.Int64

// arenaMin is the smallest index (in bytes) that gets its own mapping;
// smaller ones stay in the Go heap.
const arenaMin = 64 << 10

// pageRound rounds n up to the page size.
func pageRound(n int) int { return (n + pageSize - 1) &^ (pageSize - 1) }

// offHeapBytes returns n zeroed bytes off the Go heap (len n, cap n rounded
// up to the page size), or nil if they cannot be had: the caller then uses
// the Go heap. Free them with freeOffHeap.
func offHeapBytes(n int) []byte {
	if n <= 0 {
		return nil
	}
	if arenaMaps.Add(1) > maxArenaMaps {
		arenaMaps.Add(-1)
		return nil
	}
	b := mapBytes(pageRound(n))
	if b == nil {
		arenaMaps.Add(-1)
		return nil
	}
	return b[:n]
}

// freeOffHeap unmaps b, a buffer from offHeapBytes (b[0] its first byte,
// cap(b) as returned).
func freeOffHeap(b []byte) {
	unmapBytes(b[:cap(b)])
	arenaMaps.Add(-1)
}

// offHeapRecords returns a chunk of chunkSize zeroed records off the Go
// heap, or nil.
func offHeapRecords() []record {
	b := offHeapBytes(chunkSize * int(unsafe.Sizeof(record{})))
	if b == nil {
		return nil
	}
	return unsafe.Slice((*record)(unsafe.Pointer(unsafe.SliceData(b))), chunkSize)
}

// recordBytes returns the bytes of chunk c, as offHeapBytes returned them.
func recordBytes(c []record) []byte {
	n := chunkSize * int(unsafe.Sizeof(record{}))
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(c))), pageRound(n))[:n]
}

// offHeapWords returns n zeroed uint64 off the Go heap, or nil.
func offHeapWords(n int) []uint64 {
	b := offHeapBytes(n * 8)
	if b == nil {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// wordBytes returns the bytes of w, as offHeapBytes returned them.
func wordBytes(w []uint64) []byte {
	n := len(w) * 8
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), pageRound(n))[:n]
}
