package listcmd

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/list"
)

// Blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. Each
// serves at once when it can; otherwise it calls blockFor and writes
// nothing. Its kernel.BlockSpec (below, in the command table) tells the blocking
// layer the keys it waits on and how to serve it from a key that became
// ready: from that key alone, as Redis 7 serves a blocked client from its
// ready key. The effects are the non-blocking commands that happened
// (BLPOP -> LPOP key, BLMOVE -> LMOVE, BRPOPLPUSH -> RPOPLPUSH, BLMPOP ->
// LPOP/RPOP key n), as Redis rewrites them for its replicas.

// listBlockSpec returns the kernel.BlockSpec of a blocking list command; every one
// replies the null array on timeout (Redis 7.0 answers a timed-out
// BLMOVE/BRPOPLPUSH with it too).
func listBlockSpec(keys func([][]byte) [][]byte, timeout int, serve func(*kernel.Ctx, [][]byte, []byte) bool,
	noWait func(*kernel.Ctx)) *kernel.BlockSpec {
	return &kernel.BlockSpec{Keys: keys, Timeout: timeout, Want: store.TypeList, Serve: serve,
		TimedOut: listReplyNullArray, NoWait: noWait}
}

// Blocking specs of the list commands (used by listCommands' table).
var (
	blpopBlock = listBlockSpec(kernel.KeysUntilLast(1), -1, func(c *kernel.Ctx, _ [][]byte, key []byte) bool {
		return listServePop(c, key, true)
	}, listReplyNullArray)
	brpopBlock = listBlockSpec(kernel.KeysUntilLast(1), -1, func(c *kernel.Ctx, _ [][]byte, key []byte) bool {
		return listServePop(c, key, false)
	}, listReplyNullArray)
	// As Redis's blmoveGenericCommand, BLMOVE/BRPOPLPUSH answer a null
	// bulk when they may not block.
	blmoveBlock     = listBlockSpec(kernel.KeyAt(1), -1, blmoveServe, (*kernel.Ctx).Null)
	brpoplpushBlock = listBlockSpec(kernel.KeyAt(1), -1, brpoplpushServe, (*kernel.Ctx).Null)
	blmpopBlock     = listBlockSpec(blmpopKeys, 1, blmpopServe, listReplyNullArray)
)

func blpopCommand(c *kernel.Ctx, args [][]byte) { listBlockingPop(c, args, true) }
func brpopCommand(c *kernel.Ctx, args [][]byte) { listBlockingPop(c, args, false) }

// listReplyNullArray is every blocking list command's timeout reply.
func listReplyNullArray(c *kernel.Ctx) { c.NullArray() }

// listBlockingPop is BLPOP/BRPOP key [key ...] timeout.
func listBlockingPop(c *kernel.Ctx, args [][]byte, front bool) {
	if _, msg := protocol.ParseBlockTimeout(args[len(args)-1]); msg != "" {
		c.Err(msg)
		return
	}
	keys := args[1 : len(args)-1]
	db := c.DB()
	tx := c.Lock(keys...)
	for _, key := range keys {
		l, e, ok := listSource(c, tx, db, key)
		if !ok {
			tx.Unlock()
			return
		}
		if l != nil {
			listPopReply(c, tx, db, key, l, e, front)
			return
		}
	}
	tx.Unlock()
	c.BlockFor(args)
}

// listServePop serves a blocked BLPOP/BRPOP from key alone.
func listServePop(c *kernel.Ctx, key []byte, front bool) bool {
	db := c.DB()
	tx := c.Lock(key)
	l, e, _ := listSource(c, tx, db, key) // serving: another type is missing
	if l == nil {
		tx.Unlock()
		return false
	}
	listPopReply(c, tx, db, key, l, e, front)
	return true
}

// listPopReply pops one element of l, stored at key, unlocks tx, records
// the effect and replies [key, element].
func listPopReply(c *kernel.Ctx, tx *store.Tx, db int, key []byte, l *list.List, e store.Entry, front bool) {
	vals := listPopN(c, tx, db, key, l, e, front, 1)
	tx.Unlock()
	listPropagatePop(c, key, front, 1, false)
	c.Array(2)
	c.Bulk(key)
	c.Bulk(vals[0])
}

func blmoveCommand(c *kernel.Ctx, args [][]byte) {
	from, to, ok := blmoveSides(args)
	if !ok {
		c.Err(protocol.ErrSyntax)
		return
	}
	listBlockingMove(c, args, from, to, false)
}

func brpoplpushCommand(c *kernel.Ctx, args [][]byte) { listBlockingMove(c, args, false, true, true) }

func blmoveSides(args [][]byte) (from, to, ok bool) {
	from, ok1 := listWhere(args[3])
	to, ok2 := listWhere(args[4])
	return from, to, ok1 && ok2
}

// listBlockingMove is BLMOVE/BRPOPLPUSH once the sides are parsed.
func listBlockingMove(c *kernel.Ctx, args [][]byte, from, to, asRPopLPush bool) {
	if _, msg := protocol.ParseBlockTimeout(args[len(args)-1]); msg != "" {
		c.Err(msg)
		return
	}
	if !listMove(c, args[1], args[2], from, to, asRPopLPush) {
		c.BlockFor(args)
	}
}

// blmoveServe serves a blocked BLMOVE from its source (the one key it
// waits on). A destination holding another type answers WRONGTYPE and
// ends the wait, as in Redis 7.0.
func blmoveServe(c *kernel.Ctx, args [][]byte, _ []byte) bool {
	from, to, _ := blmoveSides(args)
	return listMove(c, args[1], args[2], from, to, false)
}

func brpoplpushServe(c *kernel.Ctx, args [][]byte, _ []byte) bool {
	return listMove(c, args[1], args[2], false, true, true)
}

func blmpopCommand(c *kernel.Ctx, args [][]byte) {
	m, msg := parseMpop(args, 2)
	if msg != "" {
		c.Err(msg)
		return
	}
	if _, msg := protocol.ParseBlockTimeout(args[1]); msg != "" {
		c.Err(msg)
		return
	}
	if !listMpop(c, m) {
		c.BlockFor(args)
	}
}

// blmpopKeys are BLMPOP's keys (args passed parseMpop).
func blmpopKeys(args [][]byte) [][]byte {
	m, _ := parseMpop(args, 2)
	return m.keys
}

// blmpopServe serves a blocked BLMPOP from key alone.
func blmpopServe(c *kernel.Ctx, args [][]byte, key []byte) bool {
	m, _ := parseMpop(args, 2)
	m.keys = [][]byte{key}
	return listMpop(c, m)
}
