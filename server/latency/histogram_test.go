package latency

import (
	"math"
	"testing"
	"time"
)

// TestSlots checks every bucket bound: a duration at a bound is in
// that bucket, one nanosecond more in the next, and the bounds are
// 2^(i/16) seconds.
func TestSlots(t *testing.T) {
	for j, b := range bounds {
		want := math.Floor(math.Exp2(float64(minIndex+j)/16) * 1e9)
		if float64(b) != want {
			t.Fatalf("bound %d = %d ns, want %v", j, b, want)
		}
		if j == 0 {
			if slotOf(b) != 0 || slotOf(0) != 0 {
				t.Fatalf("zero bucket: %d %d", slotOf(b), slotOf(0))
			}
		} else if got := slotOf(b); got != j {
			t.Fatalf("slotOf(%d) = %d, want %d", b, got, j)
		}
		if got := slotOf(b + 1); got != j+1 {
			t.Fatalf("slotOf(%d) = %d, want %d", b+1, got, j+1)
		}
	}
	if got := slotOf(math.MaxUint64); got != numSlots-1 {
		t.Fatalf("slotOf(max) = %d", got)
	}
}

func TestCountsReset(t *testing.T) {
	var l Histogram
	if cs, total := l.Counts(); cs != nil || total != 0 {
		t.Fatal("never observed: counters allocated")
	}
	for _, d := range []time.Duration{-1, 0, 5 * time.Microsecond, time.Millisecond, time.Hour} {
		l.Observe(d)
	}
	cs, total := l.Counts()
	if total != 5 || cs[0] != 2 || cs[numSlots-1] != 1 {
		t.Fatalf("total %d, zero %d, overflow %d", total, cs[0], cs[numSlots-1])
	}
	l.Reset()
	if l.Total() != 0 {
		t.Fatalf("after reset total = %d", l.Total())
	}
}

func BenchmarkObserve(b *testing.B) {
	var l Histogram
	// Durations a cache sees: 200 ns to 2 ms, spread over many buckets.
	var ds [1024]time.Duration
	x := uint64(88172645463325252)
	for i := range ds {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ds[i] = 200*time.Nanosecond + time.Duration(math.Exp2(float64(x%1300)/100))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Observe(ds[i&1023])
		i++
	}
	if l.Total() == 0 {
		b.Fatal("nothing counted")
	}
}

// TestPercentile: percentiles are within 2.2% of the true value (the
// power-of-two buckets used before read up to 2x high).
func TestPercentile(t *testing.T) {
	var l Histogram
	if _, ok := l.PercentileMicros(0.5); ok {
		t.Fatal("empty histogram has a percentile")
	}
	for i := 0; i < 989; i++ {
		l.Observe(3 * time.Microsecond)
	}
	for i := 0; i < 10; i++ {
		l.Observe(1500 * time.Microsecond)
	}
	l.Observe(70 * time.Millisecond)
	cases := []struct{ q, want float64 }{{0.5, 3}, {0.989, 3}, {0.99, 1500}, {0.999, 1500}, {1, 70000}}
	for _, tc := range cases {
		got, _ := l.PercentileMicros(tc.q)
		if math.Abs(got-tc.want)/tc.want > 0.022 {
			t.Errorf("p%v = %v µs, want %v within 2.2%%", tc.q*100, got, tc.want)
		}
	}
}

// TestPowersOfTwo: LATENCY HISTOGRAM's cumulative counts at 1, 2, 4 … µs.
func TestPowersOfTwo(t *testing.T) {
	var l Histogram
	l.Observe(500 * time.Nanosecond) // under 1 µs
	l.Observe(3 * time.Microsecond)  // under 4 µs
	l.Observe(3 * time.Microsecond)
	l.Observe(100 * time.Second) // beyond 2^26 µs
	cum, total := l.PowersOfTwoMicros(27)
	if total != 4 || cum[0] != 1 || cum[1] != 1 || cum[2] != 3 || cum[26] != 3 {
		t.Fatalf("cumulative %v, total %d", cum, total)
	}
}
