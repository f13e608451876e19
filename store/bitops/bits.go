package bitops

import (
	"encoding/binary"
	"math/bits"
)

// ParseBitOffset parses a SETBIT/GETBIT offset: a non-negative integer
// (Redis string2ll rules) whose byte (offset/8) lies below maxBulkLen
// (proto-max-bulk-len; <= 0 means DefaultMaxBulkLen, making 2^32-1 the
// largest offset). On error it returns ErrBitOffset.
func ParseBitOffset(b []byte, maxBulkLen int64) (uint64, string) {
	return parseOffset(b, false, 0, maxBulkLen)
}

// parseOffset implements Redis's getBitOffsetFromArgument: with hash set and
// width > 0 a "#N" offset means N*width. The product wraps around on int64
// overflow exactly as in redis-server (so "#288230376151711745" of an i64
// is offset 64), then must be non-negative and in range.
func parseOffset(b []byte, hash bool, width int, maxBulkLen int64) (uint64, string) {
	if maxBulkLen <= 0 {
		maxBulkLen = DefaultMaxBulkLen
	}
	useHash := hash && width > 0 && len(b) > 0 && b[0] == '#'
	if useHash {
		b = b[1:]
	}
	v, ok := parseInt(b)
	if !ok {
		return 0, ErrBitOffset
	}
	if useHash {
		v *= int64(width) // wraps on overflow, as in redis-server
	}
	if v < 0 || v>>3 >= maxBulkLen {
		return 0, ErrBitOffset
	}
	return uint64(v), ""
}

// ParseBit parses SETBIT's value argument: "0" or "1", else ErrBitValue.
func ParseBit(b []byte) (byte, string) {
	v, ok := parseInt(b)
	if !ok || v&^1 != 0 {
		return 0, ErrBitValue
	}
	return byte(v), ""
}

// GetBit returns the bit at offset off of v (bit 0 is the most significant
// bit of the first byte); bits past the end of v are 0.
func GetBit(v []byte, off uint64) byte {
	i := off >> 3
	if i >= uint64(len(v)) {
		return 0
	}
	return v[i] >> (7 - off&7) & 1
}

// SetBit sets the bit at offset off to bit (0 or 1; other values use their
// lowest bit) and returns the new value and the bit's old value. v is not
// modified. The value grows with zero bytes so that the offset exists, as
// SETBIT does. When the bit already holds that value and no growth is
// needed, nv is v itself, so the caller can skip the write: the value
// changed exactly when len(nv) != len(v) || old != bit.
func SetBit(v []byte, off uint64, bit byte) (nv []byte, old byte) {
	bit &= 1
	i := off >> 3
	old = GetBit(v, off)
	if i < uint64(len(v)) && old == bit {
		return v, old
	}
	n := uint64(len(v))
	if i >= n {
		n = i + 1
	}
	nv = make([]byte, n)
	copy(nv, v)
	shift := 7 - off&7
	nv[i] = nv[i]&^(1<<shift) | bit<<shift
	return nv, old
}

// SetBitInPlace sets the bit at off of v, which must be at least off/8+1
// bytes long, to bit (0 or 1). For a caller that owns v's storage (the
// store's GrowString), so no copy of the value is made.
func SetBitInPlace(v []byte, off uint64, bit byte) {
	shift := 7 - off&7
	v[off>>3] = v[off>>3]&^(1<<shift) | (bit&1)<<shift
}

// popcount counts the set bits of p.
func popcount(p []byte) int64 {
	var c0, c1, c2, c3 int
	for len(p) >= 32 {
		c0 += bits.OnesCount64(binary.LittleEndian.Uint64(p))
		c1 += bits.OnesCount64(binary.LittleEndian.Uint64(p[8:]))
		c2 += bits.OnesCount64(binary.LittleEndian.Uint64(p[16:]))
		c3 += bits.OnesCount64(binary.LittleEndian.Uint64(p[24:]))
		p = p[32:]
	}
	for len(p) >= 8 {
		c0 += bits.OnesCount64(binary.LittleEndian.Uint64(p))
		p = p[8:]
	}
	for _, b := range p {
		c1 += bits.OnesCount8(b)
	}
	return int64(c0 + c1 + c2 + c3)
}

// Range is a parsed [start end [BYTE|BIT]] argument group of BITCOUNT and
// BITPOS. The zero value means "the whole string".
type Range struct {
	HasStart bool  // start was given
	HasEnd   bool  // end was given
	Start    int64 // may be negative: counts from the end
	End      int64 // inclusive; may be negative
	Bit      bool  // BIT unit (offsets count bits), else BYTE
}

// ParseBitCount parses BITCOUNT's arguments after the key:
// [start end [BYTE|BIT]]. Only a start, or more than three arguments, is
// ErrSyntax; a non-integer start or end is ErrNotInteger; an unknown unit is
// ErrSyntax, except that (as redis-server 7.0 does) negative start > end
// counts 0 without the unit being checked.
func ParseBitCount(args [][]byte) (Range, string) {
	var r Range
	switch len(args) {
	case 0:
		return r, ""
	case 2, 3:
	default:
		return r, ErrSyntax
	}
	var ok bool
	if r.Start, ok = parseInt(args[0]); !ok {
		return r, ErrNotInteger
	}
	if r.End, ok = parseInt(args[1]); !ok {
		return r, ErrNotInteger
	}
	r.HasStart, r.HasEnd = true, true
	if r.Start < 0 && r.End < 0 && r.Start > r.End {
		return r, "" // redis-server 7.0 answers 0 here before looking at the unit
	}
	if len(args) == 3 {
		var errText string
		if r.Bit, errText = parseUnit(args[2]); errText != "" {
			return r, errText
		}
	}
	return r, ""
}

// parseUnit parses BYTE or BIT (any case).
func parseUnit(b []byte) (bool, string) {
	switch {
	case equalFold(b, "bit"):
		return true, ""
	case equalFold(b, "byte"):
		return false, ""
	}
	return false, ErrSyntax
}

// resolve turns r into an inclusive range of units (bytes or bits) of a
// string of n bytes, clamped as Redis does; ok is false when the range is
// empty. endDefault is used when no end was given.
func (r Range) resolve(n int64, endDefault int64) (start, end int64, ok bool) {
	total := n
	if r.Bit {
		total = n << 3
	}
	start, end = r.Start, r.End
	if !r.HasEnd {
		end = endDefault
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	return start, end, start <= end
}

// BitCount returns the number of set bits of v in the range r (BITCOUNT).
// A missing key is an empty v. Indexes are clamped as Redis does; an empty
// or inverted range counts 0.
func BitCount(v []byte, r Range) int64 {
	if !r.HasStart {
		return popcount(v)
	}
	if r.Start < 0 && r.End < 0 && r.Start > r.End {
		return 0
	}
	start, end, ok := r.resolve(int64(len(v)), 0)
	if !ok {
		return 0
	}
	if !r.Bit {
		return popcount(v[start : end+1])
	}
	first, last := start>>3, end>>3
	n := popcount(v[first : last+1])
	firstMask := ^byte(0xFF >> (start & 7)) // bits before start
	lastMask := byte(0xFF >> (end&7 + 1))   // bits after end
	n -= int64(bits.OnesCount8(v[first]&firstMask) + bits.OnesCount8(v[last]&lastMask))
	return n
}

// BitPosArgs is the parsed argument list of BITPOS after the key.
type BitPosArgs struct {
	Bit   byte // the bit value searched for, 0 or 1
	Range Range
}

// ParseBitPos parses BITPOS's arguments after the key:
// bit [start [end [BYTE|BIT]]], checking in Redis's order: the bit
// (ErrNotInteger, then ErrBitArg), start, the unit (ErrSyntax), end.
// More than four arguments is ErrSyntax.
func ParseBitPos(args [][]byte) (BitPosArgs, string) {
	var a BitPosArgs
	if len(args) == 0 {
		return a, ErrSyntax
	}
	var errText string
	if a.Bit, errText = ParseBitArg(args[0]); errText != "" {
		return a, errText
	}
	if len(args) == 1 {
		return a, ""
	}
	if len(args) > 4 {
		return a, ErrSyntax
	}
	r := &a.Range
	var ok bool
	if r.Start, ok = parseInt(args[1]); !ok {
		return a, ErrNotInteger
	}
	r.HasStart = true
	if len(args) == 4 {
		if r.Bit, errText = parseUnit(args[3]); errText != "" {
			return a, errText
		}
	}
	if len(args) >= 3 {
		if r.End, ok = parseInt(args[2]); !ok {
			return a, ErrNotInteger
		}
		r.HasEnd = true
	}
	return a, ""
}

// ParseBitArg parses BITPOS's bit argument: ErrNotInteger for a
// non-integer, ErrBitArg for an integer other than 0 or 1. ParseBitPos
// calls it first; it is exported for handlers that mimic redis-server
// 7.0, which parses the bit, then answers a missing key (0 or -1) before
// parsing the range.
func ParseBitArg(b []byte) (byte, string) {
	bit, ok := parseInt(b)
	if !ok {
		return 0, ErrNotInteger
	}
	if bit != 0 && bit != 1 {
		return 0, ErrBitArg
	}
	return byte(bit), ""
}

// BitPos returns the position of the first bit equal to a.Bit in the range
// of v (BITPOS). exists tells whether the key exists: a missing key is an
// infinite run of zeros (0 for bit 0, -1 for bit 1) while an existing empty
// string has no bits (-1). Looking for 0 without an explicit end treats the
// string as zero-padded on the right, so an all-ones range answers the
// first bit past it; with an end given, -1.
func BitPos(v []byte, exists bool, a BitPosArgs) int64 {
	if !exists {
		if a.Bit == 1 {
			return -1
		}
		return 0
	}
	n := int64(len(v))
	start, end, ok := a.Range.resolve(n, n-1)
	if !ok {
		return -1
	}
	if !a.Range.Bit {
		start, end = start<<3, end<<3|7
	}
	pos := scanBit(v, start, end, a.Bit)
	if pos < 0 && a.Bit == 0 && !a.Range.HasEnd {
		return end + 1
	}
	return pos
}

// scanBit returns the first bit position in [start, end] (bit offsets,
// inside v) whose value is bit, or -1.
func scanBit(v []byte, start, end int64, bit byte) int64 {
	var flip byte
	if bit == 0 {
		flip = 0xFF
	}
	first, last := start>>3, end>>3
	for i := first; i <= last; i++ {
		if i > first && i < last {
			i = skipWords(v, i, last, flip)
			if i >= last {
				i = last
			}
		}
		b := v[i] ^ flip
		if i == first {
			b &= 0xFF >> (start & 7)
		}
		if i == last {
			b &= ^byte(0xFF >> (end&7 + 1))
		}
		if b != 0 {
			return i<<3 + int64(bits.LeadingZeros8(b))
		}
	}
	return -1
}

// skipWords advances i over whole 8-byte words before index last whose
// bytes all equal flip (nothing to find there) and returns the new index.
func skipWords(v []byte, i, last int64, flip byte) int64 {
	word := uint64(0)
	if flip != 0 {
		word = ^uint64(0)
	}
	for i+8 <= last && binary.LittleEndian.Uint64(v[i:]) == word {
		i += 8
	}
	return i
}
