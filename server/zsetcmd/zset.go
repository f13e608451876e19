package zsetcmd

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
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
func zsetCommands() []kernel.Spec {
	z := func(name string, arity int, flags string, first, last int, fn kernel.Handler, since, summary, cx string) kernel.Spec {
		step := 1
		if first == 0 {
			step = 0 // keys found by key specs only (numkeys)
		}
		return kernel.Spec{Name: name, Arity: arity, Flags: flags, First: first, Last: last, Step: step,
			Group: "sorted_set", Since: since, Summary: summary, Complexity: cx, Fn: fn}
	}
	logN := "O(log(N))"
	rangeCx := "O(log(N)+M) with N the number of elements in the sorted set and M the number of elements returned."
	specs := []kernel.Spec{
		z("zadd", -4, "write denyoom fast", 1, 1, zaddCommand, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", logN+" for each item added"),
		z("zincrby", 4, "write denyoom fast", 1, 1, zincrbyCommand, "1.2.0", "Increment the score of a member in a sorted set", logN).WithKeys("RW access update | index 1 | range 0 1 0"),
		z("zrem", -3, "write fast", 1, 1, zremCommand, "1.2.0", "Remove one or more members from a sorted set", "O(M*log(N))").WithKeys("RW delete | index 1 | range 0 1 0"),
		z("zscore", 3, "readonly fast", 1, 1, zscoreCommand, "1.2.0", "Get the score associated with the given member in a sorted set", "O(1)"),
		z("zmscore", -3, "readonly fast", 1, 1, zmscoreCommand, "6.2.0", "Get the score associated with the given members in a sorted set", "O(N)"),
		z("zcard", 2, "readonly fast", 1, 1, zcardCommand, "1.2.0", "Get the number of members in a sorted set", "O(1)").WithKeys("RO | index 1 | range 0 1 0"),
		z("zcount", 4, "readonly fast", 1, 1, zcountCommand, "2.0.0", "Count the members in a sorted set with scores within the given values", logN),
		z("zlexcount", 4, "readonly fast", 1, 1, zlexcountCommand, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", logN),
		z("zrange", -4, "readonly", 1, 1, zrangeCommand, "1.2.0", "Return a range of members in a sorted set", rangeCx),
		z("zrangestore", -5, "write denyoom", 1, 2, zrangestoreCommand, "6.2.0", "Store a range of members from sorted set into another key", rangeCx).WithKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | range 0 1 0"),
		z("zrangebyscore", -4, "readonly", 1, 1, zrangebyscoreCommand, "1.0.5", "Return a range of members in a sorted set, by score", rangeCx),
		z("zrevrangebyscore", -4, "readonly", 1, 1, zrevrangebyscoreCommand, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", rangeCx),
		z("zrangebylex", -4, "readonly", 1, 1, zrangebylexCommand, "2.8.9", "Return a range of members in a sorted set, by lexicographical range", rangeCx),
		z("zrevrangebylex", -4, "readonly", 1, 1, zrevrangebylexCommand, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", rangeCx),
		z("zrevrange", -4, "readonly", 1, 1, zrevrangeCommand, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", rangeCx),
		z("zrank", -3, "readonly fast", 1, 1, zrankCommand, "2.0.0", "Determine the index of a member in a sorted set", logN),
		z("zrevrank", -3, "readonly fast", 1, 1, zrevrankCommand, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", logN),
		z("zpopmin", -2, "write fast", 1, 1, zpopminCommand, "5.0.0", "Remove and return members with the lowest scores in a sorted set", "O(log(N)*M)").WithKeys("RW access delete | index 1 | range 0 1 0"),
		z("zpopmax", -2, "write fast", 1, 1, zpopmaxCommand, "5.0.0", "Remove and return members with the highest scores in a sorted set", "O(log(N)*M)").WithKeys("RW access delete | index 1 | range 0 1 0"),
		kernel.WithBlock(z("bzpopmin", -3, "write noscript blocking fast", 1, -2, bzpopminCommand, "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", logN).WithKeys("RW access delete | index 1 | range -2 1 0"), bzpopminBlock),
		kernel.WithBlock(z("bzpopmax", -3, "write noscript blocking fast", 1, -2, bzpopmaxCommand, "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", logN).WithKeys("RW access delete | index 1 | range -2 1 0"), bzpopmaxBlock),
		z("zremrangebyscore", 4, "write", 1, 1, zremrangebyscoreCommand, "1.2.0", "Remove all members in a sorted set within the given scores", rangeCx).WithKeys("RW delete | index 1 | range 0 1 0"),
		z("zremrangebyrank", 4, "write", 1, 1, zremrangebyrankCommand, "2.0.0", "Remove all members in a sorted set within the given indexes", rangeCx).WithKeys("RW delete | index 1 | range 0 1 0"),
		z("zremrangebylex", 4, "write", 1, 1, zremrangebylexCommand, "2.8.9", "Remove all members in a sorted set between the given lexicographical range", rangeCx).WithKeys("RW delete | index 1 | range 0 1 0"),
		z("zrandmember", -2, "readonly", 1, 1, zrandmemberCommand, "6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned").WithTips("nondeterministic_output"),
		z("zscan", -3, "readonly", 1, 1, zscanCommand, "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration.").WithTips("nondeterministic_output"),
	}
	setop := "O(N)+O(M*log(M)) with N the sum of the sizes of the input sorted sets, and M the number of elements in the resulting sorted set."
	specs = append(specs,
		z("zmpop", -4, "write", 0, 0, zmpopCommand, "7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N))").WithKeys("RW access delete | index 1 | keynum 0 1 1"),
		kernel.WithBlock(z("bzmpop", -5, "write blocking", 0, 0, bzmpopCommand, "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "O(K) + O(M*log(N))").WithKeys("RW access delete | index 2 | keynum 0 1 1"), bzmpopBlock),
		z("zunionstore", -4, "write denyoom", 1, 1, zunionstoreCommand, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", setop).WithKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | keynum 0 1 1"),
		z("zinterstore", -4, "write denyoom", 1, 1, zinterstoreCommand, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", setop).WithKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | keynum 0 1 1"),
		z("zdiffstore", -4, "write denyoom", 1, 1, zdiffstoreCommand, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", setop).WithKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | keynum 0 1 1"),
		z("zunion", -3, "readonly", 0, 0, zunionCommand, "6.2.0", "Add multiple sorted sets", setop).WithKeys("RO access | index 1 | keynum 0 1 1"),
		z("zinter", -3, "readonly", 0, 0, zinterCommand, "6.2.0", "Intersect multiple sorted sets", setop).WithKeys("RO access | index 1 | keynum 0 1 1"),
		z("zdiff", -3, "readonly", 0, 0, zdiffCommand, "6.2.0", "Subtract multiple sorted sets", setop).WithKeys("RO access | index 1 | keynum 0 1 1"),
		z("zintercard", -3, "readonly", 0, 0, zintercardCommand, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", setop).WithKeys("RO access | index 1 | keynum 0 1 1"),
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
func zsetGet(c *kernel.Ctx, tx *store.Tx, key []byte, write bool) (z *zset.ZSet, e store.Entry, ok bool) {
	db := c.DB()
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
		if c.Rerunning() { // a woken BZPOP*/BZMPOP skips it
			return nil, e, true
		}
		c.Err(protocol.ErrWrongType)
		return nil, e, false
	}
	return e.Object().(*zset.ZSet), e, true
}

// zsetSaved records that z, stored at key (e, from the command's lookup),
// changed: resizes it, or deletes the key when z is empty. It reports
// whether the key was deleted (the caller then notifies "del" after its
// own event).
func zsetSaved(c *kernel.Ctx, tx *store.Tx, key []byte, z *zset.ZSet, e store.Entry) bool {
	db := c.DB()
	if z.Len() == 0 {
		tx.Delete(db, key)
		return true
	}
	e.Resize(z.Size())
	return false
}

// zsetPair writes one member with its score: a two-item array in RESP3
// when nested, else two flat items.
func zsetPair(c *kernel.Ctx, member []byte, score float64, nested bool) {
	if nested {
		c.Array(2)
	}
	c.Bulk(member)
	c.Double(score)
}

// zsetReplyRange writes n members of z from ascending rank start, going
// down when rev, with their scores when withScores (RESP3: pairs).
func zsetReplyRange(c *kernel.Ctx, z *zset.ZSet, start, n int, rev, withScores bool) {
	nested := withScores && c.RESP3.Load()
	switch {
	case nested || !withScores:
		c.Array(n)
	default:
		c.Array(2 * n)
	}
	if n == 0 {
		return
	}
	z.Walk(start, rev, func(m []byte, s float64) bool {
		if withScores {
			zsetPair(c, m, s, nested)
		} else {
			c.Bulk(m)
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
func zsetPropagateSet(c *kernel.Ctx, dst []byte, z *zset.ZSet) {
	if !c.Recording() {
		return
	}
	c.Propagate(kernel.CmdDel, dst)
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
		c.Propagate(append([][]byte{cmdZAdd, dst}, pairs[:n]...)...)
		pairs = pairs[n:]
	}
}
