package setcmd

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
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

func setCommands() []kernel.Spec {
	const o1 = "O(1)"
	return []kernel.Spec{
		kernel.Spec{Name: "sadd", Arity: -3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Adds one or more members to a set. Creates the key if it doesn't exist.", Complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", Fn: saddCommand}.WithKeys("RW insert | index 1 | range 0 1 0"),
		kernel.Spec{Name: "srem", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Removes one or more members from a set. Deletes the set if the last member was removed.", Complexity: "O(N) where N is the number of members to be removed.", Fn: sremCommand}.WithKeys("RW delete | index 1 | range 0 1 0"),
		kernel.Spec{Name: "smembers", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Returns all members of a set.", Complexity: "O(N) where N is the set cardinality.", Fn: smembersCommand}.WithTips("nondeterministic_output_order"),
		kernel.Spec{Name: "sismember", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Determines whether a member belongs to a set.", Complexity: o1, Fn: sismemberCommand}.WithKeys("RO | index 1 | range 0 1 0"),
		{Name: "smismember", Arity: -3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "set", Since: "6.2.0",
			Summary: "Determines whether multiple members belong to a set.", Complexity: "O(N) where N is the number of elements being checked for membership", Fn: smismemberCommand},
		kernel.Spec{Name: "scard", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Returns the number of members in a set.", Complexity: o1, Fn: scardCommand}.WithKeys("RO | index 1 | range 0 1 0"),
		kernel.Spec{Name: "spop", Arity: -2, Flags: "write fast", First: 1, Last: 1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", Complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", Fn: spopCommand}.WithKeys("RW access delete | index 1 | range 0 1 0").WithTips("nondeterministic_output"),
		kernel.Spec{Name: "srandmember", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Get one or multiple random members from a set", Complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", Fn: srandmemberCommand}.WithTips("nondeterministic_output"),
		kernel.Spec{Name: "smove", Arity: 4, Flags: "write fast", First: 1, Last: 2, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Moves a member from one set to another.", Complexity: o1, Fn: smoveCommand}.WithKeys("RW access delete | index 1 | range 0 1 0", "RW insert | index 2 | range 0 1 0"),
		kernel.Spec{Name: "sinter", Arity: -2, Flags: "readonly", First: 1, Last: -1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Returns the intersect of multiple sets.", Complexity: setAlgebraCompl, Fn: sinterCommand}.WithTips("nondeterministic_output_order"),
		kernel.Spec{Name: "sintercard", Arity: -3, Flags: "readonly", Group: "set", Since: "7.0.0",
			Summary: "Returns the number of members of the intersect of multiple sets.", Complexity: setAlgebraCompl, Fn: sintercardCommand}.WithKeys("RO access | index 1 | keynum 0 1 1"),
		kernel.Spec{Name: "sunion", Arity: -2, Flags: "readonly", First: 1, Last: -1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Returns the union of multiple sets.", Complexity: setUnionCompl, Fn: sunionCommand}.WithTips("nondeterministic_output_order"),
		kernel.Spec{Name: "sdiff", Arity: -2, Flags: "readonly", First: 1, Last: -1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Returns the difference of multiple sets.", Complexity: setUnionCompl, Fn: sdiffCommand}.WithTips("nondeterministic_output_order"),
		kernel.Spec{Name: "sinterstore", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Stores the intersect of multiple sets in a key.", Complexity: setAlgebraCompl, Fn: sinterstoreCommand}.WithKeys("RW update | index 1 | range 0 1 0", "RO access | index 2 | range -1 1 0"),
		kernel.Spec{Name: "sunionstore", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Stores the union of multiple sets in a key.", Complexity: setUnionCompl, Fn: sunionstoreCommand}.WithKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | range -1 1 0"),
		kernel.Spec{Name: "sdiffstore", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 1, Group: "set", Since: "1.0.0",
			Summary: "Stores the difference of multiple sets in a key.", Complexity: setUnionCompl, Fn: sdiffstoreCommand}.WithKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | range -1 1 0"),
		kernel.Spec{Name: "sscan", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, Group: "set", Since: "2.8.0",
			Summary: "Iterates over members of a set.", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", Fn: sscanCommand}.WithTips("nondeterministic_output"),
	}
}

// setGet returns key's set from a locked tx (nil when missing); wrong is
// true when key holds another type.
func setGet(tx *store.Tx, db int, key []byte, write bool) (s *set.Set, e store.Entry, wrong bool) {
	var ok bool
	if write {
		e, ok = tx.LookupWrite(db, key)
	} else {
		e, ok = tx.LookupRead(db, key)
	}
	if !ok {
		return nil, e, false
	}
	if e.Type() != store.TypeSet {
		return nil, e, true
	}
	return e.Object().(*set.Set), e, false
}

// setRead locks key and returns its set (nil when missing). On a wrong
// type it replies WRONGTYPE, unlocks and returns a nil tx.
func setRead(c *kernel.Ctx, key []byte) (*store.Tx, *set.Set) {
	tx := c.Lock(key)
	s, _, wrong := setGet(tx, c.DB(), key, false)
	if wrong {
		tx.Unlock()
		c.Err(protocol.ErrWrongType)
		return nil, nil
	}
	return tx, s
}

// setWrite is setRead for a write (no hit/miss counted).
func setWrite(c *kernel.Ctx, key []byte) (*store.Tx, *set.Set, store.Entry) {
	tx := c.Lock(key)
	s, e, wrong := setGet(tx, c.DB(), key, true)
	if wrong {
		tx.Unlock()
		c.Err(protocol.ErrWrongType)
		return nil, nil, e
	}
	return tx, s, e
}

// setSave records s's new state under key (see hashStore); e is key's
// entry from the command's lookup, unless isNew.
func setSave(tx *store.Tx, db int, key []byte, s *set.Set, e store.Entry, isNew bool) (deleted bool) {
	switch {
	case s.Len() == 0:
		if !isNew {
			tx.Delete(db, key)
			return true
		}
	case isNew:
		tx.SetObject(db, key, store.TypeSet, s, s.Size(), 0)
	default:
		e.Resize(s.Size())
	}
	return false
}

func saddCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx, s, e := setWrite(c, args[1])
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
	setSave(tx, db, args[1], s, e, isNew)
	tx.Unlock()
	if err != nil {
		c.Err(kernel.ErrCollectionFull)
		return
	}
	if added > 0 {
		c.Propagate(args...)
		c.Notify(kernel.NotifySet, "sadd", args[1])
	}
	c.Int(int64(added))
}

func sremCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx, s, e := setWrite(c, args[1])
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
	deleted := n > 0 && setSave(tx, db, args[1], s, e, false)
	tx.Unlock()
	if n > 0 {
		c.Propagate(args...)
		c.Notify(kernel.NotifySet, "srem", args[1])
		if deleted {
			c.Notify(kernel.NotifyGeneric, "del", args[1])
		}
	}
	c.Int(int64(n))
}

// setReply writes every member of s as a RESP3 set (an array in RESP2).
func setReply(c *kernel.Ctx, s *set.Set) {
	if s == nil {
		c.SetLen(0)
		return
	}
	c.SetLen(s.Len())
	s.Each(func(m []byte) bool { c.Bulk(m); return true })
}

func smembersCommand(c *kernel.Ctx, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	setReply(c, s)
}

func sismemberCommand(c *kernel.Ctx, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.BoolInt(s != nil && s.Has(args[2]))
}

func smismemberCommand(c *kernel.Ctx, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	c.Array(len(args) - 2)
	for _, m := range args[2:] {
		c.BoolInt(s != nil && s.Has(m))
	}
}

func scardCommand(c *kernel.Ctx, args [][]byte) {
	tx, s := setRead(c, args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	if s == nil {
		c.Int(0)
		return
	}
	c.Int(int64(s.Len()))
}

// spopCommand is SPOP key [count]. Its effect is SREM of the popped members,
// or DEL when it popped them all, as Redis propagates.
func spopCommand(c *kernel.Ctx, args [][]byte) {
	if len(args) > 3 {
		c.Err(protocol.ErrSyntax)
		return
	}
	count := int64(-1)
	if len(args) == 3 {
		n, ok := protocol.ParseInt(args[2])
		if !ok || n < 0 {
			c.Err(protocol.ErrOutOfRange)
			return
		}
		count = n
	}
	db := c.DB()
	tx, s, e := setWrite(c, args[1])
	if tx == nil {
		return
	}
	if s == nil || count == 0 {
		tx.Unlock()
		if count < 0 {
			c.Null()
		} else {
			c.SetLen(0)
		}
		return
	}
	all := count >= int64(s.Len())
	popped, deleted := setPop(tx, db, args[1], s, e, count, all)
	tx.Unlock()
	if all {
		c.Propagate([]byte("DEL"), args[1])
	} else {
		c.Propagate(append([][]byte{[]byte("SREM"), args[1]}, popped...)...)
	}
	c.Notify(kernel.NotifySet, "spop", args[1])
	if deleted {
		c.Notify(kernel.NotifyGeneric, "del", args[1])
	}
	if count < 0 {
		c.Bulk(popped[0])
		return
	}
	c.SetLen(len(popped))
	for _, m := range popped {
		c.Bulk(m)
	}
}

// setPop removes count random members of s, stored at key (e, from the
// command's lookup; 1 member when count is -1, all of them when all is
// set) and returns copies of them, and whether key was deleted.
func setPop(tx *store.Tx, db int, key []byte, s *set.Set, e store.Entry, count int64, all bool) (popped [][]byte, deleted bool) {
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
	return popped, setSave(tx, db, key, s, e, false)
}

// srandmemberCommand is SRANDMEMBER key [count]: distinct members for a
// positive count, possibly repeated ones for a negative count.
func srandmemberCommand(c *kernel.Ctx, args [][]byte) {
	if len(args) > 3 {
		c.Err(protocol.ErrSyntax)
		return
	}
	var count int64
	if len(args) == 3 {
		var ok bool
		if count, ok = protocol.ParseInt(args[2]); !ok {
			c.Err(protocol.ErrNotInteger)
			return
		}
		if count == math.MinInt64 {
			c.Err(kernel.ErrCountRange)
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
		c.Null()
	case len(args) == 2:
		m, _ := s.Random()
		c.Bulk(m)
	case s == nil || count == 0:
		c.Array(0)
	default:
		setRandReply(c, s, count)
	}
}

// setRandReply replies count random members of s (see srandmemberCommand).
func setRandReply(c *kernel.Ctx, s *set.Set, count int64) {
	if count < 0 {
		c.Array(int(-count))
		if s.Encoding() == "listpack" {
			// Random on a listpack walks it: index it once instead.
			var all [][]byte
			s.Each(func(m []byte) bool { all = append(all, m); return true })
			for range -count {
				c.Bulk(all[rand.IntN(len(all))])
			}
			return
		}
		for range -count {
			m, _ := s.Random()
			c.Bulk(m)
		}
		return
	}
	if count >= int64(s.Len()) {
		c.Array(s.Len())
		s.Each(func(m []byte) bool { c.Bulk(m); return true })
		return
	}
	c.Array(int(count))
	if count*3 > int64(s.Len()) {
		var all [][]byte
		s.Each(func(m []byte) bool { all = append(all, slices.Clone(m)); return true })
		for i := range int(count) {
			j := i + rand.IntN(len(all)-i)
			all[i], all[j] = all[j], all[i]
			c.Bulk(all[i])
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
		c.Bulk(m)
	}
}

func smoveCommand(c *kernel.Ctx, args [][]byte) {
	src, dst, m := args[1], args[2], args[3]
	db := c.DB()
	tx := c.Lock(src, dst)
	ss, se, wrongS := setGet(tx, db, src, true)
	ds, de, wrongD := setGet(tx, db, dst, true)
	if ss == nil && !wrongS {
		tx.Unlock()
		c.Int(0)
		return
	}
	if wrongS || wrongD {
		tx.Unlock()
		c.Err(protocol.ErrWrongType)
		return
	}
	if string(src) == string(dst) {
		ok := ss.Has(m)
		tx.Unlock()
		c.BoolInt(ok)
		return
	}
	if !ss.Remove(m) {
		tx.Unlock()
		c.Int(0)
		return
	}
	srcDeleted := setSave(tx, db, src, ss, se, false)
	isNew := ds == nil
	if isNew {
		ds = set.NewFor(m, 1)
	}
	added, err := ds.Add(m)
	setSave(tx, db, dst, ds, de, isNew)
	tx.Unlock()
	if err != nil {
		c.Err(kernel.ErrCollectionFull)
		return
	}
	c.Propagate(args...)
	c.Notify(kernel.NotifySet, "srem", src)
	if srcDeleted {
		c.Notify(kernel.NotifyGeneric, "del", src)
	}
	if added {
		c.Notify(kernel.NotifySet, "sadd", dst)
	}
	c.Int(1)
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
func setLoad(c *kernel.Ctx, tx *store.Tx, keys [][]byte, write bool) ([]*set.Set, bool) {
	db := c.DB()
	sets := make([]*set.Set, len(keys))
	for i, k := range keys {
		s, _, wrong := setGet(tx, db, k, write)
		if wrong {
			c.Err(protocol.ErrWrongType)
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
func setAlgebra(c *kernel.Ctx, op setOp, keys [][]byte) {
	tx := c.Lock(keys...)
	defer tx.Unlock()
	sets, ok := setLoad(c, tx, keys, false)
	if !ok {
		return
	}
	res, _, err := setCompute(op, sets, 0, false)
	if err != nil {
		c.Err(kernel.ErrCollectionFull)
		return
	}
	setReply(c, res)
}

func sinterCommand(c *kernel.Ctx, args [][]byte) { setAlgebra(c, opInter, args[1:]) }
func sunionCommand(c *kernel.Ctx, args [][]byte) { setAlgebra(c, opUnion, args[1:]) }
func sdiffCommand(c *kernel.Ctx, args [][]byte)  { setAlgebra(c, opDiff, args[1:]) }

var setStoreEvents = [...]string{opInter: "sinterstore", opUnion: "sunionstore", opDiff: "sdiffstore"}

// setAlgebraStore stores op over args[2:] in args[1] (replacing any value
// and TTL; an empty result deletes it) and replies its cardinality.
func setAlgebraStore(c *kernel.Ctx, op setOp, args [][]byte) {
	db := c.DB()
	dst := args[1]
	tx := c.Lock(args[1:]...)
	sets, ok := setLoad(c, tx, args[2:], true)
	if !ok {
		tx.Unlock()
		return
	}
	res, n, err := setCompute(op, sets, 0, false)
	if err != nil {
		tx.Unlock()
		c.Err(kernel.ErrCollectionFull)
		return
	}
	if n == 0 {
		deleted := tx.Delete(db, dst)
		tx.Unlock()
		if deleted {
			c.Propagate([]byte("DEL"), dst)
			c.Notify(kernel.NotifyGeneric, "del", dst)
		}
		c.Int(0)
		return
	}
	tx.SetObject(db, dst, store.TypeSet, res, res.Size(), 0)
	tx.Unlock()
	c.Propagate(args...)
	c.Notify(kernel.NotifySet, setStoreEvents[op], dst)
	c.Int(int64(n))
}

func sinterstoreCommand(c *kernel.Ctx, args [][]byte) { setAlgebraStore(c, opInter, args) }
func sunionstoreCommand(c *kernel.Ctx, args [][]byte) { setAlgebraStore(c, opUnion, args) }
func sdiffstoreCommand(c *kernel.Ctx, args [][]byte)  { setAlgebraStore(c, opDiff, args) }

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
		if !kernel.KeyWordIs(args[i], "limit") || i+1 >= len(args) {
			return 0, 0, protocol.ErrSyntax
		}
		if limit, ok = protocol.ParseInt(args[i+1]); !ok || limit < 0 {
			return 0, 0, setErrLimitNeg
		}
	}
	return int(n), limit, ""
}

// sintercardCommand is SINTERCARD numkeys key [key …] [LIMIT limit].
func sintercardCommand(c *kernel.Ctx, args [][]byte) {
	n, limit, errText := sintercardParse(args)
	if errText != "" {
		c.Err(errText)
		return
	}
	keys := args[2 : 2+n]
	tx := c.Lock(keys...)
	sets, ok := setLoad(c, tx, keys, false)
	if !ok {
		tx.Unlock()
		return
	}
	_, n, _ = setCompute(opInter, sets, int(min(limit, math.MaxInt32)), true)
	tx.Unlock()
	c.Int(int64(n))
}
