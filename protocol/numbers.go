package protocol

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ErrMemoryValue is returned (wrapped, naming the value) by ParseMemory for a
// value redis.conf would not accept as a memory amount.
var ErrMemoryValue = errors.New("protocol: argument must be a memory value")

// ParseInt parses b as Redis's string2ll does: an optional '-', then digits
// without leading zeros ("0" alone is fine, "-0" is not), no '+', no spaces,
// and the value must fit an int64.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := parseDigits(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true // -(1<<63) wraps to MinInt64, as wanted
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// ParseUint parses b as a uint64 with ParseInt's rules and no sign.
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	return parseDigits(b)
}

// parseDigits parses a non-empty run of decimal digits with no leading zero.
func parseDigits(b []byte) (uint64, bool) {
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > math.MaxUint64/10 {
			return 0, false
		}
		u *= 10
		d := uint64(c - '0')
		if u > math.MaxUint64-d {
			return 0, false
		}
		u += d
	}
	return u, true
}

// ParseScanCursor parses a SCAN cursor as Redis's strtoul-based
// parseScanCursorOrReply does: optional sign ('-' negates modulo 2^64),
// decimal digits, leading zeros allowed, the empty string is 0, bytes after
// a NUL are ignored; a leading space, any other byte or overflow is refused
// (ErrInvalidCursor).
func ParseScanCursor(b []byte) (uint64, bool) {
	b = cString(b)
	if len(b) == 0 {
		return 0, true
	}
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		u = -u
	}
	return u, true
}

// ParseFloat parses b as Redis's string2d does (strtod, the whole string):
// optional sign, decimal digits with an optional '.' and exponent, C99 hex
// floats ("0x1.8p3", "0x10"), "inf" and "infinity" in any case. It refuses
// the empty string, spaces, NaN, and values that overflow to infinity or
// underflow to zero (strtod's ERANGE).
func ParseFloat(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	rest := b[i:]
	if equalFold(rest, "inf") || equalFold(rest, "infinity") {
		if b[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	nonzero, hexNoExp, ok := scanFloat(rest)
	if !ok {
		return 0, false
	}
	s := string(b)
	if hexNoExp {
		s += "p0" // Go wants a binary exponent on hex floats; C does not
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || (f == 0 && nonzero) {
		return 0, false
	}
	return f, true
}

// scanFloat checks that b (after the sign) is a complete strtod number. It
// reports whether a mantissa digit is non-zero and whether b is a hex float
// without its 'p' exponent.
func scanFloat(b []byte) (nonzero, hexNoExp, ok bool) {
	hex := len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X')
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	expChar := byte('e')
	if hex {
		b = b[2:]
		isDigit = func(c byte) bool { return hexVal(c) >= 0 }
		expChar = 'p'
	}
	i, digits := 0, 0
	seenDot := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case isDigit(c):
			digits++
			if c != '0' {
				nonzero = true
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			goto mantissaDone
		}
	}
mantissaDone:
	if digits == 0 {
		return false, false, false
	}
	if i == len(b) {
		return nonzero, hex, true
	}
	if b[i]|0x20 != expChar {
		return false, false, false
	}
	i++
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	if i == len(b) {
		return false, false, false
	}
	for ; i < len(b); i++ {
		if b[i] < '0' || b[i] > '9' {
			return false, false, false
		}
	}
	return nonzero, false, true
}

// hexVal returns the value of hex digit c, or -1.
func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return int(c|0x20-'a') + 10
	}
	return -1
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// AppendFloat appends f in Redis 7.0's "%.17g" form, used for scores and
// doubles in replies: "inf", "-inf" for infinities and "nan" for NaN.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	// Go's 'g' with precision 17 picks %e exactly when C's %.17g does.
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// ParseMemory parses a memory amount as redis.conf does (memtoll): an
// optional '-', decimal digits, then an optional case-insensitive unit:
// "b" (1), "k" (1000), "kb" (1024), "m" (1000²), "mb" (1024²), "g" (1000³),
// "gb" (1024³). "100mb" is 104857600. Errors wrap ErrMemoryValue and name s;
// an amount that overflows int64 is an error.
func ParseMemory(s string) (int64, error) {
	bad := func() (int64, error) { return 0, fmt.Errorf("%w: %q", ErrMemoryValue, s) }
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return bad()
	}
	var mul int64
	switch unit := []byte(s[i:]); {
	case len(unit) == 0 || equalFold(unit, "b"):
		mul = 1
	case equalFold(unit, "k"):
		mul = 1000
	case equalFold(unit, "kb"):
		mul = 1024
	case equalFold(unit, "m"):
		mul = 1000 * 1000
	case equalFold(unit, "mb"):
		mul = 1024 * 1024
	case equalFold(unit, "g"):
		mul = 1000 * 1000 * 1000
	case equalFold(unit, "gb"):
		mul = 1024 * 1024 * 1024
	default:
		return bad()
	}
	v, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || v > math.MaxInt64/mul || v < math.MinInt64/mul {
		return bad()
	}
	return v * mul, nil
}

// ParseBlockTimeout parses a blocking command's timeout in seconds (BLPOP,
// BZPOPMIN, …) as Redis 7.0 does: a float, rounded up to whole
// milliseconds; 0 means wait forever. The error is the reply text:
// ErrTimeoutFloat or ErrTimeoutNeg. As in redis-server 7.0 on x86-64, a
// number of milliseconds outside the int64 range (1e300, inf) converts to
// the smallest int64 and so answers ErrTimeoutNeg. A timeout longer than a
// time.Duration holds (about 292 years), which Redis accepts, waits
// forever (0).
func ParseBlockTimeout(b []byte) (time.Duration, string) {
	f, ok := ParseFloat(b)
	if !ok {
		return 0, ErrTimeoutFloat
	}
	ms := math.Ceil(f * 1000)
	if ms < 0 || ms >= 0x1p63 {
		return 0, ErrTimeoutNeg
	}
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, ""
	}
	return time.Duration(ms) * time.Millisecond, ""
}
