package bitops

import "math"

// FieldKind is a BITFIELD subcommand.
type FieldKind uint8

// The BITFIELD subcommands that produce a result.
const (
	FieldGet FieldKind = iota
	FieldSet
	FieldIncrBy
)

// Overflow is a BITFIELD OVERFLOW policy.
type Overflow uint8

// The OVERFLOW policies; WRAP is the default.
const (
	OverflowWrap Overflow = iota
	OverflowSat
	OverflowFail
)

// FieldOp is one parsed BITFIELD GET, SET or INCRBY with the OVERFLOW
// policy in force when it appeared.
type FieldOp struct {
	Kind     FieldKind
	Signed   bool     // iN (true) or uN
	Bits     uint8    // width: 1..64 signed, 1..63 unsigned
	Offset   uint64   // bit offset, '#N' already multiplied by Bits
	Value    int64    // SET value or INCRBY increment
	Overflow Overflow // policy for SET and INCRBY
}

// Result is one element of BITFIELD's reply: an integer, or a null when an
// operation failed under OVERFLOW FAIL.
type Result struct {
	Value int64
	Null  bool
}

// ParseBitfield parses BITFIELD's (readOnly false) or BITFIELD_RO's
// (readOnly true) arguments after the key, with the default
// proto-max-bulk-len. See ParseBitfieldMax.
func ParseBitfield(args [][]byte, readOnly bool) ([]FieldOp, string) {
	return ParseBitfieldMax(args, readOnly, DefaultMaxBulkLen)
}

// ParseBitfieldMax parses BITFIELD's arguments after the key:
// [GET type offset] [SET type offset value] [INCRBY type offset increment]
// [OVERFLOW WRAP|SAT|FAIL] ... Errors, checked in Redis's order: an unknown
// subcommand or missing arguments is ErrSyntax, a bad OVERFLOW name is
// ErrOverflowType, a bad type ErrBitfieldType, a bad offset ErrBitOffset
// (byte index must be below maxBulkLen; <= 0 means the default), a bad
// value ErrNotInteger. After all arguments parse, readOnly with any SET or
// INCRBY is ErrBitfieldRO. No subcommands at all is valid (empty reply).
func ParseBitfieldMax(args [][]byte, readOnly bool, maxBulkLen int64) ([]FieldOp, string) {
	var ops []FieldOp
	ow := OverflowWrap
	write := false
	for j := 0; j < len(args); j++ {
		rem := len(args) - j - 1
		sub := args[j]
		var op FieldOp
		switch {
		case equalFold(sub, "get") && rem >= 2:
			op.Kind = FieldGet
		case equalFold(sub, "set") && rem >= 3:
			op.Kind = FieldSet
		case equalFold(sub, "incrby") && rem >= 3:
			op.Kind = FieldIncrBy
		case equalFold(sub, "overflow") && rem >= 1:
			j++
			switch name := args[j]; {
			case equalFold(name, "wrap"):
				ow = OverflowWrap
			case equalFold(name, "sat"):
				ow = OverflowSat
			case equalFold(name, "fail"):
				ow = OverflowFail
			default:
				return nil, ErrOverflowType
			}
			continue
		default:
			return nil, ErrSyntax
		}
		var errText string
		if op.Signed, op.Bits, errText = parseFieldType(args[j+1]); errText != "" {
			return nil, errText
		}
		if op.Offset, errText = parseOffset(args[j+2], true, int(op.Bits), maxBulkLen); errText != "" {
			return nil, errText
		}
		if op.Kind != FieldGet {
			write = true
			v, ok := parseInt(args[j+3])
			if !ok {
				return nil, ErrNotInteger
			}
			op.Value = v
			j++
		}
		op.Overflow = ow
		ops = append(ops, op)
		j += 2
	}
	if readOnly && write {
		return nil, ErrBitfieldRO
	}
	return ops, ""
}

// parseFieldType parses a bitfield type: 'i' or 'u' (lower case only)
// followed by the width, 1..64 for signed and 1..63 for unsigned.
func parseFieldType(b []byte) (signed bool, width uint8, errText string) {
	if len(b) == 0 || (b[0] != 'i' && b[0] != 'u') {
		return false, 0, ErrBitfieldType
	}
	signed = b[0] == 'i'
	n, ok := parseInt(b[1:])
	limit := int64(63)
	if signed {
		limit = 64
	}
	if !ok || n < 1 || n > limit {
		return false, 0, ErrBitfieldType
	}
	return signed, uint8(n), ""
}

// HasWrite reports whether ops contain a SET or INCRBY. A BITFIELD without
// writes only reads its key (a missing key stays missing); with writes it
// creates the key.
func HasWrite(ops []FieldOp) bool {
	for _, op := range ops {
		if op.Kind != FieldGet {
			return true
		}
	}
	return false
}

// WriteExtent returns how many bytes a value must have for ops' writes: up
// to the byte of the farthest bit a SET or INCRBY names (even one that then
// fails under OVERFLOW FAIL, as Redis grows the value before it checks), 0
// without writes. The handler grows the value to it before ApplyInPlace.
func WriteExtent(ops []FieldOp) int {
	var need uint64
	for _, op := range ops {
		if op.Kind != FieldGet {
			need = max(need, (op.Offset+uint64(op.Bits)-1)>>3+1)
		}
	}
	return int(need)
}

// ApplyInPlace executes ops in order on p (nil for a missing key) and
// returns one Result per op and whether a written field took a different
// value. With writes, p must be at least WriteExtent(ops) long, and the
// fields are written into it, so a large bitmap is not copied; without
// writes p is only read (a GET past its end reads zeros). A failed op
// (OVERFLOW FAIL) yields a null Result and writes nothing.
func ApplyInPlace(p []byte, ops []FieldOp) (results []Result, changed bool) {
	results = make([]Result, len(ops))
	for i, op := range ops {
		if op.Kind == FieldGet {
			results[i] = Result{Value: getField(p, op)}
			continue
		}
		r, diff := writeField(p, op)
		results[i] = r
		changed = changed || diff
	}
	return results, changed
}

// getField reads the field op describes from p, zero-padded past its end.
func getField(p []byte, op FieldOp) int64 {
	u := getUnsigned(p, op.Offset, op.Bits)
	if op.Signed {
		return signExtend(u, op.Bits)
	}
	return int64(u)
}

// writeField executes one SET or INCRBY on p (long enough) and returns its
// result and whether the stored field changed.
func writeField(p []byte, op FieldOp) (Result, bool) {
	old := getUnsigned(p, op.Offset, op.Bits)
	var newv uint64
	var ret int64
	var over int
	if op.Signed {
		oldv := signExtend(old, op.Bits)
		in, incr := op.Value, int64(0)
		if op.Kind == FieldIncrBy {
			in, incr = oldv, op.Value
		}
		var limit int64
		over, limit = checkSigned(in, incr, op.Bits, op.Overflow)
		n := in + incr
		if over != 0 {
			n = limit
		}
		newv, ret = uint64(n), n
		if op.Kind == FieldSet {
			ret = oldv
		}
	} else {
		in, incr := uint64(op.Value), int64(0)
		if op.Kind == FieldIncrBy {
			in, incr = old, op.Value
		}
		var limit uint64
		over, limit = checkUnsigned(in, incr, op.Bits, op.Overflow)
		n := in + uint64(incr)
		if over != 0 {
			n = limit
		}
		newv, ret = n, int64(n)
		if op.Kind == FieldSet {
			ret = int64(old)
		}
	}
	if over != 0 && op.Overflow == OverflowFail {
		return Result{Null: true}, false
	}
	newv &= widthMask(op.Bits)
	setUnsigned(p, op.Offset, op.Bits, newv)
	return Result{Value: ret}, newv != old
}

// widthMask has the low width bits set.
func widthMask(width uint8) uint64 {
	return ^uint64(0) >> (64 - width)
}

// signExtend interprets the low width bits of u as a two's complement
// integer.
func signExtend(u uint64, width uint8) int64 {
	s := 64 - width
	return int64(u<<s) >> s
}

// checkUnsigned reports whether value+incr leaves the range of a width-bit
// unsigned integer (1 above, -1 below, 0 fits), with Redis's
// checkUnsignedBitfieldOverflow semantics (value itself may be out of
// range, as for SET), and the value to store instead under WRAP or SAT.
func checkUnsigned(value uint64, incr int64, width uint8, ow Overflow) (int, uint64) {
	maxv := widthMask(width)
	maxIncr := int64(maxv - value)
	minIncr := int64(-value)
	wrapped := (value + uint64(incr)) & maxv
	switch {
	case value > maxv || (incr > 0 && incr > maxIncr):
		if ow == OverflowSat {
			return 1, maxv
		}
		return 1, wrapped
	case incr < 0 && incr < minIncr:
		if ow == OverflowSat {
			return -1, 0
		}
		return -1, wrapped
	}
	return 0, 0
}

// checkSigned is checkUnsigned for width-bit two's complement integers
// (Redis's checkSignedBitfieldOverflow).
func checkSigned(value, incr int64, width uint8, ow Overflow) (int, int64) {
	maxv := int64(math.MaxInt64)
	if width < 64 {
		maxv = 1<<(width-1) - 1
	}
	minv := -maxv - 1
	maxIncr := int64(uint64(maxv) - uint64(value))
	minIncr := minv - value
	wrapped := signExtend(uint64(value)+uint64(incr), width)
	switch {
	case value > maxv || (width != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		if ow == OverflowSat {
			return 1, maxv
		}
		return 1, wrapped
	case value < minv || (width != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		if ow == OverflowSat {
			return -1, minv
		}
		return -1, wrapped
	}
	return 0, 0
}

// getUnsigned reads width bits at bit offset off of p (MSB first), treating
// bytes past the end of p as zero.
func getUnsigned(p []byte, off uint64, width uint8) uint64 {
	var v uint64
	for rem := uint(width); rem > 0; {
		i := off >> 3
		avail := 8 - uint(off&7)
		n := min(avail, rem)
		var b byte
		if i < uint64(len(p)) {
			b = p[i]
		}
		chunk := uint64(b>>(avail-n)) & (1<<n - 1)
		v = v<<n | chunk
		off += uint64(n)
		rem -= n
	}
	return v
}

// setUnsigned writes the low width bits of v at bit offset off of p (MSB
// first); p must cover the field.
func setUnsigned(p []byte, off uint64, width uint8, v uint64) {
	for rem := uint(width); rem > 0; {
		i := off >> 3
		avail := 8 - uint(off&7)
		n := min(avail, rem)
		mask := byte(1<<n-1) << (avail - n)
		chunk := byte(v>>(rem-n)) << (avail - n)
		p[i] = p[i]&^mask | chunk&mask
		off += uint64(n)
		rem -= n
	}
}
