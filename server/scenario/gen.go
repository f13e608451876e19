package scenario

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// gen writes a random script. It keeps a rough model of each connection
// (inside MULTI, maybe blocked and on which keys, maybe subscribed) to make
// scenarios that matter: wake-ups from other connections, transactions
// with WATCH and interleaved writes, publishers and subscribers. The model
// need not be exact: the runner handles any script (a step on a blocked
// connection is skipped on both servers).
type gen struct {
	r     *rand.Rand
	conns []genConn
	steps []Step // the fragment being written
	resp3 []int  // connections that speak RESP3
}

type genConn struct {
	inMulti bool
	sub     bool
	blocked []string // keys of the command it may be blocked in; nil if free
	zset    bool     // that command waits for a sorted set (else a list)
}

// newGen returns the generator of seed, with 3 or 4 connections.
func newGen(seed uint64) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.conns = make([]genConn, 3+g.r.IntN(2))
	for i := range g.conns {
		if g.chance(25) {
			g.resp3 = append(g.resp3, i)
		}
	}
	return g
}

// start returns the first steps: now and then keyspace notifications and a
// connection subscribed to them.
func (g *gen) start() []Step {
	g.steps = nil
	if g.r.IntN(4) == 0 {
		g.add(0, "CONFIG", "SET", "notify-keyspace-events", g.pick("KEA", "Kl", "Elgz$", "KEA"))
		c := 1 + g.r.IntN(len(g.conns)-1)
		g.add(c, "PSUBSCRIBE", g.pick("__key*__:*", "__keyspace@0__:*", "__keyevent@0__:*"))
		g.conns[c].sub = true
	}
	return g.steps
}

// fragment returns the next few steps, written for the state of the
// connections on the reference server (see sync).
func (g *gen) fragment() []Step {
	g.steps = nil
	for len(g.steps) == 0 {
		g.next()
	}
	return g.steps
}

// sync corrects the model from what the reference server showed: the
// command each connection is blocked in (nil if none), whether it is inside
// MULTI, whether it may be subscribed.
func (g *gen) sync(blocked [][]string, inMulti, sub []bool) {
	for i := range g.conns {
		c := &g.conns[i]
		c.inMulti, c.sub = inMulti[i], sub[i]
		switch {
		case blocked[i] == nil:
			c.blocked = nil
		case c.blocked == nil:
			c.blocked, c.zset = blockedKeys(blocked[i]), strings.HasPrefix(strings.ToUpper(blocked[i][0]), "BZ")
		}
	}
}

// blockedKeys returns the keys a blocking command waits on.
func blockedKeys(args []string) []string {
	switch strings.ToUpper(args[0]) {
	case "BLMOVE", "BRPOPLPUSH":
		return args[1:2]
	case "BLMPOP", "BZMPOP":
		if n, err := strconv.Atoi(args[2]); err == nil && n > 0 && 3+n <= len(args) {
			return args[3 : 3+n]
		}
	}
	if len(args) > 2 {
		return args[1 : len(args)-1]
	}
	return []string{"a"}
}

func (g *gen) pick(list ...string) string { return list[g.r.IntN(len(list))] }

func (g *gen) chance(pct int) bool { return g.r.IntN(100) < pct }

// add appends a step unless an exclusion forbids it (exclude.go).
func (g *gen) add(c int, args ...string) bool {
	return g.addWait(c, 0, args...)
}

func (g *gen) addWait(c int, wait time.Duration, args ...string) bool {
	if avoided(args) {
		return false
	}
	g.steps = append(g.steps, Step{Conn: c, Args: args, Wait: wait})
	return true
}

// free returns the connections not (believed) blocked.
func (g *gen) free() []int {
	var out []int
	for i, c := range g.conns {
		if c.blocked == nil {
			out = append(out, i)
		}
	}
	return out
}

func (g *gen) blockedConns() []int {
	var out []int
	for i, c := range g.conns {
		if c.blocked != nil {
			out = append(out, i)
		}
	}
	return out
}

// next appends one scenario fragment (one or a few steps).
func (g *gen) next() {
	free := g.free()
	c := free[g.r.IntN(len(free))]
	cs := &g.conns[c]
	switch {
	case cs.inMulti:
		g.inMulti(c)
	case cs.sub && g.chance(70):
		g.pubsub(c)
	case len(g.blockedConns()) > 0 && g.chance(45):
		g.wake(c)
	case len(free) >= 2 && g.chance(22):
		g.block(c)
	case g.chance(8):
		g.transaction(c)
	case g.chance(8):
		g.pubsub(c)
	case g.chance(3):
		g.admin(c)
	case g.chance(6):
		g.add(c, "DEL", g.key()) // keys change type more often when they go away
	default:
		g.add(c, g.mutate(g.data())...)
	}
}

// inMulti queues a command, or ends the transaction.
func (g *gen) inMulti(c int) {
	switch {
	case g.chance(25):
		g.add(c, g.pick("EXEC", "EXEC", "EXEC", "DISCARD", "RESET"))
		g.conns[c].inMulti = false
	case g.chance(15):
		args, _, _, _ := g.blocking()
		g.add(c, args...)
	case g.chance(5):
		g.add(c, g.pick("WATCH", "MULTI", "SUBSCRIBE"), g.key())
	default:
		g.add(c, g.mutate(g.data())...)
	}
}

// transaction writes WATCH, maybe a write from another connection, MULTI,
// a few commands (some possibly invalid), a write from elsewhere, EXEC.
func (g *gen) transaction(c int) {
	free := g.free()
	other := free[g.r.IntN(len(free))]
	if g.chance(70) {
		g.add(c, "WATCH", g.key(), g.key())
	}
	if g.chance(50) && other != c {
		g.add(other, g.mutate(g.data())...)
	}
	if g.chance(15) {
		g.add(c, "UNWATCH")
	}
	g.add(c, "MULTI")
	for range 1 + g.r.IntN(4) {
		g.add(c, g.mutate(g.data())...)
	}
	if g.chance(30) && other != c {
		g.add(other, g.mutate(g.data())...)
	}
	if g.chance(20) {
		g.conns[c].inMulti = true // finished later, by inMulti
		return
	}
	g.add(c, g.pick("EXEC", "EXEC", "EXEC", "DISCARD"))
}

// pubsub subscribes, unsubscribes or publishes.
func (g *gen) pubsub(c int) {
	cs := &g.conns[c]
	switch g.r.IntN(9) {
	case 0, 1:
		if g.add(c, "SUBSCRIBE", g.channel(), g.channel()) {
			cs.sub = true
		}
	case 2:
		if g.add(c, "PSUBSCRIBE", g.pattern()) {
			cs.sub = true
		}
	case 3:
		args := []string{g.pick("UNSUBSCRIBE", "PUNSUBSCRIBE")}
		if g.chance(50) {
			args = append(args, g.pick(g.channel(), g.pattern()))
		}
		g.add(c, args...)
	case 4:
		if g.add(c, "RESET") {
			*cs = genConn{}
		}
	case 5:
		g.add(c, "PUBSUB", g.pick("NUMSUB", "CHANNELS", "NUMPAT"), g.pick(g.channel(), g.pattern()))
	default:
		from := g.free()[g.r.IntN(len(g.free()))]
		g.add(from, "PUBLISH", g.channel(), g.val())
	}
}

// admin is a rare database-wide command.
func (g *gen) admin(c int) {
	switch g.r.IntN(5) {
	case 0:
		g.add(c, "SELECT", g.pick("0", "1", "0", "99", "x"))
	case 1:
		g.add(c, "SWAPDB", "0", "1")
	case 2:
		g.add(c, "FLUSHDB")
	case 3:
		g.add(c, "DBSIZE")
	default:
		g.add(c, "MOVE", g.key(), "1")
	}
}

// Argument pools: a few shared keys, so that types meet and clients block
// on keys that others write.
func (g *gen) key() string     { return g.pick("a", "b", "c", "d", "a", "b", "{e}") }
func (g *gen) channel() string { return g.pick("ch1", "ch2", "n.x", "n.y") }
func (g *gen) pattern() string { return g.pick("ch*", "n.*", "*", "ch[12]") }

func (g *gen) val() string {
	switch g.r.IntN(12) {
	case 0:
		return ""
	case 1:
		return strconv.Itoa(g.r.IntN(2000) - 1000)
	case 2:
		return g.pick("1.5", "-0", "3e2", "0x10", "inf", " 1")
	case 3:
		return g.pick("9223372036854775807", "-9223372036854775808", "18446744073709551616")
	case 4:
		return string(make([]byte, 70)) // long enough to leave small encodings
	default:
		return g.pick("v", "w", "x", "1", "2", "3")
	}
}

func (g *gen) member() string { return g.pick("m1", "m2", "m3", "m4", "1", "2") }

func (g *gen) score() string {
	if g.chance(6) {
		return g.pick("nan", "abc", "", "1e400")
	}
	return g.pick("1", "2", "3", "-1", "1.5", "0", "+inf", "-inf", "2")
}

func (g *gen) count() string {
	if g.chance(10) {
		return g.pick("0", "-1", "x", "9223372036854775807", "100")
	}
	return strconv.Itoa(1 + g.r.IntN(3))
}

func (g *gen) index() string {
	if g.chance(8) {
		return g.pick("x", "9223372036854775807", "-9223372036854775808", "1.5")
	}
	return strconv.Itoa(g.r.IntN(7) - 3)
}

func (g *gen) keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.key()
	}
	return out
}

// mutate makes a valid command invalid now and then: a junk argument, one
// argument fewer or one more.
func (g *gen) mutate(args []string) []string {
	switch {
	case len(args) > 1 && g.chance(5):
		args[1+g.r.IntN(len(args)-1)] = g.pick("x", "-1", "0", "", "1e300", "nan", "9223372036854775808", "LIMIT")
	case len(args) > 1 && g.chance(3):
		if len(args) == 3 && hasCmd(args, "SPOP") {
			// SPOP without its count pops a member at random: the two
			// servers' sets would differ from there on, by design (seed
			// 12477134583917445678).
			break
		}
		args = args[:len(args)-1]
	case g.chance(2):
		args = append(args, "extra")
	}
	return args
}
