package server

import (
	"math"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// Counters: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. Each records its effect
// as SET key <result> KEEPTTL, the exact state it produced.

const strErrDecrOverflow = "ERR decrement would overflow"

func incrCommand(c *client, args [][]byte) { strIncrBy(c, args[1], 1) }
func decrCommand(c *client, args [][]byte) { strIncrBy(c, args[1], -1) }

func incrbyCommand(c *client, args [][]byte) {
	n, ok := protocol.ParseInt(args[2])
	if !ok {
		c.err(protocol.ErrNotInteger)
		return
	}
	strIncrBy(c, args[1], n)
}

func decrbyCommand(c *client, args [][]byte) {
	n, ok := protocol.ParseInt(args[2])
	if !ok {
		c.err(protocol.ErrNotInteger)
		return
	}
	if n == math.MinInt64 {
		c.err(strErrDecrOverflow)
		return
	}
	strIncrBy(c, args[1], -n)
}

// strIncrBy adds incr to the integer value of key (0 when missing), keeping
// its TTL, and replies the result.
func strIncrBy(c *client, key []byte, incr int64) {
	tx, e, found := strLookupString(c, key, true)
	if tx == nil {
		return
	}
	var cur int64
	if found {
		var ok bool
		if cur, ok = protocol.ParseInt(e.Str()); !ok {
			tx.Unlock()
			c.err(protocol.ErrNotInteger)
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
	nv := strconv.AppendInt(num[:0], cur, 10)
	tx.SetString(int(c.db.Load()), key, nv, store.KeepTTL)
	tx.Unlock()
	if strRecording(c) {
		c.propagate(strWordSet, key, nv, strWordKeepTTL)
	}
	c.notify(notifyString, "incrby", key)
	c.int(cur)
}

func incrbyfloatCommand(c *client, args [][]byte) {
	tx, e, found := strLookupString(c, args[1], true)
	if tx == nil {
		return
	}
	cur := protocol.ZeroLongDouble()
	if found {
		var ok bool
		if cur, ok = protocol.ParseLongDouble(e.Str()); !ok {
			tx.Unlock()
			c.err(protocol.ErrNotFloat)
			return
		}
	}
	incr, ok := protocol.ParseLongDouble(args[2])
	if !ok {
		tx.Unlock()
		c.err(protocol.ErrNotFloat)
		return
	}
	sum, ok := protocol.AddLongDouble(cur, incr)
	if !ok {
		tx.Unlock()
		c.err(protocol.ErrNaNInf)
		return
	}
	nv := protocol.AppendLongDouble(c.scratch[:0], sum)
	tx.SetString(int(c.db.Load()), args[1], nv, store.KeepTTL)
	tx.Unlock()
	if strRecording(c) {
		c.propagate(strWordSet, args[1], nv, strWordKeepTTL)
	}
	c.notify(notifyString, "incrbyfloat", args[1])
	c.bulk(nv)
	strKeepScratch(c, nv)
}
