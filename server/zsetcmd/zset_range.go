package zsetcmd

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/zset"
)

// ZRANGE and its variants, ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZREMRANGEBY*.

// zrangeSpec is a parsed range: by rank (start, stop), by score or by lex.
type zrangeSpec struct {
	kind          int // protocol.ZRangeRank, ZRangeScore, ZRangeLex
	start, stop   int64
	minS, maxS    protocol.ScoreBound
	minL, maxL    protocol.LexBound
	rev           bool
	offset, count int64
	withScores    bool
}

// parseZRangeBounds parses min and max for kind, replying the error.
func parseZRangeBounds(c *kernel.Ctx, r *zrangeSpec, lo, hi []byte) bool {
	switch r.kind {
	case protocol.ZRangeRank:
		a, ok1 := protocol.ParseInt(lo)
		b, ok2 := protocol.ParseInt(hi)
		if !ok1 || !ok2 {
			c.Err(protocol.ErrNotInteger)
			return false
		}
		r.start, r.stop = a, b
	case protocol.ZRangeScore:
		a, ok1 := protocol.ParseScoreBound(lo)
		b, ok2 := protocol.ParseScoreBound(hi)
		if !ok1 || !ok2 {
			c.Err(protocol.ErrMinMaxFloat)
			return false
		}
		r.minS, r.maxS = a, b
	default:
		a, ok1 := protocol.ParseLexBound(lo)
		b, ok2 := protocol.ParseLexBound(hi)
		if !ok1 || !ok2 {
			c.Err(protocol.ErrZLexRange)
			return false
		}
		r.minL, r.maxL = a, b
	}
	return true
}

// span returns the ascending ranks [first, last) of z within the score or
// lex range (ignoring rev and LIMIT).
func (r *zrangeSpec) span(z *zset.ZSet) (first, last int) {
	if r.kind == protocol.ZRangeScore {
		return z.ScoreRank(r.minS.Value, r.minS.Ex), z.ScoreRank(r.maxS.Value, !r.maxS.Ex)
	}
	lexAt := func(b protocol.LexBound, upper bool) int {
		switch b.Inf {
		case -1:
			return 0
		case 1:
			return z.Len()
		}
		return z.LexRank(b.Value, b.Ex != upper)
	}
	return lexAt(r.minL, false), lexAt(r.maxL, true)
}

// selection returns where the result starts (an ascending rank), how many
// members it has and whether it goes down.
func (r *zrangeSpec) selection(z *zset.ZSet) (start, n int) {
	size := int64(z.Len())
	if r.kind == protocol.ZRangeRank {
		a, b := r.start, r.stop
		if a < 0 {
			a += size
		}
		if b < 0 {
			b += size
		}
		a = max(a, 0)
		if a > b || a >= size {
			return 0, 0
		}
		b = min(b, size-1)
		if r.rev {
			return int(size - 1 - a), int(b - a + 1)
		}
		return int(a), int(b - a + 1)
	}
	first, last := r.span(z)
	avail := int64(last - first)
	if avail <= 0 || r.offset < 0 || r.offset >= avail {
		return 0, 0
	}
	avail -= r.offset
	if r.count >= 0 {
		avail = min(avail, r.count)
	}
	if r.rev {
		return last - 1 - int(r.offset), int(avail)
	}
	return first + int(r.offset), int(avail)
}

func zrangeCommand(c *kernel.Ctx, args [][]byte) {
	zrangeGeneric(c, args, protocol.ZRangeAuto, false, false)
}
func zrangestoreCommand(c *kernel.Ctx, args [][]byte) {
	zrangeGeneric(c, args, protocol.ZRangeAuto, false, true)
}
func zrangebyscoreCommand(c *kernel.Ctx, args [][]byte) {
	zrangeGeneric(c, args, protocol.ZRangeScore, false, false)
}
func zrevrangebyscoreCommand(c *kernel.Ctx, args [][]byte) {
	zrangeGeneric(c, args, protocol.ZRangeScore, true, false)
}
func zrangebylexCommand(c *kernel.Ctx, args [][]byte) {
	zrangeGeneric(c, args, protocol.ZRangeLex, false, false)
}
func zrevrangebylexCommand(c *kernel.Ctx, args [][]byte) {
	zrangeGeneric(c, args, protocol.ZRangeLex, true, false)
}
func zrevrangeCommand(c *kernel.Ctx, args [][]byte) {
	zrangeGeneric(c, args, protocol.ZRangeRank, true, false)
}

// zrangeGeneric is Redis's zrangeGenericCommand: every ZRANGE form, and
// ZRANGESTORE when store (args[1] is then the destination).
func zrangeGeneric(c *kernel.Ctx, args [][]byte, kind int, rev, store bool) {
	at := 1
	if store {
		at = 2
	}
	o, msg := protocol.ParseZRangeOptions(args[at+3:], kind, rev, store)
	if msg != "" {
		c.Err(msg)
		return
	}
	r := zrangeSpec{kind: o.Kind, rev: o.Rev, offset: o.Offset, count: o.Count, withScores: o.WithScores}
	lo, hi := args[at+1], args[at+2]
	if r.rev && r.kind != protocol.ZRangeRank {
		lo, hi = hi, lo
	}
	if !parseZRangeBounds(c, &r, lo, hi) {
		return
	}
	if store {
		zrangeStore(c, args[1], args[2], &r)
		return
	}
	tx := c.Lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	if z == nil {
		c.Array(0)
		return
	}
	start, n := r.selection(z)
	zsetReplyRange(c, z, start, n, r.rev, r.withScores)
}

// zrangeStore is ZRANGESTORE: the selected members go to dst.
func zrangeStore(c *kernel.Ctx, dst, src []byte, r *zrangeSpec) {
	db := c.DB()
	tx := c.Lock(dst, src)
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, src, false)
	if !ok {
		return
	}
	var out *zset.ZSet
	if z != nil {
		start, n := r.selection(z)
		out = zset.New(n, 0)
		left := n
		if n > 0 {
			z.Walk(start, r.rev, func(m []byte, s float64) bool {
				out.Set(m, s)
				left--
				return left > 0
			})
		}
	}
	zsetStoreResult(c, tx, db, dst, out, "zrangestore")
}

// zsetStoreResult stores out at dst (replacing it, TTL dropped) or, when
// out is empty, deletes dst; notifies, records effects and replies the
// size, as Redis's *STORE commands.
func zsetStoreResult(c *kernel.Ctx, tx *store.Tx, db int, dst []byte, out *zset.ZSet, event string) {
	if out == nil || out.Len() == 0 {
		if tx.Delete(db, dst) {
			c.Notify(kernel.NotifyGeneric, "del", dst)
			c.Propagate(kernel.CmdDel, dst)
		}
		c.Int(0)
		return
	}
	tx.SetObject(db, dst, store.TypeZSet, out, out.Size(), 0)
	c.Notify(kernel.NotifyZSet, event, dst)
	zsetPropagateSet(c, dst, out)
	c.Int(int64(out.Len()))
}

func zcountCommand(c *kernel.Ctx, args [][]byte)    { zcountGeneric(c, args, protocol.ZRangeScore) }
func zlexcountCommand(c *kernel.Ctx, args [][]byte) { zcountGeneric(c, args, protocol.ZRangeLex) }

func zcountGeneric(c *kernel.Ctx, args [][]byte, kind int) {
	r := zrangeSpec{kind: kind}
	if !parseZRangeBounds(c, &r, args[2], args[3]) {
		return
	}
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
	first, last := r.span(z)
	c.Int(int64(max(last-first, 0)))
}

func zremrangebyscoreCommand(c *kernel.Ctx, args [][]byte) {
	zremrangeGeneric(c, args, protocol.ZRangeScore, "zremrangebyscore")
}
func zremrangebyrankCommand(c *kernel.Ctx, args [][]byte) {
	zremrangeGeneric(c, args, protocol.ZRangeRank, "zremrangebyrank")
}
func zremrangebylexCommand(c *kernel.Ctx, args [][]byte) {
	zremrangeGeneric(c, args, protocol.ZRangeLex, "zremrangebylex")
}

func zremrangeGeneric(c *kernel.Ctx, args [][]byte, kind int, event string) {
	r := zrangeSpec{kind: kind, count: -1}
	if !parseZRangeBounds(c, &r, args[2], args[3]) {
		return
	}
	key := args[1]
	tx := c.Lock(key)
	defer tx.Unlock()
	z, e, ok := zsetGet(c, tx, key, true)
	if !ok {
		return
	}
	if z == nil {
		c.Int(0)
		return
	}
	var first, last int
	if kind == protocol.ZRangeRank {
		start, n := r.selection(z)
		first, last = start, start+n
	} else {
		first, last = r.span(z)
	}
	n := z.RemoveRange(first, last, nil)
	if n > 0 {
		deleted := zsetSaved(c, tx, key, z, e)
		c.Notify(kernel.NotifyZSet, event, key)
		if deleted {
			c.Notify(kernel.NotifyGeneric, "del", key)
		}
		c.Propagate(args...)
	}
	c.Int(int64(n))
}
