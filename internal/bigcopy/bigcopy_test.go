package bigcopy

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func pattern(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCopyMatchesBuiltin(t *testing.T) {
	for _, n := range []int{0, 1, Piece - 1, Piece, Piece + 1, 3*Piece + 17} {
		src := pattern(n)
		for _, dn := range []int{n, n / 2, n + 5} {
			want := make([]byte, dn)
			got := make([]byte, dn)
			wn := copy(want, src)
			if gn := Copy(got, src); gn != wn || !bytes.Equal(got, want) {
				t.Fatalf("Copy of %d bytes into %d: %d bytes, equal=%v; want %d", n, dn, gn, bytes.Equal(got, want), wn)
			}
		}
	}
}

// Overlapping copies in both directions behave as the built-in copy (memmove).
func TestCopyOverlap(t *testing.T) {
	n := 3*Piece + 100
	for _, shift := range []int{1, 7, Piece - 3, Piece + 5, 2 * Piece} {
		base := pattern(n + shift)
		want := append([]byte(nil), base...)
		copy(want[shift:], want[:n])
		got := append([]byte(nil), base...)
		Copy(got[shift:], got[:n])
		if !bytes.Equal(got, want) {
			t.Fatalf("forward overlap by %d differs from copy", shift)
		}
		want = append(want[:0], base...)
		copy(want[:n], want[shift:])
		got = append(got[:0], base...)
		Copy(got[:n], got[shift:])
		if !bytes.Equal(got, want) {
			t.Fatalf("backward overlap by %d differs from copy", shift)
		}
	}
}

func TestAppendMatchesBuiltin(t *testing.T) {
	for _, dn := range []int{0, 10, 2 * Piece} {
		for _, sn := range []int{5, Piece + 1, 4*Piece + 3} {
			dst := pattern(dn)
			src := pattern(sn)
			want := append(append([]byte(nil), dst...), src...)
			got := Append(dst, src)
			if !bytes.Equal(got, want) {
				t.Fatalf("Append(%d bytes, %d bytes) differs from append", dn, sn)
			}
			if cap(got) < len(got) {
				t.Fatalf("cap %d < len %d", cap(got), len(got))
			}
		}
	}
	// Room in dst: no new array.
	dst := make([]byte, 3, 3+2*Piece)
	src := pattern(Piece + 9)
	got := Append(dst, src)
	if &got[0] != &dst[:1][0] {
		t.Fatal("Append allocated although dst had room")
	}
	if !bytes.Equal(got[3:], src) {
		t.Fatal("Append into room: wrong bytes")
	}
}

func TestGrowCap(t *testing.T) {
	for _, c := range []struct{ old, need, min, max int }{
		{0, 100, 100, 100},
		{10, 1000, 1000, 1000},
		{1000, 1100, 1100, 1250},
		{1000, 1900, 1900, 2400},
	} {
		if got := growCap(c.old, c.need); got < c.min || got > c.max {
			t.Errorf("growCap(%d, %d) = %d, want in [%d, %d]", c.old, c.need, got, c.min, c.max)
		}
	}
}

// Room reserved with Grow takes what follows without a new array.
func TestGrowReserves(t *testing.T) {
	src := pattern(2*Piece + 1)
	dst := Grow([]byte("$x\r\n"), len(src)+2)
	if cap(dst) < 4+len(src)+2 || string(dst) != "$x\r\n" {
		t.Fatalf("Grow: len %d cap %d", len(dst), cap(dst))
	}
	before := &dst[:1][0]
	dst = append(Append(dst, src), '\r', '\n')
	if &dst[0] != before {
		t.Fatal("a new array after Grow reserved the room")
	}
	if small := Grow(make([]byte, 0, 4), 100); cap(small) != 4 {
		t.Fatalf("Grow of a small slice by a small amount allocated (cap %d); append's job", cap(small))
	}
}
