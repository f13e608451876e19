package zset

import (
	"fmt"
	"runtime"
	"testing"
)

func benchSet(n int) (*ZSet, [][]byte) {
	z := New(0, 0)
	members := make([][]byte, n)
	for i := range members {
		members[i] = fmt.Appendf(nil, "member:%d", i)
		z.Set(members[i], float64(i*7%n))
	}
	return z, members
}

func BenchmarkZAdd(b *testing.B) {
	b.ReportAllocs()
	members := make([][]byte, 1<<16)
	for i := range members {
		members[i] = fmt.Appendf(nil, "member:%d", i)
	}
	z := New(0, 0)
	for i := 0; b.Loop(); i++ {
		z.Set(members[i&(1<<16-1)], float64(i))
	}
}

func BenchmarkZRank(b *testing.B) {
	for _, n := range []int{100, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			z, members := benchSet(n)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				z.Rank(members[i%n])
			}
		})
	}
}

func BenchmarkZRangeByRank(b *testing.B) {
	for _, n := range []int{100, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			z, _ := benchSet(n)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c := 0
				z.Walk(i%(n-10), false, func([]byte, float64) bool { c++; return c < 10 })
			}
		})
	}
}

// BenchmarkZSetMemory reports the heap bytes per member of a set of n
// members (measured once, whatever -benchtime says) and what Size says.
func BenchmarkZSetMemory(b *testing.B) {
	for _, n := range []int{100, 1000000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			z, _ := benchSet(n)
			runtime.GC()
			runtime.ReadMemStats(&after)
			for b.Loop() {
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/elem")
			b.ReportMetric(float64(z.Size())/float64(n), "size-B/elem")
			runtime.KeepAlive(z)
		})
	}
}
