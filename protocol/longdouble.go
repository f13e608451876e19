package protocol

import (
	"math/big"
)

// Redis's INCRBYFLOAT and HINCRBYFLOAT compute in C's long double, which on
// x86-64 is the x87 80-bit extended format: a 64-bit mantissa and a 15-bit
// exponent. math/big.Float with 64 bits of precision and round-to-nearest-
// even performs the same correctly rounded additions, so cached reproduces
// Redis's results digit for digit (e.g. 0.1+0.2 prints "0.3", where float64
// would print "0.30000000000000004").

const (
	longDoublePrec     = 64
	longDoubleMaxExp   = 16384  // 2^16384 overflows to inf
	longDoubleMinExp   = -16445 // below the smallest subnormal: underflow to 0
	maxLongDoubleChars = 5 * 1024
)

func newLongDouble() *big.Float {
	return new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven)
}

// ZeroLongDouble returns a long double 0, the value of a missing key.
func ZeroLongDouble() *big.Float { return newLongDouble() }

// ParseLongDouble parses b as Redis's string2ld (strtold) does: the whole
// string must be a decimal or hex float, "inf" or "infinity" (any case,
// optionally signed); no spaces, no NaN, at most 5 KiB, and no value that
// overflows or underflows the long double range.
func ParseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= maxLongDoubleChars {
		return nil, false
	}
	neg := b[0] == '-'
	i := 0
	if b[0] == '+' || b[0] == '-' {
		i++
	}
	f := newLongDouble()
	if rest := b[i:]; equalFold(rest, "inf") || equalFold(rest, "infinity") {
		return f.SetInf(neg), true
	}
	nonzero, hexNoExp, ok := scanFloat(b[i:])
	if !ok {
		return nil, false
	}
	s := string(b)
	if hexNoExp {
		s += "p0" // big.Float wants a binary exponent on hex floats; C does not
	}
	if _, _, err := f.Parse(s, 0); err != nil {
		return nil, false
	}
	if !longDoubleFinite(f) || (nonzero && (f.Sign() == 0 || f.MantExp(nil) < longDoubleMinExp)) {
		return nil, false // strtold's ERANGE
	}
	return f, true
}

// longDoubleFinite reports whether f is within the long double range.
func longDoubleFinite(f *big.Float) bool {
	return !f.IsInf() && (f.Sign() == 0 || f.MantExp(nil) <= longDoubleMaxExp)
}

// AddLongDouble returns x+y rounded to long double, and false when the sum
// is NaN or infinite (Redis: "increment would produce NaN or Infinity").
func AddLongDouble(x, y *big.Float) (*big.Float, bool) {
	if x.IsInf() || y.IsInf() {
		return nil, false // inf+finite is inf, inf-inf is NaN: both refused
	}
	z := newLongDouble().Add(x, y)
	return z, longDoubleFinite(z)
}

// AppendLongDouble appends f as Redis's ld2string in human mode prints it:
// "%.17Lf" with trailing zeros (and a trailing '.') removed, "-0" as "0".
func AppendLongDouble(dst []byte, f *big.Float) []byte {
	if f.IsInf() {
		if f.Signbit() {
			return append(dst, "-inf"...)
		}
		return append(dst, "inf"...)
	}
	start := len(dst)
	dst = f.Append(dst, 'f', 17)
	if indexByte(dst[start:], '.') >= 0 {
		for dst[len(dst)-1] == '0' {
			dst = dst[:len(dst)-1]
		}
		if dst[len(dst)-1] == '.' {
			dst = dst[:len(dst)-1]
		}
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}
