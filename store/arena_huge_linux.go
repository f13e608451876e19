//go:build linux

package store

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Huge pages for large stores (issue 13: p99 with 20,000,000 keys).
//
// A GET on a large key space touches three unrelated places (index slot,
// record, value), each on its own 4 KiB page of a gigabyte or more, so
// each is likely a TLB miss whose page walk itself misses the cache. With
// transparent huge pages in "madvise" mode (the common default), memory
// advised MADV_HUGEPAGE is backed by 2 MiB pages where it can be: one TLB
// entry covers 512 times as much, and the page tables are 512 times
// smaller.
//
// The kernel backs a fault with a huge page only if the whole aligned 2
// MiB around it lies in one advised mapping, which the shards' many small
// buffers (16 KiB record chunks, slabs up to 1 MiB) never are on their
// own. So once the process's arenas hold hugeFrom bytes:
//
//   - a buffer of hugePage bytes or more (a large index) gets a mapping
//     of its own aligned to hugePage and advised;
//   - smaller buffers are carved one after another from advised regions
//     of hugeRegion bytes, aligned to hugePage, so that consecutive
//     buffers share huge pages.
//
// A carved buffer given back is mapped over with PROT_NONE: its pages go
// back to the kernel at once (RSS falls as munmap's would, and a stale
// slice still faults), and the hole keeps khugepaged from collapsing the
// huge page around it back to a whole 2 MiB. The hole is reused, at
// once, by the next buffer of the same size. A huge page partly given
// back this way is split by the kernel later (its deferred split, under
// memory pressure): until then the pages given back still count in the
// machine's (and a container's) used memory, though not in the
// process's RSS.
//
// Below hugeFrom (small stores, a maxmemory of a few hundred MB) nothing
// changes: a huge page would make a partly filled slab or record chunk
// resident whole, 2 MiB at a time, across every shard and size class.

// hugeRegion is the address space a carving region reserves; only what
// is handed out and touched becomes resident.
const hugeRegion = 64 << 20

// hugePage is the transparent huge page size (0: none, or disabled).
var hugePage = readHugePage()

// hugeFrom is the arena size (arenaBytes) from which new buffers are
// advised huge; negative: never. A variable for tests.
var hugeFrom atomic.Int64

func init() { hugeFrom.Store(256 << 20) }

// readHugePage returns the kernel's transparent huge page size, or 0 if it
// has none or they are off ("never").
func readHugePage() int {
	en, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(en), "[never]") {
		return 0
	}
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= pageSize || n&(n-1) != 0 || n > hugeRegion {
		return 0
	}
	return n
}

// hugeRegions carves small buffers out of advised regions.
type hugeRegions struct {
	mu     sync.Mutex
	next   unsafe.Pointer           // next free byte of the newest region
	left   int                      // bytes from next to that region's end
	free   map[int][]unsafe.Pointer // buffers given back (PROT_NONE), by size
	starts []uintptr                // every region's start, sorted
}

var huge = hugeRegions{free: map[int][]unsafe.Pointer{}}

// mapHuge returns n bytes (a multiple of the page size) advised for huge
// pages, or nil: below hugeFrom, without huge pages, or on failure (the
// caller then maps as before).
func mapHuge(n int) []byte {
	from := hugeFrom.Load()
	if hugePage == 0 || from < 0 || arenaBytes.Load() < from {
		return nil
	}
	if n >= hugePage {
		return mapAligned(n)
	}
	return huge.get(n)
}

// unmapHuge gives back b if it was carved from a region and reports
// whether it was; any other buffer is the caller's to unmap.
func unmapHuge(b []byte) bool {
	if hugePage == 0 || len(b) >= hugePage {
		return false
	}
	return huge.put(b)
}

// mapAligned maps n bytes aligned to hugePage and advises them huge.
func mapAligned(n int) []byte {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n+hugePage), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	lead := int(-uintptr(p) & uintptr(hugePage-1))
	if lead > 0 {
		_ = unix.MunmapPtr(p, uintptr(lead))
	}
	start := unsafe.Add(p, lead)
	if tail := hugePage - lead; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(start, n), uintptr(tail))
	}
	b := unsafe.Slice((*byte)(start), n)
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // advice: without it the memory is still good
	return b
}

func (h *hugeRegions) get(n int) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.free[n]; len(l) > 0 {
		p := l[len(l)-1]
		if _, err := unix.MmapPtr(-1, 0, p, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
			return nil
		}
		h.free[n] = l[:len(l)-1]
		b := unsafe.Slice((*byte)(p), n)
		_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
		return b
	}
	if h.left < n {
		r := mapAligned(hugeRegion)
		if r == nil {
			return nil
		}
		h.next, h.left = unsafe.Pointer(unsafe.SliceData(r)), hugeRegion
		start := uintptr(h.next)
		i, _ := slices.BinarySearch(h.starts, start)
		h.starts = slices.Insert(h.starts, i, start)
	}
	p := h.next
	h.next, h.left = unsafe.Add(h.next, n), h.left-n
	return unsafe.Slice((*byte)(p), n)
}

// put gives back b if a region holds it.
func (h *hugeRegions) put(b []byte) bool {
	p := unsafe.Pointer(unsafe.SliceData(b))
	h.mu.Lock()
	defer h.mu.Unlock()
	i, found := slices.BinarySearch(h.starts, uintptr(p))
	if !found {
		i--
	}
	if i < 0 || uintptr(p) >= h.starts[i]+hugeRegion {
		return false
	}
	if _, err := unix.MmapPtr(-1, 0, p, uintptr(len(b)), unix.PROT_NONE, unix.MAP_ANON|unix.MAP_PRIVATE|unix.MAP_FIXED|unix.MAP_NORESERVE); err != nil {
		panic("store: mmap over a freed buffer: " + err.Error())
	}
	h.free[len(b)] = append(h.free[len(b)], p)
	return true
}
