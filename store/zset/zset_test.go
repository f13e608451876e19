package zset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

// mentry is a member of the model.
type mentry struct {
	score  float64
	member string
}

func (a mentry) less(b mentry) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.member < b.member
}

// model is the reference: a sorted slice of entries.
type model []mentry

func (m model) find(member string) int {
	for i, e := range m {
		if e.member == member {
			return i
		}
	}
	return -1
}

func (m *model) set(member string, score float64) bool {
	i := m.find(member)
	if i >= 0 {
		*m = slices.Delete(*m, i, i+1)
	}
	e := mentry{score, member}
	j, _ := slices.BinarySearchFunc(*m, e, func(a, b mentry) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	*m = slices.Insert(*m, j, e)
	return i < 0
}

func checkSame(t *testing.T, z *ZSet, m model) {
	t.Helper()
	if z.Len() != len(m) {
		t.Fatalf("Len %d, want %d", z.Len(), len(m))
	}
	var got model
	z.Walk(0, false, func(mb []byte, s float64) bool {
		got = append(got, mentry{s, string(mb)})
		return true
	})
	if !slices.Equal(got, m) {
		t.Fatalf("walk differs:\n got %v\nwant %v", got, m)
	}
	var rev model
	z.Walk(len(m)-1, true, func(mb []byte, s float64) bool {
		rev = append(rev, mentry{s, string(mb)})
		return true
	})
	slices.Reverse(rev)
	if !slices.Equal(rev, m) {
		t.Fatalf("reverse walk differs")
	}
}

func TestZSetRandomVsModel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, keys   int
		memberLen int
	}{{"small", 400, 60, 4}, {"convert", 3000, 400, 4}, {"big", 20000, 3000, 6}, {"longmember", 500, 50, 70}} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.n)))
			z := New(0, 0)
			var m model
			for i := 0; i < tc.n; i++ {
				member := fmt.Sprintf("%0*d", tc.memberLen, r.IntN(tc.keys))
				switch op := r.IntN(10); {
				case op < 5:
					score := float64(r.IntN(50))
					if z.Set([]byte(member), score) != m.set(member, score) {
						t.Fatalf("Set(%s) added differs", member)
					}
				case op < 7:
					i := m.find(member)
					if z.Remove([]byte(member)) != (i >= 0) {
						t.Fatalf("Remove(%s) differs", member)
					}
					if i >= 0 {
						m = slices.Delete(m, i, i+1)
					}
				case op < 8 && len(m) > 0:
					a := r.IntN(len(m))
					b := a + r.IntN(5)
					var gone []string
					n := z.RemoveRange(a, b, func(mb []byte, _ float64) { gone = append(gone, string(mb)) })
					b = min(b, len(m))
					if n != b-a || len(gone) != n {
						t.Fatalf("RemoveRange(%d,%d) = %d", a, b, n)
					}
					m = slices.Delete(m, a, b)
				default:
					rank, score, ok := z.Rank([]byte(member))
					i := m.find(member)
					if ok != (i >= 0) || ok && (rank != i || score != m[i].score) {
						t.Fatalf("Rank(%s) = %d %v %v, want %d", member, rank, score, ok, i)
					}
					x := float64(r.IntN(52)) - 1
					want := 0
					for _, e := range m {
						if e.score < x {
							want++
						}
					}
					if got := z.ScoreRank(x, false); got != want {
						t.Fatalf("ScoreRank(%v) = %d, want %d", x, got, want)
					}
				}
			}
			checkSame(t, z, m)
			if tc.name != "small" && z.Encoding() != "skiplist" {
				t.Fatalf("encoding %s", z.Encoding())
			}
			c := z.Clone().(*ZSet)
			z.Set([]byte("zzz-new"), 1)
			checkSame(t, c, m)
		})
	}
}

func TestZSetEncodingThresholds(t *testing.T) {
	z := New(0, 0)
	for i := range MaxListpackEntries {
		z.Set(fmt.Appendf(nil, "m%d", i), float64(i))
	}
	if z.Encoding() != "listpack" {
		t.Fatalf("at %d members: %s", z.Len(), z.Encoding())
	}
	z.Set([]byte("m0"), 5) // update: no conversion
	if z.Encoding() != "listpack" {
		t.Fatal("update converted")
	}
	z.Set([]byte("one-more"), 1)
	if z.Encoding() != "skiplist" {
		t.Fatalf("past %d: %s", MaxListpackEntries, z.Encoding())
	}
	z.RemoveRange(0, z.Len()-1, nil)
	if z.Encoding() != "skiplist" || z.Len() != 1 {
		t.Fatal("converted back or wrong length")
	}
	long := New(0, 0)
	long.Set(make([]byte, MaxListpackValue), 1)
	if long.Encoding() != "listpack" {
		t.Fatal("64-byte member converted")
	}
	long.Set(make([]byte, MaxListpackValue+1), 1)
	if long.Encoding() != "skiplist" {
		t.Fatal("65-byte member did not convert")
	}
	if New(MaxListpackEntries+1, 0).Encoding() != "skiplist" || New(1, MaxListpackValue+1).Encoding() != "skiplist" {
		t.Fatal("size hints ignored")
	}
}

func TestZSetLexRank(t *testing.T) {
	for _, n := range []int{10, 1000} {
		z := New(n, 0)
		for i := range n {
			z.Set(fmt.Appendf(nil, "%05d", i), 0)
		}
		for _, x := range []int{0, 3, n / 2, n - 1} {
			k := fmt.Appendf(nil, "%05d", x)
			if got := z.LexRank(k, false); got != x {
				t.Fatalf("n=%d LexRank(%s) = %d", n, k, got)
			}
			if got := z.LexRank(k, true); got != x+1 {
				t.Fatalf("n=%d LexRank(%s, eq) = %d", n, k, got)
			}
		}
	}
}

// TestZSetSizeHonest checks Size against the heap growth of a big set.
func TestZSetSizeHonest(t *testing.T) {
	const n = 200000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	z := New(0, 0)
	for i := range n {
		z.Set(fmt.Appendf(nil, "member:%d", i), float64(i%1000))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	real := float64(after.HeapAlloc-before.HeapAlloc) / n
	est := float64(z.Size()) / n
	t.Logf("real %.1f B/member, estimate %.1f", real, est)
	if est < real*0.8 || est > real*1.25 {
		t.Fatalf("Size estimate %.1f B/member, measured %.1f", est, real)
	}
	runtime.KeepAlive(z)
}

// TestZSetSequentialFill: ascending and descending loads keep the tree's
// leaves nearly full (the split at the edge), and stay correct.
func TestZSetSequentialFill(t *testing.T) {
	for _, desc := range []bool{false, true} {
		z := New(1000, 0)
		const n = 20000
		for i := range n {
			v := i
			if desc {
				v = n - 1 - i
			}
			z.Set(fmt.Appendf(nil, "m%06d", v), float64(v))
		}
		want := 0
		z.Walk(0, false, func(mb []byte, s float64) bool {
			if s != float64(want) || string(mb) != fmt.Sprintf("m%06d", want) {
				t.Fatalf("rank %d holds %s %v", want, mb, s)
			}
			want++
			return true
		})
		if want != n {
			t.Fatalf("walked %d of %d", want, n)
		}
		leaves, ents := 0, 0
		for l, _ := z.b.t.seek(0); l != nil; l = l.next {
			leaves++
			ents += len(l.ents)
		}
		if fill := float64(ents) / float64(leaves*maxLeaf); fill < 0.95 {
			t.Fatalf("desc=%v: leaves %.0f%% full", desc, 100*fill)
		}
	}
}

// TestZSetBigChurn removes most members (compacting the arena, leaving
// tombstones in the table), then adds back, checking against the model
// and that a clone is independent.
func TestZSetBigChurn(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	z := New(1000, 0)
	var m model
	for i := range 5000 {
		member := fmt.Sprintf("member-%d", i)
		z.Set([]byte(member), float64(r.IntN(100)))
		m.set(member, mustScore(z, member))
	}
	for _, i := range r.Perm(5000)[:4500] {
		member := fmt.Sprintf("member-%d", i)
		if !z.Remove([]byte(member)) {
			t.Fatalf("Remove(%s) = false", member)
		}
		j := m.find(member)
		m = slices.Delete(m, j, j+1)
	}
	checkSame(t, z, m)
	if z.b.dead*2 >= len(z.b.arena) && z.b.dead >= 4096 {
		t.Fatalf("arena not compacted: %d dead of %d", z.b.dead, len(z.b.arena))
	}
	c := z.Clone().(*ZSet)
	for i := range 3000 {
		member := fmt.Sprintf("again-%d", i)
		z.Set([]byte(member), float64(i%7))
		m.set(member, float64(i%7))
		if i%3 == 0 { // updates move members within the tree
			up := m[r.IntN(len(m))].member
			z.Set([]byte(up), -1)
			m.set(up, -1)
		}
	}
	checkSame(t, z, m)
	for _, e := range m {
		if s, ok := z.Score([]byte(e.member)); !ok || s != e.score {
			t.Fatalf("Score(%s) = %v %v, want %v", e.member, s, ok, e.score)
		}
	}
	if c.Len() != 500 {
		t.Fatalf("clone has %d members, want 500", c.Len())
	}
	if _, ok := c.Score([]byte("again-1")); ok {
		t.Fatal("the clone shares the original's members")
	}
}

func mustScore(z *ZSet, member string) float64 {
	s, _ := z.Score([]byte(member))
	return s
}

// The listpack keeps every score exactly (whole numbers as varints, others
// as IEEE bits) and in order, across the integer/float boundary.
func TestZSetListpackScores(t *testing.T) {
	scores := []float64{0, 1, -1, 63, 64, -64, -65, 1 << 20, -(1 << 40), 1<<53 - 1, -(1<<53 - 1), 1 << 53, -(1 << 53),
		1 << 62, 0.5, -0.25, 1e300, -1e-300, math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, 1234567.875}
	z := New(0, 0)
	var m model
	for i, s := range scores {
		member := fmt.Sprintf("m%d", i)
		z.Set([]byte(member), s)
		m.set(member, s)
	}
	if z.Encoding() != "listpack" {
		t.Fatalf("encoding %s", z.Encoding())
	}
	checkSame(t, z, m)
	for i, s := range scores {
		if got, ok := z.Score(fmt.Appendf(nil, "m%d", i)); !ok || got != s {
			t.Fatalf("score of m%d = %v %v, want %v", i, got, ok, s)
		}
	}
	neg := New(0, 0)
	neg.Set([]byte("a"), math.Copysign(0, -1))
	if s, _ := neg.Score([]byte("a")); math.Signbit(s) {
		t.Fatal("-0 kept its sign in a listpack (Redis 7.0 stores 0)")
	}
}

// A listpack entry of a short member with a small whole score costs its
// member bytes plus two, and ReservePairs sizes the listpack for ZADD's
// pairs at once: adding them leaves the buffer where it was.
func TestZSetListpackCompact(t *testing.T) {
	if n := entryLen([]byte("m12"), 12); n != 5 {
		t.Fatalf("entry of m12 with score 12: %d bytes", n)
	}
	if n := entryLen([]byte("m12"), 1.5); n != 12 {
		t.Fatalf("entry of m12 with score 1.5: %d bytes", n)
	}
	var scores []float64
	var pairs [][]byte
	for i := range 100 {
		scores = append(scores, float64(i))
		pairs = append(pairs, fmt.Appendf(nil, "%d", i), fmt.Appendf(nil, "m%d", i))
	}
	z := New(len(scores), len(pairs[1]))
	z.ReservePairs(scores, pairs)
	before := cap(z.lp())
	for i, s := range scores {
		z.Set(pairs[2*i+1], s)
	}
	if cap(z.lp()) != before || len(z.lp()) > before || before > len(z.lp())*9/8 {
		t.Fatalf("reserved %d bytes, listpack now %d of %d", before, len(z.lp()), cap(z.lp()))
	}
	z.RemoveRange(0, 80, nil)
	if cap(z.lp()) >= 2*len(z.lp())+64 {
		t.Fatalf("after removing 80 of 100: %d capacity for %d bytes", cap(z.lp()), len(z.lp()))
	}
}

// The ZSet header stays in Go's 32-byte size class.
func TestZSetHeaderSize(t *testing.T) {
	if n := unsafe.Sizeof(ZSet{}); n != baseSize {
		t.Fatalf("ZSet is %d bytes, Size counts %d", n, baseSize)
	}
}
