package server

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// gcTuner sets the process's garbage collector from the server's
// configuration (Config.ManageRuntime).
//
// The store keeps the keys' memory (slabs, record chunks, indexes) off the
// Go heap (store/arena.go), so the heap holds request garbage, connections
// and small structures, and its size no longer follows the key count. The
// heap target is max(gc-min-heap − off-heap bytes, live × 9/8, live +
// gcHeadroomMin): GOGC is set to gcPercentFor(live, floor, offHeap). The
// floor counts the off-heap bytes: while the data is small, request garbage
// may fill the heap up to gc-min-heap before a collection (a collection
// every few MB costs ~15% of pipelined throughput); once the data alone
// passes gc-min-heap the heap keeps only its own headroom, a collection
// marks little (the live heap is small) and RSS is the data plus that.
//
// While maxmemory is set, the Go memory limit is memoryLimitFor(maxmemory,
// offHeap): eviction keeps the keys (and the overhead that counts with
// them, see memory.go) under maxmemory, and the limit makes the collector
// run before garbage takes the process (heap and off-heap data) further
// than a quarter above it. The Go runtime's limit sees only its own memory,
// so the off-heap bytes are taken from it.
//
// Each knob does nothing when the operator set its environment variable
// (GOGC, GOMEMLIMIT). It runs on the cron goroutine only.
type gcTuner struct {
	percentOn, limitOn bool
	sample             []metrics.Sample
	percent            int
	limit              int64
	live               int64  // live heap bytes at the end of the last GC, 0 if unknown
	cycles, lastCycles uint64 // completed GC cycles at the last readLive, and when collectReleased last looked
	released           int64  // store's ReleasedBytes that the last GC has surely freed
	seen               int64  // store's ReleasedBytes at the last collectReleased
}

func newGCTuner() *gcTuner {
	return &gcTuner{
		percentOn: os.Getenv("GOGC") == "",
		limitOn:   os.Getenv("GOMEMLIMIT") == "",
		sample:    []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}},
		percent:   100,
		limit:     math.MaxInt64,
	}
}

// gcPercentFor returns the GOGC that puts the heap target (live × (1 +
// GOGC/100)) at max(floor − offHeap, live × 9/8, live + gcHeadroomMin):
// 12 for a large live heap past the floor, up to 10000 for a tiny one
// under it; 100 (Go's default) when floor is 0 (gc-min-heap 0 leaves GOGC
// alone) or live is unknown.
func gcPercentFor(live, floor, offHeap int64) int {
	if floor <= 0 || live <= 0 {
		return 100
	}
	target := max(floor-offHeap, live+gcHeadroomMin)
	return int(min(max(target*100/live-100, minGCPercent), 10000))
}

// minGCPercent is the headroom above a large live heap once it is past
// the floor: 1/8 of it.
const minGCPercent = 12

// gcHeadroomMin is the least garbage the heap may gather between two
// collections once past the floor, so that a small live heap (the keys
// being off it) is not collected every few hundred KB.
const gcHeadroomMin = 4 << 20

// memoryLimitFor returns the Go memory limit for a maxmemory when offHeap
// bytes of data are off the Go heap: 1.25× maxmemory plus 8 MiB for the
// runtime's own structures and goroutine stacks (the process's RSS adds
// its code, a few MiB), less offHeap, rounded down to a MiB and at least
// limitMin; or no limit when maxmemory is 0.
func memoryLimitFor(maxmemory, offHeap int64) int64 {
	if maxmemory <= 0 {
		return math.MaxInt64
	}
	return max(maxmemory+maxmemory/4+8<<20-offHeap, limitMin) &^ (1<<20 - 1)
}

// limitMin is the lowest Go memory limit memoryLimitFor sets: under it
// the collector would run without pause for a heap of ordinary size.
const limitMin = 16 << 20

// readLive samples the live heap (as of the last completed GC).
func (g *gcTuner) readLive() int64 {
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() == metrics.KindUint64 {
		g.live = int64(g.sample[0].Value.Uint64())
	}
	if g.sample[1].Value.Kind() == metrics.KindUint64 {
		g.cycles = g.sample[1].Value.Uint64()
	}
	return g.live
}

// releaseGCMin is how many bytes the store must have given back to the Go
// heap, with no collection since, before collectReleased starts one.
const releaseGCMin = 64 << 20

// collectReleased hands memory the store gave back to the Go heap (a
// deleted or outgrown large value, emptied slabs, a flush) to the OS once
// releaseGCMin bytes or more were released that no completed collection has
// surely freed, on a quiet tick: one where no collection completed (a busy
// server collects anyway and reuses the memory). Without it an idle server
// keeps the bytes: nothing triggers a collection before Go's 2-minute forced
// one, and even then the background scavenger skips recently dense memory
// (measured: after DEL of a 256 MiB value RSS stayed at 181 MiB with four
// runtime.GC calls). debug.FreeOSMemory collects and returns all free memory
// at once (measured 22-130 ms on a busy 2-core machine for 50-500 MiB,
// holding the heap lock, so allocations elsewhere wait); with the keys in
// pointer-free slabs its collection marks little. It runs on the cron
// goroutine and reports whether it collected.
func (g *gcTuner) collectReleased(released int64) bool {
	seen := g.seen
	g.seen = released
	if g.cycles != g.lastCycles {
		// A collection completed since the last call: it freed what had
		// been released by then, at least what the last call saw.
		g.lastCycles, g.released = g.cycles, seen
		return false
	}
	if released-g.released < releaseGCMin {
		return false
	}
	debug.FreeOSMemory()
	g.released = released
	g.readLive()
	g.lastCycles = g.cycles
	return true
}

// tune sets GOGC and the memory limit for the floor (gc-min-heap),
// maxmemory and the store's bytes off the Go heap.
func (g *gcTuner) tune(floor, maxmemory, offHeap int64) {
	if g.limitOn {
		if l := memoryLimitFor(maxmemory, offHeap); l != g.limit {
			debug.SetMemoryLimit(l)
			g.limit = l
		}
	}
	if !g.percentOn || g.live == 0 {
		return
	}
	p := gcPercentFor(g.live, floor, offHeap)
	// Move only on a real change, so SetGCPercent (which can trigger work
	// in the runtime) is rare.
	if p != g.percent && (p > g.percent*5/4 || p < g.percent*4/5 || p == 100 || p == minGCPercent) {
		debug.SetGCPercent(p)
		g.percent = p
	}
}
