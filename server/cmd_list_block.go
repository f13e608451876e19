package server

import (
	"github.com/cached/cached/protocol"
)

// Blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. Each
// serves at once when it can; otherwise it calls blockFor and writes nothing.
// When a key is signalled the handler simply runs again with the same
// arguments, so it keeps no state between runs. The effects are the
// non-blocking commands that happened (BLPOP -> LPOP key, BLMOVE -> LMOVE,
// BRPOPLPUSH -> RPOPLPUSH, BLMPOP -> LPOP/RPOP key n), as Redis rewrites
// them for its replicas.

func blpopCommand(c *client, args [][]byte) { listBlockingPop(c, args, true) }
func brpopCommand(c *client, args [][]byte) { listBlockingPop(c, args, false) }

// listReplyNullArray is every blocking list command's timeout reply: Redis
// 7.0 answers a timed-out BLMOVE/BRPOPLPUSH with the null array too.
func listReplyNullArray(c *client) { c.nullArray() }

// listBlockingPop is BLPOP/BRPOP key [key ...] timeout.
func listBlockingPop(c *client, args [][]byte, front bool) {
	timeout, msg := protocol.ParseBlockTimeout(args[len(args)-1])
	if msg != "" {
		c.err(msg)
		return
	}
	keys := args[1 : len(args)-1]
	db := int(c.db.Load())
	tx := c.lock(keys...)
	for _, key := range keys {
		l, ok := listSource(c, tx, db, key)
		if !ok {
			tx.Unlock()
			return
		}
		if l == nil {
			continue
		}
		vals := listPopN(c, tx, db, key, l, front, 1)
		tx.Unlock()
		listPropagatePop(c, key, front, 1, false)
		c.array(2)
		c.bulk(key)
		c.bulk(vals[0])
		return
	}
	tx.Unlock()
	c.blockFor(keys, timeout, listReplyNullArray)
}

func blmoveCommand(c *client, args [][]byte) {
	from, ok1 := listWhere(args[3])
	to, ok2 := listWhere(args[4])
	if !ok1 || !ok2 {
		c.err(protocol.ErrSyntax)
		return
	}
	listBlockingMove(c, args[1], args[2], from, to, false, args[5])
}

func brpoplpushCommand(c *client, args [][]byte) {
	listBlockingMove(c, args[1], args[2], false, true, true, args[3])
}

// listBlockingMove is BLMOVE/BRPOPLPUSH once the sides are parsed.
func listBlockingMove(c *client, src, dst []byte, from, to, asRPopLPush bool, timeoutArg []byte) {
	timeout, msg := protocol.ParseBlockTimeout(timeoutArg)
	if msg != "" {
		c.err(msg)
		return
	}
	if !listMove(c, src, dst, from, to, asRPopLPush) {
		c.blockFor([][]byte{src}, timeout, listReplyNullArray)
	}
}

func blmpopCommand(c *client, args [][]byte) {
	m, msg := parseMpop(args, 2)
	if msg != "" {
		c.err(msg)
		return
	}
	timeout, msg := protocol.ParseBlockTimeout(args[1])
	if msg != "" {
		c.err(msg)
		return
	}
	if !listMpop(c, m) {
		c.blockFor(m.keys, timeout, listReplyNullArray)
	}
}
