package server

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cached/cached/protocol"
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
	hashErrFull     = "ERR collection exceeds 4 GiB (the most cached can store in one key)"
	hashErrRandOOR  = "ERR value is out of range"
	// hashErrCountRange is getRangeLongFromObjectOrReply's text for a
	// count of LONG_MIN (HRANDFIELD, SRANDMEMBER).
	hashErrCountRange = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)

func hashCommands() []spec {
	const o1 = "O(1)"
	const on = "O(N) where N is the size of the hash."
	return []spec{
		{name: "hset", arity: -4, flags: "write denyoom fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Creates or modifies the value of a field in a hash.", complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", fn: hsetCommand},
		{name: "hmset", arity: -4, flags: "write denyoom fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Sets the values of multiple fields.", complexity: "O(N) where N is the number of fields being set.", fn: hsetCommand},
		spec{name: "hsetnx", arity: 4, flags: "write denyoom fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Sets the value of a field in a hash only when the field doesn't exist.", complexity: o1, fn: hsetnxCommand}.withKeys("RW insert | index 1 | range 0 1 0"),
		{name: "hget", arity: 3, flags: "readonly fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Returns the value of a field in a hash.", complexity: o1, fn: hgetCommand},
		{name: "hmget", arity: -3, flags: "readonly fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Returns the values of all fields in a hash.", complexity: "O(N) where N is the number of fields being requested.", fn: hmgetCommand},
		spec{name: "hdel", arity: -3, flags: "write fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", complexity: "O(N) where N is the number of fields to be removed.", fn: hdelCommand}.withKeys("RW delete | index 1 | range 0 1 0"),
		spec{name: "hexists", arity: 3, flags: "readonly fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Determines whether a field exists in a hash.", complexity: o1, fn: hexistsCommand}.withKeys("RO | index 1 | range 0 1 0"),
		spec{name: "hgetall", arity: 2, flags: "readonly", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Returns all fields and values in a hash.", complexity: on, fn: hgetallCommand}.withTips("nondeterministic_output_order"),
		spec{name: "hkeys", arity: 2, flags: "readonly", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Returns all fields in a hash.", complexity: on, fn: hkeysCommand}.withTips("nondeterministic_output_order"),
		spec{name: "hvals", arity: 2, flags: "readonly", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Returns all values in a hash.", complexity: on, fn: hvalsCommand}.withTips("nondeterministic_output_order"),
		spec{name: "hlen", arity: 2, flags: "readonly fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Returns the number of fields in a hash.", complexity: o1, fn: hlenCommand}.withKeys("RO | index 1 | range 0 1 0"),
		spec{name: "hstrlen", arity: 3, flags: "readonly fast", first: 1, last: 1, step: 1, group: "hash", since: "3.2.0",
			summary: "Returns the length of the value of a field.", complexity: o1, fn: hstrlenCommand}.withKeys("RO | index 1 | range 0 1 0"),
		spec{name: "hincrby", arity: 4, flags: "write denyoom fast", first: 1, last: 1, step: 1, group: "hash", since: "2.0.0",
			summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", complexity: o1, fn: hincrbyCommand}.withKeys("RW access update | index 1 | range 0 1 0"),
		spec{name: "hincrbyfloat", arity: 4, flags: "write denyoom fast", first: 1, last: 1, step: 1, group: "hash", since: "2.6.0",
			summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", complexity: o1, fn: hincrbyfloatCommand}.withKeys("RW access update | index 1 | range 0 1 0"),
		spec{name: "hrandfield", arity: -2, flags: "readonly", first: 1, last: 1, step: 1, group: "hash", since: "6.2.0",
			summary: "Returns one or more random fields from a hash.", complexity: "O(N) where N is the number of fields returned", fn: hrandfieldCommand}.withTips("nondeterministic_output"),
		spec{name: "hscan", arity: -3, flags: "readonly", first: 1, last: 1, step: 1, group: "hash", since: "2.8.0",
			summary: "Iterates over fields and values of a hash.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", fn: hscanCommand}.withTips("nondeterministic_output"),
	}
}

// hashRead locks key and returns its hash (nil when missing). On a wrong
// type it replies WRONGTYPE, unlocks and returns a nil tx.
func hashRead(c *client, key []byte) (*store.Tx, *hash.Hash) {
	tx := c.lock(key)
	e, ok := tx.LookupRead(int(c.db.Load()), key)
	if !ok {
		return tx, nil
	}
	if e.Type() != store.TypeHash {
		tx.Unlock()
		c.err(protocol.ErrWrongType)
		return nil, nil
	}
	return tx, e.Object().(*hash.Hash)
}

// hashWrite locks key for a write and returns its hash; a missing key gives
// a new empty hash when create is set (stored by hashStore), nil otherwise.
// On a wrong type it replies WRONGTYPE and returns a nil tx.
func hashWrite(c *client, key []byte, create bool) (tx *store.Tx, h *hash.Hash, isNew bool) {
	tx = c.lock(key)
	e, ok := tx.LookupWrite(int(c.db.Load()), key)
	if !ok {
		if create {
			return tx, hash.New(), true
		}
		return tx, nil, false
	}
	if e.Type() != store.TypeHash {
		tx.Unlock()
		c.err(protocol.ErrWrongType)
		return nil, nil, false
	}
	return tx, e.Object().(*hash.Hash), false
}

// hashStore records h's new state under key: stores a new hash, resizes a
// changed one, deletes an emptied one (reporting true then).
func hashStore(tx *store.Tx, db int, key []byte, h *hash.Hash, isNew bool) (deleted bool) {
	switch {
	case h.Len() == 0:
		if !isNew {
			tx.Delete(db, key)
			return true
		}
	case isNew:
		tx.SetObject(db, key, store.TypeHash, h, h.Size(), 0)
	default:
		tx.Resize(db, key, h.Size())
	}
	return false
}

// hsetCommand is HSET key field value [field value …] and HMSET.
func hsetCommand(c *client, args [][]byte) {
	if len(args)%2 != 0 {
		c.err(protocol.WrongArity(string(lowerASCII(args[0]))))
		return
	}
	db := int(c.db.Load())
	tx, h, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	added := 0
	var err error
	for i := 2; i < len(args) && err == nil; i += 2 {
		var a bool
		a, err = h.Set(args[i], args[i+1])
		if a {
			added++
		}
	}
	hashStore(tx, db, args[1], h, isNew)
	tx.Unlock()
	if err != nil {
		c.err(hashErrFull)
		return
	}
	c.propagate(args...)
	c.notify(notifyHash, "hset", args[1])
	if keyWordIs(args[0], "hmset") {
		c.ok()
		return
	}
	c.int(int64(added))
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

func hsetnxCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	tx, h, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	if h.Has(args[2]) {
		tx.Unlock()
		c.int(0)
		return
	}
	_, err := h.Set(args[2], args[3])
	hashStore(tx, db, args[1], h, isNew)
	tx.Unlock()
	if err != nil {
		c.err(hashErrFull)
		return
	}
	c.propagate(args...)
	c.notify(notifyHash, "hset", args[1])
	c.int(1)
}

func hgetCommand(c *client, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil {
		c.null()
		return
	}
	v, ok := h.Get(args[2])
	c.bulkOrNull(v, ok)
}

func hmgetCommand(c *client, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.array(len(args) - 2)
	for _, f := range args[2:] {
		if h == nil {
			c.null()
			continue
		}
		v, ok := h.Get(f)
		c.bulkOrNull(v, ok)
	}
}

func hdelCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	tx, h, _ := hashWrite(c, args[1], false)
	if tx == nil {
		return
	}
	if h == nil {
		tx.Unlock()
		c.int(0)
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
		deleted = hashStore(tx, db, args[1], h, false)
	}
	tx.Unlock()
	if n > 0 {
		c.propagate(args...)
		c.notify(notifyHash, "hdel", args[1])
		if deleted {
			c.notify(notifyGeneric, "del", args[1])
		}
	}
	c.int(int64(n))
}

func hexistsCommand(c *client, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.boolInt(h != nil && h.Has(args[2]))
}

func hlenCommand(c *client, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil {
		c.int(0)
		return
	}
	c.int(int64(h.Len()))
}

func hstrlenCommand(c *client, args [][]byte) {
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil {
		c.int(0)
		return
	}
	v, _ := h.Get(args[2])
	c.int(int64(len(v)))
}

// hashAll replies every field and/or value of key: HGETALL (a map), HKEYS,
// HVALS.
func hashAll(c *client, key []byte, fields, values bool) {
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
		c.mapLen(n)
	} else {
		c.array(n)
	}
	if h == nil {
		return
	}
	h.Each(func(f, v []byte) bool {
		if fields {
			c.bulk(f)
		}
		if values {
			c.bulk(v)
		}
		return true
	})
}

func hgetallCommand(c *client, args [][]byte) { hashAll(c, args[1], true, true) }
func hkeysCommand(c *client, args [][]byte)   { hashAll(c, args[1], true, false) }
func hvalsCommand(c *client, args [][]byte)   { hashAll(c, args[1], false, true) }

func hincrbyCommand(c *client, args [][]byte) {
	incr, ok := protocol.ParseInt(args[3])
	if !ok {
		c.err(protocol.ErrNotInteger)
		return
	}
	db := int(c.db.Load())
	tx, h, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	var cur int64
	if v, found := h.Get(args[2]); found {
		if cur, ok = protocol.ParseInt(v); !ok {
			tx.Unlock()
			c.err(hashErrNotInt)
			return
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		tx.Unlock()
		c.err(protocol.ErrOverflow)
		return
	}
	cur += incr
	var num [20]byte
	_, err := h.Set(args[2], strconv.AppendInt(num[:0], cur, 10))
	hashStore(tx, db, args[1], h, isNew)
	tx.Unlock()
	if err != nil {
		c.err(hashErrFull)
		return
	}
	c.propagate(args...)
	c.notify(notifyHash, "hincrby", args[1])
	c.int(cur)
}

func hincrbyfloatCommand(c *client, args [][]byte) {
	incr, ok := protocol.ParseLongDouble(args[3])
	if !ok {
		c.err(protocol.ErrNotFloat)
		return
	}
	if incr.IsInf() {
		c.err(hashErrNaNInf)
		return
	}
	db := int(c.db.Load())
	tx, h, isNew := hashWrite(c, args[1], true)
	if tx == nil {
		return
	}
	cur := protocol.ZeroLongDouble()
	if v, found := h.Get(args[2]); found {
		if cur, ok = protocol.ParseLongDouble(v); !ok {
			tx.Unlock()
			c.err(hashErrNotFloat)
			return
		}
	}
	sum, ok := protocol.AddLongDouble(cur, incr)
	if !ok {
		tx.Unlock()
		c.err(protocol.ErrNaNInf)
		return
	}
	nv := protocol.AppendLongDouble(nil, sum)
	_, err := h.Set(args[2], nv)
	hashStore(tx, db, args[1], h, isNew)
	tx.Unlock()
	if err != nil {
		c.err(hashErrFull)
		return
	}
	c.propagate([]byte("HSET"), args[1], args[2], nv)
	c.notify(notifyHash, "hincrbyfloat", args[1])
	c.bulk(nv)
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
		return 0, false, hashErrCountRange
	}
	if len(args) > 4 || (len(args) == 4 && !keyWordIs(args[3], "withvalues")) {
		return 0, false, protocol.ErrSyntax
	}
	withValues = len(args) == 4
	if withValues && (count < -math.MaxInt64/2 || count > math.MaxInt64/2) {
		return 0, false, hashErrRandOOR
	}
	return count, withValues, ""
}

// hrandfieldCommand is HRANDFIELD key [count [WITHVALUES]].
func hrandfieldCommand(c *client, args [][]byte) {
	if len(args) == 2 {
		tx, h := hashRead(c, args[1])
		if tx == nil {
			return
		}
		defer tx.Unlock()
		if h == nil {
			c.null()
			return
		}
		f, _, _ := h.Random()
		c.bulk(f)
		return
	}
	count, withValues, errText := hrandfieldParse(args)
	if errText != "" {
		c.err(errText)
		return
	}
	tx, h := hashRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if h == nil || count == 0 {
		c.array(0)
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
func hashRandReply(c *client, h *hash.Hash, count int64, withValues bool) {
	pair := func(f, v []byte) {
		if withValues {
			if c.resp3.Load() {
				c.array(2)
			}
			c.bulk(f)
			c.bulk(v)
			return
		}
		c.bulk(f)
	}
	arrLen := func(n int) {
		if withValues && !c.resp3.Load() {
			c.array(2 * n)
		} else {
			c.array(n)
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
