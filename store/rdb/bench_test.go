package rdb

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/list"
	"github.com/cached/cached/store/zset"
)

// TestDecodeAllocationBounded: payloads that claim huge counts or lengths
// cost at most a small multiple of their own size.
func TestDecodeAllocationBounded(t *testing.T) {
	payloads := [][]byte{
		Seal([]byte{18, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 2, 5}),                                    // 2^32 list nodes
		Seal([]byte{5, 0x80, 0x7f, 0xff, 0xff, 0xff, 1, 'a'}),                                   // 2^31 zset members
		Seal([]byte{4, 0x80, 0x7f, 0xff, 0xff, 0xff, 1, 'a', 1, 'b'}),                           // 2^31 hash fields
		Seal([]byte{0, 0xc3, 0x05, 0x80, 0x7f, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd', 'e'}),      // LZF claiming 2 GB
		Seal(append([]byte{0, 0xc3, 0x41, 0x00, 0x80, 0, 0, 0x4e, 0x20}, make([]byte, 256)...)), // LZF within the ratio, malformed
	}
	for i, p := range payloads {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Decode(p); err != ErrBadFormat {
			t.Fatalf("payload %d: %v", i, err)
		}
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(lzfMaxRatio*len(p)+64<<10); got > limit {
			t.Errorf("payload %d (%d bytes) allocated %d bytes, limit %d", i, len(p), got, limit)
		}
	}
}

func benchValues() map[string]Value {
	l := list.New()
	h := hash.New()
	z := zset.New(0, 0)
	for i := range 10000 {
		v := strconv.AppendInt([]byte("element:"), int64(i), 10)
		l.PushBack(v)
		_, _ = h.Set(v, strconv.AppendInt(nil, int64(i), 10))
		z.Set(v, float64(i))
	}
	return map[string]Value{"list10k": {Type: store.TypeList, Obj: l}, "hash10k": {Type: store.TypeHash, Obj: h},
		"zset10k": {Type: store.TypeZSet, Obj: z}}
}

func BenchmarkDump(b *testing.B) {
	for name, v := range benchValues() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf, _ = AppendValue(buf[:0], v.Type, v.Str, v.Obj)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for name, v := range benchValues() {
		p, _ := dumpValue(v)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if _, err := Decode(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
