package server

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/set"
)

// Set commands. Values are *set.Set objects behind store records; every
// write keeps the record's size current and deletes an emptied set.

const (
	setErrNumkeys   = "ERR numkeys should be greater than 0"
	setErrTooMany   = "ERR Number of keys can't be greater than number of args"
	setErrLimitNeg  = "ERR LIMIT can't be negative"
	setAlgebraCompl = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
	setUnionCompl   = "O(N) where N is the total number of elements in all given sets."
)

func setCommands() []spec {
	const o1 = "O(1)"
	return []spec{
		spec{name: "sadd", arity: -3, flags: "write denyoom fast", first: 1, last: 1, step: 1, group: "set", since: "1.0.0",
			summary: "Adds one or more members to a set. Creates the key if it doesn't exist.", complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", fn: saddCommand}.withKeys("RW insert | index 1 | range 0 1 0"),
		spec{name: "srem", arity: -3, flags: "write fast", first: 1, last: 1, step: 1, group: "set", since: "1.0.0",
			summary: "Removes one or more members from a set. Deletes the set if the last member was removed.", complexity: "O(N) where N is the number of members to be removed.", fn: sremCommand}.withKeys("RW delete | index 1 | range 0 1 0"),
		spec{name: "smembers", arity: 2, flags: "readonly", first: 1, last: 1, step: 1, group: "set", since: "1.0.0",
			summary: "Returns all members of a set.", complexity: "O(N) where N is the set cardinality.", fn: smembersCommand}.withTips("nondeterministic_output_order"),
		spec{name: "sismember", arity: 3, flags: "readonly fast", first: 1, last: 1, step: 1, group: "set", since: "1.0.0",
			summary: "Determines whether a member belongs to a set.", complexity: o1, fn: sismemberCommand}.withKeys("RO | index 1 | range 0 1 0"),
		{name: "smismember", arity: -3, flags: "readonly fast", first: 1, last: 1, step: 1, group: "set", since: "6.2.0",
			summary: "Determines whether multiple members belong to a set.", complexity: "O(N) where N is the number of elements being checked for membership", fn: smismemberCommand},
		spec{name: "scard", arity: 2, flags: "readonly fast", first: 1, last: 1, step: 1, group: "set", since: "1.0.0",
			summary: "Returns the number of members in a set.", complexity: o1, fn: scardCommand}.withKeys("RO | index 1 | range 0 1 0"),
		spec{name: "spop", arity: -2, flags: "write fast", first: 1, last: 1, step: 1, group: "set", since: "1.0.0",
			summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", fn: spopCommand}.withKeys("RW access delete | index 1 | range 0 1 0").withTips("nondeterministic_output"),
		spec{name: "srandmember", arity: -2, flags: "readonly", first: 1, last: 1, step: 1, group: "set", since: "1.0.0",
			summary: "Get one or multiple random members from a set", complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", fn: srandmemberCommand}.withTips("nondeterministic_output"),
		spec{name: "smove", arity: 4, flags: "write fast", first: 1, last: 2, step: 1, group: "set", since: "1.0.0",
			summary: "Moves a member from one set to another.", complexity: o1, fn: smoveCommand}.withKeys("RW access delete | index 1 | range 0 1 0", "RW insert | index 2 | range 0 1 0"),
		spec{name: "sinter", arity: -2, flags: "readonly", first: 1, last: -1, step: 1, group: "set", since: "1.0.0",
			summary: "Returns the intersect of multiple sets.", complexity: setAlgebraCompl, fn: sinterCommand}.withTips("nondeterministic_output_order"),
		spec{name: "sintercard", arity: -3, flags: "readonly", group: "set", since: "7.0.0",
			summary: "Returns the number of members of the intersect of multiple sets.", complexity: setAlgebraCompl, fn: sintercardCommand}.withKeys("RO access | index 1 | keynum 0 1 1"),
		spec{name: "sunion", arity: -2, flags: "readonly", first: 1, last: -1, step: 1, group: "set", since: "1.0.0",
			summary: "Returns the union of multiple sets.", complexity: setUnionCompl, fn: sunionCommand}.withTips("nondeterministic_output_order"),
		spec{name: "sdiff", arity: -2, flags: "readonly", first: 1, last: -1, step: 1, group: "set", since: "1.0.0",
			summary: "Returns the difference of multiple sets.", complexity: setUnionCompl, fn: sdiffCommand}.withTips("nondeterministic_output_order"),
		spec{name: "sinterstore", arity: -3, flags: "write denyoom", first: 1, last: -1, step: 1, group: "set", since: "1.0.0",
			summary: "Stores the intersect of multiple sets in a key.", complexity: setAlgebraCompl, fn: sinterstoreCommand}.withKeys("RW update | index 1 | range 0 1 0", "RO access | index 2 | range -1 1 0"),
		spec{name: "sunionstore", arity: -3, flags: "write denyoom", first: 1, last: -1, step: 1, group: "set", since: "1.0.0",
			summary: "Stores the union of multiple sets in a key.", complexity: setUnionCompl, fn: sunionstoreCommand}.withKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | range -1 1 0"),
		spec{name: "sdiffstore", arity: -3, flags: "write denyoom", first: 1, last: -1, step: 1, group: "set", since: "1.0.0",
			summary: "Stores the difference of multiple sets in a key.", complexity: setUnionCompl, fn: sdiffstoreCommand}.withKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | range -1 1 0"),
		spec{name: "sscan", arity: -3, flags: "readonly", first: 1, last: 1, step: 1, group: "set", since: "2.8.0",
			summary: "Iterates over members of a set.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", fn: sscanCommand}.withTips("nondeterministic_output"),
	}
}

// setGet returns key's set from a locked tx (nil when missing); wrong is
// true when key holds another type.
func setGet(tx *store.Tx, db int, key []byte, write bool) (s *set.Set, wrong bool) {
	var e store.Entry
	var ok bool
	if write {
		e, ok = tx.LookupWrite(db, key)
	} else {
		e, ok = tx.LookupRead(db, key)
	}
	if !ok {
		return nil, false
	}
	if e.Type() != store.TypeSet {
		return nil, true
	}
	return e.Object().(*set.Set), false
}

// setRead locks key and returns its set (nil when missing). On a wrong
// type it replies WRONGTYPE, unlocks and returns a nil tx.
func setRead(c *client, key []byte) (*store.Tx, *set.Set) {
	tx := c.lock(key)
	s, wrong := setGet(tx, int(c.db.Load()), key, false)
	if wrong {
		tx.Unlock()
		c.err(protocol.ErrWrongType)
		return nil, nil
	}
	return tx, s
}

// setWrite is setRead for a write (no hit/miss counted).
func setWrite(c *client, key []byte) (*store.Tx, *set.Set) {
	tx := c.lock(key)
	s, wrong := setGet(tx, int(c.db.Load()), key, true)
	if wrong {
		tx.Unlock()
		c.err(protocol.ErrWrongType)
		return nil, nil
	}
	return tx, s
}

// setSave records s's new state under key (see hashStore).
func setSave(tx *store.Tx, db int, key []byte, s *set.Set, isNew bool) (deleted bool) {
	switch {
	case s.Len() == 0:
		if !isNew {
			tx.Delete(db, key)
			return true
		}
	case isNew:
		tx.SetObject(db, key, store.TypeSet, s, s.Size(), 0)
	default:
		tx.Resize(db, key, s.Size())
	}
	return false
}

func saddCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	tx, s := setWrite(c, args[1])
	if tx == nil {
		return
	}
	isNew := s == nil
	if isNew {
		s = set.NewFor(args[2], len(args)-2)
	}
	added := 0
	var err error
	for _, m := range args[2:] {
		var a bool
		if a, err = s.Add(m); a {
			added++
		}
		if err != nil {
			break
		}
	}
	setSave(tx, db, args[1], s, isNew)
	tx.Unlock()
	if err != nil {
		c.err(hashErrFull)
		return
	}
	if added > 0 {
		c.propagate(args...)
		c.notify(notifySet, "sadd", args[1])
	}
	c.int(int64(added))
}

func sremCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	tx, s := setWrite(c, args[1])
	if tx == nil {
		return
	}
	n := 0
	if s != nil {
		for _, m := range args[2:] {
			if s.Remove(m) {
				n++
			}
		}
	}
	deleted := n > 0 && setSave(tx, db, args[1], s, false)
	tx.Unlock()
	if n > 0 {
		c.propagate(args...)
		c.notify(notifySet, "srem", args[1])
		if deleted {
			c.notify(notifyGeneric, "del", args[1])
		}
	}
	c.int(int64(n))
}

// setReply writes every member of s as a RESP3 set (an array in RESP2).
func setReply(c *client, s *set.Set) {
	if s == nil {
		c.setLen(0)
		return
	}
	c.setLen(s.Len())
	s.Each(func(m []byte) bool { c.bulk(m); return true })
}

func smembersCommand(c *client, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	setReply(c, s)
}

func sismemberCommand(c *client, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.boolInt(s != nil && s.Has(args[2]))
}

func smismemberCommand(c *client, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.array(len(args) - 2)
	for _, m := range args[2:] {
		c.boolInt(s != nil && s.Has(m))
	}
}

func scardCommand(c *client, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if s == nil {
		c.int(0)
		return
	}
	c.int(int64(s.Len()))
}

// spopCommand is SPOP key [count]. Its effect is SREM of the popped members,
// or DEL when it popped them all, as Redis propagates.
func spopCommand(c *client, args [][]byte) {
	if len(args) > 3 {
		c.err(protocol.ErrSyntax)
		return
	}
	count := int64(-1)
	if len(args) == 3 {
		n, ok := protocol.ParseInt(args[2])
		if !ok || n < 0 {
			c.err(protocol.ErrOutOfRange)
			return
		}
		count = n
	}
	db := int(c.db.Load())
	tx, s := setWrite(c, args[1])
	if tx == nil {
		return
	}
	if s == nil || count == 0 {
		tx.Unlock()
		if count < 0 {
			c.null()
		} else {
			c.setLen(0)
		}
		return
	}
	all := count >= int64(s.Len())
	popped, deleted := setPop(tx, db, args[1], s, count, all)
	tx.Unlock()
	if all {
		c.propagate([]byte("DEL"), args[1])
	} else {
		c.propagate(append([][]byte{[]byte("SREM"), args[1]}, popped...)...)
	}
	c.notify(notifySet, "spop", args[1])
	if deleted {
		c.notify(notifyGeneric, "del", args[1])
	}
	if count < 0 {
		c.bulk(popped[0])
		return
	}
	c.setLen(len(popped))
	for _, m := range popped {
		c.bulk(m)
	}
}

// setPop removes count random members of s (1 when count is -1, all of them
// when all is set) and returns copies of them, and whether key was deleted.
func setPop(tx *store.Tx, db int, key []byte, s *set.Set, count int64, all bool) (popped [][]byte, deleted bool) {
	if all {
		s.Each(func(m []byte) bool { popped = append(popped, slices.Clone(m)); return true })
		tx.Delete(db, key)
		return popped, true
	}
	for range max(count, 1) {
		m, _ := s.Random()
		m = slices.Clone(m)
		s.Remove(m)
		popped = append(popped, m)
	}
	return popped, setSave(tx, db, key, s, false)
}

// srandmemberCommand is SRANDMEMBER key [count]: distinct members for a
// positive count, possibly repeated ones for a negative count.
func srandmemberCommand(c *client, args [][]byte) {
	if len(args) > 3 {
		c.err(protocol.ErrSyntax)
		return
	}
	var count int64
	if len(args) == 3 {
		var ok bool
		if count, ok = protocol.ParseInt(args[2]); !ok {
			c.err(protocol.ErrNotInteger)
			return
		}
		if count == math.MinInt64 {
			c.err(hashErrCountRange)
			return
		}
	}
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	switch {
	case len(args) == 2 && s == nil:
		c.null()
	case len(args) == 2:
		m, _ := s.Random()
		c.bulk(m)
	case s == nil || count == 0:
		c.array(0)
	default:
		setRandReply(c, s, count)
	}
}

// setRandReply replies count random members of s (see srandmemberCommand).
func setRandReply(c *client, s *set.Set, count int64) {
	if count < 0 {
		c.array(int(-count))
		if s.Encoding() == "listpack" {
			// Random on a listpack walks it: index it once instead.
			var all [][]byte
			s.Each(func(m []byte) bool { all = append(all, m); return true })
			for range -count {
				c.bulk(all[rand.IntN(len(all))])
			}
			return
		}
		for range -count {
			m, _ := s.Random()
			c.bulk(m)
		}
		return
	}
	if count >= int64(s.Len()) {
		c.array(s.Len())
		s.Each(func(m []byte) bool { c.bulk(m); return true })
		return
	}
	c.array(int(count))
	if count*3 > int64(s.Len()) {
		var all [][]byte
		s.Each(func(m []byte) bool { all = append(all, slices.Clone(m)); return true })
		for i := range int(count) {
			j := i + rand.IntN(len(all)-i)
			all[i], all[j] = all[j], all[i]
			c.bulk(all[i])
		}
		return
	}
	seen := make(map[string]struct{}, count)
	for int64(len(seen)) < count {
		m, _ := s.Random()
		if _, dup := seen[string(m)]; dup {
			continue
		}
		seen[string(m)] = struct{}{}
		c.bulk(m)
	}
}

func smoveCommand(c *client, args [][]byte) {
	src, dst, m := args[1], args[2], args[3]
	db := int(c.db.Load())
	tx := c.lock(src, dst)
	ss, wrongS := setGet(tx, db, src, true)
	ds, wrongD := setGet(tx, db, dst, true)
	if ss == nil && !wrongS {
		tx.Unlock()
		c.int(0)
		return
	}
	if wrongS || wrongD {
		tx.Unlock()
		c.err(protocol.ErrWrongType)
		return
	}
	if string(src) == string(dst) {
		ok := ss.Has(m)
		tx.Unlock()
		c.boolInt(ok)
		return
	}
	if !ss.Remove(m) {
		tx.Unlock()
		c.int(0)
		return
	}
	srcDeleted := setSave(tx, db, src, ss, false)
	isNew := ds == nil
	if isNew {
		ds = set.NewFor(m, 1)
	}
	added, err := ds.Add(m)
	setSave(tx, db, dst, ds, isNew)
	tx.Unlock()
	if err != nil {
		c.err(hashErrFull)
		return
	}
	c.propagate(args...)
	c.notify(notifySet, "srem", src)
	if srcDeleted {
		c.notify(notifyGeneric, "del", src)
	}
	if added {
		c.notify(notifySet, "sadd", dst)
	}
	c.int(1)
}

// Set algebra: SINTER, SUNION, SDIFF, their STORE forms and SINTERCARD.

type setOp uint8

const (
	opInter setOp = iota
	opUnion
	opDiff
)

// setLoad returns the sets of keys from a locked tx (nil for a missing key)
// and false, after replying WRONGTYPE, if one holds another type.
func setLoad(c *client, tx *store.Tx, keys [][]byte, write bool) ([]*set.Set, bool) {
	db := int(c.db.Load())
	sets := make([]*set.Set, len(keys))
	for i, k := range keys {
		s, wrong := setGet(tx, db, k, write)
		if wrong {
			c.err(protocol.ErrWrongType)
			return nil, false
		}
		sets[i] = s
	}
	return sets, true
}

// setCompute computes op over sets into a new set (as Redis 7.0 builds its
// result sets, so replies follow the result's encoding: sorted for an
// intset). With count set it only counts the intersection, stopping at
// limit (0: no limit), and returns a nil set.
func setCompute(op setOp, sets []*set.Set, limit int, count bool) (*set.Set, int, error) {
	acc := set.New()
	n := 0
	var err error
	add := func(m []byte) bool {
		n++
		if !count {
			_, err = acc.Add(m)
		}
		return err == nil && (limit == 0 || n < limit)
	}
	switch op {
	case opInter:
		if slices.Contains(sets, nil) {
			break
		}
		ordered := slices.Clone(sets)
		slices.SortFunc(ordered, func(a, b *set.Set) int { return a.Len() - b.Len() })
		ordered[0].Each(func(m []byte) bool {
			for _, o := range ordered[1:] {
				if o != ordered[0] && !o.Has(m) {
					return true
				}
			}
			return add(m)
		})
	case opUnion:
		for _, s := range sets {
			if s != nil && err == nil {
				s.Each(func(m []byte) bool { _, err = acc.Add(m); return err == nil })
			}
		}
		n = acc.Len()
	case opDiff:
		if sets[0] == nil {
			break
		}
		sets[0].Each(func(m []byte) bool {
			if slices.ContainsFunc(sets[1:], func(o *set.Set) bool { return o != nil && o.Has(m) }) {
				return true
			}
			return add(m)
		})
	}
	if count {
		acc = nil
	}
	return acc, n, err
}

// setAlgebra replies op over keys as a set.
func setAlgebra(c *client, op setOp, keys [][]byte) {
	tx := c.lock(keys...)
	defer tx.Unlock()
	sets, ok := setLoad(c, tx, keys, false)
	if !ok {
		return
	}
	res, _, err := setCompute(op, sets, 0, false)
	if err != nil {
		c.err(hashErrFull)
		return
	}
	setReply(c, res)
}

func sinterCommand(c *client, args [][]byte) { setAlgebra(c, opInter, args[1:]) }
func sunionCommand(c *client, args [][]byte) { setAlgebra(c, opUnion, args[1:]) }
func sdiffCommand(c *client, args [][]byte)  { setAlgebra(c, opDiff, args[1:]) }

var setStoreEvents = [...]string{opInter: "sinterstore", opUnion: "sunionstore", opDiff: "sdiffstore"}

// setAlgebraStore stores op over args[2:] in args[1] (replacing any value
// and TTL; an empty result deletes it) and replies its cardinality.
func setAlgebraStore(c *client, op setOp, args [][]byte) {
	db := int(c.db.Load())
	dst := args[1]
	tx := c.lock(args[1:]...)
	sets, ok := setLoad(c, tx, args[2:], true)
	if !ok {
		tx.Unlock()
		return
	}
	res, n, err := setCompute(op, sets, 0, false)
	if err != nil {
		tx.Unlock()
		c.err(hashErrFull)
		return
	}
	if n == 0 {
		deleted := tx.Delete(db, dst)
		tx.Unlock()
		if deleted {
			c.propagate([]byte("DEL"), dst)
			c.notify(notifyGeneric, "del", dst)
		}
		c.int(0)
		return
	}
	tx.SetObject(db, dst, store.TypeSet, res, res.Size(), 0)
	tx.Unlock()
	c.propagate(args...)
	c.notify(notifySet, setStoreEvents[op], dst)
	c.int(int64(n))
}

func sinterstoreCommand(c *client, args [][]byte) { setAlgebraStore(c, opInter, args) }
func sunionstoreCommand(c *client, args [][]byte) { setAlgebraStore(c, opUnion, args) }
func sdiffstoreCommand(c *client, args [][]byte)  { setAlgebraStore(c, opDiff, args) }

// sintercardParse parses SINTERCARD's arguments: numkeys and LIMIT (0: no
// limit), or the error text to reply.
func sintercardParse(args [][]byte) (numkeys int, limit int64, errText string) {
	n, ok := protocol.ParseInt(args[1])
	if !ok || n < 1 {
		return 0, 0, setErrNumkeys
	}
	if n > int64(len(args)-2) {
		return 0, 0, setErrTooMany
	}
	for i := 2 + int(n); i < len(args); i += 2 {
		if !keyWordIs(args[i], "limit") || i+1 >= len(args) {
			return 0, 0, protocol.ErrSyntax
		}
		if limit, ok = protocol.ParseInt(args[i+1]); !ok || limit < 0 {
			return 0, 0, setErrLimitNeg
		}
	}
	return int(n), limit, ""
}

// sintercardCommand is SINTERCARD numkeys key [key …] [LIMIT limit].
func sintercardCommand(c *client, args [][]byte) {
	n, limit, errText := sintercardParse(args)
	if errText != "" {
		c.err(errText)
		return
	}
	keys := args[2 : 2+n]
	tx := c.lock(keys...)
	sets, ok := setLoad(c, tx, keys, false)
	if !ok {
		tx.Unlock()
		return
	}
	_, n, _ = setCompute(opInter, sets, int(min(limit, math.MaxInt32)), true)
	tx.Unlock()
	c.int(int64(n))
}
