package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMemoryPerKey loads 1,000,000 keys "key:N" with 32-byte values
// (DESIGN.md's Redis comparison) and reports Go heap growth per key.
// Run: go test -run x -bench MemoryPerKey -benchtime 1x ./store/
func BenchmarkMemoryPerKey(b *testing.B) {
	const n = 1_000_000
	val := make([]byte, 32)
	for range b.N {
		before, rssBefore := heapInUse(), rss()
		s := mustNew(b, Config{ActiveExpireHz: -1})
		key := make([]byte, 0, 16)
		for i := range n {
			key = strconv.AppendInt(append(key[:0], "key:"...), int64(i), 10)
			s.Set(0, key, val, 0, 0, "set")
		}
		after, rssAfter := heapInUse(), rss()
		b.ReportMetric(float64(after-before)/n, "B/key")
		if rssBefore > 0 {
			b.ReportMetric(float64(rssAfter-rssBefore)/n, "rss-B/key")
		}
		b.ReportMetric(float64(s.UsedMemory())/n, "used-B/key")
		runtime.KeepAlive(s)
		s.Close()
	}
}

// cpuTime returns the process's user and system CPU time in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// rss returns the resident set size from /proc (Linux), 0 if unknown.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

var valueSizes = []int{8, 32, 128, 512}

// benchSizes runs fn as a sub-benchmark per value size.
func benchSizes(b *testing.B, fn func(b *testing.B, size int)) {
	for _, size := range valueSizes {
		b.Run(fmt.Sprint(size), func(b *testing.B) { fn(b, size) })
	}
}

const benchKeys = 1 << 16

func benchKeyList() [][]byte {
	keys := make([][]byte, benchKeys)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i))
	}
	return keys
}

// benchLoaded returns a store holding benchKeys keys with size-byte values,
// closed when b ends, with the timer reset and allocations reported.
func benchLoaded(b *testing.B, size int) (*Store, [][]byte, []byte) {
	s := mustNew(b, Config{ActiveExpireHz: -1})
	b.Cleanup(s.Close)
	keys := benchKeyList()
	val := make([]byte, size)
	for _, k := range keys {
		s.Set(0, k, val, 0, 0, "set")
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	return s, keys, val
}

func BenchmarkGet(b *testing.B) {
	benchSizes(b, func(b *testing.B, size int) {
		s, keys, _ := benchLoaded(b, size)
		var seed atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := seed.Add(7919)
			dst := make([]byte, 0, size)
			for pb.Next() {
				i++
				var ok bool
				dst, ok, _ = s.Get(0, keys[i&(benchKeys-1)], dst[:0])
				if !ok {
					b.Error("miss")
					return
				}
			}
		})
	})
}

func BenchmarkSet(b *testing.B) {
	benchSizes(b, func(b *testing.B, size int) {
		s, keys, val := benchLoaded(b, size)
		var seed atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := seed.Add(7919)
			for pb.Next() {
				i++
				s.Set(0, keys[i&(benchKeys-1)], val, 0, 0, "set")
			}
		})
	})
}

func BenchmarkLockTx(b *testing.B) {
	s := mustNew(b, Config{ActiveExpireHz: -1})
	defer s.Close()
	k1, k2 := []byte("a"), []byte("b")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tx := s.Lock(k1, k2)
			tx.SetString(0, k1, k2, 0)
			tx.Unlock()
		}
	})
}

// BenchmarkSetNewKeys creates keys (and deletes the ones benchKeys
// creations ago), so every SET takes the insert path and its allocation:
// go test -run '^$' -bench SetNewKeys -benchmem ./store/
func BenchmarkSetNewKeys(b *testing.B) {
	benchSizes(b, func(b *testing.B, size int) {
		s, keys, val := benchLoaded(b, size)
		i := 0
		for b.Loop() {
			recreate(s, keys[i&(benchKeys-1)], val)
			i++
		}
	})
}

// recreate deletes key and sets it again.
func recreate(s *Store, key, val []byte) {
	tx := s.Lock(key)
	tx.Delete(0, key)
	tx.Unlock()
	s.Set(0, key, val, 0, 0, "set")
}

// BenchmarkSetNewKeysParallel is BenchmarkSetNewKeys from GOMAXPROCS
// goroutines, each over its own keys: every DEL frees a slab item and a
// record and every SET takes them back, so the Store-wide counters the
// shards write on both (slabFreed, offHeap, slabIdle) are written from
// every core: go test -run '^$' -bench SetNewKeysParallel ./store/
func BenchmarkSetNewKeysParallel(b *testing.B) {
	benchSizes(b, func(b *testing.B, size int) {
		s, keys, val := benchLoaded(b, size)
		var seed atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := seed.Add(1) * 4099
			for pb.Next() {
				recreate(s, keys[i&(benchKeys-1)], val)
				i++
			}
		})
	})
}

// BenchmarkGetAtFence is GetAt (the request fast path) with no slot
// fenced, then with one slot fenced (a cluster node that handed a slot
// over): it then computes every key's slot to check it. The difference is
// the fence's cost per GET.
func BenchmarkGetAtFence(b *testing.B) {
	for _, fenced := range []bool{false, true} {
		name := "none"
		if fenced {
			name = "one-slot"
		}
		b.Run(name, func(b *testing.B) {
			s, keys, _ := benchLoaded(b, 32)
			s.FenceSlot(0, fenced)
			now := s.clock.NowMs()
			var seed atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				i := seed.Add(7919)
				dst := make([]byte, 0, 32)
				for pb.Next() {
					i++
					var ok bool
					var err error
					dst, ok, err = s.GetAt(now, 0, keys[i&(benchKeys-1)], dst[:0])
					if !ok && err != ErrFenced {
						b.Error("miss")
						return
					}
				}
			})
		})
	}
}

// BenchmarkSetEvict is a SET of a new key into a store at its maxmemory
// (100,000 keys of 32 bytes, all with a TTL): each op evicts one key by the
// policy (sampling maxmemory-samples 5 keys into the shard's pool).
// cpu-ns/op is the process's CPU time per op (getrusage), steadier than
// ns/op on a loaded machine.
func BenchmarkSetEvict(b *testing.B) {
	for _, p := range []Policy{AllKeysLRU, VolatileLRU, AllKeysLFU} {
		b.Run(p.String(), func(b *testing.B) {
			s := mustNew(b, Config{ActiveExpireHz: -1, Policy: p})
			defer s.Close()
			val := make([]byte, 32)
			key := make([]byte, 0, 16)
			exp := s.Now() + 3_600_000
			for i := range 100_000 {
				key = strconv.AppendInt(append(key[:0], "key:"...), int64(i), 10)
				s.Set(0, key, val, exp, 0, "set")
			}
			s.SetMaxMemory(s.UsedMemory())
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 100_000; b.Loop(); i++ {
				key = strconv.AppendInt(append(key[:0], "key:"...), int64(i), 10)
				if err := s.FreeMemoryFor(key); err != nil {
					b.Fatal(err)
				}
				s.Set(0, key, val, exp, 0, "set")
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			if s.Stats().Evicted == 0 {
				b.Fatal("nothing evicted")
			}
		})
	}
}

// BenchmarkMultiSet sets 10 keys per Tx (MSET's path) over 1M keys, with
// and without Warm first: the difference is what overlapping the lookups'
// cache misses saves.
//
//	go test -run '^$' -bench MultiSet -benchtime 200000x ./store/
func BenchmarkMultiSet(b *testing.B) {
	const n = 1 << 20
	s := mustNew(b, Config{ActiveExpireHz: -1})
	b.Cleanup(s.Close)
	keys := make([][]byte, n)
	val := make([]byte, 32)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%012d", i)
		s.Set(0, keys[i], val, 0, 0, "set")
	}
	for _, warm := range []bool{false, true} {
		b.Run(fmt.Sprintf("warm=%v", warm), func(b *testing.B) {
			b.ReportAllocs()
			batch := make([][]byte, 10)
			x := uint64(1)
			for b.Loop() {
				for i := range batch {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
					batch[i] = keys[x%n]
				}
				tx := s.Lock(batch...)
				if warm {
					tx.Warm(0, batch)
				}
				for _, k := range batch {
					tx.SetString(0, k, val, 0)
				}
				tx.Unlock()
			}
		})
	}
}

// BenchmarkGetKeySpace times GETs of uniformly random keys "key:N"
// (16-byte values) in a store of BENCH_KEYS keys (default 1,000,000), one
// goroutine: the memory misses a lookup pays grow with the key space
// (issue 13's p99 at 20,000,000 keys). Beside ns/op it reports cpu-ns/op,
// the benchmark thread's own CPU time (getrusage RUSAGE_THREAD where there
// is one), which time spent descheduled on a busy machine does not
// inflate. Sub-benchmarks: get, one Store.Get per key; batch8, eight keys
// under one Tx looked up one after the other; batch8-warm, the same after
// Tx.Warm (what overlapping the misses of eight requests would give). Per
// key in each. For example:
// BENCH_KEYS=20000000 go test -run x -bench GetKeySpace -benchtime 3s -count 4 ./store/
func BenchmarkGetKeySpace(b *testing.B) {
	keys := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("BENCH_KEYS")); err == nil && n > 0 {
		keys = n
	}
	keySpace.once.Do(func() {
		s, err := New(Config{ActiveExpireHz: -1})
		if err != nil {
			panic(err)
		}
		val := make([]byte, 16)
		var k []byte
		for n := range keys {
			k = strconv.AppendInt(append(k[:0], "key:"...), int64(n), 10)
			s.Set(0, k, val, 0, 0, "set")
		}
		keySpace.s = s
	})
	s := keySpace.s
	b.Logf("%d keys, %d MiB off the Go heap", keys, s.OffHeapBytes()>>20)
	b.Run("get", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		var k, dst []byte
		cpu := startThreadCPU(b)
		for range b.N {
			k = strconv.AppendInt(append(k[:0], "key:"...), int64(rng.IntN(keys)), 10)
			var ok bool
			if dst, ok, _ = s.Get(0, k, dst[:0]); !ok {
				b.Fatal("miss")
			}
		}
		cpu.stop(b)
	})
	const batch = 8
	for _, warm := range []bool{false, true} {
		name := "batch8"
		if warm {
			name += "-warm"
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 3))
			ks := make([][]byte, batch)
			var dst []byte
			cpu := startThreadCPU(b)
			for n := 0; n < b.N; n += batch {
				for j := range ks {
					ks[j] = strconv.AppendInt(append(ks[j][:0], "key:"...), int64(rng.IntN(keys)), 10)
				}
				tx := s.Lock(ks...)
				if warm {
					tx.Warm(0, ks)
				}
				for _, k := range ks {
					e, ok := tx.LookupRead(0, k)
					if !ok {
						b.Fatal("miss")
					}
					dst = append(dst[:0], e.Str()...)
				}
				tx.Unlock()
			}
			cpu.stop(b)
		})
	}
	// get16 and get16-warm: sixteen fast-path GETs one after the other, as
	// an event loop runs a wake-up's requests, alone or after Store.Warm
	// over their keys (the loop's cross-request warm).
	for _, warm := range []bool{false, true} {
		name := "get16"
		if warm {
			name += "-warm"
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 4))
			wk := make([]WarmKey, 16)
			var dst []byte
			cpu := startThreadCPU(b)
			for n := 0; n < b.N; n += len(wk) {
				for j := range wk {
					wk[j].Key = strconv.AppendInt(append(wk[j].Key[:0], "key:"...), int64(rng.IntN(keys)), 10)
				}
				if warm {
					s.Warm(wk)
				}
				for _, k := range wk {
					var ok bool
					if dst, ok, _ = s.Get(0, k.Key, dst[:0]); !ok {
						b.Fatal("miss")
					}
				}
			}
			cpu.stop(b)
		})
	}
}

// threadClock measures the benchmark thread's CPU time (threadCPU).
type threadClock struct{ start int64 }

// startThreadCPU locks the goroutine to its thread, resets b's timer and
// starts the clock.
func startThreadCPU(b *testing.B) threadClock {
	runtime.LockOSThread()
	b.ResetTimer()
	return threadClock{threadCPU()}
}

// stop stops b's timer, reports cpu-ns/op (where the platform has a
// thread clock) and unlocks the thread.
func (c threadClock) stop(b *testing.B) {
	b.StopTimer()
	if c.start >= 0 {
		b.ReportMetric(float64(threadCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
	runtime.UnlockOSThread()
}

// keySpace is BenchmarkGetKeySpace's store, loaded once per process (the
// benchmark function runs several times as b.N grows, and with -count).
var keySpace struct {
	once sync.Once
	s    *Store
}

// BenchmarkSlotWalkKeySpace walks every slot of a store of BENCH_KEYS
// keys (default 1,000,000; 16-byte values, written in key order, so a
// slot's records lie scattered over the store, as after client writes)
// with SnapshotSlot (reading each value, as a snapshot encodes it), then
// drops every slot with FlushSlot, BENCH_ROUNDS times (default 3) with the
// warm passes (warmSlotWalks) and without, alternating, refilling the
// store each time. It reports the thread CPU time per key, the median of
// the rounds: snap- and drop-, cold- and warm-cpu-ns/key, and the same in
// wall time (-ns/key: the thread clock counts in scheduler ticks, too
// coarse for the short walks of small stores; on a quiet machine the
// walks run without waiting). Run with -benchtime 1x.
func BenchmarkSlotWalkKeySpace(b *testing.B) {
	keys, rounds := 1_000_000, 3
	if n, err := strconv.Atoi(os.Getenv("BENCH_KEYS")); err == nil && n > 0 {
		keys = n
	}
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	s, err := New(Config{ActiveExpireHz: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	defer func() { warmSlotWalks = true }()
	val := make([]byte, 16)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	per := map[string][]float64{}
	var sum int
	for range b.N {
		for r := range rounds {
			for _, warm := range []bool{false, true} {
				var k []byte
				for n := range keys {
					k = strconv.AppendInt(append(k[:0], "key:"...), int64(n), 10)
					s.Set(0, k, val, 0, 0, "set")
				}
				warmSlotWalks = warm
				name := "cold"
				if warm {
					name = "warm"
				}
				t0, start, walked := time.Now(), threadCPU(), 0
				for slot := range Slots {
					if _, err := s.SnapshotSlot(slot, func(key []byte, e Entry) error {
						walked++
						sum += len(key) + int(e.Str()[0])
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
				snap, snapWall := threadCPU()-start, time.Since(t0)
				t0, start, dropped := time.Now(), threadCPU(), 0
				for slot := range Slots {
					dropped += s.FlushSlot(slot)
				}
				drop, dropWall := threadCPU()-start, time.Since(t0)
				if walked != keys || dropped != keys {
					b.Fatalf("walked %d, dropped %d keys of %d", walked, dropped, keys)
				}
				per["snap-"+name] = append(per["snap-"+name], float64(snap)/float64(keys))
				per["drop-"+name] = append(per["drop-"+name], float64(drop)/float64(keys))
				per["snap-"+name+"-wall"] = append(per["snap-"+name+"-wall"], float64(snapWall)/float64(keys))
				per["drop-"+name+"-wall"] = append(per["drop-"+name+"-wall"], float64(dropWall)/float64(keys))
				b.Logf("round %d %s: snapshot %.0f (wall %.0f), drop %.0f (wall %.0f) ns/key", r, name,
					float64(snap)/float64(keys), float64(snapWall)/float64(keys), float64(drop)/float64(keys), float64(dropWall)/float64(keys))
			}
		}
	}
	median := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	for _, m := range []string{"snap-cold", "snap-warm", "drop-cold", "drop-warm"} {
		b.ReportMetric(median(per[m]), m+"-cpu-ns/key")
		b.ReportMetric(median(per[m+"-wall"]), m+"-ns/key")
	}
	if sum == 0 {
		b.Fatal("no value read")
	}
}
