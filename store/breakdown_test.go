package store

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"unsafe"
)

// layoutBytes is where a store's bytes go, summed over its shards (exact,
// from the store's own structures).
type layoutBytes struct {
	keys       int64 // live keys
	records    int64 // record chunks (allocated records × record size)
	liveRecs   int64 // records of live keys × record size
	index      int64 // index slots × 8
	heads      int64 // per-slot list heads
	data       int64 // packed bytes in use: uvarint key length + key + value
	rounding   int64 // item bytes beyond the packed bytes (header byte, class rounding, TTL tails)
	slabFree   int64 // slab bytes not in a live item: freed items, bump tails, the spare
	ttl        int64 // ttl slices' capacity
	indexSlots int64
}

// layoutOf adds up every shard's structures.
func layoutOf(s *Store) layoutBytes {
	var l layoutBytes
	rs := int64(unsafe.Sizeof(record{}))
	for _, sh := range s.shards {
		sh.mu.Lock()
		l.records += int64(len(sh.chunks)) * chunkSize * rs
		l.index += int64(len(sh.idx.slots)) * 8
		l.indexSlots += int64(len(sh.idx.slots))
		l.heads += int64(len(sh.heads)) * 4
		l.ttl += int64(cap(sh.ttl)) * int64(unsafe.Sizeof(ttlEntry{}))
		var room int64
		for _, v := range sh.idx.slots {
			if v == 0 {
				continue
			}
			r := sh.rec(uint32(v))
			l.keys++
			l.data += int64(len(sh.kv(r)))
			room += int64(sh.slabs.size(r.item))
		}
		l.rounding += room - 0
		l.slabFree += sh.slabs.held - room
		sh.mu.Unlock()
	}
	l.rounding -= l.data
	l.liveRecs = l.keys * rs
	return l
}

// BenchmarkMemoryBreakdown loads the steady case of bench/memory.sh into a
// store (3,000,000 SETs of 32-byte values over 1,000,000 random 16-byte
// keys "key:%012d", as redis-benchmark -r draws them) and reports, per live
// key, every part of the store's layout and of the Go heap around it, the
// table of docs/performance.md "Where the bytes go". offheap-B/key is
// what the store mapped off the Go heap (arena.go); the heap-* rows are the
// Go heap alone.
// Run: go test -run x -bench MemoryBreakdown -benchtime 1x ./store/
func BenchmarkMemoryBreakdown(b *testing.B) {
	for range b.N {
		old := debug.SetGCPercent(12) // the server's heap target at steady state (server/gctune.go)
		rss0 := rss()
		s := mustNew(b, Config{ActiveExpireHz: -1, Shards: 16})
		rng := rand.New(rand.NewPCG(1, 2))
		val := make([]byte, 32)
		key := make([]byte, 0, 16)
		for range 3_000_000 {
			key = fmt.Appendf(key[:0], "key:%012d", rng.IntN(1_000_000))
			s.Set(0, key, val, 0, 0, "set")
		}
		runtime.GC()
		l := layoutOf(s)
		k := float64(l.keys)
		per := func(v int64, unit string) { b.ReportMetric(float64(v)/k, unit) }
		b.ReportMetric(k, "keys")
		per(l.liveRecs, "record-B/key")
		per(l.records-l.liveRecs, "free-records-B/key")
		per(l.index, "index-B/key")
		b.ReportMetric(float64(l.keys)/float64(l.indexSlots), "index-load")
		per(l.heads, "heads-B/key")
		per(l.data, "data-B/key")
		per(l.rounding, "rounding-B/key")
		per(l.slabFree, "slab-free-B/key")
		per(l.ttl, "ttl-B/key")
		per(s.UsedMemory(), "used-B/key")
		per(s.OffHeapBytes(), "offheap-B/key")
		m := []metrics.Sample{
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/gc/heap/goal:bytes"},
			{Name: "/memory/classes/total:bytes"},
			{Name: "/memory/classes/heap/released:bytes"},
			{Name: "/memory/classes/heap/free:bytes"},
		}
		metrics.Read(m)
		per(int64(m[0].Value.Uint64()), "heap-objects-B/key")
		per(int64(m[1].Value.Uint64()), "heap-goal-B/key")
		per(int64(m[2].Value.Uint64()-m[3].Value.Uint64()), "mapped-B/key")
		per(int64(m[4].Value.Uint64()), "heap-free-B/key")
		per(rss()-rss0, "rss-B/key")
		runtime.KeepAlive(s)
		s.Close()
		debug.SetGCPercent(old)
	}
}
