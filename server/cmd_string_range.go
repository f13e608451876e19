package server

import (
	"slices"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/bitops"
)

// Parts of strings: APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, LCS.

const strErrOffsetRange = "ERR offset is out of range"

// strTooLong reports whether a string of n bytes would exceed
// proto-max-bulk-len, as Redis's checkStringLength.
func strTooLong(c *client, n int64) bool { return n < 0 || n > c.s.maxBulkLen.Load() }

func appendCommand(c *client, args [][]byte) {
	tx, e, found := strLookupString(c, args[1], true)
	if tx == nil {
		return
	}
	var old []byte
	if found {
		old = e.Str()
	}
	if found && strTooLong(c, int64(len(old))+int64(len(args[2]))) {
		tx.Unlock()
		c.err(protocol.ErrStringTooLong)
		return
	}
	db, n := int(c.db.Load()), len(old)+len(args[2])
	if v, ok := tx.GrowString(db, args[1], n); ok {
		copy(v[len(old):], args[2]) // in place: no copy of the whole value
	} else {
		tx.SetString(db, args[1], args[2], store.KeepTTL)
	}
	tx.Unlock()
	c.propagate(args...)
	c.notify(notifyString, "append", args[1])
	c.int(int64(n))
}

func strlenCommand(c *client, args [][]byte) {
	tx, e, found := strLookupString(c, args[1], false)
	if tx == nil {
		return
	}
	n := 0
	if found {
		n = len(e.Str())
	}
	tx.Unlock()
	c.int(int64(n))
}

// getrangeCommand serves GETRANGE and SUBSTR key start end (inclusive,
// negative counting from the end).
func getrangeCommand(c *client, args [][]byte) {
	start, ok1 := protocol.ParseInt(args[2])
	end, ok2 := protocol.ParseInt(args[3])
	if !ok1 || !ok2 {
		c.err(protocol.ErrNotInteger)
		return
	}
	tx, e, found := strLookupString(c, args[1], false)
	if tx == nil {
		return
	}
	if !found {
		tx.Unlock()
		c.bulk(nil)
		return
	}
	v := e.Str()
	lo, hi, ok := strRange(start, end, int64(len(v)))
	if ok {
		c.bulk(v[lo : hi+1]) // buffered: writing under the lock saves a copy
	} else {
		c.bulk(nil)
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

func setrangeCommand(c *client, args [][]byte) {
	off, ok := protocol.ParseInt(args[2])
	if !ok {
		c.err(protocol.ErrNotInteger)
		return
	}
	if off < 0 {
		c.err(strErrOffsetRange)
		return
	}
	val := args[3]
	tx, e, found := strLookupString(c, args[1], true)
	if tx == nil {
		return
	}
	var old []byte
	if found {
		old = e.Str()
	}
	if len(val) == 0 { // nothing to write: reply the current length
		tx.Unlock()
		c.int(int64(len(old)))
		return
	}
	if strTooLong(c, off+int64(len(val))) {
		tx.Unlock()
		c.err(protocol.ErrStringTooLong)
		return
	}
	db := int(c.db.Load())
	if !found { // a new key: the store's zeros up to off, then val
		tx.SetString(db, args[1], nil, store.KeepTTL)
	}
	v, _ := tx.GrowString(db, args[1], int(off)+len(val))
	copy(v[off:], val)
	n := len(v)
	tx.Unlock()
	c.propagate(args...)
	c.notify(notifyString, "setrange", args[1])
	c.int(int64(n))
}

func lcsCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	tx := c.lock(args[1], args[2])
	ea, fa := tx.LookupRead(db, args[1])
	eb, fb := tx.LookupRead(db, args[2])
	if (fa && ea.Type() != store.TypeString) || (fb && eb.Type() != store.TypeString) {
		tx.Unlock()
		c.err(bitops.ErrLCSKeysType)
		return
	}
	o, errText := bitops.ParseLCS(args[3:])
	if errText != "" {
		tx.Unlock()
		c.err(errText)
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
	res, errText := bitops.LCS(a, b, o, c.s.maxBulkLen.Load())
	if errText != "" {
		c.err(errText)
		return
	}
	switch {
	case o.Len:
		c.int(res.Len)
	case o.Idx:
		lcsReplyIdx(c, res, o.WithMatchLen)
	default:
		c.bulk(res.Str)
	}
}

// lcsReplyIdx writes LCS IDX's map: matches -> [[[a0 a1] [b0 b1] (len)]…],
// len -> n.
func lcsReplyIdx(c *client, res bitops.LCSResult, withLen bool) {
	c.mapLen(2)
	c.bulkString("matches")
	c.array(len(res.Matches))
	for _, m := range res.Matches {
		if withLen {
			c.array(3)
		} else {
			c.array(2)
		}
		c.array(2)
		c.int(m.A[0])
		c.int(m.A[1])
		c.array(2)
		c.int(m.B[0])
		c.int(m.B[1])
		if withLen {
			c.int(m.Len)
		}
	}
	c.bulkString("len")
	c.int(res.Len)
}
