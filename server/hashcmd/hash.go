package hashcmd

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
)

// Hash commands. Values are *hash.Hash objects behind store records; every
// write keeps the record's size current (Resize) and deletes the key when
// the hash becomes empty, as Redis does.

const (
	hashErrNotInt   = "ERR hash value is not an integer"
	hashErrNotFloat = "ERR hash value is not a float"
	hashErrNaNInf   = "ERR value is NaN or Infinity"
	hashErrRandOOR  = "ERR value is out of range"
)

func hashCommands() []kernel.Spec {
	const o1 = "O(1)"
	const on = "O(N) where N is the size of the hash."
	return []kernel.Spec{
		{Name: "hset", Arity: -4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Creates or modifies the value of a field in a hash.", Complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", Fn: hsetCommand},
		{Name: "hmset", Arity: -4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Sets the values of multiple fields.", Complexity: "O(N) where N is the number of fields being set.", Fn: hsetCommand},
		kernel.Spec{Name: "hsetnx", Arity: 4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Sets the value of a field in a hash only when the field doesn't exist.", Complexity: o1, Fn: hsetnxCommand}.WithKeys("RW insert | index 1 | range 0 1 0"),
		{Name: "hget", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Returns the value of a field in a hash.", Complexity: o1, Fn: hgetCommand},
		{Name: "hmget", Arity: -3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Returns the values of all fields in a hash.", Complexity: "O(N) where N is the number of fields being requested.", Fn: hmgetCommand},
		kernel.Spec{Name: "hdel", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", Complexity: "O(N) where N is the number of fields to be removed.", Fn: hdelCommand}.WithKeys("RW delete | index 1 | range 0 1 0"),
		kernel.Spec{Name: "hexists", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Determines whether a field exists in a hash.", Complexity: o1, Fn: hexistsCommand}.WithKeys("RO | index 1 | range 0 1 0"),
		kernel.Spec{Name: "hgetall", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Returns all fields and values in a hash.", Complexity: on, Fn: hgetallCommand}.WithTips("nondeterministic_output_order"),
		kernel.Spec{Name: "hkeys", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Returns all fields in a hash.", Complexity: on, Fn: hkeysCommand}.WithTips("nondeterministic_output_order"),
		kernel.Spec{Name: "hvals", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Returns all values in a hash.", Complexity: on, Fn: hvalsCommand}.WithTips("nondeterministic_output_order"),
		kernel.Spec{Name: "hlen", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Returns the number of fields in a hash.", Complexity: o1, Fn: hlenCommand}.WithKeys("RO | index 1 | range 0 1 0"),
		kernel.Spec{Name: "hstrlen", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "3.2.0",
			Summary: "Returns the length of the value of a field.", Complexity: o1, Fn: hstrlenCommand}.WithKeys("RO | index 1 | range 0 1 0"),
		kernel.Spec{Name: "hincrby", Arity: 4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.0.0",
			Summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", Complexity: o1, Fn: hincrbyCommand}.WithKeys("RW access update | index 1 | range 0 1 0"),
		kernel.Spec{Name: "hincrbyfloat", Arity: 4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.6.0",
			Summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", Complexity: o1, Fn: hincrbyfloatCommand}.WithKeys("RW access update | index 1 | range 0 1 0"),
		kernel.Spec{Name: "hrandfield", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "hash", Since: "6.2.0",
			Summary: "Returns one or more random fields from a hash.", Complexity: "O(N) where N is the number of fields returned", Fn: hrandfieldCommand}.WithTips("nondeterministic_output"),
		kernel.Spec{Name: "hscan", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "hash", Since: "2.8.0",
			Summary: "Iterates over fields and values of a hash.", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", Fn: hscanCommand}.WithTips("nondeterministic_output"),
	}
}

// hashRead locks key and returns its hash (nil when missing). On a wrong
// type it replies WRONGTYPE, unlocks and returns a nil tx.
func hashRead(c *kernel.Ctx, key []byte) (*store.Tx, *hash.Hash) {
	tx := c.Lock(key)
	e, ok := tx.LookupRead(c.DB(), key)
	if !ok {
		return tx, nil
	}
	if e.Type() != store.TypeHash {
		tx.Unlock()
		c.Err(protocol.ErrWrongType)
		return nil, nil
	}
	return tx, e.Object().(*hash.Hash)
}

// hashWrite locks key for a write and returns its hash and its entry (for
// hashStore); a missing key gives a new empty hash when create is set
// (stored by hashStore), nil otherwise. On a wrong type it replies
// WRONGTYPE and returns a nil tx.
func hashWrite(c *kernel.Ctx, key []byte, create bool) (tx *store.Tx, h *hash.Hash, e store.Entry, isNew bool) {
	tx = c.Lock(key)
	e, ok := tx.LookupWrite(c.DB(), key)
	if !ok {
		if create {
			return tx, hash.New(), e, true
		}
		return tx, nil, e, false
	}
	if e.Type() != store.TypeHash {
		tx.Unlock()
		c.Err(protocol.ErrWrongType)
		return nil, nil, e, false
	}
	return tx, e.Object().(*hash.Hash), e, false
}

// hashStore records h's new state under key: stores a new hash, resizes a
// changed one (through e, its entry from hashWrite), deletes an emptied one
// (reporting true then).
func hashStore(tx *store.Tx, db int, key []byte, h *hash.Hash, e store.Entry, isNew bool) (deleted bool) {
	switch {
	case h.Len() == 0:
		if !isNew {
			tx.Delete(db, key)
			return true
		}
	case isNew:
		tx.SetObject(db, key, store.TypeHash, h, h.Size(), 0)
	default:
		e.Resize(h.Size())
	}
	return false
}

// hsetCommand is HSET key field value [field value …] and HMSET.
func hsetCommand(c *kernel.Ctx, args [][]byte) {
	if len(args)%2 != 0 {
		c.Err(protocol.WrongArity(string(lowerASCII(args[0]))))
		return
	}
	db := c.DB()
	tx, h, e, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	added, err := h.SetPairs(args[2:])
	hashStore(tx, db, args[1], h, e, isNew)
	tx.Unlock()
	if err != nil {
		c.Err(kernel.ErrCollectionFull)
		return
	}
	c.Propagate(args...)
	c.Notify(kernel.NotifyHash, "hset", args[1])
	if kernel.KeyWordIs(args[0], "hmset") {
		c.OK()
		return
	}
	c.Int(int64(added))
}

// lowerASCII returns a lower-case copy of b.
func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		out[i] = ch
	}
	return out
}

func hsetnxCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx, h, e, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	if h.Has(args[2]) {
		tx.Unlock()
		c.Int(0)
		return
	}
	_, err := h.Set(args[2], args[3])
	hashStore(tx, db, args[1], h, e, isNew)
	tx.Unlock()
	if err != nil {
		c.Err(kernel.ErrCollectionFull)
		return
	}
	c.Propagate(args...)
	c.Notify(kernel.NotifyHash, "hset", args[1])
	c.Int(1)
}

func hgetCommand(c *kernel.Ctx, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil {
		c.Null()
		return
	}
	v, ok := h.Get(args[2])
	c.BulkOrNull(v, ok)
}

func hmgetCommand(c *kernel.Ctx, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.Array(len(args) - 2)
	for _, f := range args[2:] {
		if h == nil {
			c.Null()
			continue
		}
		v, ok := h.Get(f)
		c.BulkOrNull(v, ok)
	}
}

func hdelCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx, h, e, _ := hashWrite(c, args[1], false)
	if tx == nil {
		return
	}
	if h == nil {
		tx.Unlock()
		c.Int(0)
		return
	}
	n := 0
	for _, f := range args[2:] {
		if h.Delete(f) {
			n++
			if h.Len() == 0 {
				break
			}
		}
	}
	deleted := false
	if n > 0 {
		deleted = hashStore(tx, db, args[1], h, e, false)
	}
	tx.Unlock()
	if n > 0 {
		c.Propagate(args...)
		c.Notify(kernel.NotifyHash, "hdel", args[1])
		if deleted {
			c.Notify(kernel.NotifyGeneric, "del", args[1])
		}
	}
	c.Int(int64(n))
}

func hexistsCommand(c *kernel.Ctx, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.BoolInt(h != nil && h.Has(args[2]))
}

func hlenCommand(c *kernel.Ctx, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil {
		c.Int(0)
		return
	}
	c.Int(int64(h.Len()))
}

func hstrlenCommand(c *kernel.Ctx, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil {
		c.Int(0)
		return
	}
	v, _ := h.Get(args[2])
	c.Int(int64(len(v)))
}

// hashAll replies every field and/or value of key: HGETALL (a map), HKEYS,
// HVALS.
func hashAll(c *kernel.Ctx, key []byte, fields, values bool) {
	tx, h := hashRead(c, key)
	if tx == nil {
		return
	}
	defer tx.Unlock()
	n := 0
	if h != nil {
		n = h.Len()
	}
	if fields && values {
		c.MapLen(n)
	} else {
		c.Array(n)
	}
	if h == nil {
		return
	}
	h.Each(func(f, v []byte) bool {
		if fields {
			c.Bulk(f)
		}
		if values {
			c.Bulk(v)
		}
		return true
	})
}

func hgetallCommand(c *kernel.Ctx, args [][]byte) { hashAll(c, args[1], true, true) }
func hkeysCommand(c *kernel.Ctx, args [][]byte)   { hashAll(c, args[1], true, false) }
func hvalsCommand(c *kernel.Ctx, args [][]byte)   { hashAll(c, args[1], false, true) }

func hincrbyCommand(c *kernel.Ctx, args [][]byte) {
	incr, ok := protocol.ParseInt(args[3])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	db := c.DB()
	tx, h, e, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	var cur int64
	if v, found := h.Get(args[2]); found {
		if cur, ok = protocol.ParseInt(v); !ok {
			tx.Unlock()
			c.Err(hashErrNotInt)
			return
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		tx.Unlock()
		c.Err(protocol.ErrOverflow)
		return
	}
	cur += incr
	var num [20]byte
	_, err := h.Set(args[2], strconv.AppendInt(num[:0], cur, 10))
	hashStore(tx, db, args[1], h, e, isNew)
	tx.Unlock()
	if err != nil {
		c.Err(kernel.ErrCollectionFull)
		return
	}
	c.Propagate(args...)
	c.Notify(kernel.NotifyHash, "hincrby", args[1])
	c.Int(cur)
}

func hincrbyfloatCommand(c *kernel.Ctx, args [][]byte) {
	incr, ok := protocol.ParseLongDouble(args[3])
	if !ok {
		c.Err(protocol.ErrNotFloat)
		return
	}
	if incr.IsInf() {
		c.Err(hashErrNaNInf)
		return
	}
	db := c.DB()
	tx, h, e, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	cur := protocol.ZeroLongDouble()
	if v, found := h.Get(args[2]); found {
		if cur, ok = protocol.ParseLongDouble(v); !ok {
			tx.Unlock()
			c.Err(hashErrNotFloat)
			return
		}
	}
	sum, ok := protocol.AddLongDouble(cur, incr)
	if !ok {
		tx.Unlock()
		c.Err(protocol.ErrNaNInf)
		return
	}
	nv := protocol.AppendLongDouble(nil, sum)
	_, err := h.Set(args[2], nv)
	hashStore(tx, db, args[1], h, e, isNew)
	tx.Unlock()
	if err != nil {
		c.Err(kernel.ErrCollectionFull)
		return
	}
	c.Propagate([]byte("HSET"), args[1], args[2], nv)
	c.Notify(kernel.NotifyHash, "hincrbyfloat", args[1])
	c.Bulk(nv)
}

// hrandfieldParse parses HRANDFIELD key count [WITHVALUES] (len(args) >=
// 3), in Redis's order of checks, and returns the error text to reply if
// any.
// In Redis 7.0's order: the count first, then the syntax, then the range
// WITHVALUES allows (both signs).
func hrandfieldParse(args [][]byte) (count int64, withValues bool, errText string) {
	count, ok := protocol.ParseInt(args[2])
	if !ok {
		return 0, false, protocol.ErrNotInteger
	}
	if count == math.MinInt64 {
		return 0, false, kernel.ErrCountRange
	}
	if len(args) > 4 || (len(args) == 4 && !kernel.KeyWordIs(args[3], "withvalues")) {
		return 0, false, protocol.ErrSyntax
	}
	withValues = len(args) == 4
	if withValues && (count < -math.MaxInt64/2 || count > math.MaxInt64/2) {
		return 0, false, hashErrRandOOR
	}
	return count, withValues, ""
}

// hrandfieldCommand is HRANDFIELD key [count [WITHVALUES]].
func hrandfieldCommand(c *kernel.Ctx, args [][]byte) {
	if len(args) == 2 {
		tx, h := hashRead(c, args[1])
		if tx == nil {
			return
		}
		defer tx.Unlock()
		if h == nil {
			c.Null()
			return
		}
		f, _, _ := h.Random()
		c.Bulk(f)
		return
	}
	count, withValues, errText := hrandfieldParse(args)
	if errText != "" {
		c.Err(errText)
		return
	}
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil || count == 0 {
		c.Array(0)
		return
	}
	hashRandReply(c, h, count, withValues)
}

// hashRandRepeat calls pair n times with a random field of h and its value.
func hashRandRepeat(h *hash.Hash, n int64, pair func(f, v []byte)) {
	if h.Encoding() == "listpack" {
		// Random on a listpack walks it: index it once instead.
		var fs, vs [][]byte
		h.Each(func(f, v []byte) bool { fs, vs = append(fs, f), append(vs, v); return true })
		for range n {
			i := rand.IntN(len(fs))
			pair(fs[i], vs[i])
		}
		return
	}
	for range n {
		f, v, _ := h.Random()
		pair(f, v)
	}
}

// hashRandReply replies count random fields of h (distinct when count > 0,
// possibly repeated when negative), with their values when withValues: in
// RESP3 each field-value pair is a two-element array, as Redis 7 replies.
func hashRandReply(c *kernel.Ctx, h *hash.Hash, count int64, withValues bool) {
	pair := func(f, v []byte) {
		if withValues {
			if c.RESP3.Load() {
				c.Array(2)
			}
			c.Bulk(f)
			c.Bulk(v)
			return
		}
		c.Bulk(f)
	}
	arrLen := func(n int) {
		if withValues && !c.RESP3.Load() {
			c.Array(2 * n)
		} else {
			c.Array(n)
		}
	}
	if count < 0 {
		arrLen(int(-count))
		hashRandRepeat(h, -count, pair)
		return
	}
	if count >= int64(h.Len()) {
		arrLen(h.Len())
		h.Each(func(f, v []byte) bool { pair(f, v); return true })
		return
	}
	arrLen(int(count))
	if count*3 > int64(h.Len()) {
		// Many of them: pick count of all the fields (partial shuffle).
		var fs, vs [][]byte
		h.Each(func(f, v []byte) bool { fs, vs = append(fs, f), append(vs, v); return true })
		for i := range int(count) {
			j := i + rand.IntN(len(fs)-i)
			fs[i], fs[j], vs[i], vs[j] = fs[j], fs[i], vs[j], vs[i]
			pair(fs[i], vs[i])
		}
		return
	}
	seen := make(map[string]struct{}, count)
	for int64(len(seen)) < count {
		f, v, _ := h.Random()
		if _, dup := seen[string(f)]; dup {
			continue
		}
		seen[string(f)] = struct{}{}
		pair(f, v)
	}
}
