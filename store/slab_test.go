package store

import (
	"math/rand/v2"
	"reflect"
	"sync/atomic"
	"testing"
)

func TestSlabClasses(t *testing.T) {
	if len(slabClasses) > 255 {
		t.Fatalf("%d classes do not fit a uint8", len(slabClasses))
	}
	if slabClasses[0] < 16 || slabClasses[len(slabClasses)-1] != largeMin {
		t.Fatalf("classes run %d..%d", slabClasses[0], slabClasses[len(slabClasses)-1])
	}
	for i := 1; i < len(slabClasses); i++ {
		a, b := slabClasses[i-1], slabClasses[i]
		if b <= a || (a >= 64 && b > a*classGrowth/100+16) || (a < 64 && b != a+2) {
			t.Fatalf("class %d: %d after %d", i, b, a)
		}
	}
	for n := uint32(0); n <= 2048; n++ { // the lookup table (up to 1024) and the search
		if got, want := classOf(n), searchClassOf(n); got != want {
			t.Fatalf("classOf(%d) = %d, the search finds %d", n, got, want)
		}
	}
	for _, n := range []uint32{1, 16, 17, 49, 64, 65, 1000, largeMin - 1, largeMin} {
		c := slabClasses[classOf(n)]
		if c < n || (classOf(n) > 0 && slabClasses[classOf(n)-1] >= n) {
			t.Fatalf("classOf(%d) = class of %d", n, c)
		}
	}
}

// TestSlabClassWaste measures the average internal waste (item bytes not
// holding data) over every size from 16 to largeMin, and for the keys of
// the memory benchmarks.
func TestSlabClassWaste(t *testing.T) {
	var waste, total float64
	for n := uint64(16); n <= largeMin; n++ {
		waste += float64(allocSize(n) - n)
		total += float64(allocSize(n))
	}
	share := waste / total
	t.Logf("waste over sizes 16..%d: %.1f%% of item bytes", largeMin, 100*share)
	if share > 0.05 {
		t.Fatalf("average waste %.1f%%", 100*share)
	}
	// 16-byte keys (1-byte length) with 32- and 8-byte values.
	// With the item's header byte they take 50 and 26 bytes: no rounding.
	if got := allocSize(1 + 16 + 32); got != 50 {
		t.Fatalf("49 bytes take %d", got)
	}
	if got := allocSize(1 + 16 + 8); got != 26 {
		t.Fatalf("25 bytes take %d", got)
	}
}

func TestRecordHasNoPointers(t *testing.T) {
	rt := reflect.TypeOf(record{})
	for i := range rt.NumField() {
		switch rt.Field(i).Type.Kind() {
		case reflect.Uint8, reflect.Uint32:
		default:
			t.Fatalf("record.%s is a %s", rt.Field(i).Name, rt.Field(i).Type)
		}
	}
}

// slabItem is an item a test holds: its handle, length and fill pattern.
type slabItem struct {
	h, n uint32
	fill byte
}

func (it slabItem) check(t *testing.T, a *slabAlloc) {
	t.Helper()
	for j, c := range a.bytes(it.h, it.n) {
		if c != it.fill+byte(j) {
			t.Fatalf("item %+v byte %d is %d", it, j, c)
		}
	}
}

func slabAllocItem(a *slabAlloc, n uint32, fill byte) slabItem {
	h := a.alloc(n)
	b := a.bytes(h, n)
	for j := range b {
		b[j] = fill + byte(j)
	}
	return slabItem{h, n, fill}
}

// checkSlabs verifies the allocator's bookkeeping: held bytes, used
// counts, partial lists and that no two items overlap.
func checkSlabs(t *testing.T, a *slabAlloc, items []slabItem) {
	t.Helper()
	held := int64(cap(a.spare))
	used := map[uint32]uint32{}
	seen := map[uint32]bool{}
	for _, it := range items {
		if seen[it.h] {
			t.Fatalf("two items at %x", it.h)
		}
		seen[it.h] = true
		if it.h&largeBit == 0 {
			used[it.h>>itemBits]++
		}
		it.check(t, a)
	}
	partial := make([]int, len(a.classes))
	var freed int64 // walked on the free lists
	for si, b := range a.slabs {
		if b.buf == nil {
			continue
		}
		for off := b.free; off != 0; off = le32(b.buf[off-1:]) {
			freed += int64(slabClasses[b.class])
		}
		held += int64(cap(b.buf))
		if b.used != used[uint32(si)] || b.used == 0 {
			t.Fatalf("slab %d: used %d, items %d", si, b.used, used[uint32(si)])
		}
		if b.partial == b.full() {
			t.Fatalf("slab %d: partial %v, full %v", si, b.partial, b.full())
		}
		if b.partial {
			partial[b.class]++
		}
	}
	for _, buf := range a.large {
		held += int64(cap(buf))
	}
	if held != a.held {
		t.Fatalf("held %d, counted %d", a.held, held)
	}
	if got := a.freed.Load(); got != freed {
		t.Fatalf("freed counter %d, the free lists hold %d bytes", got, freed)
	}
	for c, cl := range a.classes {
		n := 0
		for si := cl.partial; si != 0; si = a.slabs[si-1].next {
			n++
		}
		if n != partial[c] {
			t.Fatalf("class %d: %d slabs on its list, %d partial", c, n, partial[c])
		}
	}
}

func TestSlabAllocRandom(t *testing.T) {
	a := newSlabAlloc(new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int32))
	rng := rand.New(rand.NewPCG(1, 2))
	var items []slabItem
	sizes := func() uint32 {
		switch rng.IntN(10) {
		case 0:
			return 1 + rng.Uint32N(3*largeMin)
		case 1, 2:
			return 1 + rng.Uint32N(4096)
		}
		return 1 + rng.Uint32N(100)
	}
	for step := range 20000 {
		if len(items) > 0 && rng.IntN(100) < 45+step/1000 {
			k := rng.IntN(len(items))
			items[k].check(t, &a)
			a.free(items[k].h)
			items[k] = items[len(items)-1]
			items = items[:len(items)-1]
		} else {
			items = append(items, slabAllocItem(&a, sizes(), byte(step)))
		}
		if step%997 == 0 {
			checkSlabs(t, &a, items)
		}
	}
	checkSlabs(t, &a, items)
	for _, it := range items {
		a.free(it.h)
	}
	checkSlabs(t, &a, nil)
	if a.held != int64(cap(a.spare)) || a.held > slabMax {
		t.Fatalf("all freed: %d bytes held, spare %d", a.held, cap(a.spare))
	}
}

// TestSlabMovesBetweenClasses: the slabs a class gives up when its items
// are freed serve another class.
func TestSlabMovesBetweenClasses(t *testing.T) {
	a := newSlabAlloc(new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int32))
	var items []slabItem
	for i := range 20000 {
		items = append(items, slabAllocItem(&a, 100, byte(i)))
	}
	peak := a.held
	for _, it := range items {
		a.free(it.h)
	}
	if a.held > slabMax {
		t.Fatalf("after freeing every item %d bytes held", a.held)
	}
	items = items[:0]
	for i := range 10000 {
		items = append(items, slabAllocItem(&a, 200, byte(i)))
	}
	checkSlabs(t, &a, items)
	if a.held > peak+slabMax {
		t.Fatalf("200-byte items hold %d bytes, 100-byte ones held %d", a.held, peak)
	}
}

func TestSlabGrowLarge(t *testing.T) {
	a := newSlabAlloc(new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int32))
	it := slabAllocItem(&a, largeMin+1, 7)
	a.growLarge(it.h, it.n, 3*largeMin)
	it.check(t, &a)
	if a.room(it.h) != 3*largeMin || a.held != 3*largeMin {
		t.Fatalf("room %d, held %d", a.room(it.h), a.held)
	}
	a.free(it.h)
	if a.released.Load() != largeMin+1+3*largeMin {
		t.Fatalf("released %d", a.released.Load())
	}
	if a.held != 0 || a.large[0] != nil {
		t.Fatalf("freed large value: held %d", a.held)
	}
	if h := a.alloc(largeMin + 5); h != largeBit {
		t.Fatalf("large entry not reused: %x", h)
	}
}

// TestGrowStringAmortized: growing a value by small steps moves it
// O(log n) times (size classes, then 5/4 for large values), and a large
// value's bytes go back to the Go heap when the key is deleted.
func TestGrowStringAmortized(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	t.Cleanup(s.Close)
	key := []byte("k")
	tx := s.Lock(key)
	defer tx.Unlock()
	tx.SetString(0, key, []byte("a"), 0)
	sh := s.shards[0]
	r := sh.rec(sh.find(0, key, tagOf(hashKey(key), 0)))
	moves, last := 0, r.item
	const step, size = 100, 4 << 20
	for n := step; n <= size; n += step {
		v, ok := tx.GrowString(0, key, n)
		if !ok || len(v) != n {
			t.Fatalf("GrowString(%d): len %d ok %v", n, len(v), ok)
		}
		v[n-1] = byte(n / step)
		if h := r.item; h != last {
			moves, last = moves+1, h
		}
	}
	if moves > 120 {
		t.Fatalf("%d calls moved the value %d times", size/step, moves)
	}
	t.Logf("%d calls moved the value %d times", size/step, moves)
	e, _ := tx.Peek(0, key)
	v := e.Str()
	for n := step; n <= size; n += step {
		if v[n-1] != byte(n/step) || v[n-2] != 0 {
			t.Fatalf("byte %d is %d", n-1, v[n-1])
		}
	}
	if v[0] != 'a' {
		t.Fatalf("first byte %q", v[0])
	}
	if u := e.MemoryUsage(); u < size || u > size+size/4+1024 {
		t.Fatalf("MEMORY USAGE %d for a %d-byte value", u, size)
	}
	if err := sh.invariantsLocked(); err != "" {
		t.Fatal(err)
	}
	tx.Delete(0, key)
	if sh.slabs.held > slabMax || s.ReleasedBytes() < size {
		t.Fatalf("after DEL the shard holds %d bytes, released %d", sh.slabs.held, s.ReleasedBytes())
	}
}

// FuzzSlabAlloc runs allocations and frees chosen by the input: every held
// item keeps its bytes and the bookkeeping stays consistent.
// go test -run '^$' -fuzz FuzzSlabAlloc -fuzztime 30s ./store/
func FuzzSlabAlloc(f *testing.F) {
	f.Add([]byte{0, 10, 0, 200, 1, 0, 0, 255, 255, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		a := newSlabAlloc(new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int32))
		var items []slabItem
		for len(ops) >= 3 {
			op, x := ops[0], uint32(ops[1])<<8|uint32(ops[2])
			ops = ops[3:]
			if op&1 == 1 && len(items) > 0 {
				k := int(x) % len(items)
				a.free(items[k].h)
				items[k] = items[len(items)-1]
				items = items[:len(items)-1]
				continue
			}
			n := 1 + x
			if op&2 != 0 {
				n += largeMin - 1024 // around and above the large threshold
			}
			items = append(items, slabAllocItem(&a, n, op))
		}
		checkSlabs(t, &a, items)
	})
}

// TestSlabNumbersRunOut: a shard's last slab number still makes a handle,
// and past it small items get their own large-table entries.
func TestSlabNumbersRunOut(t *testing.T) {
	a := newSlabAlloc(new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int32))
	a.slabs = make([]slab, maxSlabs-1) // numbers in use, without bytes
	var items []slabItem
	for i := range 1000 {
		items = append(items, slabAllocItem(&a, 100, byte(i)))
	}
	last, large := 0, 0
	for _, it := range items {
		switch {
		case it.h&largeBit != 0:
			large++
			if a.room(it.h) != 100 {
				t.Fatalf("fallback item room %d", a.room(it.h))
			}
		case it.h>>itemBits == maxSlabs-1:
			last++
		default:
			t.Fatalf("handle %x", it.h)
		}
	}
	if last == 0 || large == 0 || last+large != 1000 {
		t.Fatalf("%d items in the last slab, %d large", last, large)
	}
	checkSlabs(t, &a, items)
	for _, it := range items[:last] { // the last slab empties and goes
		a.free(it.h)
	}
	if it := slabAllocItem(&a, 100, 1); it.h>>itemBits != maxSlabs-1 {
		t.Fatalf("freed slab number not reused: %x", it.h)
	}
}

// TestSlabItemLength sets every length from 0 to the room of an item of
// every class (and a large one), with the item's last 4 bytes (a TTL
// position) and the content overwritten around it, and reads the length
// back: short and long spare room (header byte, or 255 and the stashed
// length) both hold.
func TestSlabItemLength(t *testing.T) {
	var released atomic.Int64
	a := newSlabAlloc(&released, new(atomic.Int64), new(atomic.Int64), new(atomic.Int64), new(atomic.Int32))
	for c := range slabClasses {
		room := slabClasses[c] - 1
		if int(room)+1 > largeMin {
			room = largeMin + 100 // a large item
		}
		h := a.alloc(room)
		if a.room(h) != room {
			t.Fatalf("class %d: room %d, want %d", c, a.room(h), room)
		}
		step := max(room/97, 1)
		for n := uint32(0); n <= room; n += step {
			a.setLength(h, n)
			if n+4 <= room {
				putLE32(a.tail(h), 0xffffffff)
			}
			for i := range a.bytes(h, n) {
				a.bytes(h, n)[i] = 0xee
			}
			if got := a.length(h); got != n {
				t.Fatalf("class %d (room %d): length %d, want %d", c, room, got, n)
			}
		}
		a.free(h)
	}
}
