package hash

import (
	"runtime"
	"strconv"
	"testing"
)

// memPerField measures the heap bytes per field of hashes holding fields
// fields each ("field:N" -> "value:N"), built by fill.
func memPerField(b *testing.B, hashes, fields int, fill func(n int) any) {
	b.ReportAllocs()
	for b.Loop() {
		keep := make([]any, hashes)
		before := heapBytes()
		for i := range keep {
			keep[i] = fill(fields)
		}
		after := heapBytes()
		b.ReportMetric(float64(after-before)/float64(hashes*fields), "B/elem")
		runtime.KeepAlive(keep)
	}
}

func fillHash(n int) any {
	h := New()
	for j := range n {
		h.Set([]byte("field:"+strconv.Itoa(j)), []byte("value:"+strconv.Itoa(j)))
	}
	return h
}

// fillMap is the baseline a naive big encoding would use.
func fillMap(n int) any {
	m := make(map[string]string)
	for j := range n {
		m["field:"+strconv.Itoa(j)] = "value:" + strconv.Itoa(j)
	}
	return m
}

func BenchmarkHashMemListpack(b *testing.B) { memPerField(b, 1000, 100, fillHash) }
func BenchmarkHashMemTable(b *testing.B)    { memPerField(b, 1, 1000000, fillHash) }
func BenchmarkHashMemGoMap(b *testing.B)    { memPerField(b, 1, 1000000, fillMap) }

func BenchmarkHashSetGetTable(b *testing.B) {
	h := New()
	keys := make([][]byte, 100000)
	for i := range keys {
		keys[i] = []byte("field:" + strconv.Itoa(i))
		h.Set(keys[i], keys[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		h.Set(k, k)
		h.Get(k)
		i++
	}
}

func BenchmarkHashSetGetListpack(b *testing.B) {
	h := New()
	keys := make([][]byte, 100)
	for i := range keys {
		keys[i] = []byte("field:" + strconv.Itoa(i))
		h.Set(keys[i], keys[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		h.Set(k, k)
		h.Get(k)
		i++
	}
}
