package server

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// zsetRandomCommand builds a random sorted set command over a small key
// space: z0..z2 (mixed scores), "lex" (all scores 0, for the BYLEX forms,
// whose result Redis leaves unspecified otherwise), "str" (a string, for
// WRONGTYPE), s1 and s2 (plain sets, inputs of the set operations). Scores are integers and halves, so that sums are exact in
// any order. ZSCAN, ZRANDMEMBER and the blocking pops are left out: their
// replies depend on hashing, randomness or time.
func zsetRandomCommand(r *rand.Rand) []any {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	key := func() string { return pick("z0", "z1", "z2", "z2", "nosuch", "str", "big", "s1", "s2") }
	long := strings.Repeat("L", 70)
	member := func() string {
		if r.IntN(40) == 0 {
			return long
		}
		return string(rune('a' + r.IntN(12)))
	}
	score := func() string {
		return pick("0", "1", "2", "-1", "1.5", "3", "-2.5", "10", strconv.Itoa(r.IntN(20)-10), "inf", "-inf", "x", "-0")
	}
	bound := func() string {
		return pick("0", "1", "(1", "2", "(2.5", "-inf", "+inf", "(-inf", "5", "-1", "x", "(", "[1", "10")
	}
	lexb := func() string {
		return pick("-", "+", "[a", "(a", "[c", "(d", "[k", "(zz", "a", "", "[", "(")
	}
	idx := func() string { return pick("0", "1", "-1", "2", "-2", "5", "100", "-100", "x") }
	var args []any
	switch r.IntN(28) {
	case 0, 1, 2:
		args = []any{"ZADD", key()}
		for range r.IntN(3) {
			args = append(args, pick("NX", "XX", "GT", "LT", "CH", "INCR"))
		}
		for range 1 + r.IntN(3) {
			args = append(args, score(), member())
		}
		if r.IntN(15) == 0 {
			args = args[:len(args)-1]
		}
	case 3:
		args = []any{"ZADD", "lex", "0", member(), "0", member()}
	case 4:
		args = []any{"ZINCRBY", key(), score(), member()}
	case 5:
		args = []any{"ZREM", pick("z0", "z1", "z2", "lex", "str"), member(), member()}
	case 6:
		args = []any{pick("ZSCORE", "ZRANK", "ZREVRANK"), key(), member()} // WITHSCORE is 7.2's
	case 7:
		args = []any{"ZMSCORE", key(), member(), member()}
	case 8:
		args = []any{pick("ZCARD"), pick("z0", "z1", "lex", "str", "nosuch")}
	case 9:
		args = []any{"ZCOUNT", key(), bound(), bound()}
	case 10:
		args = []any{"ZLEXCOUNT", pick("lex", "lex", "lexstr", "nolex"), lexb(), lexb()}
	case 11, 12:
		args = zsetRandomRange(r, key, bound, lexb, idx)
	case 13:
		args = []any{pick("ZRANGEBYSCORE", "ZREVRANGEBYSCORE"), key(), bound(), bound()}
		args = append(args, zsetRandomOpts(r, "WITHSCORES", "LIMIT")...)
	case 14:
		args = []any{pick("ZRANGEBYLEX", "ZREVRANGEBYLEX"), pick("lex", "lex", "lexstr"), lexb(), lexb()}
		args = append(args, zsetRandomOpts(r, "LIMIT", "LIMIT", "WITHSCORES")...)
	case 15:
		args = []any{"ZREVRANGE", key(), idx(), idx()}
		args = append(args, zsetRandomOpts(r, "WITHSCORES", "WITHSCORES", "LIMIT")...)
	case 16:
		args = []any{pick("ZPOPMIN", "ZPOPMAX"), key()}
		if r.IntN(2) == 0 {
			args = append(args, pick("0", "1", "2", "-1", "x", "100"))
		}
	case 17:
		args = []any{"ZMPOP", pick("1", "2", "0", "x"), key(), key(), pick("MIN", "MAX", "FOO")}
		if r.IntN(2) == 0 {
			args = append(args, "COUNT", pick("1", "2", "0", "x", "10"))
		}
	case 18:
		args = []any{"ZREMRANGEBYSCORE", key(), bound(), bound()}
	case 19:
		args = []any{"ZREMRANGEBYRANK", key(), idx(), idx()}
	case 20:
		args = []any{"ZREMRANGEBYLEX", pick("lex", "lexstr", "nolex"), lexb(), lexb()}
	case 21, 22:
		args = zsetRandomSetOp(r, key)
	case 23:
		args = []any{"ZINTERCARD", pick("1", "2", "0"), key(), key()}
		if r.IntN(2) == 0 {
			args = append(args, "LIMIT", pick("0", "1", "-1", "x"))
		}
	case 24:
		args = []any{pick("DEL", "TYPE", "OBJECT"), key()}
		if args[0] == "OBJECT" { // sorted sets only: the set type's encodings are not under test
			args = []any{"OBJECT", "ENCODING", pick("z0", "z1", "z2", "big", "nosuch")}
		}
	case 27:
		args = []any{pick("SADD", "SREM"), pick("s1", "s2"), pick("a", "b", "c", "1", "2", "7"), member()}
	case 25:
		args = []any{"ZADD", "big"} // past the listpack threshold: several B+tree leaves
		for range 60 {
			args = append(args, strconv.Itoa(r.IntN(100)), fmt.Sprintf("m%03d", r.IntN(600)))
		}
	default:
		args = []any{"ZADD", pick("z0", "z1", "z2"), strconv.Itoa(r.IntN(5)), member(), strconv.Itoa(r.IntN(5)), member()}
	}
	return args
}

// zsetRandomOpts appends up to two of the given option words (LIMIT with
// its two numbers).
func zsetRandomOpts(r *rand.Rand, words ...string) []any {
	var out []any
	for range r.IntN(3) {
		w := words[r.IntN(len(words))]
		out = append(out, w)
		if w == "LIMIT" {
			out = append(out, []string{"0", "1", "-1", "2"}[r.IntN(4)], []string{"1", "2", "-1", "0", "x"}[r.IntN(5)])
		}
	}
	return out
}

func zsetRandomRange(r *rand.Rand, key func() string, bound, lexb, idx func() string) []any {
	by := []string{"", "", "BYSCORE", "BYLEX"}[r.IntN(4)]
	k := key()
	if by == "BYLEX" {
		k = "lex"
	}
	var args []any
	if r.IntN(4) == 0 {
		args = []any{"ZRANGESTORE", []string{"z2", "dst", "str"}[r.IntN(3)], k}
	} else {
		args = []any{"ZRANGE", k}
	}
	switch by {
	case "BYSCORE":
		args = append(args, bound(), bound(), by)
	case "BYLEX":
		args = append(args, lexb(), lexb(), by)
	default:
		args = append(args, idx(), idx())
	}
	return append(args, zsetRandomOpts(r, "REV", "WITHSCORES", "LIMIT", "REV", "BYSCORE")...)
}

func zsetRandomSetOp(r *rand.Rand, key func() string) []any {
	cmd := []string{"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZUNION", "ZINTER", "ZDIFF"}[r.IntN(6)]
	args := []any{cmd}
	if strings.HasSuffix(cmd, "STORE") {
		args = append(args, []string{"dst", "z2", "str"}[r.IntN(3)])
	}
	n := 1 + r.IntN(3)
	if r.IntN(20) == 0 {
		n = 0
	}
	args = append(args, strconv.Itoa(n))
	for range max(n, 1) {
		args = append(args, key())
	}
	for range r.IntN(3) {
		switch r.IntN(4) {
		case 0:
			args = append(args, "WEIGHTS")
			for range n {
				args = append(args, []string{"1", "2", "-1", "0.5", "0", "x", "inf"}[r.IntN(7)])
			}
		case 1:
			args = append(args, "AGGREGATE", []string{"SUM", "MIN", "MAX", "FOO"}[r.IntN(4)])
		case 2:
			args = append(args, "WITHSCORES")
		default:
			args = append(args, "FOO")
		}
	}
	return args
}

// TestZSetRandomVsRedis runs the same random command stream on cached and
// on a real Redis 7.0, in RESP2 and RESP3, and compares every reply.
func TestZSetRandomVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	for db, resp3 := range []bool{false, true} {
		real := mk(resp3, db)
		rc := newClient(t, s, func(o *redis.Options) {
			o.DB = db
			if !resp3 {
				o.Protocol = 2
			}
		})
		for seed := range uint64(zsetSeeds) {
			zsetRandomRun(t, rand.New(rand.NewPCG(seed, uint64(db))), 3000, real, rc)
		}
	}
}

var zsetHistory = 12

// zsetSeeds is how many random streams TestZSetRandomVsRedis runs per protocol.
var zsetSeeds = 3

func zsetRandomRun(t *testing.T, r *rand.Rand, n int, real, rc *redis.Client) {
	var history []string
	for _, c := range []*redis.Client{real, rc} {
		c.Set(ctxT(t), "str", "x", 0)
		c.Set(ctxT(t), "lexstr", "x", 0)
	}
	for i := range n {
		args := zsetRandomCommand(r)
		history = append(history, fmt.Sprintf("%q", args))
		want := strFmt(real.Do(ctxT(t), args...).Result())
		got := strFmt(rc.Do(ctxT(t), args...).Result())
		if got != want {
			t.Fatalf("command %d differs:\n got %s\nwant %s\nlast commands:\n%s", i, got, want,
				strings.Join(history[max(0, len(history)-zsetHistory):], "\n"))
		}
	}
}
