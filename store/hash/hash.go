// Package hash owns the value of a Redis hash: a map from fields to values
// with Redis's two encodings, a listpack (one byte slice of field, value
// entries in insertion order, scanned linearly) while the hash has at most
// hash-max-listpack-entries fields and no field or value longer than
// hash-max-listpack-value bytes (SetListpackLimits; by default
// MaxListpackEntries and MaxListpackValue), then a hashtable (Table: one packed arena and an
// open-addressing index of uint32 offsets). A hash never converts back, as in
// Redis. It also exports Table and Listpack, which store/set reuses.
//
// It knows nothing of RESP or of the store; server/ keeps a *Hash behind a
// store record. Not safe for concurrent use: the store's shard lock guards it.
package hash

import (
	"math/rand/v2"
	"slices"

	"github.com/cached/cached/store/internal/packed"
)

// Redis's default hash-max-listpack-entries and hash-max-listpack-value
// (512 and 64 in redis-server 7.0's config.c and redis.conf): the
// defaults of SetListpackLimits.
const (
	MaxListpackEntries = 512
	MaxListpackValue   = 64
)

// maxListpackBytes bounds a listpack whatever the limits allow (Redis's
// LISTPACK_MAX_SAFETY_SIZE): a write that would pass it converts the hash,
// as Redis's lpSafeToAdd does; it also keeps the packed length in 32 bits.
const maxListpackBytes = 1 << 30

// limits are the thresholds in force, for every hash of the process (as
// redis-server's configuration is server-wide): SetListpackLimits.
var limits packed.Limits

func init() { SetListpackLimits(MaxListpackEntries, MaxListpackValue) }

// SetListpackLimits sets hash-max-listpack-entries and
// hash-max-listpack-value for every hash of the process. As in Redis, a
// hash keeps its encoding until a write finds it past the new limits.
func SetListpackLimits(entries, value int) {
	limits.Set(entries, value)
}

func maxEntries() int { return limits.Entries() }
func maxValue() int   { return limits.Value() }

// hashHead is what a *Hash costs besides its encoding's bytes: the struct
// (packed listpack, count, pointer), a 32-byte size class.
const hashHead = 32

// Hash is a Redis hash. The zero value is an empty listpack-encoded hash.
// Slices it returns point into its storage: valid until the next write.
type Hash struct {
	pk packed.Bytes // listpack encoding (lp, setLP), while t == nil: field, value, field, value…
	n  int          // pairs in the listpack
	t  *Table       // hashtable encoding
}

// lp returns the listpack.
func (h *Hash) lp() Listpack { return h.pk.Slice() }

// setLP replaces the listpack.
func (h *Hash) setLP(lp Listpack) { h.pk = packed.Of(lp) }

// New returns an empty hash.
func New() *Hash { return &Hash{} }

// Len returns the number of fields.
func (h *Hash) Len() int {
	if h.t != nil {
		return h.t.Len()
	}
	return h.n
}

// Encoding returns Redis's OBJECT ENCODING name: "listpack" or "hashtable".
func (h *Hash) Encoding() string {
	if h.t != nil {
		return "hashtable"
	}
	return "listpack"
}

// Size returns the bytes the hash costs.
func (h *Hash) Size() int64 {
	if h.t != nil {
		return hashHead + h.t.Size()
	}
	return hashHead + int64(cap(h.lp()))
}

// Clone returns a deep copy (store.Cloner).
func (h *Hash) Clone() any {
	if h.t != nil {
		return &Hash{t: h.t.Clone()}
	}
	c := &Hash{n: h.n}
	c.setLP(append(slices.Grow(Listpack(nil), len(h.lp())), h.lp()...))
	return c
}

// Get returns field's value.
func (h *Hash) Get(field []byte) ([]byte, bool) {
	if h.t != nil {
		return h.t.Get(field)
	}
	off := h.lp().Find(field, 2)
	if off < 0 {
		return nil, false
	}
	_, next := h.lp().Entry(off)
	v, _ := h.lp().Entry(next)
	return v, true
}

// Has reports whether field exists.
func (h *Hash) Has(field []byte) bool {
	if h.t != nil {
		return h.t.Has(field)
	}
	return h.lp().Find(field, 2) >= 0
}

// Set sets field to value and reports whether field is new. It converts the
// hash to a hashtable when field or value is longer than MaxListpackValue or
// the fields outnumber MaxListpackEntries. It fails only with ErrFull.
func (h *Hash) Set(field, value []byte) (bool, error) {
	if h.t == nil && (len(field) > maxValue() || len(value) > maxValue() ||
		len(h.lp())+EntryLen(field)+EntryLen(value) > maxListpackBytes) {
		if err := h.Convert(); err != nil {
			return false, err
		}
	}
	if h.t != nil {
		return h.t.Set(field, value)
	}
	off := h.lp().Find(field, 2)
	if off >= 0 {
		_, next := h.lp().Entry(off)
		h.setLP(h.lp().Replace(next, value))
		return false, nil
	}
	h.setLP(h.lp().Append(field, value))
	h.n++
	if h.n > maxEntries() {
		if err := h.Convert(); err != nil {
			return true, err
		}
	}
	return true, nil
}

// SetPairs sets each field to its value as Set does, pairs being field,
// value, field, value… (HSET's arguments), and returns how many fields were
// new. It sizes the hash for all pairs at once: a listpack grows once, and
// a hash that the pairs take past the listpack's limits is built as a
// hashtable sized for them, so no buffer is outgrown and copied on the
// way. The end state (fields, order, encoding) is that of Set on each pair,
// as Redis's HSET. It fails only with ErrFull, having set the pairs before
// the one that failed.
func (h *Hash) SetPairs(pairs [][]byte) (added int, err error) {
	if h.t == nil {
		if t := h.prepare(pairs); t != nil {
			added = t.Len() - h.n // HSET only adds fields
			h.t, h.n = t, 0
			h.setLP(nil)
			return added, nil
		}
	}
	if h.t != nil {
		h.t.Grow(len(pairs)/2, pairsBytes(pairs))
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		a, err := h.Set(pairs[i], pairs[i+1])
		if a {
			added++
		}
		if err != nil {
			return added, err
		}
	}
	return added, nil
}

// pairsBytes is what pairs take in a listpack or a Table's arena (both
// keep each string as a uvarint length and its bytes).
func pairsBytes(pairs [][]byte) int {
	n := 0
	for _, b := range pairs {
		n += EntryLen(b)
	}
	return n
}

// prepare readies a listpack hash for pairs. When they take it past the
// listpack's limits (a field or value longer than MaxListpackValue, more
// than MaxListpackEntries fields in the end) it returns a hashtable holding
// the hash with the pairs set, for SetPairs to adopt; otherwise it grows
// the listpack for all of them and returns nil.
func (h *Hash) prepare(pairs [][]byte) *Table {
	need, long := pairsBytes(pairs), len(h.lp())+pairsBytes(pairs) > maxListpackBytes
	for _, b := range pairs {
		long = long || len(b) > maxValue()
	}
	if !long && h.n+len(pairs)/2 <= maxEntries() {
		h.setLP(h.lp().Grow(need))
		return nil
	}
	t := &Table{}
	t.Reserve(h.n + len(pairs)/2)
	t.arena = slices.Grow(t.arena, len(h.lp())+need)
	ok := true
	h.Each(func(f, v []byte) bool { _, err := t.Set(f, v); ok = err == nil; return ok })
	for i := 0; ok && i+1 < len(pairs); i += 2 {
		_, err := t.Set(pairs[i], pairs[i+1])
		ok = err == nil
	}
	if !ok || !long && t.Len() <= maxEntries() {
		// ErrFull (the Sets report it), or repeated fields keep it small.
		h.setLP(h.lp().Grow(need))
		return nil
	}
	return t
}

// Convert switches a listpack hash to the hashtable encoding (no-op if it
// has it already). It fails only with ErrFull.
func (h *Hash) Convert() error {
	if h.t != nil {
		return nil
	}
	t := &Table{}
	for off := 0; off < len(h.lp()); {
		f, next := h.lp().Entry(off)
		v, next2 := h.lp().Entry(next)
		if _, err := t.Set(f, v); err != nil {
			return err
		}
		off = next2
	}
	h.t, h.n = t, 0
	h.setLP(nil)
	return nil
}

// Reserve prepares an empty or small hash for n fields: past
// MaxListpackEntries it converts to a hashtable sized for n at once.
func (h *Hash) Reserve(n int) {
	if n > maxEntries() && h.Convert() == nil {
		h.t.Reserve(n)
	}
}

// Delete removes field and reports whether it existed.
func (h *Hash) Delete(field []byte) bool {
	if h.t != nil {
		return h.t.Delete(field)
	}
	off := h.lp().Find(field, 2)
	if off < 0 {
		return false
	}
	h.setLP(h.lp().Remove(off, 2))
	h.n--
	if h.n == 0 {
		h.setLP(nil)
	}
	return true
}

// Each calls fn for every field and value, in insertion order for a
// listpack, until fn returns false. fn must not modify the hash.
func (h *Hash) Each(fn func(field, value []byte) bool) {
	if h.t != nil {
		h.t.Each(fn)
		return
	}
	for off := 0; off < len(h.lp()); {
		f, next := h.lp().Entry(off)
		v, next2 := h.lp().Entry(next)
		if !fn(f, v) {
			return
		}
		off = next2
	}
}

// Random returns a uniformly chosen field and its value; ok is false when
// the hash is empty.
func (h *Hash) Random() (field, value []byte, ok bool) {
	if h.t != nil {
		return h.t.Random()
	}
	if h.n == 0 {
		return nil, nil, false
	}
	off := h.lp().Offset(2 * rand.IntN(h.n))
	f, next := h.lp().Entry(off)
	v, _ := h.lp().Entry(next)
	return f, v, true
}

// Scan visits fields from cursor as HSCAN does and returns the next cursor
// (0 when done). A listpack hash is visited whole in one call, as Redis
// does; a hashtable one as Table.Scan describes.
func (h *Hash) Scan(cursor uint64, count int, fn func(field, value []byte)) uint64 {
	if h.t != nil {
		return h.t.Scan(cursor, count, fn)
	}
	h.Each(func(f, v []byte) bool { fn(f, v); return true })
	return 0
}
