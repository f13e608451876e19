package stringcmd

import (
	"slices"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/bitops"
)

// Parts of strings: APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, LCS.

const strErrOffsetRange = "ERR offset is out of range"

// strTooLong reports whether a string of n bytes would exceed
// proto-max-bulk-len, as Redis's checkStringLength.
func strTooLong(c *kernel.Ctx, n int64) bool { return n < 0 || n > c.MaxBulkLen() }

func appendCommand(c *kernel.Ctx, args [][]byte) {
	tx, e, found := LookupString(c, args[1], true)
	if tx == nil {
		return
	}
	var old []byte
	if found {
		old = e.Str()
	}
	if found && strTooLong(c, int64(len(old))+int64(len(args[2]))) {
		tx.Unlock()
		c.Err(protocol.ErrStringTooLong)
		return
	}
	db, n := c.DB(), len(old)+len(args[2])
	if v, ok := tx.GrowString(db, args[1], n); ok {
		copy(v[len(old):], args[2]) // in place: no copy of the whole value
	} else {
		tx.SetString(db, args[1], args[2], store.KeepTTL)
	}
	tx.Unlock()
	c.Propagate(args...)
	c.Notify(kernel.NotifyString, "append", args[1])
	c.Int(int64(n))
}

func strlenCommand(c *kernel.Ctx, args [][]byte) {
	tx, e, found := LookupString(c, args[1], false)
	if tx == nil {
		return
	}
	n := 0
	if found {
		n = len(e.Str())
	}
	tx.Unlock()
	c.Int(int64(n))
}

// getrangeCommand serves GETRANGE and SUBSTR key start end (inclusive,
// negative counting from the end).
func getrangeCommand(c *kernel.Ctx, args [][]byte) {
	start, ok1 := protocol.ParseInt(args[2])
	end, ok2 := protocol.ParseInt(args[3])
	if !ok1 || !ok2 {
		c.Err(protocol.ErrNotInteger)
		return
	}
	tx, e, found := LookupString(c, args[1], false)
	if tx == nil {
		return
	}
	if !found {
		tx.Unlock()
		c.Bulk(nil)
		return
	}
	v := e.Str()
	lo, hi, ok := strRange(start, end, int64(len(v)))
	if ok {
		c.Bulk(v[lo : hi+1]) // buffered: writing under the lock saves a copy
	} else {
		c.Bulk(nil)
	}
	tx.Unlock()
}

// strRange resolves GETRANGE's start and end against a string of n bytes
// as Redis does; ok false means an empty result.
func strRange(start, end, n int64) (lo, hi int64, ok bool) {
	if start < 0 && end < 0 && start > end {
		return 0, 0, false
	}
	if start < 0 {
		start = max(n+start, 0)
	}
	if end < 0 {
		end = max(n+end, 0)
	}
	end = min(end, n-1)
	if start > end || n == 0 {
		return 0, 0, false
	}
	return start, end, true
}

func setrangeCommand(c *kernel.Ctx, args [][]byte) {
	off, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if off < 0 {
		c.Err(strErrOffsetRange)
		return
	}
	val := args[3]
	tx, e, found := LookupString(c, args[1], true)
	if tx == nil {
		return
	}
	var old []byte
	if found {
		old = e.Str()
	}
	if len(val) == 0 { // nothing to write: reply the current length
		tx.Unlock()
		c.Int(int64(len(old)))
		return
	}
	if strTooLong(c, off+int64(len(val))) {
		tx.Unlock()
		c.Err(protocol.ErrStringTooLong)
		return
	}
	v := GrowValue(c, tx, args[1], found, int(off)+len(val)) // a new key: the store's zeros up to off, then val
	copy(v[off:], val)
	n := len(v)
	tx.Unlock()
	c.Propagate(args...)
	c.Notify(kernel.NotifyString, "setrange", args[1])
	c.Int(int64(n))
}

func lcsCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx := c.Lock(args[1], args[2])
	ea, fa := tx.LookupRead(db, args[1])
	eb, fb := tx.LookupRead(db, args[2])
	if (fa && ea.Type() != store.TypeString) || (fb && eb.Type() != store.TypeString) {
		tx.Unlock()
		c.Err(bitops.ErrLCSKeysType)
		return
	}
	o, errText := bitops.ParseLCS(args[3:])
	if errText != "" {
		tx.Unlock()
		c.Err(errText)
		return
	}
	var a, b []byte
	if fa {
		a = slices.Clone(ea.Str())
	}
	if fb {
		b = slices.Clone(eb.Str())
	}
	tx.Unlock() // LCS is O(N*M): compute without the lock
	res, errText := bitops.LCS(a, b, o, c.MaxBulkLen())
	if errText != "" {
		c.Err(errText)
		return
	}
	switch {
	case o.Len:
		c.Int(res.Len)
	case o.Idx:
		lcsReplyIdx(c, res, o.WithMatchLen)
	default:
		c.Bulk(res.Str)
	}
}

// lcsReplyIdx writes LCS IDX's map: matches -> [[[a0 a1] [b0 b1] (len)]…],
// len -> n.
func lcsReplyIdx(c *kernel.Ctx, res bitops.LCSResult, withLen bool) {
	c.MapLen(2)
	c.BulkString("matches")
	c.Array(len(res.Matches))
	for _, m := range res.Matches {
		if withLen {
			c.Array(3)
		} else {
			c.Array(2)
		}
		c.Array(2)
		c.Int(m.A[0])
		c.Int(m.A[1])
		c.Array(2)
		c.Int(m.B[0])
		c.Int(m.B[1])
		if withLen {
			c.Int(m.Len)
		}
	}
	c.BulkString("len")
	c.Int(res.Len)
}
