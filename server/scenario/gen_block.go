package scenario

import (
	"strconv"
	"time"
)

// timeout returns a blocking command's timeout and how long the runner must
// wait for its reply (0: it may stay blocked across steps, or it answers at
// once because the timeout is invalid).
func (g *gen) timeout() (string, time.Duration, bool) {
	switch n := g.r.IntN(20); {
	case n < 11:
		return "0", 0, true
	case n < 14:
		return g.pick("100", "3600"), 0, true // outlives the script
	case n < 17:
		ms := g.pick("10", "20", "50")
		d, _ := time.ParseDuration(ms + "ms")
		return "0." + map[string]string{"10": "01", "20": "02", "50": "05"}[ms], d, false
	default:
		return g.pick("-1", "abc", "1e300", "0.001x", "", "-0.5", "nan"), 0, false
	}
}

// blockKeys returns 1–3 keys; a key may repeat and a key may be missing or
// of another type (the pool is shared by all types).
func (g *gen) blockKeys() []string {
	ks := g.keys(1 + g.r.IntN(3))
	if len(ks) > 1 && g.chance(15) {
		ks[len(ks)-1] = ks[0]
	}
	return ks
}

// blocking builds one blocking command: its arguments, the keys it waits
// on, whether it waits for a sorted set, and its wait (see timeout).
func (g *gen) blocking() (args, keys []string, zset bool, wait time.Duration) {
	tmo, wait, _ := g.timeout()
	ks := g.blockKeys()
	numkeys := strconv.Itoa(len(ks))
	if g.chance(6) {
		numkeys = g.pick("0", "-1", "5", "x")
	}
	switch g.r.IntN(8) {
	case 0:
		args = append(append([]string{"BLPOP"}, ks...), tmo)
	case 1:
		args = append(append([]string{"BRPOP"}, ks...), tmo)
	case 2:
		ks = ks[:1]
		args = []string{"BLMOVE", ks[0], g.key(), g.side(), g.side(), tmo}
	case 3:
		ks = ks[:1]
		args = []string{"BRPOPLPUSH", ks[0], g.key(), tmo}
	case 4:
		args = append(append([]string{"BLMPOP", tmo, numkeys}, ks...), g.pick("LEFT", "RIGHT", "UP"))
		args = g.withCount(args)
	case 5:
		args, zset = append(append([]string{"BZPOPMIN"}, ks...), tmo), true
	case 6:
		args, zset = append(append([]string{"BZPOPMAX"}, ks...), tmo), true
	default:
		args = append(append([]string{"BZMPOP", tmo, numkeys}, ks...), g.pick("MIN", "MAX", "MAX", "LEFT"))
		args, zset = g.withCount(args), true
	}
	return args, ks, zset, wait
}

func (g *gen) side() string { return g.pick("LEFT", "RIGHT", "LEFT", "RIGHT", "MIDDLE") }

func (g *gen) withCount(args []string) []string {
	if g.chance(40) {
		args = append(args, "COUNT", g.count())
	}
	return args
}

// block sends a blocking command on c; with a small timeout the runner
// awaits its reply, otherwise c is believed blocked until woken.
func (g *gen) block(c int) {
	args, keys, zset, wait := g.blocking()
	if !g.addWait(c, wait, args...) {
		return
	}
	if wait == 0 && args[len(args)-1] != "" {
		cs := &g.conns[c]
		cs.blocked, cs.zset = keys, zset
	}
	if g.chance(30) {
		g.add(c, "PING") // sent once the command is served: skipped while blocked
	}
}

// wake writes, from c, something that may serve or disturb a blocked
// connection: a push to one of its keys (alone or inside MULTI/EXEC), a
// change of its key's type, a delete, or CLIENT UNBLOCK.
func (g *gen) wake(c int) {
	bl := g.blockedConns()
	b := bl[g.r.IntN(len(bl))]
	bs := &g.conns[b]
	key := bs.blocked[g.r.IntN(len(bs.blocked))]
	push := []string{g.pick("RPUSH", "LPUSH"), key, g.val()}
	if g.chance(30) {
		push = append(push, g.val())
	}
	if bs.zset {
		push = []string{"ZADD", key, g.score(), g.member(), "1", g.member()}
	}
	switch n := g.r.IntN(20); {
	case n < 9:
		g.add(c, push...)
	case n < 12:
		g.add(c, "MULTI")
		if g.chance(50) {
			g.add(c, g.typeChange(key)...)
		}
		g.add(c, push...)
		if g.chance(40) {
			g.add(c, g.pick("DEL", "LPOP", "ZPOPMIN"), key)
		}
		g.add(c, "EXEC")
	case n < 15:
		g.add(c, g.typeChange(key)...)
	case n < 17:
		g.add(c, "DEL", key)
	default:
		args := []string{"CLIENT", "UNBLOCK", connRef + strconv.Itoa(b)}
		if g.chance(70) {
			args = append(args, g.pick("TIMEOUT", "ERROR", "ERROR", "other"))
		}
		g.add(c, args...)
	}
}

// typeChange makes key hold another type (or the wanted type, elsewhere).
func (g *gen) typeChange(key string) []string {
	switch g.r.IntN(5) {
	case 0:
		return []string{"SET", key, g.val()}
	case 1:
		return []string{"HSET", key, "f", g.val()}
	case 2:
		return []string{"SADD", key, g.member()}
	case 3:
		return []string{"ZADD", key, g.score(), g.member()}
	}
	return []string{"RPUSH", key, g.val()}
}
