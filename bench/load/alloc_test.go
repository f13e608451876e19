package load

import (
	"runtime"
	"testing"
)

// TestHotPathAllocs runs against redis-server (whose allocations are not
// ours) and checks that requests cost no allocation in bench: what is
// allocated is set-up (connections, histograms, timeline) and does not grow
// with the request count.
func TestHotPathAllocs(t *testing.T) {
	addr := startRedis(t)
	mallocs := func(requests int64, rate float64) uint64 {
		cfg := testConfig(addr)
		cfg.Clients, cfg.Pipeline, cfg.Requests, cfg.Rate = 2, 4, requests, rate
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		mustRun(t, cfg)
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	mallocs(1000, 0) // warm up lazily initialised runtime state
	small, large := mallocs(2000, 0), mallocs(42000, 0)
	t.Logf("closed loop: %d mallocs for 2000 requests, %d for 42000", small, large)
	if perReq := float64(int64(large)-int64(small)) / 40000; perReq > 0.01 {
		t.Errorf("closed loop: %.3f allocations per request, want ~0", perReq)
	}
	small, large = mallocs(2000, 1e5), mallocs(42000, 1e5)
	t.Logf("open loop: %d mallocs for 2000 requests, %d for 42000", small, large)
	if perReq := float64(int64(large)-int64(small)) / 40000; perReq > 0.01 {
		t.Errorf("open loop: %.3f allocations per request, want ~0", perReq)
	}
}

// BenchmarkClosedLoopRedis measures bench's own cost per request against
// redis-server, pipelined (the server is usually the bottleneck: compare
// with redis-benchmark -P 16 on the same machine).
func BenchmarkClosedLoopRedis(b *testing.B) {
	addr := startRedis(b)
	cfg := testConfig(addr)
	cfg.Clients, cfg.Pipeline, cfg.Requests = 8, 16, int64(b.N)
	cfg.Commands = RatioCommands(0, 1, 0)
	b.ReportAllocs()
	b.ResetTimer()
	r := mustRun(b, cfg)
	b.ReportMetric(r.Total.OpsPerSec, "ops/s")
}
