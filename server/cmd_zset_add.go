package server

import (
	"math"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/zset"
)

// ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZRANK, ZREVRANK.

func zaddCommand(c *client, args [][]byte) {
	o, at, msg := protocol.ParseZAddOptions(args[2:])
	if msg != "" {
		c.err(msg)
		return
	}
	zaddGeneric(c, args, o, args[2+at:])
}

func zincrbyCommand(c *client, args [][]byte) {
	zaddGeneric(c, args, protocol.ZAddOptions{Incr: true}, args[2:])
}

// zaddGeneric adds the score/member pairs with the options o (ZINCRBY is
// ZADD INCR with one pair).
func zaddGeneric(c *client, args [][]byte, o protocol.ZAddOptions, pairs [][]byte) {
	scores := make([]float64, len(pairs)/2)
	for i := range scores {
		f, ok := protocol.ParseFloat(pairs[2*i])
		if !ok {
			c.err(protocol.ErrNotFloat)
			return
		}
		scores[i] = f
	}
	key := args[1]
	db := int(c.db.Load())
	tx := c.lock(key)
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, key, true)
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
	}
	r, ok := zaddApply(z, o, scores, pairs)
	if !ok {
		c.err(protocol.ErrZScoreNaN)
		return
	}
	if r.added+r.updated > 0 {
		if created {
			tx.SetObject(db, key, store.TypeZSet, z, z.Size(), 0)
		} else {
			tx.Resize(db, key, z.Size())
		}
		event := "zadd"
		if o.Incr {
			event = "zincr"
		}
		c.notify(notifyZSet, event, key)
		c.propagate(args...)
	}
	switch {
	case o.Incr && r.aborted:
		c.null()
	case o.Incr:
		c.double(r.result)
	case o.CH:
		c.int(int64(r.added + r.updated))
	default:
		c.int(int64(r.added))
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

func zaddReplyNothing(c *client, o protocol.ZAddOptions) {
	if o.Incr {
		c.null()
		return
	}
	c.int(0)
}

func zremCommand(c *client, args [][]byte) {
	key := args[1]
	tx := c.lock(key)
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, key, true)
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
		deleted := zsetSaved(c, tx, key, z)
		c.notify(notifyZSet, "zrem", key)
		if deleted {
			c.notify(notifyGeneric, "del", key)
		}
		c.propagate(args...)
	}
	c.int(int64(n))
}

func zscoreCommand(c *client, args [][]byte) {
	tx := c.lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.null()
		return
	}
	s, found := z.Score(args[2])
	if !found {
		c.null()
		return
	}
	c.double(s)
}

func zmscoreCommand(c *client, args [][]byte) {
	tx := c.lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	c.array(len(args) - 2)
	for _, m := range args[2:] {
		if z == nil {
			c.null()
			continue
		}
		if s, found := z.Score(m); found {
			c.double(s)
		} else {
			c.null()
		}
	}
}

func zcardCommand(c *client, args [][]byte) {
	tx := c.lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.int(0)
		return
	}
	c.int(int64(z.Len()))
}

func zrankCommand(c *client, args [][]byte)    { zrankGeneric(c, args, false) }
func zrevrankCommand(c *client, args [][]byte) { zrankGeneric(c, args, true) }

// zrankGeneric is ZRANK/ZREVRANK key member [WITHSCORE] (WITHSCORE is
// Redis 7.2's).
func zrankGeneric(c *client, args [][]byte, rev bool) {
	withScore := false
	if len(args) > 4 || len(args) == 4 && !keyWordIs(args[3], "withscore") {
		c.err(protocol.ErrSyntax)
		return
	} else if len(args) == 4 {
		withScore = true
	}
	tx := c.lock(args[1])
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
		c.nullArray()
	case !found:
		c.null()
	case withScore:
		c.array(2)
		c.int(int64(rank))
		c.double(score)
	default:
		c.int(int64(rank))
	}
}
