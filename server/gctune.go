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
// The heap target is kept at least gc-min-heap bytes. With the default
// GOGC=100 a node holding little live data collects garbage after every few
// MB of allocation, and request garbage then costs ~15% of pipelined
// throughput; raising GOGC while the live heap is small removes that cost,
// and as the data grows past half the floor GOGC returns to 100.
//
// While maxmemory is set, the Go memory limit is memoryLimitFor(maxmemory):
// eviction keeps the keys (and the overhead that counts with them, see
// memory.go) under maxmemory, and the limit makes the collector run before
// garbage takes the process further than a quarter above it, where GOGC=100
// alone lets the heap reach twice the live data.
//
// Each knob does nothing when the operator set its environment variable
// (GOGC, GOMEMLIMIT). It runs on the cron goroutine only.
type gcTuner struct {
	percentOn, limitOn bool
	sample             []metrics.Sample
	percent            int
	limit              int64
	live               int64 // live heap bytes at the end of the last GC, 0 if unknown
}

func newGCTuner() *gcTuner {
	return &gcTuner{
		percentOn: os.Getenv("GOGC") == "",
		limitOn:   os.Getenv("GOMEMLIMIT") == "",
		sample:    []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
		percent:   100,
		limit:     math.MaxInt64,
	}
}

// gcPercentFor returns the GOGC that puts the heap target (live × (1 +
// GOGC/100)) at floor, never below 100 nor above 10000.
func gcPercentFor(live, floor int64) int {
	if floor <= 0 || live <= 0 || 2*live >= floor {
		return 100
	}
	return int(min(max(floor*100/live-100, 100), 10000))
}

// memoryLimitFor returns the Go memory limit for a maxmemory: 1.25× plus
// 8 MiB for the runtime's own structures and goroutine stacks (the process's
// RSS adds its code, a few MiB), or no limit when maxmemory is 0.
func memoryLimitFor(maxmemory int64) int64 {
	if maxmemory <= 0 {
		return math.MaxInt64
	}
	return maxmemory + maxmemory/4 + 8<<20
}

// readLive samples the live heap (as of the last completed GC).
func (g *gcTuner) readLive() int64 {
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() == metrics.KindUint64 {
		g.live = int64(g.sample[0].Value.Uint64())
	}
	return g.live
}

func (g *gcTuner) tune(floor, maxmemory int64) {
	if g.limitOn {
		if l := memoryLimitFor(maxmemory); l != g.limit {
			debug.SetMemoryLimit(l)
			g.limit = l
		}
	}
	if !g.percentOn || g.live == 0 {
		return
	}
	p := gcPercentFor(g.live, floor)
	// Move only on a real change, so SetGCPercent (which can trigger work
	// in the runtime) is rare.
	if p != g.percent && (p > g.percent*5/4 || p < g.percent*4/5 || p == 100) {
		debug.SetGCPercent(p)
		g.percent = p
	}
}
