package stringcmd

import (
	"math"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

// Counters: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. Each records its effect
// as SET key <result> KEEPTTL, the exact state it produced.

const strErrDecrOverflow = "ERR decrement would overflow"

func incrCommand(c *kernel.Ctx, args [][]byte) { strIncrBy(c, args[1], 1) }
func decrCommand(c *kernel.Ctx, args [][]byte) { strIncrBy(c, args[1], -1) }

func incrbyCommand(c *kernel.Ctx, args [][]byte) {
	n, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	strIncrBy(c, args[1], n)
}

func decrbyCommand(c *kernel.Ctx, args [][]byte) {
	n, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if n == math.MinInt64 {
		c.Err(strErrDecrOverflow)
		return
	}
	strIncrBy(c, args[1], -n)
}

// strIncrBy adds incr to the integer value of key (0 when missing), keeping
// its TTL, and replies the result.
func strIncrBy(c *kernel.Ctx, key []byte, incr int64) {
	tx, e, found := LookupString(c, key, true)
	if tx == nil {
		return
	}
	var cur int64
	if found {
		var ok bool
		if cur, ok = protocol.ParseInt(e.Str()); !ok {
			tx.Unlock()
			c.Err(protocol.ErrNotInteger)
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
	nv := strconv.AppendInt(num[:0], cur, 10)
	tx.SetString(c.DB(), key, nv, store.KeepTTL)
	tx.Unlock()
	if c.Recording() {
		c.Propagate(WordSet, key, nv, strWordKeepTTL)
	}
	c.Notify(kernel.NotifyString, "incrby", key)
	c.Int(cur)
}

func incrbyfloatCommand(c *kernel.Ctx, args [][]byte) {
	tx, e, found := LookupString(c, args[1], true)
	if tx == nil {
		return
	}
	cur := protocol.ZeroLongDouble()
	if found {
		var ok bool
		if cur, ok = protocol.ParseLongDouble(e.Str()); !ok {
			tx.Unlock()
			c.Err(protocol.ErrNotFloat)
			return
		}
	}
	incr, ok := protocol.ParseLongDouble(args[2])
	if !ok {
		tx.Unlock()
		c.Err(protocol.ErrNotFloat)
		return
	}
	sum, ok := protocol.AddLongDouble(cur, incr)
	if !ok {
		tx.Unlock()
		c.Err(protocol.ErrNaNInf)
		return
	}
	nv := protocol.AppendLongDouble(c.Scratch[:0], sum)
	tx.SetString(c.DB(), args[1], nv, store.KeepTTL)
	tx.Unlock()
	if c.Recording() {
		c.Propagate(WordSet, args[1], nv, strWordKeepTTL)
	}
	c.Notify(kernel.NotifyString, "incrbyfloat", args[1])
	c.Bulk(nv)
	strKeepScratch(c, nv)
}
