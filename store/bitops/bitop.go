package bitops

import "encoding/binary"

// OpCode is a BITOP operation.
type OpCode uint8

// The BITOP operations of Redis 7.
const (
	OpAnd OpCode = iota
	OpOr
	OpXor
	OpNot
)

// String returns the operation's name in upper case.
func (o OpCode) String() string {
	switch o {
	case OpAnd:
		return "AND"
	case OpOr:
		return "OR"
	case OpXor:
		return "XOR"
	case OpNot:
		return "NOT"
	}
	return "UNKNOWN"
}

// ParseOp parses BITOP's operation name (AND, OR, XOR, NOT in any case) and
// checks the number of source keys nsrc, in Redis's order: an unknown name
// is ErrSyntax; NOT with other than one source is ErrBitopNot. The handler
// calls it before looking up any key, as Redis does.
func ParseOp(name []byte, nsrc int) (OpCode, string) {
	var op OpCode
	switch {
	case equalFold(name, "and"):
		op = OpAnd
	case equalFold(name, "or"):
		op = OpOr
	case equalFold(name, "xor"):
		op = OpXor
	case equalFold(name, "not"):
		op = OpNot
	default:
		return 0, ErrSyntax
	}
	if op == OpNot && nsrc != 1 {
		return 0, ErrBitopNot
	}
	return op, ""
}

// Op parses the operation name and computes it over srcs (see ParseOp and
// Compute). Missing source keys are passed as empty (or nil) slices.
func Op(op string, srcs [][]byte) ([]byte, string) {
	code, errText := ParseOp([]byte(op), len(srcs))
	if errText != "" {
		return nil, errText
	}
	return Compute(code, srcs), ""
}

// Compute returns op applied byte by byte over srcs, each source padded
// with zero bytes to the longest one: the result is as long as the longest
// source and is a new slice. An empty result (every source empty) means
// BITOP deletes the destination key and replies 0; otherwise it stores the
// result and replies its length. srcs are not modified.
func Compute(op OpCode, srcs [][]byte) []byte {
	maxLen := 0
	for _, s := range srcs {
		maxLen = max(maxLen, len(s))
	}
	if maxLen == 0 || len(srcs) == 0 {
		return nil
	}
	res := make([]byte, maxLen)
	copy(res, srcs[0])
	if op == OpNot {
		notBytes(res)
		return res
	}
	for _, s := range srcs[1:] {
		switch op {
		case OpAnd:
			andBytes(res, s)
		case OpOr:
			orBytes(res, s)
		case OpXor:
			xorBytes(res, s)
		}
	}
	return res
}

// andBytes sets dst[i] &= s[i], treating s as zero past its end.
func andBytes(dst, s []byte) {
	n := min(len(dst), len(s))
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(dst[i:]) & binary.LittleEndian.Uint64(s[i:])
		binary.LittleEndian.PutUint64(dst[i:], w)
	}
	for ; i < n; i++ {
		dst[i] &= s[i]
	}
	clear(dst[n:])
}

// orBytes sets dst[i] |= s[i].
func orBytes(dst, s []byte) {
	n := min(len(dst), len(s))
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(dst[i:]) | binary.LittleEndian.Uint64(s[i:])
		binary.LittleEndian.PutUint64(dst[i:], w)
	}
	for ; i < n; i++ {
		dst[i] |= s[i]
	}
}

// xorBytes sets dst[i] ^= s[i].
func xorBytes(dst, s []byte) {
	n := min(len(dst), len(s))
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(dst[i:]) ^ binary.LittleEndian.Uint64(s[i:])
		binary.LittleEndian.PutUint64(dst[i:], w)
	}
	for ; i < n; i++ {
		dst[i] ^= s[i]
	}
}

// notBytes inverts every byte of dst.
func notBytes(dst []byte) {
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], ^binary.LittleEndian.Uint64(dst[i:]))
	}
	for ; i < len(dst); i++ {
		dst[i] = ^dst[i]
	}
}
