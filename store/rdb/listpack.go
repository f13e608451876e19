package rdb

import (
	"encoding/binary"
	"strconv"
)

// Redis's listpack: a 4-byte total length and a 2-byte element count (both
// little endian; 65535 means "count them"), the entries, and a 0xFF end
// byte. An entry is an encoding byte (with its length or small integer),
// its data, and a 1–5 byte "backlen" holding the size of encoding+data so
// the listpack can be walked backwards.

const (
	lpHeader     = 6
	lpEOF        = 0xff
	lpUnknownLen = 65535
)

// lpEntry is one decoded listpack entry: a string, or an integer when str
// is nil.
type lpEntry struct {
	str   []byte
	num   int64
	isInt bool
}

// bytes returns the entry as a string, integers in decimal.
func (e lpEntry) bytes() []byte {
	if e.isInt {
		return strconv.AppendInt(nil, e.num, 10)
	}
	return e.str
}

// lpBacklenSize is the size of the backlen field for an entry of l bytes.
func lpBacklenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// lpWalk validates the listpack blob lp completely (header, every entry,
// every backlen, the end byte, the count) and calls fn for each entry.
// Entries' strings alias lp. It reports false for anything malformed or
// when fn returns false.
func lpWalk(lp []byte, fn func(e lpEntry) bool) bool {
	if len(lp) < lpHeader+1 || int(binary.LittleEndian.Uint32(lp)) != len(lp) || lp[len(lp)-1] != lpEOF {
		return false
	}
	want := int(binary.LittleEndian.Uint16(lp[4:]))
	n := 0
	p := lp[lpHeader : len(lp)-1]
	for len(p) > 0 {
		e, size, ok := lpDecode(p)
		if !ok || size > len(p) {
			return false
		}
		bl := lpBacklenSize(size)
		if size+bl > len(p) || lpBacklen(p[size:size+bl]) != size {
			return false
		}
		if !fn(e) {
			return false
		}
		p = p[size+bl:]
		n++
	}
	return want == lpUnknownLen || want == n
}

// lpBacklen decodes a backlen field stored as b (read right to left).
func lpBacklen(b []byte) int {
	v := 0
	for i := range b {
		c := b[len(b)-1-i]
		v |= int(c&127) << (7 * i)
		if (c&128 == 0) != (i == len(b)-1) { // only the first byte lacks the high bit
			return -1
		}
	}
	return v
}

// lpDecode decodes the entry at the start of p, returning it and the size
// of its encoding and data (without the backlen).
func lpDecode(p []byte) (lpEntry, int, bool) {
	c := p[0]
	switch {
	case c&0x80 == 0: // 7-bit unsigned integer
		return lpEntry{num: int64(c), isInt: true}, 1, true
	case c&0xc0 == 0x80: // 6-bit string length
		return lpString(p, 1, int(c&0x3f))
	case c&0xe0 == 0xc0: // 13-bit signed integer
		if len(p) < 2 {
			return lpEntry{}, 0, false
		}
		v := int64(c&0x1f)<<8 | int64(p[1])
		if v >= 1<<12 {
			v -= 1 << 13
		}
		return lpEntry{num: v, isInt: true}, 2, true
	case c&0xf0 == 0xe0: // 12-bit string length
		if len(p) < 2 {
			return lpEntry{}, 0, false
		}
		return lpString(p, 2, int(c&0x0f)<<8|int(p[1]))
	}
	switch c {
	case 0xf0: // 32-bit string length
		if len(p) < 5 {
			return lpEntry{}, 0, false
		}
		l := binary.LittleEndian.Uint32(p[1:])
		if uint64(l) > uint64(len(p)) {
			return lpEntry{}, 0, false
		}
		return lpString(p, 5, int(l))
	case 0xf1:
		return lpInt(p, 2)
	case 0xf2:
		return lpInt(p, 3)
	case 0xf3:
		return lpInt(p, 4)
	case 0xf4:
		return lpInt(p, 8)
	}
	return lpEntry{}, 0, false // 0xf5–0xfe unused, 0xff is the end byte
}

func lpString(p []byte, hdr, l int) (lpEntry, int, bool) {
	if hdr+l > len(p) {
		return lpEntry{}, 0, false
	}
	return lpEntry{str: p[hdr : hdr+l : hdr+l]}, hdr + l, true
}

// lpInt reads a w-byte little-endian two's complement integer after the
// encoding byte.
func lpInt(p []byte, w int) (lpEntry, int, bool) {
	if len(p) < 1+w {
		return lpEntry{}, 0, false
	}
	var u uint64
	for i := w - 1; i >= 0; i-- {
		u = u<<8 | uint64(p[1+i])
	}
	shift := uint(64 - 8*w)
	return lpEntry{num: int64(u<<shift) >> shift, isInt: true}, 1 + w, true
}

// lpBuilder writes a listpack as Redis does: integers (canonical decimal
// text that fits an int64) in the smallest integer encoding, other strings
// with the smallest length encoding.
type lpBuilder struct {
	b []byte
	n int
}

func newLPBuilder(dst []byte) lpBuilder {
	return lpBuilder{b: append(dst, 0, 0, 0, 0, 0, 0)}
}

func (lb *lpBuilder) add(v []byte) {
	start := len(lb.b)
	if n, ok := canonicalInt(v); ok {
		lb.b = lpAppendInt(lb.b, n)
	} else {
		lb.b = lpAppendString(lb.b, v)
	}
	lb.b = lpAppendBacklen(lb.b, len(lb.b)-start)
	lb.n++
}

// finish writes the header and end byte into the blob that starts at
// offset start of lb.b and returns lb.b.
func (lb *lpBuilder) finish(start int) []byte {
	lb.b = append(lb.b, lpEOF)
	binary.LittleEndian.PutUint32(lb.b[start:], uint32(len(lb.b)-start))
	cnt := lb.n
	if cnt >= lpUnknownLen {
		cnt = lpUnknownLen
	}
	binary.LittleEndian.PutUint16(lb.b[start+4:], uint16(cnt))
	return lb.b
}

func lpAppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 127:
		return append(b, byte(v))
	case v >= -4096 && v <= 4095:
		u := uint64(v) & 0x1fff
		return append(b, 0xc0|byte(u>>8), byte(u))
	case v >= -32768 && v <= 32767:
		return appendLE(append(b, 0xf1), uint64(v), 2)
	case v >= -8388608 && v <= 8388607:
		return appendLE(append(b, 0xf2), uint64(v), 3)
	case v >= -2147483648 && v <= 2147483647:
		return appendLE(append(b, 0xf3), uint64(v), 4)
	}
	return appendLE(append(b, 0xf4), uint64(v), 8)
}

func appendLE(b []byte, u uint64, w int) []byte {
	for i := range w {
		b = append(b, byte(u>>(8*i)))
	}
	return b
}

func lpAppendString(b, s []byte) []byte {
	switch l := len(s); {
	case l < 64:
		b = append(b, 0x80|byte(l))
	case l < 4096:
		b = append(b, 0xe0|byte(l>>8), byte(l))
	default:
		b = appendLE(append(b, 0xf0), uint64(l), 4)
	}
	return append(b, s...)
}

// lpAppendBacklen appends the backlen of an l-byte entry: big-endian groups
// of 7 bits, every byte but the first with the high bit set.
func lpAppendBacklen(b []byte, l int) []byte {
	n := lpBacklenSize(l)
	for i := n - 1; i >= 0; i-- {
		c := byte(l>>(7*i)) & 127
		if i != n-1 {
			c |= 128
		}
		b = append(b, c)
	}
	return b
}

// canonicalInt parses v as Redis's string2ll does: optional minus, no
// leading zeros or plus sign, fits an int64.
func canonicalInt(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	if v[0] == '+' || (v[0] == '0' && len(v) > 1) || (v[0] == '-' && (len(v) == 1 || v[1] == '0')) {
		return 0, false
	}
	for i, c := range v {
		if (c < '0' || c > '9') && (i > 0 || c != '-') {
			return 0, false // before ParseInt, whose error would allocate
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}
