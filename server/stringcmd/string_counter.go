package stringcmd

import (
	"math"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
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
	var cur int64
	var nv []byte
	var msg string
	wrote := c.UpdateString(key, kernel.NotifyString, "incrby", func(old []byte, found bool) ([]byte, bool) {
		if found {
			var ok bool
			if cur, ok = protocol.ParseInt(old); !ok {
				msg = protocol.ErrNotInteger
				return nil, false
			}
		}
		if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
			msg = protocol.ErrOverflow
			return nil, false
		}
		cur += incr
		nv = strconv.AppendInt(c.Scratch[:0], cur, 10) // not on the stack: fn's result escapes
		return nv, true
	})
	switch {
	case wrote:
		c.KeepScratch(nv)
		c.Int(cur)
	case msg != "":
		c.Err(msg)
	}
}

func incrbyfloatCommand(c *kernel.Ctx, args [][]byte) {
	var nv []byte
	var msg string
	wrote := c.UpdateString(args[1], kernel.NotifyString, "incrbyfloat", func(old []byte, found bool) ([]byte, bool) {
		cur := protocol.ZeroLongDouble()
		if found {
			var ok bool
			if cur, ok = protocol.ParseLongDouble(old); !ok {
				msg = protocol.ErrNotFloat
				return nil, false
			}
		}
		incr, ok := protocol.ParseLongDouble(args[2])
		if !ok {
			msg = protocol.ErrNotFloat
			return nil, false
		}
		sum, ok := protocol.AddLongDouble(cur, incr)
		if !ok {
			msg = protocol.ErrNaNInf
			return nil, false
		}
		nv = protocol.AppendLongDouble(c.Scratch[:0], sum)
		return nv, true
	})
	switch {
	case wrote:
		c.Bulk(nv)
		c.KeepScratch(nv)
	case msg != "":
		c.Err(msg)
	}
}
