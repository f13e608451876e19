package rdb

import (
	"encoding/binary"
	"math"
	"strconv"
)

// RDB length encoding: the top two bits of the first byte.
const (
	len6bit  = 0    // 00xxxxxx
	len14bit = 1    // 01xxxxxx xxxxxxxx
	len32bit = 0x80 // then 4 bytes big endian
	len64bit = 0x81 // then 8 bytes big endian
	lenEnc   = 3    // 11xxxxxx: an encoded string follows

	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// reader reads RDB primitives from a payload. Every read checks the bytes
// left, and every length is checked against them before anything is
// allocated: a hostile payload costs at most a small multiple of its size.
type reader struct {
	b   []byte
	bad bool
	// Integer-encoded strings are written to these in turn, so a field and
	// its value can both be read before the caller copies them.
	num  [2][20]byte
	turn int
}

// intStr formats v in the next scratch buffer.
func (r *reader) intStr(v int64) []byte {
	r.turn ^= 1
	return strconv.AppendInt(r.num[r.turn][:0], v, 10)
}

func (r *reader) fail() { r.bad = true; r.b = nil }

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) take(n uint64) []byte {
	if r.bad || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// length reads an RDB length; encoded is true for an encoded string's
// marker, whose kind (encInt8…encLZF) is returned as the length.
func (r *reader) length() (n uint64, encoded bool) {
	c := r.byte()
	switch c >> 6 {
	case len6bit:
		return uint64(c & 0x3f), false
	case len14bit:
		return uint64(c&0x3f)<<8 | uint64(r.byte()), false
	case lenEnc:
		return uint64(c & 0x3f), true
	}
	switch c {
	case len32bit:
		if p := r.take(4); p != nil {
			return uint64(binary.BigEndian.Uint32(p)), false
		}
	case len64bit:
		if p := r.take(8); p != nil {
			return binary.BigEndian.Uint64(p), false
		}
	default:
		r.fail()
	}
	return 0, false
}

// count reads the length of a collection whose every element takes at
// least min bytes of the payload; a count the rest cannot hold is invalid.
func (r *reader) count(minBytes uint64) int {
	n, enc := r.length()
	if enc || r.bad || n > uint64(len(r.b))/minBytes {
		r.fail()
		return 0
	}
	return int(n)
}

// str reads an RDB string: raw, integer encoded or LZF compressed. The
// result may alias the payload, or a scratch buffer that the next str but
// one overwrites.
func (r *reader) str() []byte {
	n, enc := r.length()
	if r.bad {
		return nil
	}
	if !enc {
		return r.take(n)
	}
	switch n {
	case encInt8:
		return r.intStr(int64(int8(r.byte())))
	case encInt16:
		if p := r.take(2); p != nil {
			return r.intStr(int64(int16(binary.LittleEndian.Uint16(p))))
		}
	case encInt32:
		if p := r.take(4); p != nil {
			return r.intStr(int64(int32(binary.LittleEndian.Uint32(p))))
		}
	case encLZF:
		return r.lzf()
	default:
		r.fail()
	}
	return nil
}

func (r *reader) lzf() []byte {
	clen, e1 := r.length()
	ulen, e2 := r.length()
	if e1 || e2 || r.bad || clen == 0 || clen > uint64(len(r.b)) || ulen/lzfMaxRatio > clen {
		r.fail()
		return nil
	}
	out, ok := lzfDecompress(r.take(clen), int(ulen))
	if !ok {
		r.fail()
		return nil
	}
	return out
}

// binaryDouble reads an 8-byte little-endian IEEE 754 double (ZSET_2).
func (r *reader) binaryDouble() float64 {
	if p := r.take(8); p != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(p))
	}
	return 0
}

// textDouble reads the old ZSET score: a length byte (253 NaN, 254 +inf,
// 255 -inf) and that many ASCII bytes.
func (r *reader) textDouble() float64 {
	switch n := r.byte(); n {
	case 253:
		return math.NaN()
	case 254:
		return math.Inf(1)
	case 255:
		return math.Inf(-1)
	default:
		p := r.take(uint64(n))
		f, err := strconv.ParseFloat(string(p), 64)
		if err != nil {
			r.fail()
		}
		return f
	}
}
