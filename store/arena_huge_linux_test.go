package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// withHugeFrom sets hugeFrom for the test and restores it after.
func withHugeFrom(t testing.TB, n int64) {
	old := hugeFrom.Load()
	hugeFrom.Store(n)
	t.Cleanup(func() { hugeFrom.Store(old) })
}

// mappingOf returns the /proc/self/smaps block (header line first) of the
// mapping holding address a, or nil.
func mappingOf(t *testing.T, a uintptr) []string {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	var cur []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if lo, hi, ok := parseRange(l); ok {
			if in {
				return cur
			}
			in = a >= lo && a < hi
			cur = []string{l}
			continue
		}
		if in {
			cur = append(cur, l)
		}
	}
	if in {
		return cur
	}
	return nil
}

// parseRange parses the "start-end" that opens an smaps mapping header.
func parseRange(l string) (lo, hi uintptr, ok bool) {
	f := strings.Fields(l)
	if len(f) < 5 || strings.HasSuffix(f[0], ":") {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(f[0], "-")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}

// vmFlags returns the VmFlags line of an smaps block.
func vmFlags(block []string) string {
	for _, l := range block {
		if v, ok := strings.CutPrefix(l, "VmFlags:"); ok {
			return v
		}
	}
	return ""
}

// TestHugeArena checks that past hugeFrom a store's record chunks, slabs
// and large index come advised for huge pages (VmFlags "hg" in smaps),
// that the small ones are carved from regions aligned to the huge page,
// that a carved buffer given back is inaccessible (PROT_NONE), and that
// the data stays right through deletions and reuse of the holes.
func TestHugeArena(t *testing.T) {
	if hugePage == 0 {
		t.Skip("no transparent huge pages here")
	}
	withHugeFrom(t, 0)
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 1})
	const keys = 300_000 // an index of 2.7 MiB: over the huge page
	key := func(k int) []byte { return fmt.Appendf(nil, "k:%d", k) }
	for k := range keys {
		s.Set(0, key(k), arenaValue(k, 0), 0, 0, "set")
	}
	sh := s.shards[0]
	sh.mu.Lock()
	if !sh.idx.mapped || len(sh.idx.slots)*8 < hugePage {
		t.Fatalf("index of %d slots, mapped %v: want one of a huge page or more", len(sh.idx.slots), sh.idx.mapped)
	}
	idx := uintptr(unsafe.Pointer(unsafe.SliceData(sh.idx.slots)))
	var chunk uintptr
	for i, m := range sh.mapped {
		if m {
			chunk = uintptr(unsafe.Pointer(unsafe.SliceData(sh.chunks[i])))
			break
		}
	}
	var slab uintptr
	for _, b := range sh.slabs.slabs {
		if b.mapped && b.buf != nil {
			slab = uintptr(unsafe.Pointer(unsafe.SliceData(b.buf)))
			break
		}
	}
	sh.mu.Unlock()
	if chunk == 0 || slab == 0 {
		t.Fatalf("no mapped chunk (%#x) or slab (%#x)", chunk, slab)
	}
	if idx%uintptr(hugePage) != 0 {
		t.Errorf("index at %#x: not aligned to the huge page", idx)
	}
	for name, a := range map[string]uintptr{"index": idx, "record chunk": chunk, "slab": slab} {
		m := mappingOf(t, a)
		if m == nil {
			t.Fatalf("%s at %#x: no mapping", name, a)
		}
		if !strings.Contains(" "+vmFlags(m)+" ", " hg ") {
			t.Errorf("%s at %#x: mapping %q has VmFlags %q, want hg", name, a, m[0], vmFlags(m))
		}
	}
	if !huge.holds(chunk) || !huge.holds(slab) {
		t.Errorf("record chunk %#x or slab %#x not carved from a region", chunk, slab)
	}

	// Delete every key: the slabs empty and are given back (the shard
	// keeps one spare); the one we saw is PROT_NONE unless it is the spare.
	for k := range keys {
		tx := s.Lock(key(k))
		tx.Delete(0, key(k))
		tx.Unlock()
	}
	sh.mu.Lock()
	spare := uintptr(0)
	if sh.slabs.spare != nil {
		spare = uintptr(unsafe.Pointer(unsafe.SliceData(sh.slabs.spare)))
	}
	sh.mu.Unlock()
	if slab != spare {
		m := mappingOf(t, slab)
		if m == nil || !strings.Contains(m[0], " ---p ") {
			t.Errorf("slab at %#x given back: mapping %v, want ---p", slab, m)
		}
	}
	// Load again (reusing the holes) and read everything back.
	for k := range keys {
		s.Set(0, key(k), arenaValue(k, 1), 0, 0, "set")
	}
	for k := range keys {
		v, ok, _ := s.Get(0, key(k), nil)
		if !ok || string(v) != string(arenaValue(k, 1)) {
			t.Fatalf("key %d: %v, %d bytes; want %d", k, ok, len(v), len(arenaValue(k, 1)))
		}
	}
	s.Close()
}

// holds reports whether a region holds address a.
func (h *hugeRegions) holds(a uintptr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.starts {
		if a >= r && a < r+hugeRegion {
			return true
		}
	}
	return false
}

// TestHugeArenaUnmapUnderReaders runs TestOffHeapUnmapUnderReaders with
// every buffer carved from huge regions.
func TestHugeArenaUnmapUnderReaders(t *testing.T) {
	if hugePage == 0 {
		t.Skip("no transparent huge pages here")
	}
	withHugeFrom(t, 0)
	TestOffHeapUnmapUnderReaders(t)
}

// hugeBench is a store of BENCH_KEYS keys (default 1,000,000) "key:N"
// with 16-byte values, mapped with or without huge pages, made once.
var hugeBench struct {
	once  [2]sync.Once
	store [2]*Store
	keys  int
}

// BenchmarkGetKeySpace times single GETs of uniformly random keys of a
// large key space with the arenas in 4 KiB pages (huge=off) and in huge
// pages (huge=on): the memory and TLB misses a request pays. Beside ns/op
// it reports cpu-ns/op, the benchmark thread's own CPU time (getrusage),
// which time the thread spends descheduled on a busy machine does not
// inflate. Both stores are loaded once and stay; BENCH_ROUNDS runs the
// pair that many times, alternating. For example:
// BENCH_KEYS=20000000 BENCH_ROUNDS=6 go test -run x -bench GetKeySpace -benchtime 3s ./store/
func BenchmarkGetKeySpace(b *testing.B) {
	if hugePage == 0 {
		b.Skip("no transparent huge pages here")
	}
	hugeBench.keys = 1_000_000
	if n, err := strconv.Atoi(os.Getenv("BENCH_KEYS")); err == nil && n > 0 {
		hugeBench.keys = n
	}
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for range rounds {
		for i, name := range []string{"huge=off", "huge=on"} {
			b.Run(name, func(b *testing.B) { benchGetKeySpace(b, i) })
		}
	}
}

func benchGetKeySpace(b *testing.B, i int) {
	hugeBench.once[i].Do(func() {
		old := hugeFrom.Load()
		hugeFrom.Store([]int64{-1, 0}[i])
		s, err := New(Config{ActiveExpireHz: -1})
		if err != nil {
			panic(err)
		}
		val := make([]byte, 16)
		var k []byte
		for n := range hugeBench.keys {
			k = strconv.AppendInt(append(k[:0], "key:"...), int64(n), 10)
			s.Set(0, k, val, 0, 0, "set")
		}
		hugeFrom.Store(old)
		hugeBench.store[i] = s
	})
	s := hugeBench.store[i]
	rng := rand.New(rand.NewPCG(1, uint64(i)))
	var k, dst []byte
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	b.ResetTimer()
	for range b.N {
		k = strconv.AppendInt(append(k[:0], "key:"...), int64(rng.IntN(hugeBench.keys)), 10)
		var ok bool
		if dst, ok, _ = s.Get(0, k, dst[:0]); !ok {
			b.Fatal("miss")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// threadCPU returns the calling thread's user and system CPU time in ns.
func threadCPU() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
