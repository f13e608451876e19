package listcmd

import (
	"bytes"
	"math"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store/list"
)

// Positional list commands: LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS.

// listRange turns Redis start/stop indexes into 0 <= start <= stop < n;
// ok is false for an empty range.
func listRange(start, stop int64, n int) (int, int, bool) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if stop < 0 {
		stop += ln
	}
	start = max(start, 0)
	if start > stop || start >= ln {
		return 0, 0, false
	}
	stop = min(stop, ln-1)
	return int(start), int(stop), true
}

// listTwoInts parses the two integer arguments of LRANGE/LTRIM.
func listTwoInts(c *kernel.Ctx, a, b []byte) (int64, int64, bool) {
	x, ok1 := protocol.ParseInt(a)
	y, ok2 := protocol.ParseInt(b)
	if !ok1 || !ok2 {
		c.Err(protocol.ErrNotInteger)
		return 0, 0, false
	}
	return x, y, true
}

func lrangeCommand(c *kernel.Ctx, args [][]byte) {
	start, stop, ok := listTwoInts(c, args[2], args[3])
	if !ok {
		return
	}
	db := c.DB()
	tx := c.Lock(args[1])
	defer tx.Unlock()
	l, _, ok := listLookup(c, tx, db, args[1], false)
	if !ok {
		return
	}
	if l == nil {
		c.Array(0)
		return
	}
	from, to, ok := listRange(start, stop, l.Len())
	if !ok {
		c.Array(0)
		return
	}
	// Replies are written under the lock: the values alias the list.
	c.Array(to - from + 1)
	l.Range(from, to, func(v []byte) bool { c.Bulk(v); return true })
}

func lindexCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx := c.Lock(args[1])
	defer tx.Unlock()
	l, _, ok := listLookup(c, tx, db, args[1], false)
	if !ok {
		return
	}
	if l == nil {
		c.Null()
		return
	}
	idx, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if idx < math.MinInt || idx > math.MaxInt {
		c.Null()
		return
	}
	v, found := l.Index(int(idx))
	c.BulkOrNull(v, found)
}

func lsetCommand(c *kernel.Ctx, args [][]byte) {
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	l, e, ok := listLookup(c, tx, db, key, true)
	if !ok {
		tx.Unlock()
		return
	}
	if l == nil {
		tx.Unlock()
		c.Err(protocol.ErrNoSuchKey)
		return
	}
	idx, ok := protocol.ParseInt(args[2])
	if !ok {
		tx.Unlock()
		c.Err(protocol.ErrNotInteger)
		return
	}
	if !l.Set(int(idx), args[3]) {
		tx.Unlock()
		c.Err(listErrIndexRange)
		return
	}
	e.Resize(l.Size())
	c.Notify(kernel.NotifyList, "lset", key)
	tx.Unlock()
	c.Propagate(listWordLSet, key, args[2], args[3])
	c.OK()
}

func linsertCommand(c *kernel.Ctx, args [][]byte) {
	var after bool
	switch {
	case kernel.KeyWordIs(args[2], "after"):
		after = true
	case kernel.KeyWordIs(args[2], "before"):
	default:
		c.Err(protocol.ErrSyntax)
		return
	}
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	l, e, ok := listLookup(c, tx, db, key, true)
	if !ok {
		tx.Unlock()
		return
	}
	if l == nil {
		tx.Unlock()
		c.Int(0)
		return
	}
	at := l.Find(args[3])
	if at < 0 {
		tx.Unlock()
		c.Int(-1)
		return
	}
	if after {
		at++
	}
	l.Insert(at, args[4])
	e.Resize(l.Size())
	n := l.Len()
	c.Notify(kernel.NotifyList, "linsert", key)
	tx.Unlock()
	where := listWordBefore
	if after {
		where = listWordAfter
	}
	c.Propagate(listWordLInsert, key, where, args[3], args[4])
	c.Int(int64(n))
}

func lremCommand(c *kernel.Ctx, args [][]byte) {
	count, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	count = max(count, math.MinInt+1) // -count must not overflow
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	l, e, ok := listLookup(c, tx, db, key, true)
	if !ok {
		tx.Unlock()
		return
	}
	removed := 0
	if l != nil {
		removed = l.Remove(args[3], int(count))
	}
	if removed > 0 {
		c.Notify(kernel.NotifyList, "lrem", key)
		listStore(c, tx, db, key, l, e)
	}
	tx.Unlock()
	if removed > 0 {
		c.Propagate(listWordLRem, key, args[2], args[3])
	}
	c.Int(int64(removed))
}

func ltrimCommand(c *kernel.Ctx, args [][]byte) {
	start, stop, ok := listTwoInts(c, args[2], args[3])
	if !ok {
		return
	}
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	l, e, ok := listLookup(c, tx, db, key, true)
	if !ok {
		tx.Unlock()
		return
	}
	if l == nil {
		tx.Unlock()
		c.OK()
		return
	}
	before := l.Len()
	if from, to, ok := listRange(start, stop, before); ok {
		l.Trim(from, to)
	} else {
		l.Clear()
	}
	changed := l.Len() != before
	c.Notify(kernel.NotifyList, "ltrim", key) // as Redis: even when nothing went
	listStore(c, tx, db, key, l, e)
	tx.Unlock()
	if changed {
		c.Propagate(listWordLTrim, key, args[2], args[3])
	}
	c.OK()
}

// lposOptions are LPOS's RANK, COUNT and MAXLEN.
type lposOptions struct {
	rank     int64
	count    int64
	hasCount bool
	maxlen   int64
}

// parseLposOptions parses the arguments after LPOS key element; the error
// is the reply text.
func parseLposOptions(args [][]byte) (lposOptions, string) {
	o := lposOptions{rank: 1}
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return o, protocol.ErrSyntax
		}
		v, ok := protocol.ParseInt(args[i+1])
		switch {
		case kernel.KeyWordIs(args[i], "rank"):
			if !ok {
				return o, protocol.ErrNotInteger
			}
			if v == 0 {
				return o, listErrRankZero
			}
			o.rank = v
		case kernel.KeyWordIs(args[i], "count"):
			if !ok || v < 0 {
				return o, listErrCountNeg
			}
			o.count, o.hasCount = v, true
		case kernel.KeyWordIs(args[i], "maxlen"):
			if !ok || v < 0 {
				return o, listErrMaxlenNeg
			}
			o.maxlen = v
		default:
			return o, protocol.ErrSyntax
		}
	}
	return o, ""
}

func lposCommand(c *kernel.Ctx, args [][]byte) {
	o, msg := parseLposOptions(args[3:])
	if msg != "" {
		c.Err(msg)
		return
	}
	db := c.DB()
	tx := c.Lock(args[1])
	l, _, ok := listLookup(c, tx, db, args[1], false)
	if !ok {
		tx.Unlock()
		return
	}
	var found []int64
	if l != nil {
		found = lposScan(l, args[2], o)
	}
	tx.Unlock()
	switch {
	case o.hasCount:
		c.Array(len(found))
		for _, p := range found {
			c.Int(p)
		}
	case len(found) > 0:
		c.Int(found[0])
	default:
		c.Null()
	}
}

// lposScan returns the positions LPOS replies with (at most one without
// COUNT).
func lposScan(l *list.List, elem []byte, o lposOptions) []int64 {
	rev := o.rank < 0
	rank := o.rank
	if rev {
		rank = -rank // math.MinInt64 stays negative: as Redis 7.0, every match counts then
	}
	want := o.count
	if !o.hasCount {
		want = 1
	}
	n := l.Len()
	it := l.Iter(0, false)
	if rev {
		it = l.Iter(n-1, true)
	}
	var out []int64
	matches := int64(0)
	for i := int64(0); o.maxlen == 0 || i < o.maxlen; i++ {
		v, ok := it.Next()
		if !ok {
			break
		}
		if !bytes.Equal(v, elem) {
			continue
		}
		matches++
		if matches < rank {
			continue
		}
		pos := i
		if rev {
			pos = int64(n) - 1 - i
		}
		out = append(out, pos)
		if want > 0 && int64(len(out)) >= want {
			break
		}
	}
	return out
}
