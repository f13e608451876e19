package listcmd

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/list"
)

// Moves between lists (LMOVE, RPOPLPUSH) and LMPOP, with the parts their
// blocking forms share.

func lmoveCommand(c *kernel.Ctx, args [][]byte) {
	from, ok1 := listWhere(args[3])
	to, ok2 := listWhere(args[4])
	if !ok1 || !ok2 {
		c.Err(protocol.ErrSyntax)
		return
	}
	if !listMove(c, args[1], args[2], from, to, false) {
		c.Null()
	}
}

func rpoplpushCommand(c *kernel.Ctx, args [][]byte) {
	if !listMove(c, args[1], args[2], false, true, true) {
		c.Null()
	}
}

// listMove moves one element from src's head (fromFront) or tail to dst's
// head (toFront) or tail, and replies with it, or with the error met. It
// returns false, having written nothing, when src does not exist. The
// effect is LMOVE, or RPOPLPUSH when asRPopLPush.
func listMove(c *kernel.Ctx, src, dst []byte, fromFront, toFront, asRPopLPush bool) bool {
	db := c.DB()
	tx := c.Lock(src, dst)
	sl, se, ok := listSource(c, tx, db, src)
	if !ok {
		tx.Unlock()
		return true
	}
	if sl == nil {
		tx.Unlock()
		return false
	}
	dl, de, ok := listLookup(c, tx, db, dst, true)
	if !ok {
		tx.Unlock()
		return true
	}
	v := listPopTo(sl, fromFront, nil)
	created := dl == nil
	if created {
		dl = list.New()
	}
	if toFront {
		dl.PushFront(v)
	} else {
		dl.PushBack(v)
	}
	if created {
		tx.SetObject(db, dst, store.TypeList, dl, dl.Size(), 0)
	} else {
		de.Resize(dl.Size())
	}
	// Redis's order: the push on dst, then the pop on src, then its deletion.
	if toFront {
		c.Notify(kernel.NotifyList, "lpush", dst)
	} else {
		c.Notify(kernel.NotifyList, "rpush", dst)
	}
	if fromFront {
		c.Notify(kernel.NotifyList, "lpop", src)
	} else {
		c.Notify(kernel.NotifyList, "rpop", src)
	}
	listStore(c, tx, db, src, sl, se)
	tx.Unlock()
	if asRPopLPush {
		c.Propagate(listWordRPopLPush, src, dst)
	} else {
		c.Propagate(listWordLMove, src, dst, listSideWord(fromFront), listSideWord(toFront))
	}
	c.Bulk(v)
	return true
}

func listSideWord(front bool) []byte {
	if front {
		return listWordLeft
	}
	return listWordRight
}

// mpopArgs are the parsed arguments of LMPOP/BLMPOP.
type mpopArgs struct {
	keys  [][]byte
	front bool
	count int64
}

// parseMpop parses numkeys (at args[at]), the keys, LEFT|RIGHT and COUNT;
// the error is the reply text.
func parseMpop(args [][]byte, at int) (mpopArgs, string) {
	var m mpopArgs
	n, ok := protocol.ParseInt(args[at])
	if !ok || n <= 0 {
		return m, listErrNumkeys
	}
	if n > int64(len(args)-at-2) {
		return m, protocol.ErrSyntax
	}
	m.keys = args[at+1 : at+1+int(n)]
	if m.front, ok = listWhere(args[at+1+int(n)]); !ok {
		return m, protocol.ErrSyntax
	}
	m.count = 1
	hasCount := false
	for rest := args[at+2+int(n):]; len(rest) > 0; rest = rest[2:] {
		if !kernel.KeyWordIs(rest[0], "count") || hasCount || len(rest) < 2 {
			return m, protocol.ErrSyntax
		}
		v, ok := protocol.ParseInt(rest[1])
		if !ok || v <= 0 {
			return m, listErrCount
		}
		m.count, hasCount = v, true
	}
	return m, ""
}

func lmpopCommand(c *kernel.Ctx, args [][]byte) {
	m, msg := parseMpop(args, 1)
	if msg != "" {
		c.Err(msg)
		return
	}
	if !listMpop(c, m) {
		c.NullArray()
	}
}

// listMpop pops from the first non-empty list of m.keys and replies
// [key, [elements]], or with the error met. It returns false, having
// written nothing, when every key is missing. The effect is LPOP/RPOP key n.
func listMpop(c *kernel.Ctx, m mpopArgs) bool {
	db := c.DB()
	tx := c.Lock(m.keys...)
	for _, key := range m.keys {
		l, e, ok := listSource(c, tx, db, key)
		if !ok {
			tx.Unlock()
			return true
		}
		if l == nil {
			continue
		}
		vals := listPopN(c, tx, db, key, l, e, m.front, m.count)
		tx.Unlock()
		listPropagatePop(c, key, m.front, len(vals), true)
		c.Array(2)
		c.Bulk(key)
		c.Bulks(vals)
		return true
	}
	tx.Unlock()
	return false
}
