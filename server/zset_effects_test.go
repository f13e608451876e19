package server

import (
	"fmt"
	"math/rand/v2"
	"slices"
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
