package zsetcmd

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/zset"
)

// ZPOPMIN, ZPOPMAX, ZMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, ZRANDMEMBER, ZSCAN.

func zpopminCommand(c *kernel.Ctx, args [][]byte) { zpopCommand(c, args, false) }
func zpopmaxCommand(c *kernel.Ctx, args [][]byte) { zpopCommand(c, args, true) }

// zpopCommand is ZPOPMIN/ZPOPMAX key [count].
func zpopCommand(c *kernel.Ctx, args [][]byte, fromMax bool) {
	if len(args) > 3 {
		c.Err(protocol.ErrSyntax)
		return
	}
	count := int64(1)
	if len(args) == 3 {
		n, ok := protocol.ParseInt(args[2])
		if !ok || n < 0 {
			c.Err(protocol.ErrOutOfRange)
			return
		}
		count = n
	}
	tx := c.Lock(args[1])
	defer tx.Unlock()
	z, e, ok := zsetGet(c, tx, args[1], true)
	if !ok {
		return
	}
	nested := c.RESP3.Load() && len(args) == 3
	if z == nil || count == 0 {
		c.Array(0)
		return
	}
	zsetPop(c, tx, args[1], z, e, fromMax, count, func(n int) {
		if nested {
			c.Array(n)
		} else {
			c.Array(2 * n)
		}
	}, func(m []byte, s float64) { zsetPair(c, m, s, nested) })
}

// zsetPop removes up to count members from the low (or high) end of z
// stored at key (e, from the command's lookup), calls head with the number popped then each with every
// member in pop order, and notifies and records the effect (ZPOPMIN or
// ZPOPMAX key n).
func zsetPop(c *kernel.Ctx, tx *store.Tx, key []byte, z *zset.ZSet, e store.Entry, fromMax bool, count int64,
	head func(n int), each func(m []byte, s float64)) {
	n := int(min(count, int64(z.Len())))
	head(n)
	first, last := 0, n
	if fromMax {
		first, last = z.Len()-n, z.Len()
		left := n
		z.Walk(last-1, true, func(m []byte, s float64) bool {
			each(m, s)
			left--
			return left > 0
		})
		z.RemoveRange(first, last, nil)
	} else {
		z.RemoveRange(first, last, each)
	}
	deleted := zsetSaved(c, tx, key, z, e)
	event, cmd := "zpopmin", cmdZPopMin
	if fromMax {
		event, cmd = "zpopmax", cmdZPopMax
	}
	c.Notify(kernel.NotifyZSet, event, key)
	if deleted {
		c.Notify(kernel.NotifyGeneric, "del", key)
	}
	c.Propagate(cmd, key, strconv.AppendInt(nil, int64(n), 10))
}

func bzpopminCommand(c *kernel.Ctx, args [][]byte) { bzpopCommand(c, args, false) }
func bzpopmaxCommand(c *kernel.Ctx, args [][]byte) { bzpopCommand(c, args, true) }

// zsetBlockSpec returns the kernel.BlockSpec of a blocking sorted set command: it
// replies the null array on timeout and inside MULTI/EXEC.
func zsetBlockSpec(keys func([][]byte) [][]byte, timeout int, serve func(*kernel.Ctx, [][]byte, []byte) bool) *kernel.BlockSpec {
	return &kernel.BlockSpec{Keys: keys, Timeout: timeout, Want: store.TypeZSet, Serve: serve,
		TimedOut: (*kernel.Ctx).NullArray, NoWait: (*kernel.Ctx).NullArray}
}

// Blocking specs of the sorted set commands (used by zsetCommands' table).
var (
	bzpopminBlock = zsetBlockSpec(kernel.KeysUntilLast(1), -1, func(c *kernel.Ctx, _ [][]byte, key []byte) bool {
		return bzpopTry(c, [][]byte{key}, false)
	})
	bzpopmaxBlock = zsetBlockSpec(kernel.KeysUntilLast(1), -1, func(c *kernel.Ctx, _ [][]byte, key []byte) bool {
		return bzpopTry(c, [][]byte{key}, true)
	})
	bzmpopBlock = zsetBlockSpec(bzmpopKeys, 1, bzmpopServe)
)

// bzpopCommand is BZPOPMIN/BZPOPMAX key [key …] timeout: the first
// non-empty set gives one member, replied as [key, member, score].
func bzpopCommand(c *kernel.Ctx, args [][]byte, fromMax bool) {
	if _, msg := protocol.ParseBlockTimeout(args[len(args)-1]); msg != "" {
		c.Err(msg)
		return
	}
	if !bzpopTry(c, args[1:len(args)-1], fromMax) {
		c.BlockFor(args)
	}
}

// bzpopTry pops one member from the first non-empty set of keys and
// replies; it reports whether it replied (a pop, or WRONGTYPE, which a
// blocked command being served does not answer: it skips the key).
func bzpopTry(c *kernel.Ctx, keys [][]byte, fromMax bool) bool {
	tx := c.Lock(keys...)
	defer tx.Unlock()
	for _, key := range keys {
		z, e, ok := zsetGet(c, tx, key, true)
		if !ok {
			return true
		}
		if z == nil {
			continue
		}
		zsetPop(c, tx, key, z, e, fromMax, 1, func(int) { c.Array(3); c.Bulk(key) },
			func(m []byte, s float64) { c.Bulk(m); c.Double(s) })
		return true
	}
	return false
}

func zmpopCommand(c *kernel.Ctx, args [][]byte)  { zmpopGeneric(c, args, 1) }
func bzmpopCommand(c *kernel.Ctx, args [][]byte) { zmpopGeneric(c, args, 2) }

// zmpopArgs are ZMPOP's and BZMPOP's parsed arguments.
type zmpopArgs struct {
	keys    [][]byte
	fromMax bool
	count   int64
}

// parseZmpop parses numkeys key … MIN|MAX [COUNT n] from args[at] (at = 1
// for ZMPOP, 2 for BZMPOP); the error is the reply text.
func parseZmpop(args [][]byte, at int) (zmpopArgs, string) {
	var m zmpopArgs
	numkeys, ok := protocol.ParseInt(args[at])
	if !ok || numkeys < 1 {
		return m, protocol.ErrZNumkeys
	}
	if numkeys >= int64(len(args)) { // and no overflow below
		return m, protocol.ErrSyntax
	}
	where := int64(at) + numkeys + 1
	if where >= int64(len(args)) {
		return m, protocol.ErrSyntax
	}
	switch w := args[where]; {
	case kernel.KeyWordIs(w, "min"):
	case kernel.KeyWordIs(w, "max"):
		m.fromMax = true
	default:
		return m, protocol.ErrSyntax
	}
	m.count = -1
	for j := int(where) + 1; j < len(args); j++ {
		if m.count == -1 && kernel.KeyWordIs(args[j], "count") && j+1 < len(args) {
			j++
			n, ok := protocol.ParseInt(args[j])
			if !ok || n < 1 {
				return m, protocol.ErrZCount
			}
			m.count = n
			continue
		}
		return m, protocol.ErrSyntax
	}
	m.count = max(m.count, 1)
	m.keys = args[at+1 : where]
	return m, ""
}

// zmpopGeneric is ZMPOP numkeys key … MIN|MAX [COUNT n] (at = 1) and
// BZMPOP timeout numkeys … (at = 2).
func zmpopGeneric(c *kernel.Ctx, args [][]byte, at int) {
	m, msg := parseZmpop(args, at)
	if msg != "" {
		c.Err(msg)
		return
	}
	if at == 2 {
		if _, msg := protocol.ParseBlockTimeout(args[1]); msg != "" {
			c.Err(msg)
			return
		}
	}
	if zmpopTry(c, m.keys, m.fromMax, m.count) {
		return
	}
	if at == 1 {
		c.NullArray()
		return
	}
	c.BlockFor(args)
}

// bzmpopKeys are BZMPOP's keys (args passed parseZmpop).
func bzmpopKeys(args [][]byte) [][]byte {
	m, _ := parseZmpop(args, 2)
	return m.keys
}

// bzmpopServe serves a blocked BZMPOP from key alone.
func bzmpopServe(c *kernel.Ctx, args [][]byte, key []byte) bool {
	m, _ := parseZmpop(args, 2)
	return zmpopTry(c, [][]byte{key}, m.fromMax, m.count)
}

// zmpopTry pops from the first non-empty set of keys and replies; it
// reports whether it replied (a pop, or WRONGTYPE).
func zmpopTry(c *kernel.Ctx, keys [][]byte, fromMax bool, count int64) bool {
	tx := c.Lock(keys...)
	defer tx.Unlock()
	for _, key := range keys {
		z, e, ok := zsetGet(c, tx, key, true)
		if !ok {
			return true
		}
		if z == nil {
			continue
		}
		zsetPop(c, tx, key, z, e, fromMax, count, func(n int) {
			c.Array(2)
			c.Bulk(key)
			c.Array(n)
		}, func(m []byte, s float64) { zsetPair(c, m, s, true) })
		return true
	}
	return false
}

// zrandmemberCommand is ZRANDMEMBER key [count [WITHSCORES]].
func zrandmemberCommand(c *kernel.Ctx, args [][]byte) {
	if len(args) == 2 {
		zrandmemberOne(c, args[1])
		return
	}
	count, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if count == math.MinInt64 {
		c.Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return
	}
	withScores := false
	if len(args) > 4 || len(args) == 4 && !kernel.KeyWordIs(args[3], "withscores") {
		c.Err(protocol.ErrSyntax)
		return
	} else if len(args) == 4 {
		withScores = true
		if count < -math.MaxInt64/2 || count > math.MaxInt64/2 {
			c.Err(protocol.ErrValueRange)
			return
		}
	}
	tx := c.Lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	if z == nil || count == 0 {
		c.Array(0)
		return
	}
	size := int64(z.Len())
	if count >= size { // the whole set (Redis walks its listpack from the end)
		zsetReplyRange(c, z, int(size-1), int(size), true, withScores)
		return
	}
	n := count
	if n < 0 {
		n = -n
	}
	nested := withScores && c.RESP3.Load()
	if withScores && !nested {
		c.Array(int(2 * n))
	} else {
		c.Array(int(n))
	}
	emit := func(r int) {
		z.Walk(r, false, func(m []byte, s float64) bool {
			if withScores {
				zsetPair(c, m, s, nested)
			} else {
				c.Bulk(m)
			}
			return false
		})
	}
	if count < 0 { // repeats allowed: streamed, however many are asked
		for range n {
			emit(rand.IntN(int(size)))
		}
		return
	}
	for _, r := range zsetDistinctRanks(int(size), count) {
		emit(r)
	}
}

// zsetDistinctRanks picks count distinct ranks in [0, size), 0 < count < size.
func zsetDistinctRanks(size int, count int64) []int {
	if count*3 > int64(size) { // most of the set: shuffle all ranks, keep a prefix
		all := make([]int, size)
		for i := range all {
			all[i] = i
		}
		for i := range int(count) {
			j := i + rand.IntN(size-i)
			all[i], all[j] = all[j], all[i]
		}
		return all[:count]
	}
	seen := make(map[int]struct{}, count)
	out := make([]int, 0, count)
	for int64(len(out)) < count {
		r := rand.IntN(size)
		if _, dup := seen[r]; !dup {
			seen[r] = struct{}{}
			out = append(out, r)
		}
	}
	return out
}

func zrandmemberOne(c *kernel.Ctx, key []byte) {
	tx := c.Lock(key)
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, key, false)
	if !ok {
		return
	}
	if z == nil {
		c.Null()
		return
	}
	z.Walk(rand.IntN(z.Len()), false, func(m []byte, _ float64) bool {
		c.Bulk(m)
		return false
	})
}
