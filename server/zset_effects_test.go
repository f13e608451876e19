package server

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// zsetDump renders every key of db 0 of s: type, and for sorted sets
// their members with scores in order (strings: the value).
func zsetDump(t *testing.T, rc *redis.Client, s *Server) string {
	t.Helper()
	keys := allKeys(s, 0)
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		typ := rc.Type(ctxT(t), k).Val()
		fmt.Fprintf(&b, "%s(%s)=", k, typ)
		switch typ {
		case "zset":
			zs := rc.ZRangeWithScores(ctxT(t), k, 0, -1).Val()
			for _, z := range zs {
				fmt.Fprintf(&b, "%v:%v,", z.Member, z.Score)
			}
		case "string":
			b.WriteString(rc.Get(ctxT(t), k).Val())
		}
		fmt.Fprintf(&b, " ttl=%v\n", rc.PExpireTime(ctxT(t), k).Val())
	}
	return b.String()
}

// TestZSetEffectsShapes checks the effect each kind of write records.
func TestZSetEffectsShapes(t *testing.T) {
	s := startServer(t, nil)
	var log keysEffectLog
	s.SetEffectHook(log.hook)
	rc := newClient(t, s, nil)
	steps := []struct {
		args []any
		want []string
	}{
		{[]any{"ZADD", "z", "1", "a", "2", "b", "3", "c"}, []string{"ZADD z 1 a 2 b 3 c"}},
		{[]any{"ZADD", "z", "NX", "5", "a"}, nil},
		{[]any{"ZINCRBY", "z", "1", "a"}, []string{"ZINCRBY z 1 a"}},
		{[]any{"ZREM", "z", "nosuch"}, nil},
		{[]any{"ZPOPMIN", "z"}, []string{"ZPOPMIN z 1"}},
		{[]any{"ZPOPMAX", "z", "5"}, []string{"ZPOPMAX z 2"}},
		{[]any{"ZADD", "z", "1", "a", "2", "b"}, []string{"ZADD z 1 a 2 b"}},
		{[]any{"BZPOPMAX", "nokey", "z", "0"}, []string{"ZPOPMAX z 1"}},
		{[]any{"ZMPOP", "1", "z", "MIN", "COUNT", "9"}, []string{"ZPOPMIN z 1"}},
		{[]any{"ZMPOP", "1", "z", "MIN"}, nil},
		{[]any{"ZADD", "u", "1", "a", "2.5", "b"}, []string{"ZADD u 1 a 2.5 b"}},
		{[]any{"ZUNIONSTORE", "d", "1", "u", "WEIGHTS", "2"}, []string{"DEL d", "ZADD d 2 a 5 b"}},
		{[]any{"ZADD", "v", "1", "a", "2", "bb", "3", "c"}, []string{"ZADD v 1 a 2 bb 3 c"}},
		{[]any{"ZUNIONSTORE", "d", "1", "v"}, []string{"DEL d", "ZADD d 2 bb 1 a 3 c"}}, // longest member first
		{[]any{"ZRANGESTORE", "d", "u", "1", "1"}, []string{"DEL d", "ZADD d 2.5 b"}},
		{[]any{"ZDIFFSTORE", "d", "2", "u", "u"}, []string{"DEL d"}},
		{[]any{"ZDIFFSTORE", "d", "2", "u", "u"}, nil},
		{[]any{"ZREMRANGEBYSCORE", "u", "2", "3"}, []string{"ZREMRANGEBYSCORE u 2 3"}},
		{[]any{"ZREMRANGEBYRANK", "u", "5", "6"}, nil},
		{[]any{"ZRANGE", "u", "0", "-1"}, nil},
	}
	for _, st := range steps {
		if err := rc.Do(ctxT(t), st.args...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", st.args, err)
		}
		var got []string
		for _, e := range log.take() {
			got = append(got, strings.Join(e.cmd, " "))
		}
		if !slices.Equal(got, st.want) {
			t.Fatalf("%v recorded %q, want %q", st.args, got, st.want)
		}
	}
}

// TestZSetEffectsNegativeZero: a replica rebuilding a *STORE result from
// its effects ends in the primary's encoding, down to a -0 score (kept by
// the skiplist encoding, stored as 0 by a listpack), and big results come
// in several ZADDs.
func TestZSetEffectsNegativeZero(t *testing.T) {
	primary, replica := startServer(t, nil), startServer(t, nil)
	var log keysEffectLog
	primary.SetEffectHook(log.hook)
	pc, rc := newClient(t, primary, resp2), newClient(t, replica, resp2)
	long := strings.Repeat("L", 70)
	for _, args := range [][]any{
		{"ZADD", "src", "1", long, "-0", "a", "2", "b"},              // skiplist: a keeps -0
		{"ZRANGESTORE", "d1", "src", "0", "-1"},                      // listpack first, converts at the long member
		{"ZUNIONSTORE", "d2", "1", "src"},                            // built big
		{"ZUNIONSTORE", "d3", "1", "src", "WEIGHTS", "-1"},           // -(-0) = 0, -(1), -(2)
		{"ZINTERSTORE", "d4", "2", "src", "src", "AGGREGATE", "MIN"}, // same
	} {
		mustDo(t, pc, args...)
	}
	args := []any{"ZADD", "many"}
	for i := range 3000 {
		args = append(args, strconv.Itoa(i%7), "m"+strconv.Itoa(i))
	}
	mustDo(t, pc, args...)
	mustDo(t, pc, "ZRANGESTORE", "d5", "many", "0", "-1")
	effects := log.take()
	zadds := 0
	for _, e := range effects {
		if e.cmd[0] == "ZADD" && e.cmd[1] == "d5" {
			zadds++
		}
	}
	if zadds != 3 {
		t.Fatalf("ZRANGESTORE of 3000 members recorded %d ZADDs, want 3", zadds)
	}
	keysReplay(t, replica, effects)
	if a, b := zsetDump(t, pc, primary), zsetDump(t, rc, replica); a != b {
		t.Fatalf("primary %s\nreplica %s", a, b)
	}
	for _, k := range []string{"src", "d1", "d2", "d3", "d4", "d5"} {
		if a, b := pc.ObjectEncoding(ctxT(t), k).Val(), rc.ObjectEncoding(ctxT(t), k).Val(); a != b {
			t.Fatalf("%s: primary %s, replica %s", k, a, b)
		}
	}
	if got := fmt.Sprint(pc.ZScore(ctxT(t), "d2", "a").Val()); got != "-0" {
		t.Fatalf("d2 a = %s, want -0", got)
	}
}

// TestZSetEffectsReplay runs random sorted set commands on a primary,
// replays the effects it records on a replica and compares both.
func TestZSetEffectsReplay(t *testing.T) {
	primary, replica := startServer(t, nil), startServer(t, nil)
	var log keysEffectLog
	primary.SetEffectHook(log.hook)
	pc, rc := newClient(t, primary, resp2), newClient(t, replica, resp2)
	for _, c := range []*redis.Client{pc, rc} {
		c.Set(ctxT(t), "str", "x", 0)
		c.Set(ctxT(t), "lexstr", "x", 0)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		args := zsetRandomCommand(r)
		if i%7 == 0 {
			args = []any{"BZPOPMIN", "nokey", "z1", "z2", "0.01"}
		}
		_ = pc.Do(ctxT(t), args...).Err()
		keysReplay(t, replica, log.take())
		if i%500 == 499 {
			if a, b := zsetDump(t, pc, primary), zsetDump(t, rc, replica); a != b {
				t.Fatalf("after %d commands (last %q):\nprimary %s\nreplica %s", i+1, args, a, b)
			}
		}
	}
}
