//go:build linux

package server

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkRequestPathKeySpace runs pipelines of GETs of uniformly random
// keys through the request path (parse, dispatch, store, reply, one
// write; no sockets) of a server holding BENCH_KEYS keys (default
// 1,000,000) of 16-byte values, with and without the event loop's warm in
// front (warmPath), and reports the thread's CPU time per GET (cpu-ns/op,
// as store's BenchmarkGetKeySpace): wall-clock time on a shared machine
// says little, CPU time less so. BENCH_ROUNDS repeats the sub-benchmarks
// over the one load. Loading 20,000,000 keys takes about a minute and
// 1.2 GB.
func BenchmarkRequestPathKeySpace(b *testing.B) {
	keys := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("BENCH_KEYS")); err == nil && n > 0 {
		keys = n
	}
	s := startServer(b, nil)
	val := make([]byte, 16)
	var k []byte
	for n := range keys {
		k = strconv.AppendInt(append(k[:0], "key:"...), int64(n), 10)
		s.store.Set(0, k, val, 0, 0, "set")
	}
	p := newWarmPath(b, s)
	reqs := make([][]byte, 1<<16) // made before the clock starts
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range reqs {
		k := strconv.AppendInt([]byte("key:"), int64(rng.IntN(keys)), 10)
		reqs[i] = fmt.Appendf(nil, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
	}
	rounds := 1 // BENCH_ROUNDS: alternate with and without the warm this many times over one load
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for range rounds {
		benchKeySpaceRound(b, p, reqs)
	}
}

// benchKeySpaceRound is one round of BenchmarkRequestPathKeySpace.
func benchKeySpaceRound(b *testing.B, p *warmPath, reqs [][]byte) {
	for _, depth := range []int{1, 4, 16} {
		for _, warm := range []bool{false, true} {
			name := fmt.Sprintf("P%d", depth)
			if warm {
				name += "-warm"
			}
			b.Run(name, func(b *testing.B) {
				if warm {
					p.s.prefetchMax.Store(16)
				} else {
					p.s.prefetchMax.Store(0)
				}
				in := make([]byte, 0, 64*depth)
				next := 0
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.ResetTimer()
				cpu0 := threadCPUNs()
				for n := 0; n < b.N; n += depth {
					in = in[:0]
					for range depth {
						in = append(in, reqs[next]...)
						next = (next + 1) & (len(reqs) - 1)
					}
					if err := p.warmBatch(in); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(threadCPUNs()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// threadCPUNs returns the calling thread's user and system CPU time in ns.
func threadCPUNs() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
