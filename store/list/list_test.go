package list

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// model is the obviously right list the tests compare against.
type model [][]byte

func randVal(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return []byte(strconv.Itoa(r.IntN(5))) // few distinct values: LREM/Find hit often
	case 1:
		return bytes.Repeat([]byte{'x'}, r.IntN(300))
	case 2:
		return bytes.Repeat([]byte{'y'}, 100+r.IntN(20000)) // past a node, and past the 2-byte varints
	default:
		return []byte(fmt.Sprintf("v%d", r.IntN(1000)))
	}
}

// randVals returns 1 to 40 values, mostly short (a node takes many).
func randVals(r *rand.Rand) [][]byte {
	vs := make([][]byte, 1+r.IntN(40))
	for i := range vs {
		if r.IntN(8) == 0 {
			vs[i] = randVal(r)
		} else {
			vs[i] = []byte(fmt.Sprintf("e%d", r.IntN(100000)))
		}
	}
	return vs
}

func check(t *testing.T, l *List, m model, step string) {
	t.Helper()
	if l.Len() != len(m) {
		t.Fatalf("%s: Len %d, want %d", step, l.Len(), len(m))
	}
	got := l.Values()
	for i := range m {
		if !bytes.Equal(got[i], m[i]) {
			t.Fatalf("%s: element %d = %.20q, want %.20q", step, i, got[i], m[i])
		}
	}
	var caps int64
	cnt := 0
	for _, nd := range l.ns[l.head:] {
		caps += int64(nd.alloc())
		if nd.n == 0 {
			t.Fatalf("%s: empty node kept", step)
		}
		cnt += nd.n
	}
	if caps != l.capSum || cnt != l.n {
		t.Fatalf("%s: capSum %d (real %d), n %d (nodes say %d)", step, l.capSum, caps, l.n, cnt)
	}
	// Reverse iteration from the tail sees the same elements.
	it := l.Iter(len(m)-1, true)
	for i := len(m) - 1; i >= 0; i-- {
		v, ok := it.Next()
		if !ok || !bytes.Equal(v, m[i]) {
			t.Fatalf("%s: reverse element %d = %.20q %v", step, i, v, ok)
		}
	}
	if _, ok := it.Next(); ok {
		t.Fatalf("%s: reverse iterator did not stop", step)
	}
}

func TestListRandomOpsAgainstModel(t *testing.T) {
	// popped pops with pop into nil on even steps, and on odd ones into a
	// buffer already holding "p:", which the pop must keep; how says which.
	popped := func(seed uint64, step int, pop func([]byte) ([]byte, bool)) (got []byte, ok bool, how string) {
		if step%2 == 0 {
			got, ok = pop(nil)
			return got, ok, "(nil)"
		}
		got, ok = pop([]byte("p:"))
		if !bytes.HasPrefix(got, []byte("p:")) {
			t.Fatalf("seed %d step %d: the pop lost what dst held: %.20q", seed, step, got)
		}
		return got[2:], ok, "(dst)"
	}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		l := New()
		var m model
		for step := range 600 {
			v := randVal(r)
			name := ""
			switch op := r.IntN(13); op {
			case 0, 1:
				name = "PushBack"
				l.PushBack(v)
				m = append(m, v)
			case 2, 3:
				name = "PushFront"
				l.PushFront(v)
				m = slices.Insert(m, 0, v)
			case 4:
				got, ok, how := popped(seed, step, l.PopFrontTo)
				name = "PopFrontTo" + how
				if ok != (len(m) > 0) || ok && !bytes.Equal(got, m[0]) {
					t.Fatalf("seed %d step %d %s = %.20q %v", seed, step, name, got, ok)
				}
				if ok {
					m = m[1:]
				}
			case 5:
				got, ok, how := popped(seed, step, l.PopBackTo)
				name = "PopBackTo" + how
				if ok != (len(m) > 0) || ok && !bytes.Equal(got, m[len(m)-1]) {
					t.Fatalf("seed %d step %d %s = %.20q %v", seed, step, name, got, ok)
				}
				if ok {
					m = m[:len(m)-1]
				}
			case 6:
				name = "Set"
				idx := r.IntN(len(m)+2) - 1
				ok := l.Set(idx, v)
				want := idx >= -len(m) && idx < len(m) && len(m) > 0
				if ok != want {
					t.Fatalf("seed %d step %d Set(%d) = %v", seed, step, idx, ok)
				}
				if ok {
					if idx < 0 {
						idx += len(m)
					}
					m[idx] = v
				}
			case 7:
				name = "Insert"
				idx := r.IntN(len(m) + 1)
				l.Insert(idx, v)
				m = slices.Insert(m, idx, v)
			case 8:
				name = "Remove"
				count := r.IntN(5) - 2
				got := l.Remove(v, count)
				want := modelRemove(&m, v, count)
				if got != want {
					t.Fatalf("seed %d step %d Remove(%q,%d) = %d want %d", seed, step, v, count, got, want)
				}
			case 9:
				if len(m) == 0 {
					continue
				}
				name = "Trim"
				a := r.IntN(len(m))
				b := a + r.IntN(len(m)-a)
				l.Trim(a, b)
				m = m[a : b+1]
			case 11:
				name = "PushBackAll"
				vs := randVals(r)
				l.PushBackAll(vs)
				m = append(m, vs...)
			case 12:
				name = "PushFrontAll"
				vs := randVals(r)
				l.PushFrontAll(vs)
				for _, v := range vs {
					m = slices.Insert(m, 0, v)
				}
			case 10:
				name = "Index/Find"
				idx := r.IntN(len(m)+4) - 2
				got, ok := l.Index(idx)
				j := idx
				if j < 0 {
					j += len(m)
				}
				if ok != (j >= 0 && j < len(m)) || ok && !bytes.Equal(got, m[j]) {
					t.Fatalf("seed %d step %d Index(%d) = %.20q %v", seed, step, idx, got, ok)
				}
				if f := l.Find(v); f != slices.IndexFunc(m, func(e []byte) bool { return bytes.Equal(e, v) }) {
					t.Fatalf("seed %d step %d Find = %d", seed, step, f)
				}
			}
			check(t, l, m, fmt.Sprintf("seed %d step %d %s", seed, step, name))
		}
		c := l.Clone().(*List)
		check(t, c, m, "clone")
		c.PushBack([]byte("only in the clone"))
		check(t, l, m, "original after clone write")
	}
}

func modelRemove(m *model, v []byte, count int) int {
	var idx []int
	for i, e := range *m {
		if bytes.Equal(e, v) {
			idx = append(idx, i)
		}
	}
	switch {
	case count > 0 && len(idx) > count:
		idx = idx[:count]
	case count < 0 && len(idx) > -count:
		idx = idx[len(idx)+count:]
	}
	for k := len(idx) - 1; k >= 0; k-- {
		*m = slices.Delete(*m, idx[k], idx[k]+1)
	}
	return len(idx)
}

func TestListRange(t *testing.T) {
	l := New()
	for i := range 5000 {
		l.PushBack([]byte(strconv.Itoa(i)))
	}
	if l.nodes() < 2 {
		t.Fatalf("5000 elements in %d node(s)", l.nodes())
	}
	var got []string
	l.Range(1998, 2003, func(v []byte) bool { got = append(got, string(v)); return true })
	if want := []string{"1998", "1999", "2000", "2001", "2002", "2003"}; !slices.Equal(got, want) {
		t.Fatalf("Range = %v", got)
	}
	got = got[:0]
	l.Range(0, 4999, func(v []byte) bool { got = append(got, string(v)); return len(got) < 3 })
	if len(got) != 3 {
		t.Fatalf("Range did not stop: %d", len(got))
	}
	if it := l.Iter(5000, false); it.ok {
		t.Fatal("Iter past the end yields")
	}
	var zero Iter
	if _, ok := zero.Next(); ok {
		t.Fatal("zero Iter yields")
	}
}

func TestListPopsReleaseNodes(t *testing.T) {
	l := New()
	for i := range 100000 {
		l.PushFront([]byte(strconv.Itoa(i)))
	}
	big := l.Size()
	for l.Len() > 1 {
		if l.Len()%2 == 0 {
			l.PopFrontTo(nil)
		} else {
			l.PopBackTo(nil)
		}
	}
	if s := l.Size(); s > big/50 {
		t.Fatalf("Size after popping all but one = %d (was %d)", s, big)
	}
	l.PopBackTo(nil)
	if l.Len() != 0 || l.Size() != listOverhead {
		t.Fatalf("empty list: Len %d Size %d", l.Len(), l.Size())
	}
	if _, ok := l.PopFrontTo(nil); ok {
		t.Fatal("PopFrontTo on empty list")
	}
	if _, ok := l.PopBackTo(nil); ok {
		t.Fatal("PopBackTo on empty list")
	}
	if l.Set(0, []byte("x")) {
		t.Fatal("Set on empty list")
	}
}

func TestListEncoding(t *testing.T) {
	if e := New().Encoding(); e != "quicklist" {
		t.Fatalf("Encoding = %q", e)
	}
}

// TestListSizeHonest checks Size against the heap growth of building a
// large list: within 25% either way.
func TestListSizeHonest(t *testing.T) {
	const n = 200000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l := New()
	for i := range n {
		l.PushBack([]byte("element:" + strconv.Itoa(i)))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if s := l.Size(); s < grew*3/4 || s > grew*5/4 {
		t.Fatalf("Size %d, heap grew %d", s, grew)
	}
	runtime.KeepAlive(l)
}

// BenchmarkListMemory reports the heap bytes per element of a 1,000,000
// element list of "element:N" strings.
func BenchmarkListMemory(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		l := New()
		for i := range 1000000 {
			l.PushBack([]byte("element:" + strconv.Itoa(i)))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "B/elem")
		b.ReportMetric(float64(l.Size())/1e6, "Size/elem")
		runtime.KeepAlive(l)
	}
}

func BenchmarkListPushPop(b *testing.B) {
	b.ReportAllocs()
	l := New()
	v := []byte("some value")
	for i := range b.N {
		if i%2 == 0 {
			l.PushFront(v)
		} else {
			l.PushBack(v)
		}
		if l.Len() > 1000 {
			l.PopFrontTo(nil)
			l.PopBackTo(nil)
		}
	}
}

func BenchmarkListIndexMiddle(b *testing.B) {
	l := New()
	for i := range 100000 {
		l.PushBack([]byte(strconv.Itoa(i)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, ok := l.Index(50000); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkListPushFront(b *testing.B) {
	b.ReportAllocs()
	l := New()
	v := []byte("xxx")
	for range b.N {
		l.PushFront(v)
	}
}

func BenchmarkListPushBack(b *testing.B) {
	b.ReportAllocs()
	l := New()
	v := []byte("xxx")
	for range b.N {
		l.PushBack(v)
	}
}

// A list used as a queue (push at one end, pop at the other) keeps a
// bounded node table however long it runs.
func TestListQueueStaysSmall(t *testing.T) {
	v := bytes.Repeat([]byte{'q'}, 100)
	for _, front := range []bool{false, true} {
		l := New()
		for i := range 300000 {
			if front {
				l.PushFront(v)
			} else {
				l.PushBack(v)
			}
			if i >= 1000 {
				if front {
					l.PopBackTo(nil)
				} else {
					l.PopFrontTo(nil)
				}
			}
		}
		if l.Len() != 1000 || cap(l.ns) > 64 || l.Size() > 1000*102*13/10 {
			t.Fatalf("front=%v: Len %d, node slots %d, Size %d", front, l.Len(), cap(l.ns), l.Size())
		}
	}
}

// A list made by one batch push has one node slot per node and node
// buffers in the size class of their bytes (no growth slack); pushes one at
// a time leave at most a third of slack per node; emptying a node's
// buffer below half gives it back.
func TestListBufferSizes(t *testing.T) {
	vals := func(n int) [][]byte {
		vs := make([][]byte, n)
		for i := range vs {
			vs[i] = []byte("m" + strconv.Itoa(i))
		}
		return vs
	}
	for _, n := range []int{1, 10, 100, 1000, 5000} {
		for _, front := range []bool{false, true} {
			l := New()
			if front {
				l.PushFrontAll(vals(n))
			} else {
				l.PushBackAll(vals(n))
			}
			used := 0
			for _, nd := range l.ns[l.head:] {
				used += len(nd.b)
				if nd.alloc() != cap(newBuf(len(nd.b))) {
					t.Fatalf("n %d front %v: node of %d bytes has a buffer of %d", n, front, len(nd.b), nd.alloc())
				}
			}
			if n <= 1000 && cap(l.ns) != 1 {
				t.Fatalf("n %d front %v: %d node slots for one node", n, front, cap(l.ns))
			}
			if l.capSum > int64(used)*9/8+16*int64(l.nodes()) {
				t.Fatalf("n %d front %v: %d bytes of buffers for %d bytes", n, front, l.capSum, used)
			}
		}
	}
	l := New()
	for _, v := range vals(1000) {
		l.PushBack(v)
	}
	if used := len(l.nd(0).b); l.nd(0).alloc() > used*3/2+64 {
		t.Fatalf("one-at-a-time pushes: a buffer of %d for %d bytes", l.nd(0).alloc(), used)
	}
	for l.Len() > 100 {
		l.PopFrontTo(nil)
	}
	if nd := l.nd(0); nd.alloc() >= 2*len(nd.b)+64 {
		t.Fatalf("after pops: a buffer of %d for %d bytes", nd.alloc(), len(nd.b))
	}
}

// list-max-listpack-size: negative values bound a node's bytes (4 KB for
// -1 … 64 KB for -5 and below), positive ones its entries (within 8 KB),
// 0 gives every element its own node; the list's contents never change.
func TestListMaxListpackSize(t *testing.T) {
	t.Cleanup(func() { SetMaxListpackSize(-2) })
	vs := make([][]byte, 20000)
	for i := range vs {
		vs[i] = []byte("element:" + strconv.Itoa(i))
	}
	for _, tc := range []struct {
		fill, maxBytes, maxEntries int
	}{{-1, 4 << 10, 0}, {-2, 8 << 10, 0}, {-5, 64 << 10, 0}, {-9, 64 << 10, 0}, {10, 8 << 10, 10}, {0, 8 << 10, 1}} {
		SetMaxListpackSize(tc.fill)
		for _, build := range []string{"PushBack", "PushBackAll", "PushFrontAll", "Insert"} {
			l := New()
			var m model
			switch build {
			case "PushBack":
				for _, v := range vs[:2000] {
					l.PushBack(v)
				}
				m = vs[:2000]
			case "PushBackAll":
				l.PushBackAll(vs[:2000])
				m = vs[:2000]
			case "PushFrontAll":
				l.PushFrontAll(vs[:2000])
				m = slices.Clone(vs[:2000])
				slices.Reverse(m)
			case "Insert":
				for i, v := range vs[:2000] {
					l.Insert(i/2, v)
					m = slices.Insert(m, i/2, v)
				}
			}
			check(t, l, m, fmt.Sprintf("fill %d %s", tc.fill, build))
			for i, nd := range l.ns[l.head:] {
				if len(nd.b) > tc.maxBytes || tc.maxEntries > 0 && nd.n > tc.maxEntries {
					t.Fatalf("fill %d %s: node %d holds %d entries in %d bytes", tc.fill, build, i, nd.n, len(nd.b))
				}
			}
			if full := tc.maxEntries; full > 0 && build != "Insert" && l.nodes() != (2000+full-1)/full {
				t.Fatalf("fill %d %s: %d nodes", tc.fill, build, l.nodes())
			}
		}
	}
}

// Pops at the head leave their room before the node's entries, and pushes
// at the head take it back: the node's buffer is the same and no entry
// moved (a queue's LPUSH or LPOP does not shift the head node's bytes).
func TestListHeadRoomReused(t *testing.T) {
	l := New()
	vs := make([][]byte, 100)
	for i := range vs {
		vs[i] = []byte(fmt.Sprintf("v%03d", i))
	}
	l.PushBackAll(vs)
	nd := l.nd(0)
	whole := func() *byte { return unsafe.SliceData(nd.widen(nd.front)) }
	buf, alloc, tail := whole(), nd.alloc(), unsafe.SliceData(nd.b[len(nd.b)-1:])
	for range 10 {
		l.PopFrontTo(nil)
	}
	if nd.front != 10*entryLen(4) || whole() != buf || unsafe.SliceData(nd.b[len(nd.b)-1:]) != tail {
		t.Fatalf("after 10 pops: front %d (want %d), buffer moved %v, last byte moved %v",
			nd.front, 10*entryLen(4), whole() != buf, unsafe.SliceData(nd.b[len(nd.b)-1:]) != tail)
	}
	for i := range 10 {
		l.PushFront([]byte(fmt.Sprintf("w%03d", i)))
	}
	if nd.front != 0 || whole() != buf || nd.alloc() != alloc || unsafe.SliceData(nd.b[len(nd.b)-1:]) != tail {
		t.Fatalf("after 10 pushes at the head: front %d, buffer moved %v, %d → %d bytes, last byte moved %v",
			nd.front, whole() != buf, alloc, nd.alloc(), unsafe.SliceData(nd.b[len(nd.b)-1:]) != tail)
	}
	want := append([][]byte(nil), vs[10:]...)
	for i := range 10 {
		want = slices.Insert(want, 0, []byte(fmt.Sprintf("w%03d", i)))
	}
	check(t, l, want, "after the pushes")
}

// BenchmarkListQueue is a queue 10,000 long: push at one end, pop at the
// other (LPUSH+RPOP, then RPUSH+LPOP).
func BenchmarkListQueue(b *testing.B) {
	v := []byte("a job of some 32 bytes, give or take")
	for _, front := range []bool{true, false} {
		b.Run(fmt.Sprintf("pushFront=%v", front), func(b *testing.B) {
			l := New()
			for range 10000 {
				l.PushBack(v)
			}
			var dst []byte
			b.ReportAllocs()
			for b.Loop() {
				if front {
					l.PushFront(v)
					dst, _ = l.PopBackTo(dst[:0])
				} else {
					l.PushBack(v)
					dst, _ = l.PopFrontTo(dst[:0])
				}
			}
		})
	}
}

// A list fed one element at a time, once it has three nodes, starts each new
// end node as long as the node that just filled, and fills it without
// moving it to a bigger buffer: the pushes of a growing queue allocate each
// node once, not about three times over.
func TestListSinglePushesFillNewEndNodesInPlace(t *testing.T) {
	push := map[string]func(l *List, v []byte){
		"PushBack":     func(l *List, v []byte) { l.PushBack(v) },
		"PushFront":    func(l *List, v []byte) { l.PushFront(v) },
		"PushBackAll":  func(l *List, v []byte) { l.PushBackAll([][]byte{v}) },
		"PushFrontAll": func(l *List, v []byte) { l.PushFrontAll([][]byte{v}) },
	}
	for name, fn := range push {
		front := strings.Contains(name, "Front")
		end := func(l *List) *node {
			if front {
				return l.nd(0)
			}
			return l.nd(l.nodes() - 1)
		}
		l := New()
		v := bytes.Repeat([]byte("x"), 32)
		var buf *byte
		started := 0
		for i := 0; l.nodes() < 8; i++ {
			before := l.nodes()
			fn(l, v)
			nd := end(l)
			whole := unsafe.SliceData(nd.widen(nd.front))
			switch {
			case l.nodes() != before && before >= 2:
				next := l.nd(1)
				if !front {
					next = l.nd(l.nodes() - 2)
				}
				if nd.alloc() < len(next.b) {
					t.Fatalf("%s: new end node %d has %d bytes of buffer, its neighbour filled %d", name, l.nodes(), nd.alloc(), len(next.b))
				}
				buf = whole
				started++
			case l.nodes() != before:
				buf = nil
			case buf != nil && whole != buf:
				t.Fatalf("%s: end node %d moved to a new buffer at push %d (%d entries)", name, l.nodes(), i, nd.n)
			}
		}
		if started != 6 {
			t.Fatalf("%s: %d end nodes started full, want 6", name, started)
		}
		want := make([][]byte, l.Len())
		for i := range want {
			want[i] = v
		}
		check(t, l, want, name)
	}
}
