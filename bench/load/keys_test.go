package load

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestParseKeyDist(t *testing.T) {
	tests := []struct {
		in   string
		want KeyDist
		err  bool
	}{
		{"uniform", KeyDist{Kind: "uniform"}, false},
		{"zipf", KeyDist{Kind: "zipf", Param: 0.99}, false},
		{"zipf:1.2", KeyDist{Kind: "zipf", Param: 1.2}, false},
		{"ZIPF:0.5", KeyDist{Kind: "zipf", Param: 0.5}, false},
		{"sequential", KeyDist{Kind: "sequential"}, false},
		{"gaussian", KeyDist{Kind: "gaussian", Param: 1.0 / 6}, false},
		{"gaussian:0.1", KeyDist{Kind: "gaussian", Param: 0.1}, false},
		{"zipf:0", KeyDist{}, true},
		{"zipf:-1", KeyDist{}, true},
		{"zipf:x", KeyDist{}, true},
		{"uniform:3", KeyDist{}, true},
		{"pareto", KeyDist{}, true},
	}
	for _, tt := range tests {
		got, err := ParseKeyDist(tt.in)
		if tt.err {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("ParseKeyDist(%q) err = %v, want ErrConfig", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseKeyDist(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if back, _ := ParseKeyDist(got.String()); back != got {
			t.Errorf("String round trip of %+v gave %+v", got, back)
		}
	}
}

// zipfExpected returns P(rank k) for k = 1..n under exponent s.
func zipfExpected(n int, s float64) []float64 {
	p := make([]float64, n)
	var h float64
	for k := 1; k <= n; k++ {
		p[k-1] = 1 / math.Pow(float64(k), s)
		h += p[k-1]
	}
	for i := range p {
		p[i] /= h
	}
	return p
}

// TestZipfHeadHeavy draws from the sampler and checks the head of the
// frequency table against the exact zipf probabilities.
func TestZipfHeadHeavy(t *testing.T) {
	const n, draws = 1000, 400000
	for _, s := range []float64{0.5, 0.99, 1.0, 1.5} {
		rng := rand.New(rand.NewPCG(1, 2))
		g := KeyDist{Kind: "zipf", Param: s}.newKeyGen(n, rng, 0, 1)
		counts := make([]int, n)
		for i := 0; i < draws; i++ {
			k := g.next()
			if k >= n {
				t.Fatalf("s=%v: key %d out of range", s, k)
			}
			counts[k]++
		}
		want := zipfExpected(n, s)
		for _, k := range []int{0, 1, 2, 9, 99} {
			got := float64(counts[k]) / draws
			if math.Abs(got-want[k]) > 0.1*want[k]+0.001 {
				t.Errorf("s=%v: P(rank %d) = %.4f, want %.4f", s, k+1, got, want[k])
			}
		}
		// Head-heavy: the top 1% of keys get far more than 1% of requests.
		head := 0
		for _, c := range counts[:n/100] {
			head += c
		}
		wantHead := 0.0
		for _, p := range want[:n/100] {
			wantHead += p
		}
		if got := float64(head) / draws; math.Abs(got-wantHead) > 0.05*wantHead || got < 0.05 {
			t.Errorf("s=%v: top 1%% share = %.3f, want %.3f", s, got, wantHead)
		}
	}
}

func TestUniformAndGaussian(t *testing.T) {
	const n, draws = 100, 200000
	rng := rand.New(rand.NewPCG(3, 4))
	u := KeyDist{Kind: "uniform"}.newKeyGen(n, rng, 0, 1)
	g := KeyDist{Kind: "gaussian", Param: 1.0 / 6}.newKeyGen(n, rng, 0, 1)
	uc, gc := make([]int, n), make([]int, n)
	var sum float64
	for i := 0; i < draws; i++ {
		uc[u.next()]++
		k := g.next()
		gc[k]++
		sum += float64(k)
	}
	for k, c := range uc {
		if math.Abs(float64(c)-draws/n) > 0.1*draws/n {
			t.Errorf("uniform: key %d drawn %d times, want about %d", k, c, draws/n)
		}
	}
	if mean := sum / draws; math.Abs(mean-49.5) > 1 {
		t.Errorf("gaussian mean = %.2f, want 49.5", mean)
	}
	if gc[50] < 5*gc[5] {
		t.Errorf("gaussian: centre %d not much more popular than edge %d", gc[50], gc[5])
	}
}

// TestSequentialCoversKeySpace checks that workers' sequential walks over
// their shares touch every key exactly once, as the preload relies on.
func TestSequentialCoversKeySpace(t *testing.T) {
	const n, workers = 1003, 7
	seen := make([]int, n)
	for w := 0; w < workers; w++ {
		g := KeyDist{Kind: "sequential"}.newKeyGen(n, nil, w, workers)
		for i := int64(0); i < share(n, w, workers); i++ {
			seen[g.next()]++
		}
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("key %d written %d times, want 1", k, c)
		}
	}
	g := KeyDist{Kind: "sequential"}.newKeyGen(3, nil, 0, 1)
	got := []uint64{g.next(), g.next(), g.next(), g.next()}
	if got[0] != 0 || got[2] != 2 || got[3] != 0 {
		t.Errorf("sequential wrap: %v", got)
	}
}

func BenchmarkZipf(b *testing.B) {
	g := newZipf(rand.New(rand.NewPCG(1, 1)), 1_000_000, 0.99)
	b.ReportAllocs()
	for b.Loop() {
		g.next()
	}
}
