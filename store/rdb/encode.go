package rdb

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/list"
	"github.com/cached/cached/store/set"
	"github.com/cached/cached/store/zset"
)

// ErrUnknownObject is returned by AppendValue for a collection object that
// is none of the store's collection types.
var ErrUnknownObject = errors.New("rdb: unknown collection type")

// quicklistNodeBytes is the listpack size at which a list node is full:
// list-max-listpack-size -2 (8 KB), as redis-server 7.0 packs its lists.
const quicklistNodeBytes = 8 << 10

// Dump returns the DUMP payload of the value e views, as redis-server 7.0
// writes it.
func Dump(e store.Entry) ([]byte, error) {
	return AppendValue(nil, e.Type(), e.Str(), e.Object())
}

// AppendValue appends the DUMP payload of a value to dst: the string str
// for TypeString, else the collection object obj.
func AppendValue(dst []byte, t store.Type, str []byte, obj any) ([]byte, error) {
	start := len(dst)
	var err error
	if t == store.TypeString {
		dst = appendString(append(dst, typeString), str)
	} else if dst, err = appendObject(dst, obj, true); err != nil {
		return dst[:start], err
	}
	dst = binary.LittleEndian.AppendUint16(dst, Version)
	return binary.LittleEndian.AppendUint64(dst, crc64(0, dst[start:])), nil
}

// appendObject appends obj's RDB type and body; lzf false writes no
// string LZF compressed.
func appendObject(dst []byte, obj any, lzf bool) ([]byte, error) {
	switch o := obj.(type) {
	case *hash.Hash:
		return appendHash(dst, o, lzf), nil
	case *list.List:
		return appendList(dst, o, lzf), nil
	case *set.Set:
		return appendSet(dst, o, lzf), nil
	case *zset.ZSet:
		return appendZSet(dst, o, lzf), nil
	}
	return dst, ErrUnknownObject
}

// appendLen appends an RDB length.
func appendLen(dst []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(dst, byte(n))
	case n < 1<<14:
		return append(dst, 0x40|byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, len32bit), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, len64bit), n)
}

// appendString appends an RDB string; like Redis, a canonical integer of
// at most 11 characters that fits 32 bits is stored as an integer.
func appendString(dst, s []byte) []byte { return appendStr(dst, s, true) }

// appendStr is appendString, trying LZF only when lzf is set.
func appendStr(dst, s []byte, lzf bool) []byte {
	if len(s) <= 11 {
		if v, ok := canonicalInt(s); ok {
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				return append(dst, 0xc0|encInt8, byte(v))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				return appendLE(append(dst, 0xc0|encInt16), uint64(v), 2)
			case v >= math.MinInt32 && v <= math.MaxInt32:
				return appendLE(append(dst, 0xc0|encInt32), uint64(v), 4)
			}
		}
	}
	if lzf && len(s) > 20 {
		if d, ok := appendLZF(dst, s); ok {
			return d
		}
	}
	return append(appendLen(dst, uint64(len(s))), s...)
}

// appendLZF appends s as an LZF-compressed RDB string when that saves more
// than 4 bytes, as Redis's rdbSaveLzfStringObject; ok false leaves dst as
// it was.
func appendLZF(dst, s []byte) ([]byte, bool) {
	start := len(dst)
	// Compress after a header long enough for any lengths, then close the gap.
	const room = 1 + 9 + 9
	d, ok := lzfCompress(append(dst, make([]byte, room)...), s, len(s)-5)
	if !ok {
		return d[:start], false
	}
	clen := len(d) - start - room
	var hb [room]byte
	hdr := appendLen(appendLen(append(hb[:0], 0xc0|encLZF), uint64(clen)), uint64(len(s)))
	copy(d[start:], hdr)
	n := copy(d[start+len(hdr):], d[start+room:])
	return d[:start+len(hdr)+n], true
}

// appendListpack appends, as an RDB string, the listpack that build
// fills.
func appendListpack(dst []byte, lzf bool, build func(lb *lpBuilder)) []byte {
	return appendListpackBuf(dst, nil, lzf, build)
}

// appendListpackBuf is appendListpack building in scratch (reused) and
// returning it for the next call.
func appendListpackBuf(dst []byte, scratch *[]byte, lzf bool, build func(lb *lpBuilder)) []byte {
	if !lzf {
		// Built in place after a 32-bit RDB length (not the shortest
		// form, which a reader takes as well), filled in at the end: no
		// scratch buffer and no copy. A listpack holds one element of at
		// most 512 MiB or at most a node's 8 KB, so its length fits.
		start := len(dst)
		lb := newLPBuilder(append(dst, len32bit, 0, 0, 0, 0))
		build(&lb)
		out := lb.finish(start + 5)
		binary.BigEndian.PutUint32(out[start+1:], uint32(len(out)-start-5))
		return out
	}
	var buf []byte
	if scratch != nil {
		buf = (*scratch)[:0]
	}
	lb := newLPBuilder(buf)
	build(&lb)
	out := appendStr(dst, lb.finish(0), lzf)
	if scratch != nil {
		*scratch = lb.b
	}
	return out
}

func appendHash(dst []byte, h *hash.Hash, lzf bool) []byte {
	if h.Encoding() == "listpack" {
		return appendListpack(append(dst, typeHashListpack), lzf, func(lb *lpBuilder) {
			h.Each(func(f, v []byte) bool { lb.add(f); lb.add(v); return true })
		})
	}
	dst = appendLen(append(dst, typeHash), uint64(h.Len()))
	h.Each(func(f, v []byte) bool {
		dst = appendStr(appendStr(dst, f, lzf), v, lzf)
		return true
	})
	return dst
}

func appendSet(dst []byte, s *set.Set, lzf bool) []byte {
	if s.Encoding() == "intset" {
		vs := make([]int64, 0, s.Len())
		s.Each(func(m []byte) bool {
			v, _ := strconv.ParseInt(string(m), 10, 64)
			vs = append(vs, v)
			return true
		})
		return appendStr(append(dst, typeSetIntset), appendIntset(nil, vs), lzf)
	}
	dst = appendLen(append(dst, typeSet), uint64(s.Len()))
	s.Each(func(m []byte) bool { dst = appendStr(dst, m, lzf); return true })
	return dst
}

func appendZSet(dst []byte, z *zset.ZSet, lzf bool) []byte {
	if z.Encoding() == "listpack" {
		var num []byte
		return appendListpack(append(dst, typeZSetListpack), lzf, func(lb *lpBuilder) {
			z.Walk(0, false, func(m []byte, score float64) bool {
				num = appendScore(num[:0], score)
				lb.add(m)
				lb.add(num)
				return true
			})
		})
	}
	// Highest score first, as Redis writes a skiplist (so that loading
	// inserts at the head).
	dst = appendLen(append(dst, typeZSet2), uint64(z.Len()))
	z.Walk(z.Len()-1, true, func(m []byte, score float64) bool {
		dst = binary.LittleEndian.AppendUint64(appendStr(dst, m, lzf), math.Float64bits(score))
		return true
	})
	return dst
}

// appendScore formats a score as Redis's d2string for a listpack: an
// integer in decimal, infinities as "inf"/"-inf", else the shortest text
// that reads back as the same double.
func appendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0 && math.Signbit(f):
		return append(dst, "-0"...)
	case f == math.Trunc(f) && f > -1e17 && f < 1e17:
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func appendList(dst []byte, l *list.List, lzf bool) []byte {
	// Count the nodes first: the count comes before them.
	var nodes []int // elements per node
	size, cnt := lpHeader+1, 0
	l.Range(0, l.Len()-1, func(v []byte) bool {
		e := lpEntrySize(v)
		if cnt > 0 && size+e > quicklistNodeBytes {
			nodes = append(nodes, cnt)
			size, cnt = lpHeader+1, 0
		}
		size += e
		cnt++
		return true
	})
	if cnt > 0 {
		nodes = append(nodes, cnt)
	}
	dst = appendLen(append(dst, typeListQuicklist2), uint64(len(nodes)))
	it := l.Iter(0, false)
	var scratch []byte
	for _, n := range nodes {
		dst = appendListpackBuf(append(dst, quicklistNodePacked), &scratch, lzf, func(lb *lpBuilder) {
			for range n {
				v, _ := it.Next()
				lb.add(v)
			}
		})
	}
	return dst
}

// lpEntrySize is the bytes v takes as a listpack entry (an upper bound for
// an integer, which is what node packing needs).
func lpEntrySize(v []byte) int {
	l := len(v) + 5
	return l + lpBacklenSize(l)
}
