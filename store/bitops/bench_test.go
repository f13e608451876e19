package bitops

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkBitCount1MiB(b *testing.B) {
	v := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n += BitCount(v, Range{})
	}
	_ = n
}

func BenchmarkBitCount1MiBBitRange(b *testing.B) {
	v := make([]byte, 1<<20)
	for i := range v {
		v[i] = byte(i)
	}
	rg := Range{HasStart: true, HasEnd: true, Start: 3, End: -5, Bit: true}
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		BitCount(v, rg)
	}
}

func BenchmarkBitPos1MiB(b *testing.B) {
	v := make([]byte, 1<<20)
	v[len(v)-1] = 1
	a := BitPosArgs{Bit: 1}
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		BitPos(v, true, a)
	}
}

// BenchmarkBitfieldIncrBy measures ApplyInPlace of one INCRBY on a 64-byte
// value, written where it lies as the handler writes the stored value.
func BenchmarkBitfieldIncrBy(b *testing.B) {
	ops, err := ParseBitfield(args("OVERFLOW", "SAT", "INCRBY", "i13", "101", "7"), false)
	if err != "" {
		b.Fatal(err)
	}
	v := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		ApplyInPlace(v, ops)
	}
}

// BenchmarkBitfieldParseIncrBy adds the parsing of the arguments.
func BenchmarkBitfieldParseIncrBy(b *testing.B) {
	a := args("INCRBY", "u32", "#3", "1")
	v := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		ops, _ := ParseBitfield(a, false)
		ApplyInPlace(v, ops)
	}
}

func BenchmarkLCS1KiB(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	x, y := make([]byte, 1024), make([]byte, 1024)
	for i := range x {
		x[i], y[i] = "acgt"[r.IntN(4)], "acgt"[r.IntN(4)]
	}
	b.ReportAllocs()
	for b.Loop() {
		LCS(x, y, LCSOptions{Idx: true}, 0)
	}
}

func BenchmarkSetBit(b *testing.B) {
	v := make([]byte, 4096)
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		v, _ = SetBit(v, i%32768, byte(i&1))
	}
}
