package server

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/zset"
)

// ZPOPMIN, ZPOPMAX, ZMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, ZRANDMEMBER, ZSCAN.

func zpopminCommand(c *client, args [][]byte) { zpopCommand(c, args, false) }
func zpopmaxCommand(c *client, args [][]byte) { zpopCommand(c, args, true) }

// zpopCommand is ZPOPMIN/ZPOPMAX key [count].
func zpopCommand(c *client, args [][]byte, fromMax bool) {
	if len(args) > 3 {
		c.err(protocol.ErrSyntax)
		return
	}
	count := int64(1)
	if len(args) == 3 {
		n, ok := protocol.ParseInt(args[2])
		if !ok || n < 0 {
			c.err(protocol.ErrOutOfRange)
			return
		}
		count = n
	}
	tx := c.lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], true)
	if !ok {
		return
	}
	nested := c.resp3.Load() && len(args) == 3
	if z == nil || count == 0 {
		c.array(0)
		return
	}
	zsetPop(c, tx, args[1], z, fromMax, count, func(n int) {
		if nested {
			c.array(n)
		} else {
			c.array(2 * n)
		}
	}, func(m []byte, s float64) { c.zsetPair(m, s, nested) })
}

// zsetPop removes up to count members from the low (or high) end of z
// stored at key, calls head with the number popped then each with every
// member in pop order, and notifies and records the effect (ZPOPMIN or
// ZPOPMAX key n).
func zsetPop(c *client, tx *store.Tx, key []byte, z *zset.ZSet, fromMax bool, count int64,
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
	deleted := zsetSaved(c, tx, key, z)
	event, cmd := "zpopmin", cmdZPopMin
	if fromMax {
		event, cmd = "zpopmax", cmdZPopMax
	}
	c.notify(notifyZSet, event, key)
	if deleted {
		c.notify(notifyGeneric, "del", key)
	}
	c.propagate(cmd, key, strconv.AppendInt(nil, int64(n), 10))
}

func bzpopminCommand(c *client, args [][]byte) { bzpopCommand(c, args, false) }
func bzpopmaxCommand(c *client, args [][]byte) { bzpopCommand(c, args, true) }

// zsetBlockSpec returns the blockSpec of a blocking sorted set command: it
// replies the null array on timeout and inside MULTI/EXEC.
func zsetBlockSpec(keys func([][]byte) [][]byte, timeout int, serve func(*client, [][]byte, []byte) bool) *blockSpec {
	return &blockSpec{keys: keys, timeout: timeout, want: store.TypeZSet, serve: serve,
		timedOut: (*client).nullArray, noWait: (*client).nullArray}
}

// Blocking specs of the sorted set commands (used by zsetCommands' table).
var (
	bzpopminBlock = zsetBlockSpec(keysUntilLast(1), -1, func(c *client, _ [][]byte, key []byte) bool {
		return bzpopTry(c, [][]byte{key}, false)
	})
	bzpopmaxBlock = zsetBlockSpec(keysUntilLast(1), -1, func(c *client, _ [][]byte, key []byte) bool {
		return bzpopTry(c, [][]byte{key}, true)
	})
	bzmpopBlock = zsetBlockSpec(bzmpopKeys, 1, bzmpopServe)
)

// bzpopCommand is BZPOPMIN/BZPOPMAX key [key …] timeout: the first
// non-empty set gives one member, replied as [key, member, score].
func bzpopCommand(c *client, args [][]byte, fromMax bool) {
	if _, msg := protocol.ParseBlockTimeout(args[len(args)-1]); msg != "" {
		c.err(msg)
		return
	}
	if !bzpopTry(c, args[1:len(args)-1], fromMax) {
		c.blockFor(args)
	}
}

// bzpopTry pops one member from the first non-empty set of keys and
// replies; it reports whether it replied (a pop, or WRONGTYPE, which a
// blocked command being served does not answer: it skips the key).
func bzpopTry(c *client, keys [][]byte, fromMax bool) bool {
	tx := c.lock(keys...)
	defer tx.Unlock()
	for _, key := range keys {
		z, _, ok := zsetGet(c, tx, key, true)
		if !ok {
			return true
		}
		if z == nil {
			continue
		}
		zsetPop(c, tx, key, z, fromMax, 1, func(int) { c.array(3); c.bulk(key) },
			func(m []byte, s float64) { c.bulk(m); c.double(s) })
		return true
	}
	return false
}

func zmpopCommand(c *client, args [][]byte)  { zmpopGeneric(c, args, 1) }
func bzmpopCommand(c *client, args [][]byte) { zmpopGeneric(c, args, 2) }

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
	case keyWordIs(w, "min"):
	case keyWordIs(w, "max"):
		m.fromMax = true
	default:
		return m, protocol.ErrSyntax
	}
	m.count = -1
	for j := int(where) + 1; j < len(args); j++ {
		if m.count == -1 && keyWordIs(args[j], "count") && j+1 < len(args) {
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
func zmpopGeneric(c *client, args [][]byte, at int) {
	m, msg := parseZmpop(args, at)
	if msg != "" {
		c.err(msg)
		return
	}
	if at == 2 {
		if _, msg := protocol.ParseBlockTimeout(args[1]); msg != "" {
			c.err(msg)
			return
		}
	}
	if zmpopTry(c, m.keys, m.fromMax, m.count) {
		return
	}
	if at == 1 {
		c.nullArray()
		return
	}
	c.blockFor(args)
}

// bzmpopKeys are BZMPOP's keys (args passed parseZmpop).
func bzmpopKeys(args [][]byte) [][]byte {
	m, _ := parseZmpop(args, 2)
	return m.keys
}

// bzmpopServe serves a blocked BZMPOP from key alone.
func bzmpopServe(c *client, args [][]byte, key []byte) bool {
	m, _ := parseZmpop(args, 2)
	return zmpopTry(c, [][]byte{key}, m.fromMax, m.count)
}

// zmpopTry pops from the first non-empty set of keys and replies; it
// reports whether it replied (a pop, or WRONGTYPE).
func zmpopTry(c *client, keys [][]byte, fromMax bool, count int64) bool {
	tx := c.lock(keys...)
	defer tx.Unlock()
	for _, key := range keys {
		z, _, ok := zsetGet(c, tx, key, true)
		if !ok {
			return true
		}
		if z == nil {
			continue
		}
		zsetPop(c, tx, key, z, fromMax, count, func(n int) {
			c.array(2)
			c.bulk(key)
			c.array(n)
		}, func(m []byte, s float64) { c.zsetPair(m, s, true) })
		return true
	}
	return false
}

// zrandmemberCommand is ZRANDMEMBER key [count [WITHSCORES]].
func zrandmemberCommand(c *client, args [][]byte) {
	if len(args) == 2 {
		zrandmemberOne(c, args[1])
		return
	}
	count, ok := protocol.ParseInt(args[2])
	if !ok {
		c.err(protocol.ErrNotInteger)
		return
	}
	if count == math.MinInt64 {
		c.err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return
	}
	withScores := false
	if len(args) > 4 || len(args) == 4 && !keyWordIs(args[3], "withscores") {
		c.err(protocol.ErrSyntax)
		return
	} else if len(args) == 4 {
		withScores = true
		if count < -math.MaxInt64/2 || count > math.MaxInt64/2 {
			c.err(protocol.ErrValueRange)
			return
		}
	}
	tx := c.lock(args[1])
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, args[1], false)
	if !ok {
		return
	}
	if z == nil || count == 0 {
		c.array(0)
		return
	}
	size := int64(z.Len())
	if count >= size { // the whole set (Redis walks its listpack from the end)
		c.zsetReplyRange(z, int(size-1), int(size), true, withScores)
		return
	}
	n := count
	if n < 0 {
		n = -n
	}
	nested := withScores && c.resp3.Load()
	if withScores && !nested {
		c.array(int(2 * n))
	} else {
		c.array(int(n))
	}
	emit := func(r int) {
		z.Walk(r, false, func(m []byte, s float64) bool {
			if withScores {
				c.zsetPair(m, s, nested)
			} else {
				c.bulk(m)
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

func zrandmemberOne(c *client, key []byte) {
	tx := c.lock(key)
	defer tx.Unlock()
	z, _, ok := zsetGet(c, tx, key, false)
	if !ok {
		return
	}
	if z == nil {
		c.null()
		return
	}
	z.Walk(rand.IntN(z.Len()), false, func(m []byte, _ float64) bool {
		c.bulk(m)
		return false
	})
}
