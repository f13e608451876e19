package hash

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"unsafe"
)

// checkModel asserts that h holds exactly model.
func checkModel(t *testing.T, h *Hash, model map[string]string) {
	t.Helper()
	if h.Len() != len(model) {
		t.Fatalf("Len %d, want %d", h.Len(), len(model))
	}
	got := map[string]string{}
	h.Each(func(f, v []byte) bool { got[string(f)] = string(v); return true })
	if !maps.Equal(got, model) {
		t.Fatalf("Each gave %v, want %v", got, model)
	}
	for f, v := range model {
		if g, ok := h.Get([]byte(f)); !ok || string(g) != v {
			t.Fatalf("Get(%q) = %q %v, want %q", f, g, ok, v)
		}
	}
}

func TestHashModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields int
		vlen   int
	}{{"small", 20, 5}, {"big", 2000, 10}, {"longvalues", 30, 100}} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			h := New()
			model := map[string]string{}
			for i := range 20000 {
				f := "f" + strconv.Itoa(r.IntN(tc.fields))
				switch r.IntN(3) {
				case 0, 1:
					v := bytes.Repeat([]byte{byte('a' + i%26)}, r.IntN(tc.vlen)+1)
					_, existed := model[f]
					added, err := h.Set([]byte(f), v)
					if err != nil || added == existed {
						t.Fatalf("Set(%q) = %v %v, existed %v", f, added, err, existed)
					}
					model[f] = string(v)
				case 2:
					_, existed := model[f]
					if h.Delete([]byte(f)) != existed {
						t.Fatalf("Delete(%q) != %v", f, existed)
					}
					delete(model, f)
				}
				if i%997 == 0 {
					checkModel(t, h, model)
				}
			}
			checkModel(t, h, model)
			c := h.Clone().(*Hash)
			checkModel(t, c, model)
			c.Set([]byte("only-in-clone"), []byte("x"))
			checkModel(t, h, model)
		})
	}
}

func TestHashEncodingThresholds(t *testing.T) {
	h := New()
	for i := range MaxListpackEntries {
		h.Set([]byte(strconv.Itoa(i)), []byte("v"))
	}
	if h.Encoding() != "listpack" {
		t.Fatalf("%d fields: %s", h.Len(), h.Encoding())
	}
	h.Set([]byte("one-more"), []byte("v"))
	if h.Encoding() != "hashtable" {
		t.Fatalf("%d fields: %s", h.Len(), h.Encoding())
	}
	for i := range MaxListpackEntries + 1 {
		h.Delete([]byte(strconv.Itoa(i)))
	}
	if h.Encoding() != "hashtable" || h.Len() != 1 {
		t.Fatalf("after deletes: %s len %d (never converts back)", h.Encoding(), h.Len())
	}
	for _, tc := range []struct{ f, v int }{{64, 64}, {65, 1}, {1, 65}} {
		h := New()
		h.Set(bytes.Repeat([]byte("f"), tc.f), bytes.Repeat([]byte("v"), tc.v))
		want := "listpack"
		if tc.f > 64 || tc.v > 64 {
			want = "hashtable"
		}
		if h.Encoding() != want {
			t.Errorf("field %d value %d bytes: %s, want %s", tc.f, tc.v, h.Encoding(), want)
		}
	}
}

func TestHashListpackOrder(t *testing.T) {
	h := New()
	for _, f := range []string{"c", "a", "b"} {
		h.Set([]byte(f), []byte("1"))
	}
	h.Set([]byte("a"), []byte("longer value"))
	h.Delete([]byte("c"))
	h.Set([]byte("c"), []byte("3"))
	var got []string
	h.Each(func(f, v []byte) bool { got = append(got, string(f)+"="+string(v)); return true })
	want := []string{"a=longer value", "b=1", "c=3"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// TestTableScanGuarantee checks Redis's SCAN guarantee while the table
// grows and shrinks between calls: every key present for the whole scan is
// visited.
func TestTableScanGuarantee(t *testing.T) {
	for _, grow := range []bool{true, false} {
		tb := &Table{}
		for i := range 1000 {
			tb.Set([]byte("stay"+strconv.Itoa(i)), nil)
		}
		if !grow {
			for i := range 5000 {
				tb.Set([]byte("tmp"+strconv.Itoa(i)), nil)
			}
		}
		seen := map[string]bool{}
		cursor, step := uint64(0), 0
		for {
			cursor = tb.Scan(cursor, 50, func(k, _ []byte) { seen[string(k)] = true })
			step++
			for j := range 200 {
				if grow {
					tb.Set([]byte(fmt.Sprintf("new%d-%d", step, j)), nil)
				} else {
					tb.Delete([]byte(fmt.Sprintf("tmp%d", step*200+j)))
				}
			}
			if cursor == 0 {
				break
			}
		}
		for i := range 1000 {
			if !seen["stay"+strconv.Itoa(i)] {
				t.Fatalf("grow=%v: stay%d never visited", grow, i)
			}
		}
	}
}

func TestTableCompaction(t *testing.T) {
	tb := &Table{}
	for i := range 1000 {
		tb.Set([]byte(strconv.Itoa(i)), bytes.Repeat([]byte("x"), i%50))
	}
	for round := range 20 {
		for i := range 1000 {
			tb.Set([]byte(strconv.Itoa(i)), bytes.Repeat([]byte("y"), (i+round)%50+1))
		}
	}
	if tb.dead*2 > len(tb.arena) {
		t.Fatalf("dead %d of %d arena bytes: not compacted", tb.dead, len(tb.arena))
	}
	for i := range 1000 {
		v, ok := tb.Get([]byte(strconv.Itoa(i)))
		if !ok || len(v) != (i+19)%50+1 {
			t.Fatalf("key %d: %q %v", i, v, ok)
		}
	}
}

func TestHashRandom(t *testing.T) {
	for _, n := range []int{5, 500} {
		h := New()
		for i := range n {
			h.Set([]byte(strconv.Itoa(i)), []byte("v"+strconv.Itoa(i)))
		}
		seen := map[string]bool{}
		for range 50 * n {
			f, v, ok := h.Random()
			if !ok || string(v) != "v"+string(f) {
				t.Fatalf("Random = %q %q %v", f, v, ok)
			}
			seen[string(f)] = true
		}
		if len(seen) != n {
			t.Fatalf("n=%d: Random reached only %d fields", n, len(seen))
		}
	}
	if _, _, ok := New().Random(); ok {
		t.Fatal("Random of an empty hash")
	}
}

func TestListpackReplace(t *testing.T) {
	var lp Listpack
	lp = lp.Append([]byte("a"), []byte("bb"), []byte("c"))
	off := lp.Find([]byte("bb"), 1)
	lp = lp.Replace(off, bytes.Repeat([]byte("z"), 200)) // the length header grows
	lp = lp.Replace(lp.Find([]byte("a"), 1), nil)
	var got []string
	for o := 0; o < len(lp); {
		var e []byte
		e, o = lp.Entry(o)
		got = append(got, string(e))
	}
	if want := []string{"", string(bytes.Repeat([]byte("z"), 200)), "c"}; !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
}

// heapBytes returns the live heap after a GC.
func heapBytes() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestHashSizeHonest checks that Size is within 25% of the heap the hashes
// really take, for both encodings.
func TestHashSizeHonest(t *testing.T) {
	for _, tc := range []struct{ hashes, fields int }{{2000, 50}, {10, 5000}} {
		keep := make([]*Hash, tc.hashes)
		before := heapBytes()
		var est int64
		for i := range keep {
			h := New()
			for j := range tc.fields {
				h.Set([]byte("field:"+strconv.Itoa(j)), []byte("value:"+strconv.Itoa(j)))
			}
			keep[i] = h
			est += h.Size()
		}
		real := heapBytes() - before
		if float64(est) < 0.75*float64(real) || float64(est) > 1.25*float64(real) {
			t.Errorf("%d hashes of %d fields: Size sum %d, heap %d", tc.hashes, tc.fields, est, real)
		}
		runtime.KeepAlive(keep)
	}
}

func TestHashListpackShrinks(t *testing.T) {
	h := New()
	for i := range 400 {
		h.Set([]byte("f"+strconv.Itoa(i)), bytes.Repeat([]byte("v"), 60))
	}
	big := h.Size()
	for i := range 399 {
		h.Delete([]byte("f" + strconv.Itoa(i)))
	}
	if h.Encoding() != "listpack" || h.Size() > big/10 {
		t.Fatalf("after deleting 399 of 400 fields: %s, size %d of %d", h.Encoding(), h.Size(), big)
	}
	checkModel(t, h, map[string]string{"f399": string(bytes.Repeat([]byte("v"), 60))})
}

// SetPairs ends in the state Set on each pair gives (fields, listpack
// order, encoding, count of new fields), around both thresholds and with
// repeated fields, and sizes the buffers for the pairs at once.
func TestHashSetPairsLikeSets(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		var start, pairs [][]byte
		for range r.IntN(MaxListpackEntries + 50) {
			start = append(start, fmt.Appendf(nil, "f%d", r.IntN(700)), []byte("v"))
		}
		n := []int{1, 10, 100, MaxListpackEntries, MaxListpackEntries + 1, 700}[r.IntN(6)]
		for range n {
			v := bytes.Repeat([]byte{'x'}, r.IntN(8))
			if r.IntN(200) == 0 {
				v = bytes.Repeat([]byte{'y'}, MaxListpackValue+1)
			}
			pairs = append(pairs, fmt.Appendf(nil, "f%d", r.IntN(40+r.IntN(700))), v)
		}
		a, b := New(), New()
		for i := 0; i < len(start); i += 2 {
			a.Set(start[i], start[i+1])
			b.Set(start[i], start[i+1])
		}
		want := 0
		for i := 0; i < len(pairs); i += 2 {
			if added, _ := a.Set(pairs[i], pairs[i+1]); added {
				want++
			}
		}
		got, err := b.SetPairs(pairs)
		if err != nil || got != want || a.Encoding() != b.Encoding() || a.Len() != b.Len() {
			t.Fatalf("round %d: SetPairs added %d (%v) %s len %d, Sets added %d %s len %d",
				round, got, err, b.Encoding(), b.Len(), want, a.Encoding(), a.Len())
		}
		var fa, fb []string
		a.Each(func(f, v []byte) bool { fa = append(fa, string(f)+"="+string(v)); return true })
		b.Each(func(f, v []byte) bool { fb = append(fb, string(f)+"="+string(v)); return true })
		if a.Encoding() == "hashtable" {
			slices.Sort(fa)
			slices.Sort(fb)
		}
		if !slices.Equal(fa, fb) {
			t.Fatalf("round %d: contents differ", round)
		}
	}
}

// A hash built by one SetPairs has no growth slack: its listpack, or its
// table's arena, is the size class of its bytes.
func TestHashSetPairsExact(t *testing.T) {
	for _, n := range []int{10, 100, 1000} {
		var pairs [][]byte
		for i := range n {
			pairs = append(pairs, fmt.Appendf(nil, "f%d", i), fmt.Appendf(nil, "v%d", i))
		}
		h := New()
		if added, err := h.SetPairs(pairs); added != n || err != nil {
			t.Fatalf("n %d: added %d %v", n, added, err)
		}
		used, capacity := len(h.lp()), cap(h.lp())
		if h.t != nil {
			used, capacity = len(h.t.arena), cap(h.t.arena)
			if len(h.t.slots) > 2*n*4/3+8 {
				t.Fatalf("n %d: %d index slots", n, len(h.t.slots))
			}
		}
		if capacity != cap(slices.Grow([]byte(nil), used)) {
			t.Fatalf("n %d (%s): %d bytes in a buffer of %d", n, h.Encoding(), used, capacity)
		}
	}
	h := New()
	for i := range 400 {
		h.Set(fmt.Appendf(nil, "f%d", i), []byte("v"))
	}
	if len(h.lp()) < cap(h.lp())*3/4 {
		t.Fatalf("one field at a time: %d bytes in a buffer of %d", len(h.lp()), cap(h.lp()))
	}
}

// The Hash header stays in Go's 32-byte size class.
func TestHashHeaderSize(t *testing.T) {
	if n := unsafe.Sizeof(Hash{}); n != hashHead {
		t.Fatalf("Hash is %d bytes, Size counts %d", n, hashHead)
	}
}
