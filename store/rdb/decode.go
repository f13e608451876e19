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

// RDB object types (rdb.h).
const (
	typeString          = 0
	typeList            = 1
	typeSet             = 2
	typeZSet            = 3
	typeHash            = 4
	typeZSet2           = 5
	typeListZiplist     = 10
	typeSetIntset       = 11
	typeZSetZiplist     = 12
	typeHashZiplist     = 13
	typeListQuicklist   = 14
	typeHashListpack    = 16
	typeZSetListpack    = 17
	typeListQuicklist2  = 18
	typeSetListpack     = 20 // Redis 7.2 (RDB 11); read when a payload of version <= 10 holds it
	quicklistNodePlain  = 1
	quicklistNodePacked = 2
)

// Version is the RDB version redis-server 7.0 writes into DUMP payloads;
// RESTORE refuses payloads of a newer version, as 7.0 does.
const Version = 10

// Errors of Decode, with the texts redis-server 7 answers RESTORE with.
var (
	// ErrVersionOrChecksum: the footer's version is newer than Version, the
	// CRC does not match, or the payload is shorter than its footer.
	ErrVersionOrChecksum = errors.New("ERR DUMP payload version or checksum are wrong")
	// ErrBadFormat: the payload's checksum is right but its content is not
	// a valid value (unknown type, truncated, malformed encoding, empty or
	// duplicate elements).
	ErrBadFormat = errors.New("ERR Bad data format")
)

// Value is a decoded value: a string, or a collection object of the type
// store.SetObject takes (*hash.Hash, *list.List, *set.Set, *zset.ZSet).
type Value struct {
	Type store.Type
	Str  []byte      // TypeString
	Obj  store.Value // collections
}

// Size returns the bytes the collection costs (0 for a string: the store
// counts those itself).
func (v Value) Size() int64 {
	if v.Obj == nil {
		return 0
	}
	return v.Obj.Size()
}

// Verify checks a DUMP payload's footer: its RDB version and CRC-64.
func Verify(p []byte) error {
	if len(p) < 10 {
		return ErrVersionOrChecksum
	}
	f := p[len(p)-10:]
	if binary.LittleEndian.Uint16(f) > Version {
		return ErrVersionOrChecksum
	}
	if crc64(0, p[:len(p)-8]) != binary.LittleEndian.Uint64(f[2:]) {
		return ErrVersionOrChecksum
	}
	return nil
}

// Decode verifies a DUMP payload and rebuilds its value in cached's own
// encodings. It never panics, and allocates at most a small multiple of
// len(p) for any input. Strings may alias p.
func Decode(p []byte) (Value, error) {
	if err := Verify(p); err != nil {
		return Value{}, err
	}
	r := &reader{b: p[:len(p)-10]}
	v, ok := decodeObject(r)
	if !ok || r.bad {
		return Value{}, ErrBadFormat
	}
	return v, nil
}

func decodeObject(r *reader) (Value, bool) {
	t := r.byte()
	if r.bad {
		return Value{}, false
	}
	switch t {
	case typeString:
		s := r.str()
		return Value{Type: store.TypeString, Str: s}, !r.bad
	case typeList, typeListZiplist, typeListQuicklist, typeListQuicklist2:
		return decodeList(r, t)
	case typeSet, typeSetIntset, typeSetListpack:
		return decodeSet(r, t)
	case typeZSet, typeZSet2, typeZSetZiplist, typeZSetListpack:
		return decodeZSet(r, t)
	case typeHash, typeHashZiplist, typeHashListpack:
		return decodeHash(r, t)
	}
	return Value{}, false
}

// walkBlob reads a string holding a listpack (or a ziplist when zl) and
// calls fn with each entry.
func walkBlob(r *reader, zl bool, fn func(e lpEntry) bool) bool {
	b := r.str()
	if r.bad {
		return false
	}
	if zl {
		return zlWalk(b, fn)
	}
	return lpWalk(b, fn)
}

func decodeList(r *reader, t byte) (Value, bool) {
	l := list.New()
	push := func(e lpEntry) bool { l.PushBack(e.bytes()); return true }
	switch t {
	case typeList:
		for n := r.count(1); n > 0 && !r.bad; n-- {
			l.PushBack(r.str())
		}
	case typeListZiplist:
		if !walkBlob(r, true, push) {
			return Value{}, false
		}
	default:
		for n := r.count(2); n > 0 && !r.bad; n-- {
			container := uint64(quicklistNodePacked)
			if t == typeListQuicklist2 {
				var enc bool
				if container, enc = r.length(); enc {
					return Value{}, false
				}
			}
			switch container {
			case quicklistNodePlain:
				l.PushBack(r.str())
			case quicklistNodePacked:
				if !walkBlob(r, t == typeListQuicklist, push) {
					return Value{}, false
				}
			default:
				return Value{}, false
			}
		}
	}
	return Value{Type: store.TypeList, Obj: l}, !r.bad && l.Len() > 0
}

func decodeSet(r *reader, t byte) (Value, bool) {
	var s *set.Set
	hint := 0
	add := func(m []byte) bool {
		if s == nil {
			s = set.NewFor(m, hint)
			s.Reserve(hint)
		}
		added, err := s.Add(m)
		return added && err == nil
	}
	switch t {
	case typeSet:
		hint = r.count(1)
		for n := hint; n > 0 && !r.bad; n-- {
			if m := r.str(); r.bad || !add(m) {
				return Value{}, false
			}
		}
	case typeSetIntset:
		b := r.str()
		var num [20]byte
		if r.bad || !isWalk(b, func(v int64) bool { return add(strconv.AppendInt(num[:0], v, 10)) }) {
			return Value{}, false
		}
	case typeSetListpack:
		if !walkBlob(r, false, func(e lpEntry) bool { return add(e.bytes()) }) {
			return Value{}, false
		}
	}
	if s == nil || r.bad {
		return Value{}, false
	}
	return Value{Type: store.TypeSet, Obj: s}, true
}

func decodeZSet(r *reader, t byte) (Value, bool) {
	var z *zset.ZSet
	add := func(m []byte, score float64) bool {
		if math.IsNaN(score) {
			return false
		}
		return z.Set(m, score)
	}
	switch t {
	case typeZSet, typeZSet2:
		n := r.count(2)
		z = zset.New(n, 0)
		for ; n > 0 && !r.bad; n-- {
			m := r.str()
			var score float64
			if t == typeZSet2 {
				score = r.binaryDouble()
			} else {
				score = r.textDouble()
			}
			if r.bad || !add(m, score) {
				return Value{}, false
			}
		}
	default:
		z = zset.New(0, 0)
		var member []byte
		odd := false
		ok := walkBlob(r, t == typeZSetZiplist, func(e lpEntry) bool {
			odd = !odd
			if odd {
				member = e.bytes()
				return true
			}
			score, good := entryScore(e)
			return good && add(member, score)
		})
		if !ok || odd {
			return Value{}, false
		}
	}
	return Value{Type: store.TypeZSet, Obj: z}, !r.bad && z.Len() > 0
}

// entryScore reads a score stored as a listpack or ziplist entry.
func entryScore(e lpEntry) (float64, bool) {
	if e.isInt {
		return float64(e.num), true
	}
	f, err := strconv.ParseFloat(string(e.str), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, !math.IsNaN(f)
}

func decodeHash(r *reader, t byte) (Value, bool) {
	h := hash.New()
	put := func(f, v []byte) bool {
		added, err := h.Set(f, v)
		return added && err == nil
	}
	if t == typeHash {
		n := r.count(2)
		h.Reserve(n)
		for ; n > 0 && !r.bad; n-- {
			f := r.str()
			v := r.str()
			if r.bad || !put(f, v) {
				return Value{}, false
			}
		}
	} else {
		var field []byte
		odd := false
		ok := walkBlob(r, t == typeHashZiplist, func(e lpEntry) bool {
			odd = !odd
			if odd {
				field = e.bytes()
				return true
			}
			return put(field, e.bytes())
		})
		if !ok || odd {
			return Value{}, false
		}
	}
	return Value{Type: store.TypeHash, Obj: h}, !r.bad && h.Len() > 0
}

// Seal turns an RDB object (type byte and encoding) into a DUMP payload by
// appending the RDB version and the CRC-64, for payloads built by hand.
func Seal(object []byte) []byte {
	p := binary.LittleEndian.AppendUint16(append([]byte(nil), object...), Version)
	return binary.LittleEndian.AppendUint64(p, crc64(0, p))
}
