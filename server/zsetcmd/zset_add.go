package zsetcmd

import (
	"math"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/zset"
)

// ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZRANK, ZREVRANK.

func zaddCommand(c *kernel.Ctx, args [][]byte) {
	o, at, msg := protocol.ParseZAddOptions(args[2:])
	if msg != "" {
		c.Err(msg)
		return
	}
	zaddGeneric(c, args, o, args[2+at:])
}

func zincrbyCommand(c *kernel.Ctx, args [][]byte) {
	zaddGeneric(c, args, protocol.ZAddOptions{Incr: true}, args[2:])
}

// zaddGeneric adds the score/member pairs with the options o (ZINCRBY is
// ZADD INCR with one pair).
func zaddGeneric(c *kernel.Ctx, args [][]byte, o protocol.ZAddOptions, pairs [][]byte) {
	var small [128]float64 // on the stack: a ZADD of up to 128 pairs leaves no garbage
	var scores []float64
	if n := len(pairs) / 2; n > len(small) {
		scores = make([]float64, n)
	} else {
		scores = small[:n]
	}
	for i := range scores {
		f, ok := protocol.ParseFloat(pairs[2*i])
		if !ok {
			c.Err(protocol.ErrNotFloat)
			return
		}
		scores[i] = f
	}
	key := args[1]
	db := c.DB()
	tx := c.Lock(key)
	defer tx.Unlock()
	z, e, ok := zsetGet(c, tx, key, true)
	if !ok {
		return
	}
	created := false
	if z == nil {
		if o.XX {
			zaddReplyNothing(c, o)
			return
		}
		// As Redis 7.0: the hints are the number of pairs and the length
		// of the first member only.
		z, created = zset.New(len(scores), len(pairs[1])), true
		z.ReservePairs(scores, pairs)
	}
	r, ok := zaddApply(z, o, scores, pairs)
	if !ok {
		c.Err(protocol.ErrZScoreNaN)
		return
	}
	if r.added+r.updated > 0 {
		if created {
			tx.SetObject(db, key, store.TypeZSet, z, z.Size(), 0)
		} else {
			e.Resize(z.Size())
		}
		event := "zadd"
		if o.Incr {
			event = "zincr"
		}
		c.Notify(kernel.NotifyZSet, event, key)
		c.Propagate(args...)
	}
	switch {
	case o.Incr && r.aborted:
		c.Null()
	case o.Incr:
		c.Double(r.result)
	case o.CH:
		c.Int(int64(r.added + r.updated))
	default:
		c.Int(int64(r.added))
	}
}

// zaddResult is what ZADD did.
type zaddResult struct {
	added, updated int
	result         float64 // INCR's new score
	aborted        bool    // a pair was skipped (NX, XX, GT, LT)
}

// zaddApply adds the pairs to z as Redis's zsetAdd, pair by pair; ok is
// false when an increment gives NaN (the pair is not applied).
func zaddApply(z *zset.ZSet, o protocol.ZAddOptions, scores []float64, pairs [][]byte) (r zaddResult, ok bool) {
	for i, score := range scores {
		member := pairs[2*i+1]
		cur, exists := z.Score(member)
		if o.NX && exists || o.XX && !exists {
			r.aborted = true
			continue
		}
		if o.Incr && exists {
			score += cur
			if math.IsNaN(score) {
				return r, false
			}
		}
		if exists && (o.LT && score >= cur || o.GT && score <= cur) {
			r.aborted = true
			continue
		}
		r.result = score
		switch {
		case !exists:
			z.Set(member, score)
			r.added++
		case score != cur:
			z.Set(member, score)
			r.updated++
		}
	}
	return r, true
}

func zaddReplyNothing(c *kernel.Ctx, o protocol.ZAddOptions) {
	if o.Incr {
		c.Null()
		return
	}
	c.Int(0)
}

func zremCommand(c *kernel.Ctx, args [][]byte) {
	key := args[1]
	tx := c.Lock(key)
	defer tx.Unlock()
	z, e, ok := zsetGet(c, tx, key, true)
	if !ok {
		return
	}
	n := 0
	if z != nil {
		for _, m := range args[2:] {
			if z.Remove(m) {
				n++
			}
		}
	}
	if n > 0 {
		deleted := zsetSaved(c, tx, key, z, e)
		c.Notify(kernel.NotifyZSet, "zrem", key)
		if deleted {
			c.Notify(kernel.NotifyGeneric, "del", key)
		}
		c.Propagate(args...)
	}
	c.Int(int64(n))
}

func zscoreCommand(c *kernel.Ctx, args [][]byte) {
	tx := c.Lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.Null()
		return
	}
	s, found := z.Score(args[2])
	if !found {
		c.Null()
		return
	}
	c.Double(s)
}

func zmscoreCommand(c *kernel.Ctx, args [][]byte) {
	tx := c.Lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	c.Array(len(args) - 2)
	for _, m := range args[2:] {
		if z == nil {
			c.Null()
			continue
		}
		if s, found := z.Score(m); found {
			c.Double(s)
		} else {
			c.Null()
		}
	}
}

func zcardCommand(c *kernel.Ctx, args [][]byte) {
	tx := c.Lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.Int(0)
		return
	}
	c.Int(int64(z.Len()))
}

func zrankCommand(c *kernel.Ctx, args [][]byte)    { zrankGeneric(c, args, false) }
func zrevrankCommand(c *kernel.Ctx, args [][]byte) { zrankGeneric(c, args, true) }

// zrankGeneric is ZRANK/ZREVRANK key member [WITHSCORE] (WITHSCORE is
// Redis 7.2's).
func zrankGeneric(c *kernel.Ctx, args [][]byte, rev bool) {
	withScore := false
	if len(args) > 4 || len(args) == 4 && !kernel.KeyWordIs(args[3], "withscore") {
		c.Err(protocol.ErrSyntax)
		return
	} else if len(args) == 4 {
		withScore = true
	}
	tx := c.Lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	var rank int
	var score float64
	found := false
	if z != nil {
		rank, score, found = z.Rank(args[2])
		if rev {
			rank = z.Len() - 1 - rank
		}
	}
	switch {
	case !found && withScore:
		c.NullArray()
	case !found:
		c.Null()
	case withScore:
		c.Array(2)
		c.Int(int64(rank))
		c.Double(score)
	default:
		c.Int(int64(rank))
	}
}
