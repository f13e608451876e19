package set

import (
	"runtime"
	"strconv"
	"testing"
)

// memPerMember measures the heap bytes per member of sets sets of members
// members each, named prefix+N.
func memPerMember(b *testing.B, sets, members int, prefix string) {
	b.ReportAllocs()
	for b.Loop() {
		keep := make([]*Set, sets)
		before := heapBytes()
		for i := range keep {
			s := New()
			for j := range members {
				s.Add([]byte(prefix + strconv.Itoa(j)))
			}
			keep[i] = s
		}
		after := heapBytes()
		b.ReportMetric(float64(after-before)/float64(sets*members), "B/elem")
		runtime.KeepAlive(keep)
	}
}

func BenchmarkSetMemIntset(b *testing.B)   { memPerMember(b, 1000, 500, "") }
func BenchmarkSetMemListpack(b *testing.B) { memPerMember(b, 1000, 100, "member:") }
func BenchmarkSetMemTable(b *testing.B)    { memPerMember(b, 1, 1000000, "member:") }

// BenchmarkSetMemGoMap is the baseline a naive big encoding would use.
func BenchmarkSetMemGoMap(b *testing.B) {
	for b.Loop() {
		before := heapBytes()
		m := map[string]struct{}{}
		for j := range 1000000 {
			m["member:"+strconv.Itoa(j)] = struct{}{}
		}
		b.ReportMetric(float64(heapBytes()-before)/1e6, "B/elem")
		runtime.KeepAlive(m)
	}
}

func BenchmarkSetAddHas(b *testing.B) {
	for _, tc := range []struct {
		name   string
		n      int
		prefix string
	}{{"intset", 500, ""}, {"listpack", 100, "member:"}, {"hashtable", 100000, "member:"}} {
		b.Run(tc.name, func(b *testing.B) {
			s := New()
			ms := make([][]byte, tc.n)
			for i := range ms {
				ms[i] = []byte(tc.prefix + strconv.Itoa(i))
				s.Add(ms[i])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m := ms[i%len(ms)]
				s.Add(m)
				s.Has(m)
				i++
			}
		})
	}
}
