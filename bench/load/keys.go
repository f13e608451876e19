package load

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// KeyDist names a key popularity distribution over key indexes [0, keyspace).
// The zero value is uniform.
type KeyDist struct {
	// Kind is "uniform", "zipf", "sequential" or "gaussian".
	Kind string
	// Param is zipf's skew s (popularity of rank r ∝ 1/r^s, default 0.99) or
	// gaussian's standard deviation as a fraction of the key space (default 1/6).
	Param float64
}

// ParseKeyDist parses "uniform", "zipf", "zipf:S", "sequential", "gaussian"
// or "gaussian:SIGMA" (SIGMA a fraction of the key space).
func ParseKeyDist(s string) (KeyDist, error) {
	name, param, hasParam := strings.Cut(strings.ToLower(strings.TrimSpace(s)), ":")
	d := KeyDist{Kind: name}
	switch name {
	case "uniform", "sequential":
		if hasParam {
			return d, fmt.Errorf("%w: %q takes no parameter", ErrConfig, name)
		}
		return d, nil
	case "zipf", "zipfian":
		d.Kind, d.Param = "zipf", 0.99
	case "gaussian", "normal":
		d.Kind, d.Param = "gaussian", 1.0/6
	default:
		return d, fmt.Errorf("%w: unknown key distribution %q (uniform, zipf:S, sequential, gaussian)", ErrConfig, s)
	}
	if hasParam {
		v, err := strconv.ParseFloat(param, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return d, fmt.Errorf("%w: bad %s parameter %q", ErrConfig, name, param)
		}
		d.Param = v
	}
	return d, nil
}

// String returns the distribution in ParseKeyDist's syntax.
func (d KeyDist) String() string {
	switch d.Kind {
	case "", "uniform":
		return "uniform"
	case "zipf", "gaussian":
		return d.Kind + ":" + strconv.FormatFloat(d.Param, 'g', -1, 64)
	}
	return d.Kind
}

// keyGen draws key indexes. Each worker owns one; not safe for concurrent use.
type keyGen interface {
	next() uint64
}

// newKeyGen returns worker's generator over [0, n). Sequential walks start
// at worker's share of the key space so workers do not repeat each other.
func (d KeyDist) newKeyGen(n uint64, rng *rand.Rand, worker, workers int) keyGen {
	switch d.Kind {
	case "zipf":
		return newZipf(rng, n, d.Param)
	case "sequential":
		start := n * uint64(worker) / uint64(max(workers, 1))
		return &seqGen{n: n, cur: start}
	case "gaussian":
		return &gaussGen{rng: rng, n: n, sigma: d.Param * float64(n)}
	}
	return uniformGen{rng: rng, n: n}
}

type uniformGen struct {
	rng *rand.Rand
	n   uint64
}

func (g uniformGen) next() uint64 { return g.rng.Uint64N(g.n) }

type seqGen struct{ n, cur uint64 }

func (g *seqGen) next() uint64 {
	k := g.cur % g.n
	g.cur = k + 1
	return k
}

type gaussGen struct {
	rng   *rand.Rand
	n     uint64
	sigma float64
}

// next draws from a normal distribution centred on the middle of the key
// space, redrawing values that fall outside it.
func (g *gaussGen) next() uint64 {
	mean := float64(g.n-1) / 2
	for i := 0; i < 64; i++ {
		x := math.Round(mean + g.rng.NormFloat64()*g.sigma)
		if x >= 0 && x < float64(g.n) {
			return uint64(x)
		}
	}
	return uint64(mean)
}

// zipfGen samples ranks 1..n with P(k) ∝ 1/k^s for any s > 0 by
// rejection-inversion (W. Hörmann and G. Derflinger, "Rejection-inversion to
// generate variates from monotone discrete distributions", 1996): O(1) time
// and memory per draw, whatever the key space. next returns rank-1, so key 0
// is the most popular.
type zipfGen struct {
	rng              *rand.Rand
	n                float64
	s                float64 // exponent
	hX1, hN, squeeze float64
	oneMinusS        float64
}

func newZipf(rng *rand.Rand, n uint64, s float64) *zipfGen {
	z := &zipfGen{rng: rng, n: float64(n), s: s, oneMinusS: 1 - s}
	z.hX1 = z.hIntegral(1.5) - 1
	z.hN = z.hIntegral(z.n + 0.5)
	z.squeeze = 2 - z.hIntegralInverse(z.hIntegral(2.5)-z.h(2))
	return z
}

func (z *zipfGen) next() uint64 {
	for {
		u := z.hN + z.rng.Float64()*(z.hX1-z.hN)
		x := z.hIntegralInverse(u)
		k := math.Floor(x + 0.5)
		if k < 1 {
			k = 1
		} else if k > z.n {
			k = z.n
		}
		if k-x <= z.squeeze || u >= z.hIntegral(k+0.5)-z.h(k) {
			return uint64(k) - 1
		}
	}
}

// h is the (unnormalised) density 1/x^s.
func (z *zipfGen) h(x float64) float64 { return math.Exp(-z.s * math.Log(x)) }

// hIntegral is an antiderivative of h: (x^(1-s) - 1) / (1-s), or log x at s = 1.
func (z *zipfGen) hIntegral(x float64) float64 {
	lx := math.Log(x)
	return helper2(z.oneMinusS*lx) * lx
}

// hIntegralInverse inverts hIntegral.
func (z *zipfGen) hIntegralInverse(x float64) float64 {
	t := x * z.oneMinusS
	if t < -1 {
		t = -1 // numerical safety near the upper end
	}
	return math.Exp(helper1(t) * x)
}

// helper1 is log1p(x)/x, continuous at 0.
func helper1(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Log1p(x) / x
	}
	return 1 - x*(0.5-x*(1.0/3-0.25*x))
}

// helper2 is expm1(x)/x, continuous at 0.
func helper2(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Expm1(x) / x
	}
	return 1 + x*0.5*(1+x/3*(1+0.25*x))
}
