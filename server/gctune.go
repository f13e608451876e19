package server

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// gcTuner keeps the Go heap target at least gc-min-heap bytes. With the
// default GOGC=100 a node holding little live data collects garbage after
// every few MB of allocation, and request garbage (redcon's per-command
// buffers) then costs ~15% of pipelined throughput; raising GOGC while the
// live heap is small removes that cost, and as the data grows past half
// the floor GOGC returns to 100, so a large cache keeps Go's usual 2×
// headroom. It does nothing when the operator set GOGC in the environment.
//
// It runs on the cron goroutine only.
type gcTuner struct {
	enabled bool
	sample  []metrics.Sample
	percent int
}

func newGCTuner() *gcTuner {
	return &gcTuner{
		enabled: os.Getenv("GOGC") == "",
		sample:  []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
		percent: 100,
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

func (g *gcTuner) tune(floor int64) {
	if !g.enabled {
		return
	}
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercentFor(int64(g.sample[0].Value.Uint64()), floor)
	// Move only on a real change, so SetGCPercent (which can trigger work
	// in the runtime) is rare.
	if p != g.percent && (p > g.percent*5/4 || p < g.percent*4/5 || p == 100) {
		debug.SetGCPercent(p)
		g.percent = p
	}
}
