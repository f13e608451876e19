package set

import (
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func members(s *Set) map[string]bool {
	out := map[string]bool{}
	s.Each(func(m []byte) bool { out[string(m)] = true; return true })
	return out
}

func checkModel(t *testing.T, s *Set, model map[string]bool) {
	t.Helper()
	if s.Len() != len(model) {
		t.Fatalf("Len %d, want %d (%s)", s.Len(), len(model), s.Encoding())
	}
	if got := members(s); !maps.Equal(got, model) {
		t.Fatalf("members %v, want %v", got, model)
	}
	for m := range model {
		if !s.Has([]byte(m)) {
			t.Fatalf("Has(%q) false", m)
		}
	}
}

func TestSetModel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members int
		gen     func(r *rand.Rand, n int) string
		want    string
	}{
		{"ints", 300, func(r *rand.Rand, n int) string { return strconv.Itoa(r.IntN(n) - n/2) }, "intset"},
		{"strings", 100, func(r *rand.Rand, n int) string { return "m" + strconv.Itoa(r.IntN(n)) }, "listpack"},
		{"mixed", 3000, func(r *rand.Rand, n int) string {
			if r.IntN(2) == 0 {
				return strconv.Itoa(r.IntN(n))
			}
			return "m" + strconv.Itoa(r.IntN(n))
		}, "hashtable"},
		{"noncanonical", 50, func(r *rand.Rand, n int) string {
			return [...]string{"01", "+1", "-0", " 1", "1", "-1", "0", "9223372036854775808", ""}[r.IntN(9)]
		}, "listpack"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			s := New()
			model := map[string]bool{}
			for i := range 10000 {
				m := tc.gen(r, tc.members)
				if r.IntN(3) < 2 {
					added, err := s.Add([]byte(m))
					if err != nil || added == model[m] {
						t.Fatalf("Add(%q) = %v %v, member %v", m, added, err, model[m])
					}
					model[m] = true
				} else {
					if s.Remove([]byte(m)) != model[m] {
						t.Fatalf("Remove(%q) != %v", m, model[m])
					}
					delete(model, m)
				}
				if i%500 == 0 {
					checkModel(t, s, model)
				}
			}
			checkModel(t, s, model)
			if s.Encoding() != tc.want {
				t.Errorf("encoding %s, want %s", s.Encoding(), tc.want)
			}
			c := s.Clone().(*Set)
			checkModel(t, c, model)
			c.Add([]byte("clone-only"))
			checkModel(t, s, model)
		})
	}
}

func TestSetEncodingThresholds(t *testing.T) {
	s := New()
	for i := range MaxIntsetEntries {
		s.Add([]byte(strconv.Itoa(i * 7)))
	}
	if s.Encoding() != "intset" {
		t.Fatalf("%d ints: %s", s.Len(), s.Encoding())
	}
	var prev int64 = -1
	s.Each(func(m []byte) bool {
		v, _ := strconv.ParseInt(string(m), 10, 64)
		if v <= prev {
			t.Fatalf("intset not sorted: %d after %d", v, prev)
		}
		prev = v
		return true
	})
	s.Add([]byte("-1"))
	if s.Encoding() != "hashtable" {
		t.Fatalf("%d ints: %s", s.Len(), s.Encoding())
	}
	for _, tc := range []struct {
		first []string
		add   string
		want  string
	}{
		{[]string{"1", "2"}, "a", "listpack"},
		{[]string{"1"}, strings.Repeat("x", 65), "hashtable"},
		{[]string{"a"}, strings.Repeat("x", 64), "listpack"},
		{[]string{"a"}, strings.Repeat("x", 65), "hashtable"},
		{[]string{"a"}, "1", "listpack"},
	} {
		s := New()
		for _, m := range tc.first {
			s.Add([]byte(m))
		}
		s.Add([]byte(tc.add))
		if s.Encoding() != tc.want || s.Len() != len(tc.first)+1 {
			t.Errorf("%v + %.8q: %s len %d, want %s", tc.first, tc.add, s.Encoding(), s.Len(), tc.want)
		}
	}
	s = New()
	for i := range MaxListpackEntries + 1 {
		s.Add([]byte("m" + strconv.Itoa(i)))
	}
	if s.Encoding() != "hashtable" {
		t.Fatalf("%d strings: %s", s.Len(), s.Encoding())
	}
	if NewFor([]byte("1"), 10).Encoding() != "intset" || NewFor([]byte("a"), 10).Encoding() != "listpack" ||
		NewFor([]byte("a"), 1000).Encoding() != "hashtable" || NewFor([]byte("1"), 1000).Encoding() != "hashtable" {
		t.Fatal("NewFor picked the wrong encoding")
	}
}

func TestSetRandomAndScan(t *testing.T) {
	for _, gen := range []func(i int) string{
		func(i int) string { return strconv.Itoa(i) },
		func(i int) string { return "m" + strconv.Itoa(i) },
	} {
		for _, n := range []int{7, 100, 2000} {
			s := New()
			for i := range n {
				s.Add([]byte(gen(i)))
			}
			seen := map[string]bool{}
			for range 30 * n {
				m, ok := s.Random()
				if !ok || !s.Has(m) {
					t.Fatalf("Random = %q %v", m, ok)
				}
				seen[string(m)] = true
			}
			if len(seen) != n {
				t.Fatalf("%s n=%d: Random reached %d members", s.Encoding(), n, len(seen))
			}
			scanned := map[string]bool{}
			var cur uint64
			for {
				cur = s.Scan(cur, 10, func(m []byte) { scanned[string(m)] = true })
				if cur == 0 {
					break
				}
			}
			if len(scanned) != n {
				t.Fatalf("%s: Scan saw %d of %d", s.Encoding(), len(scanned), n)
			}
		}
	}
}

func heapBytes() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestSetSizeHonest checks that Size is within 25% of the real heap.
func TestSetSizeHonest(t *testing.T) {
	for _, tc := range []struct {
		sets, members int
		prefix        string
	}{{2000, 300, ""}, {2000, 100, "member:"}, {5, 20000, "member:"}} {
		keep := make([]*Set, tc.sets)
		before := heapBytes()
		var est int64
		for i := range keep {
			s := New()
			for j := range tc.members {
				s.Add([]byte(tc.prefix + strconv.Itoa(j)))
			}
			keep[i] = s
			est += s.Size()
		}
		real := heapBytes() - before
		if float64(est) < 0.75*float64(real) || float64(est) > 1.25*float64(real) {
			t.Errorf("%d sets of %d %q members: Size sum %d, heap %d", tc.sets, tc.members, tc.prefix, est, real)
		}
		runtime.KeepAlive(keep)
	}
}

func TestIntsetWidths(t *testing.T) {
	vals := []int64{5, -3, 40000, -40000, 1 << 40, -(1 << 40), math.MaxInt64, math.MinInt64, 0, 32767, -32768}
	s := New()
	var want []int64
	for i, v := range vals {
		if added, _ := s.Add([]byte(strconv.FormatInt(v, 10))); !added {
			t.Fatalf("Add(%d) not new", v)
		}
		want = append(want, v)
		slices.Sort(want)
		var got []int64
		s.Each(func(m []byte) bool {
			n, _ := strconv.ParseInt(string(m), 10, 64)
			got = append(got, n)
			return true
		})
		if !slices.Equal(got, want) || s.Encoding() != "intset" {
			t.Fatalf("after %d adds: %v (%s), want %v", i+1, got, s.Encoding(), want)
		}
	}
	if w := s.ints.w; w != 8 {
		t.Fatalf("width %d", w)
	}
	for _, v := range vals {
		if !s.Remove([]byte(strconv.FormatInt(v, 10))) || s.Has([]byte(strconv.FormatInt(v, 10))) {
			t.Fatalf("Remove(%d)", v)
		}
	}
	small := New()
	for i := range 100 {
		small.Add([]byte(strconv.Itoa(i)))
	}
	if small.ints.w != 2 || small.Size() > setHead+256 {
		t.Fatalf("100 small ints: width %d, size %d", small.ints.w, small.Size())
	}
}
