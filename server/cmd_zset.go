package server

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/zset"
)

// Sorted set commands. The value is a store/zset.ZSet kept under a
// store.TypeZSet record. This file declares them and holds the helpers;
// the handlers live in cmd_zset_add.go (ZADD, ZREM, ZSCORE, ZRANK…),
// cmd_zset_range.go (ZRANGE family, ZCOUNT, ZREMRANGEBY*),
// cmd_zset_pop.go (ZPOP*, ZMPOP, BZ*, ZRANDMEMBER, ZSCAN) and
// cmd_zset_store.go (ZUNION, ZINTER, ZDIFF and their STORE forms).

// zsetCommands declares the sorted set commands (ZADD, ZRANGE, BZPOPMIN, …).
func zsetCommands() []spec {
	z := func(name string, arity int, flags string, first, last int, fn handlerFunc, since, summary, cx string) spec {
		step := 1
		if first == 0 {
			step = 0 // keys found by key specs only (numkeys)
		}
		return spec{name: name, arity: arity, flags: flags, first: first, last: last, step: step,
			group: "sorted_set", since: since, summary: summary, complexity: cx, fn: fn}
	}
	logN := "O(log(N))"
	rangeCx := "O(log(N)+M) with N the number of elements in the sorted set and M the number of elements returned."
	specs := []spec{
		z("zadd", -4, "write denyoom fast", 1, 1, zaddCommand, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", logN+" for each item added"),
		z("zincrby", 4, "write denyoom fast", 1, 1, zincrbyCommand, "1.2.0", "Increment the score of a member in a sorted set", logN).withKeys("RW access update | index 1 | range 0 1 0"),
		z("zrem", -3, "write fast", 1, 1, zremCommand, "1.2.0", "Remove one or more members from a sorted set", "O(M*log(N))").withKeys("RW delete | index 1 | range 0 1 0"),
		z("zscore", 3, "readonly fast", 1, 1, zscoreCommand, "1.2.0", "Get the score associated with the given member in a sorted set", "O(1)"),
		z("zmscore", -3, "readonly fast", 1, 1, zmscoreCommand, "6.2.0", "Get the score associated with the given members in a sorted set", "O(N)"),
		z("zcard", 2, "readonly fast", 1, 1, zcardCommand, "1.2.0", "Get the number of members in a sorted set", "O(1)").withKeys("RO | index 1 | range 0 1 0"),
		z("zcount", 4, "readonly fast", 1, 1, zcountCommand, "2.0.0", "Count the members in a sorted set with scores within the given values", logN),
		z("zlexcount", 4, "readonly fast", 1, 1, zlexcountCommand, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", logN),
		z("zrange", -4, "readonly", 1, 1, zrangeCommand, "1.2.0", "Return a range of members in a sorted set", rangeCx),
		z("zrangestore", -5, "write denyoom", 1, 2, zrangestoreCommand, "6.2.0", "Store a range of members from sorted set into another key", rangeCx).withKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | range 0 1 0"),
		z("zrangebyscore", -4, "readonly", 1, 1, zrangebyscoreCommand, "1.0.5", "Return a range of members in a sorted set, by score", rangeCx),
		z("zrevrangebyscore", -4, "readonly", 1, 1, zrevrangebyscoreCommand, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", rangeCx),
		z("zrangebylex", -4, "readonly", 1, 1, zrangebylexCommand, "2.8.9", "Return a range of members in a sorted set, by lexicographical range", rangeCx),
		z("zrevrangebylex", -4, "readonly", 1, 1, zrevrangebylexCommand, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", rangeCx),
		z("zrevrange", -4, "readonly", 1, 1, zrevrangeCommand, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", rangeCx),
		z("zrank", -3, "readonly fast", 1, 1, zrankCommand, "2.0.0", "Determine the index of a member in a sorted set", logN),
		z("zrevrank", -3, "readonly fast", 1, 1, zrevrankCommand, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", logN),
		z("zpopmin", -2, "write fast", 1, 1, zpopminCommand, "5.0.0", "Remove and return members with the lowest scores in a sorted set", "O(log(N)*M)").withKeys("RW access delete | index 1 | range 0 1 0"),
		z("zpopmax", -2, "write fast", 1, 1, zpopmaxCommand, "5.0.0", "Remove and return members with the highest scores in a sorted set", "O(log(N)*M)").withKeys("RW access delete | index 1 | range 0 1 0"),
		withBlock(z("bzpopmin", -3, "write noscript blocking fast", 1, -2, bzpopminCommand, "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", logN).withKeys("RW access delete | index 1 | range -2 1 0"), bzpopminBlock),
		withBlock(z("bzpopmax", -3, "write noscript blocking fast", 1, -2, bzpopmaxCommand, "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", logN).withKeys("RW access delete | index 1 | range -2 1 0"), bzpopmaxBlock),
		z("zremrangebyscore", 4, "write", 1, 1, zremrangebyscoreCommand, "1.2.0", "Remove all members in a sorted set within the given scores", rangeCx).withKeys("RW delete | index 1 | range 0 1 0"),
		z("zremrangebyrank", 4, "write", 1, 1, zremrangebyrankCommand, "2.0.0", "Remove all members in a sorted set within the given indexes", rangeCx).withKeys("RW delete | index 1 | range 0 1 0"),
		z("zremrangebylex", 4, "write", 1, 1, zremrangebylexCommand, "2.8.9", "Remove all members in a sorted set between the given lexicographical range", rangeCx).withKeys("RW delete | index 1 | range 0 1 0"),
		z("zrandmember", -2, "readonly", 1, 1, zrandmemberCommand, "6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned").withTips("nondeterministic_output"),
		z("zscan", -3, "readonly", 1, 1, zscanCommand, "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration.").withTips("nondeterministic_output"),
	}
	setop := "O(N)+O(M*log(M)) with N the sum of the sizes of the input sorted sets, and M the number of elements in the resulting sorted set."
	specs = append(specs,
		z("zmpop", -4, "write", 0, 0, zmpopCommand, "7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N))").withKeys("RW access delete | index 1 | keynum 0 1 1"),
		withBlock(z("bzmpop", -5, "write blocking", 0, 0, bzmpopCommand, "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "O(K) + O(M*log(N))").withKeys("RW access delete | index 2 | keynum 0 1 1"), bzmpopBlock),
		z("zunionstore", -4, "write denyoom", 1, 1, zunionstoreCommand, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", setop).withKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | keynum 0 1 1"),
		z("zinterstore", -4, "write denyoom", 1, 1, zinterstoreCommand, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", setop).withKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | keynum 0 1 1"),
		z("zdiffstore", -4, "write denyoom", 1, 1, zdiffstoreCommand, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", setop).withKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | keynum 0 1 1"),
		z("zunion", -3, "readonly", 0, 0, zunionCommand, "6.2.0", "Add multiple sorted sets", setop).withKeys("RO access | index 1 | keynum 0 1 1"),
		z("zinter", -3, "readonly", 0, 0, zinterCommand, "6.2.0", "Intersect multiple sorted sets", setop).withKeys("RO access | index 1 | keynum 0 1 1"),
		z("zdiff", -3, "readonly", 0, 0, zdiffCommand, "6.2.0", "Subtract multiple sorted sets", setop).withKeys("RO access | index 1 | keynum 0 1 1"),
		z("zintercard", -3, "readonly", 0, 0, zintercardCommand, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", setop).withKeys("RO access | index 1 | keynum 0 1 1"),
	)
	return specs
}

// Command names and words used in effects.
var (
	cmdZAdd    = []byte("ZADD")
	cmdZPopMin = []byte("ZPOPMIN")
	cmdZPopMax = []byte("ZPOPMAX")
)

// zsetGet looks key up in the client's database. It returns the set (nil
// when the key is missing); it replies WRONGTYPE and returns ok false when
// the key holds another type.
func zsetGet(c *client, tx *store.Tx, key []byte, write bool) (z *zset.ZSet, e store.Entry, ok bool) {
	db := int(c.db.Load())
	var found bool
	if write {
		e, found = tx.LookupWrite(db, key)
	} else {
		e, found = tx.LookupRead(db, key)
	}
	if !found {
		return nil, e, true
	}
	if e.Type() != store.TypeZSet {
		if c.rerunning() { // a woken BZPOP*/BZMPOP skips it
			return nil, e, true
		}
		c.err(protocol.ErrWrongType)
		return nil, e, false
	}
	return e.Object().(*zset.ZSet), e, true
}

// zsetSaved records that z, stored at key, changed: resizes it, or deletes
// the key when z is empty. It reports whether the key was deleted (the
// caller then notifies "del" after its own event).
func zsetSaved(c *client, tx *store.Tx, key []byte, z *zset.ZSet) bool {
	db := int(c.db.Load())
	if z.Len() == 0 {
		tx.Delete(db, key)
		return true
	}
	tx.Resize(db, key, z.Size())
	return false
}

// zsetPair writes one member with its score: a two-item array in RESP3
// when nested, else two flat items.
func (c *client) zsetPair(member []byte, score float64, nested bool) {
	if nested {
		c.array(2)
	}
	c.bulk(member)
	c.double(score)
}

// zsetReplyRange writes n members of z from ascending rank start, going
// down when rev, with their scores when withScores (RESP3: pairs).
func (c *client) zsetReplyRange(z *zset.ZSet, start, n int, rev, withScores bool) {
	nested := withScores && c.resp3.Load()
	switch {
	case nested || !withScores:
		c.array(n)
	default:
		c.array(2 * n)
	}
	if n == 0 {
		return
	}
	z.Walk(start, rev, func(m []byte, s float64) bool {
		if withScores {
			c.zsetPair(m, s, nested)
		} else {
			c.bulk(m)
		}
		n--
		return n > 0
	})
}

// zsetEffectChunk is the most pairs one ZADD effect carries. Above the
// listpack limit, so that a replica's first ZADD picks the encoding the
// primary has (Redis creates a listpack for at most 128 pairs).
const zsetEffectChunk = 1024

// zsetPropagateSet records DEL dst + ZADD dst … with z's content: the
// effect of the *STORE commands. The longest member goes first: Redis's
// ZADD sizes the new set by the pair count and the first member's length,
// so the replica starts in the encoding the primary ended in (which keeps
// a -0 score as -0, where a listpack would store 0).
func (c *client) zsetPropagateSet(dst []byte, z *zset.ZSet) {
	if !c.recording() {
		return
	}
	c.propagate(cmdDel, dst)
	pairs := make([][]byte, 0, 2*z.Len())
	longest := 0
	z.Walk(0, false, func(m []byte, s float64) bool {
		if len(pairs) > 0 && len(m) > len(pairs[longest+1]) {
			longest = len(pairs)
		}
		pairs = append(pairs, protocol.AppendFloat(nil, s), append([]byte(nil), m...))
		return true
	})
	pairs[0], pairs[1], pairs[longest], pairs[longest+1] = pairs[longest], pairs[longest+1], pairs[0], pairs[1]
	for len(pairs) > 0 {
		n := min(len(pairs), 2*zsetEffectChunk)
		c.propagate(append([][]byte{cmdZAdd, dst}, pairs[:n]...)...)
		pairs = pairs[n:]
	}
}
