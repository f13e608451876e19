// Package set owns the value of a Redis set: unique byte-string members with
// Redis's three encodings. A set of integers (canonical decimal int64 text)
// is an intset (sorted, packed in 2, 4 or 8 bytes each as Redis's, searched
// by binary search) while it has at most set-max-intset-entries members; a
// small set is a listpack (one byte slice of members in insertion order)
// while it has at most set-max-listpack-entries members of at most
// set-max-listpack-value bytes (SetLimits; by default MaxIntsetEntries,
// MaxListpackEntries and MaxListpackValue); beyond, a hashtable (a packed
// hash.Table with empty values). Sets never convert back, as in Redis.
//
// It knows nothing of RESP or of the store; server/ keeps a *Set behind a
// store record. Not safe for concurrent use: the store's shard lock guards it.
package set

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/cached/cached/store/hash"
)

// Redis's default set-max-intset-entries, set-max-listpack-entries and
// set-max-listpack-value: the defaults of SetLimits.
const (
	MaxIntsetEntries   = 512
	MaxListpackEntries = 128
	MaxListpackValue   = 64
)

// limits are the thresholds in force, for every set of the process (as
// redis-server's configuration is server-wide): SetLimits.
var limits struct{ ints, entries, value atomic.Int64 }

func init() { SetLimits(MaxIntsetEntries, MaxListpackEntries, MaxListpackValue) }

// SetLimits sets set-max-intset-entries, set-max-listpack-entries and
// set-max-listpack-value for every set of the process. As in Redis, a set
// keeps its encoding until a write finds it past the new limits.
func SetLimits(ints, entries, value int) {
	limits.ints.Store(int64(ints))
	limits.entries.Store(int64(entries))
	limits.value.Store(int64(value))
}

func maxInts() int    { return int(limits.ints.Load()) }
func maxEntries() int { return int(limits.entries.Load()) }
func maxValue() int   { return int(limits.value.Load()) }

type encoding uint8

const (
	encIntset encoding = iota
	encListpack
	encTable
)

// setHead is what a *Set costs besides its encoding's bytes: the struct
// (two slice headers, count, pointer, encoding, scratch) in its size class.
const setHead = 96

// Set is a Redis set. The zero value is an empty intset. Slices it returns
// point into its storage (or its scratch buffer for intset members): valid
// until its next method call.
type Set struct {
	ints intset        // intset encoding
	lp   hash.Listpack // listpack encoding
	n    int           // members in lp
	t    *hash.Table   // hashtable encoding (members as keys, empty values)
	enc  encoding
	num  [20]byte // scratch for an intset member's text
}

// New returns an empty set.
func New() *Set { return &Set{} }

// NewFor returns an empty set in the encoding Redis would create for a first
// member m and about sizeHint members (SADD creates with the number of
// members it adds; SINTERSTORE and friends with the result's).
func NewFor(m []byte, sizeHint int) *Set {
	s := &Set{}
	if _, ok := asInt(m); ok && sizeHint <= maxInts() {
		return s
	}
	if sizeHint <= maxEntries() && len(m) <= maxValue() {
		s.enc = encListpack
		return s
	}
	s.enc, s.t = encTable, &hash.Table{}
	return s
}

// asInt reports whether m is an integer in canonical form (Redis's
// string2ll: no sign but '-', no leading zeros, no spaces, in int64).
func asInt(m []byte) (int64, bool) {
	if len(m) == 0 || len(m) > 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(m), 10, 64)
	if err != nil || m[0] == '+' || (len(m) > 1 && m[0] == '0') || (m[0] == '-' && (len(m) == 1 || m[1] == '0')) {
		return 0, false
	}
	return v, true
}

// Len returns the number of members.
func (s *Set) Len() int {
	switch s.enc {
	case encIntset:
		return s.ints.len()
	case encListpack:
		return s.n
	}
	return s.t.Len()
}

// Encoding returns Redis's OBJECT ENCODING name: intset, listpack or
// hashtable.
func (s *Set) Encoding() string {
	return [...]string{"intset", "listpack", "hashtable"}[s.enc]
}

// Size returns the bytes the set costs.
func (s *Set) Size() int64 {
	switch s.enc {
	case encIntset:
		return setHead + int64(cap(s.ints.b))
	case encListpack:
		return setHead + int64(cap(s.lp))
	}
	return setHead + s.t.Size()
}

// Clone returns a deep copy (store.Cloner).
func (s *Set) Clone() any {
	c := &Set{enc: s.enc, n: s.n}
	switch s.enc {
	case encIntset:
		c.ints = s.ints.clone()
	case encListpack:
		c.lp = slices.Clone(s.lp)
	default:
		c.t = s.t.Clone()
	}
	return c
}

// Has reports whether m is a member.
func (s *Set) Has(m []byte) bool {
	switch s.enc {
	case encIntset:
		v, ok := asInt(m)
		if !ok {
			return false
		}
		_, found := s.ints.search(v)
		return found
	case encListpack:
		return s.lp.Find(m, 1) >= 0
	}
	return s.t.Has(m)
}

// Add adds m and reports whether it was new, converting the encoding when a
// limit is passed. It fails only with hash.ErrFull.
func (s *Set) Add(m []byte) (bool, error) {
	switch s.enc {
	case encIntset:
		if v, ok := asInt(m); ok {
			if !s.ints.insert(v) {
				return false, nil
			}
			if s.ints.len() > maxInts() {
				return true, s.convert(encTable)
			}
			return true, nil
		}
		// A non-integer: listpack if it fits, as Redis 7.2 converts.
		to := encTable
		if s.ints.len()+1 <= maxEntries() && len(m) <= maxValue() {
			to = encListpack
		}
		if err := s.convert(to); err != nil {
			return false, err
		}
		return s.Add(m)
	case encListpack:
		if s.lp.Find(m, 1) >= 0 {
			return false, nil
		}
		if s.n+1 <= maxEntries() && len(m) <= maxValue() {
			s.lp = s.lp.Append(m)
			s.n++
			return true, nil
		}
		if err := s.convert(encTable); err != nil {
			return false, err
		}
	}
	return s.t.Set(m, nil)
}

// Reserve prepares a set for n members: past both MaxIntsetEntries and
// MaxListpackEntries it converts to a hashtable sized for n at once.
func (s *Set) Reserve(n int) {
	if n > maxInts() && n > maxEntries() && (s.enc == encTable || s.convert(encTable) == nil) {
		s.t.Reserve(n)
	}
}

// convert switches to encoding to (listpack or hashtable).
func (s *Set) convert(to encoding) error {
	var lp hash.Listpack
	t := &hash.Table{}
	add := func(m []byte) error {
		if to == encListpack {
			lp = lp.Append(m)
			return nil
		}
		_, err := t.Set(m, nil)
		return err
	}
	n := s.Len()
	var err error
	s.Each(func(m []byte) bool {
		err = add(m)
		return err == nil
	})
	if err != nil {
		return err
	}
	s.ints, s.lp, s.t, s.n, s.enc = intset{}, nil, nil, 0, to
	if to == encListpack {
		s.lp, s.n = lp, n
	} else {
		s.t = t
	}
	return nil
}

// Remove removes m and reports whether it was a member.
func (s *Set) Remove(m []byte) bool {
	switch s.enc {
	case encIntset:
		v, ok := asInt(m)
		if !ok {
			return false
		}
		return s.ints.remove(v)
	case encListpack:
		off := s.lp.Find(m, 1)
		if off < 0 {
			return false
		}
		s.lp = s.lp.Remove(off, 1)
		s.n--
		return true
	}
	return s.t.Delete(m)
}

// Each calls fn for every member until fn returns false: ascending for an
// intset, insertion order for a listpack. fn must not modify the set and
// must not keep m (intset members share one buffer).
func (s *Set) Each(fn func(m []byte) bool) {
	switch s.enc {
	case encIntset:
		for i := range s.ints.len() {
			if !fn(strconv.AppendInt(s.num[:0], s.ints.at(i), 10)) {
				return
			}
		}
	case encListpack:
		for off := 0; off < len(s.lp); {
			m, next := s.lp.Entry(off)
			if !fn(m) {
				return
			}
			off = next
		}
	default:
		s.t.Each(func(k, _ []byte) bool { return fn(k) })
	}
}

// Random returns a uniformly chosen member; ok is false when s is empty.
func (s *Set) Random() (m []byte, ok bool) {
	n := s.Len()
	if n == 0 {
		return nil, false
	}
	switch s.enc {
	case encIntset:
		return strconv.AppendInt(s.num[:0], s.ints.at(rand.IntN(n)), 10), true
	case encListpack:
		m, _ = s.lp.Entry(s.lp.Offset(rand.IntN(n)))
		return m, true
	}
	k, _, _ := s.t.Random()
	return k, true
}

// Scan visits members from cursor as SSCAN does and returns the next cursor
// (0 when done): intsets and listpacks whole in one call, as Redis does,
// hashtables as hash.Table.Scan describes.
func (s *Set) Scan(cursor uint64, count int, fn func(m []byte)) uint64 {
	if s.enc == encTable {
		return s.t.Scan(cursor, count, func(k, _ []byte) { fn(k) })
	}
	s.Each(func(m []byte) bool { fn(m); return true })
	return 0
}
