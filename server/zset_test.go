package server

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// zsetProtocols runs fn with a RESP3 and a RESP2 go-redis client on the
// same server (databases 0 and 1).
func zsetProtocols(t *testing.T, fn func(t *testing.T, rc *redis.Client)) {
	s := startServer(t, nil)
	for db, proto := range []int{3, 2} {
		t.Run("resp"+strconv.Itoa(proto), func(t *testing.T) {
			fn(t, newClient(t, s, func(o *redis.Options) { o.DB = db; o.Protocol = proto }))
		})
	}
}

func zsetWant[T any](t *testing.T, what string, got T, err error, want T) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// TestZSetTyped drives the commands through go-redis's typed API, whose
// parsers check the reply shapes (RESP3 pairs and doubles, RESP2 flat
// arrays and bulk strings).
func TestZSetTyped(t *testing.T) {
	zsetProtocols(t, func(t *testing.T, rc *redis.Client) {
		ctx := ctxT(t)
		n, err := rc.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"}).Result()
		zsetWant(t, "ZADD", n, err, 3)
		n, err = rc.ZAddArgs(ctx, "z", redis.ZAddArgs{GT: true, Ch: true, Members: []redis.Z{{Score: 0, Member: "a"}, {Score: 5, Member: "b"}, {Score: 4, Member: "d"}}}).Result()
		zsetWant(t, "ZADD GT CH", n, err, 2)
		f, err := rc.ZAddArgsIncr(ctx, "z", redis.ZAddArgs{XX: true, Members: []redis.Z{{Score: 0.5, Member: "a"}}}).Result()
		zsetWant(t, "ZADD XX INCR", f, err, 1.5)
		if err := rc.ZAddArgsIncr(ctx, "z", redis.ZAddArgs{NX: true, Members: []redis.Z{{Score: 1, Member: "a"}}}).Err(); err != redis.Nil {
			t.Fatalf("ZADD NX INCR on a member: %v, want nil", err)
		}
		f, err = rc.ZIncrBy(ctx, "z", 0.25, "a").Result()
		zsetWant(t, "ZINCRBY", f, err, 1.75)
		zs, err := rc.ZRangeWithScores(ctx, "z", 0, -1).Result()
		zsetWant(t, "ZRANGE WITHSCORES", zs, err, []redis.Z{{Score: 1.75, Member: "a"}, {Score: 3, Member: "c"}, {Score: 4, Member: "d"}, {Score: 5, Member: "b"}})
		ss, err := rc.ZRangeArgs(ctx, redis.ZRangeArgs{Key: "z", Start: "(1.75", Stop: "+inf", ByScore: true, Rev: false, Offset: 1, Count: 2}).Result()
		zsetWant(t, "ZRANGE BYSCORE LIMIT", ss, err, []string{"d", "b"})
		zs, err = rc.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: "z", Start: 0, Stop: 1, Rev: true}).Result()
		zsetWant(t, "ZRANGE REV WITHSCORES", zs, err, []redis.Z{{Score: 5, Member: "b"}, {Score: 4, Member: "d"}})
		zs, err = rc.ZRevRangeByScoreWithScores(ctx, "z", &redis.ZRangeBy{Min: "3", Max: "(5"}).Result()
		zsetWant(t, "ZREVRANGEBYSCORE", zs, err, []redis.Z{{Score: 4, Member: "d"}, {Score: 3, Member: "c"}})
		n, err = rc.ZRangeStore(ctx, "dst", redis.ZRangeArgs{Key: "z", Start: "-inf", Stop: "4", ByScore: true}).Result()
		zsetWant(t, "ZRANGESTORE", n, err, 3)
		n, err = rc.ZRank(ctx, "z", "d").Result()
		zsetWant(t, "ZRANK", n, err, 2)
		rs, err := rc.ZRevRankWithScore(ctx, "z", "d").Result()
		zsetWant(t, "ZREVRANK WITHSCORE", rs, err, redis.RankScore{Rank: 1, Score: 4})
		if err := rc.ZRankWithScore(ctx, "z", "nosuch").Err(); err != redis.Nil {
			t.Fatalf("ZRANK WITHSCORE of a missing member: %v", err)
		}
		fs, err := rc.ZMScore(ctx, "z", "a", "b").Result()
		zsetWant(t, "ZMSCORE", fs, err, []float64{1.75, 5})
		f, err = rc.ZScore(ctx, "z", "b").Result()
		zsetWant(t, "ZSCORE", f, err, 5)
		n, err = rc.ZCount(ctx, "z", "(1.75", "5").Result()
		zsetWant(t, "ZCOUNT", n, err, 3)
		n, err = rc.ZCard(ctx, "z").Result()
		zsetWant(t, "ZCARD", n, err, 4)

		rc.ZAdd(ctx, "lex", redis.Z{Member: "a"}, redis.Z{Member: "b"}, redis.Z{Member: "c"}, redis.Z{Member: "d"})
		//lint:ignore SA1019 ZRANGEBYLEX itself is under test
		ss, err = rc.ZRangeByLex(ctx, "lex", &redis.ZRangeBy{Min: "(a", Max: "[c"}).Result()
		zsetWant(t, "ZRANGEBYLEX", ss, err, []string{"b", "c"})
		//lint:ignore SA1019 ZREVRANGEBYLEX itself is under test
		ss, err = rc.ZRevRangeByLex(ctx, "lex", &redis.ZRangeBy{Min: "-", Max: "+", Offset: 1, Count: 2}).Result()
		zsetWant(t, "ZREVRANGEBYLEX", ss, err, []string{"c", "b"})
		n, err = rc.ZLexCount(ctx, "lex", "[b", "+").Result()
		zsetWant(t, "ZLEXCOUNT", n, err, 3)
		n, err = rc.ZRemRangeByLex(ctx, "lex", "-", "(b").Result()
		zsetWant(t, "ZREMRANGEBYLEX", n, err, 1)

		zs, err = rc.ZPopMin(ctx, "z").Result()
		zsetWant(t, "ZPOPMIN", zs, err, []redis.Z{{Score: 1.75, Member: "a"}})
		zs, err = rc.ZPopMax(ctx, "z", 2).Result()
		zsetWant(t, "ZPOPMAX 2", zs, err, []redis.Z{{Score: 5, Member: "b"}, {Score: 4, Member: "d"}})
		key, zs, err := rc.ZMPop(ctx, "min", 5, "nokey", "dst").Result()
		zsetWant(t, "ZMPOP key", key, err, "dst")
		zsetWant(t, "ZMPOP", zs, err, []redis.Z{{Score: 1.75, Member: "a"}, {Score: 3, Member: "c"}, {Score: 4, Member: "d"}})
		if n := rc.Exists(ctx, "dst").Val(); n != 0 {
			t.Fatal("ZMPOP left an empty key")
		}
		zk, err := rc.BZPopMin(ctx, time.Second, "nokey", "z").Result()
		zsetWant(t, "BZPOPMIN", *zk, err, redis.ZWithKey{Key: "z", Z: redis.Z{Score: 3, Member: "c"}})
		if err := rc.Do(ctx, "BZPOPMAX", "z", "0.01").Err(); err != redis.Nil {
			t.Fatalf("BZPOPMAX on nothing: %v", err)
		}
		rc.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "x"}, redis.Z{Score: 2, Member: "y"})
		key, zs, err = rc.BZMPop(ctx, time.Second, "max", 1, "z").Result()
		zsetWant(t, "BZMPOP", fmt.Sprint(key, zs), err, "z[{2 y}]")

		rc.ZAdd(ctx, "u1", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
		rc.ZAdd(ctx, "u2", redis.Z{Score: 10, Member: "b"}, redis.Z{Score: 20, Member: "c"})
		zs, err = rc.ZUnionWithScores(ctx, redis.ZStore{Keys: []string{"u1", "u2"}, Weights: []float64{2, 1}, Aggregate: "MAX"}).Result()
		zsetWant(t, "ZUNION", zs, err, []redis.Z{{Score: 2, Member: "a"}, {Score: 10, Member: "b"}, {Score: 20, Member: "c"}})
		zs, err = rc.ZInterWithScores(ctx, &redis.ZStore{Keys: []string{"u1", "u2"}}).Result()
		zsetWant(t, "ZINTER", zs, err, []redis.Z{{Score: 12, Member: "b"}})
		zs, err = rc.ZDiffWithScores(ctx, "u2", "u1").Result()
		zsetWant(t, "ZDIFF", zs, err, []redis.Z{{Score: 20, Member: "c"}})
		n, err = rc.ZInterCard(ctx, 0, "u1", "u2").Result()
		zsetWant(t, "ZINTERCARD", n, err, 1)
		n, err = rc.ZUnionStore(ctx, "out", &redis.ZStore{Keys: []string{"u1", "u2"}, Aggregate: "MIN"}).Result()
		zsetWant(t, "ZUNIONSTORE", n, err, 3)
		n, err = rc.ZInterStore(ctx, "out", &redis.ZStore{Keys: []string{"u1", "u2"}, Weights: []float64{1, 0.5}}).Result()
		zsetWant(t, "ZINTERSTORE", n, err, 1)
		n, err = rc.ZDiffStore(ctx, "out", "u1", "u2").Result()
		zsetWant(t, "ZDIFFSTORE", n, err, 1)
		n, err = rc.ZRem(ctx, "u1", "a", "zz").Result()
		zsetWant(t, "ZREM", n, err, 1)
		n, err = rc.ZRemRangeByScore(ctx, "u2", "-inf", "(20").Result()
		zsetWant(t, "ZREMRANGEBYSCORE", n, err, 1)
		n, err = rc.ZRemRangeByRank(ctx, "u2", 0, -1).Result()
		zsetWant(t, "ZREMRANGEBYRANK", n, err, 1)
		if rc.Exists(ctx, "u2").Val() != 0 {
			t.Fatal("ZREMRANGEBYRANK left an empty key")
		}
	})
}

// TestZSetRandMember checks ZRANDMEMBER's contract (its picks are random).
func TestZSetRandMember(t *testing.T) {
	zsetProtocols(t, func(t *testing.T, rc *redis.Client) {
		ctx := ctxT(t)
		for _, size := range []int{5, 300} {
			key := "r" + strconv.Itoa(size)
			for i := range size {
				rc.ZAdd(ctx, key, redis.Z{Score: float64(i), Member: "m" + strconv.Itoa(i)})
			}
			got, err := rc.ZRandMember(ctx, key, 3).Result()
			if err != nil || len(got) != 3 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 3 {
				t.Fatalf("ZRANDMEMBER %s 3 = %v, %v: want 3 distinct", key, got, err)
			}
			got, _ = rc.ZRandMember(ctx, key, -2*size).Result()
			if len(got) != 2*size {
				t.Fatalf("ZRANDMEMBER -%d gave %d", 2*size, len(got))
			}
			zs, err := rc.ZRandMemberWithScores(ctx, key, size+10).Result()
			if err != nil || len(zs) != size {
				t.Fatalf("ZRANDMEMBER %d WITHSCORES = %d items, %v", size+10, len(zs), err)
			}
			for _, z := range zs {
				if "m"+strconv.Itoa(int(z.Score)) != z.Member {
					t.Fatalf("pair %v has the wrong score", z)
				}
			}
			one, err := rc.Do(ctx, "ZRANDMEMBER", key).Text()
			if err != nil || rc.ZScore(ctx, key, one).Err() != nil {
				t.Fatalf("ZRANDMEMBER = %q, %v", one, err)
			}
		}
	})
}

// TestZSetScanBig walks a skiplist-encoded set with ZSCAN: every member
// comes back with its score, and MATCH filters.
func TestZSetScanBig(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	const n = 1000
	for i := range n {
		rc.ZAdd(ctx, "big", redis.Z{Score: float64(i) / 4, Member: "m" + strconv.Itoa(i)})
	}
	seen := map[string]string{}
	var cursor uint64
	for steps := 0; ; steps++ {
		items, next, err := rc.ZScan(ctx, "big", cursor, "", 50).Result()
		if err != nil || steps > n {
			t.Fatalf("ZSCAN: %v after %d steps", err, steps)
		}
		for i := 0; i+1 < len(items); i += 2 {
			seen[items[i]] = items[i+1]
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(seen) != n {
		t.Fatalf("ZSCAN saw %d members, want %d", len(seen), n)
	}
	if seen["m6"] != "1.5" {
		t.Fatalf("m6 score %q", seen["m6"])
	}
	items, _, err := rc.ZScan(ctx, "big", 0, "m99*", 2000).Result()
	if err != nil || len(items) != 22 {
		t.Fatalf("ZSCAN MATCH m99* = %v, %v", items, err)
	}
}

// TestZSetKeyspace checks that the generic commands handle sorted sets:
// TYPE, OBJECT ENCODING (both encodings and the one-way conversion),
// MEMORY USAGE, COPY, RENAME, MOVE, EXPIRE, SCAN TYPE, DEL.
func TestZSetKeyspace(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	for i := range 128 {
		rc.ZAdd(ctx, "z", redis.Z{Score: float64(i), Member: "m" + strconv.Itoa(i)})
	}
	zsetWant(t, "TYPE", rc.Type(ctx, "z").Val(), nil, "zset")
	zsetWant(t, "OBJECT ENCODING 128", rc.ObjectEncoding(ctx, "z").Val(), nil, "listpack")
	small := rc.MemoryUsage(ctx, "z").Val()
	rc.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "one-more"})
	zsetWant(t, "OBJECT ENCODING 129", rc.ObjectEncoding(ctx, "z").Val(), nil, "skiplist")
	if big := rc.MemoryUsage(ctx, "z").Val(); big <= small {
		t.Fatalf("MEMORY USAGE listpack %d, skiplist %d", small, big)
	}
	rc.ZRemRangeByRank(ctx, "z", 0, 120)
	zsetWant(t, "OBJECT ENCODING after shrinking", rc.ObjectEncoding(ctx, "z").Val(), nil, "skiplist")
	rc.ZAdd(ctx, "long", redis.Z{Score: 1, Member: string(make([]byte, 65))})
	zsetWant(t, "OBJECT ENCODING long member", rc.ObjectEncoding(ctx, "long").Val(), nil, "skiplist")
	rc.ZAdd(ctx, "many", func() []redis.Z {
		zs := make([]redis.Z, 129)
		for i := range zs {
			zs[i] = redis.Z{Score: float64(i), Member: strconv.Itoa(i)}
		}
		return zs
	}()...)
	zsetWant(t, "OBJECT ENCODING one ZADD of 129", rc.ObjectEncoding(ctx, "many").Val(), nil, "skiplist")

	zsetWant(t, "COPY", rc.Copy(ctx, "z", "z2", 0, false).Val(), nil, 1)
	rc.ZAdd(ctx, "z", redis.Z{Score: 1000, Member: "only-in-z"})
	zsetWant(t, "ZCARD copy", rc.ZCard(ctx, "z2").Val(), nil, rc.ZCard(ctx, "z").Val()-1)
	zsetWant(t, "RENAME", rc.Rename(ctx, "z2", "z3").Val(), nil, "OK")
	zsetWant(t, "MOVE", rc.Move(ctx, "z3", 4).Val(), nil, true)
	rc4 := newClient(t, s, func(o *redis.Options) { o.DB = 4 })
	zsetWant(t, "ZSCORE after MOVE", rc4.ZScore(ctx, "z3", "m127").Val(), nil, 127)
	keys, _, err := rc.ScanType(ctx, 0, "*", 100, "zset").Result()
	slices.Sort(keys)
	zsetWant(t, "SCAN TYPE zset", keys, err, []string{"long", "many", "z"})
	rc.Expire(ctx, "z", time.Hour)
	rc.ZAdd(ctx, "z", redis.Z{Score: 7, Member: "new"})
	if ttl := rc.TTL(ctx, "z").Val(); ttl <= 0 {
		t.Fatalf("ZADD dropped the TTL: %v", ttl)
	}
	rc.ZUnionStore(ctx, "z", &redis.ZStore{Keys: []string{"long"}})
	if ttl := rc.TTL(ctx, "z").Val(); ttl != -1 {
		t.Fatalf("ZUNIONSTORE kept the destination's TTL: %v", ttl)
	}
	zsetWant(t, "DEL", rc.Del(ctx, "z", "long", "many").Val(), nil, 3)
}

// TestZSetHugeAndSpecialScores: ±inf, -0, NaN results, big and tiny values
// keep Redis's formatting (%.17g).
func TestZSetSpecialScores(t *testing.T) {
	zsetProtocols(t, func(t *testing.T, rc *redis.Client) {
		ctx := ctxT(t)
		rc.ZAdd(ctx, "s", redis.Z{Score: math.Inf(1), Member: "p"}, redis.Z{Score: math.Inf(-1), Member: "n"},
			redis.Z{Score: 0.1, Member: "d"}, redis.Z{Score: 1e300, Member: "h"})
		f, err := rc.ZIncrBy(ctx, "s", 0.2, "d").Result()
		zsetWant(t, "ZINCRBY 0.1+0.2", f, err, 0.30000000000000004)
		wantErr(t, rc, "ERR resulting score is not a number (NaN)", "ZINCRBY", "s", "-inf", "p")
		wantErr(t, rc, "ERR value is not a valid float", "ZADD", "s", "nan", "x")
		v := mustDo(t, rc, "ZSCORE", "s", "h")
		if fmt.Sprint(v) != "1.0000000000000001e+300" && v != 1e300 { // %.17g in RESP2
			t.Fatalf("ZSCORE 1e300 = %v", v)
		}
		if got := fmt.Sprint(mustDo(t, rc, "ZSCORE", "s", "p")); got != "inf" && got != "+Inf" {
			t.Fatalf("ZSCORE inf = %v", got)
		}
	})
}

// TestZSetRueidis drives a representative part through rueidis's typed
// builder (RESP3).
func TestZSetRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := cl.Do(ctx, cl.B().Zadd().Key("rz").Ch().ScoreMember().ScoreMember(1, "a").ScoreMember(2.5, "b").ScoreMember(3, "c").Build()).AsInt64()
	zsetWant(t, "ZADD", n, err, 3)
	zs, err := cl.Do(ctx, cl.B().Zrange().Key("rz").Min("(1").Max("+inf").Byscore().Withscores().Build()).AsZScores()
	zsetWant(t, "ZRANGE BYSCORE WITHSCORES", fmt.Sprint(zs), err, "[{b 2.5} {c 3}]")
	f, err := cl.Do(ctx, cl.B().Zincrby().Key("rz").Increment(0.5).Member("a").Build()).AsFloat64()
	zsetWant(t, "ZINCRBY", f, err, 1.5)
	r, err := cl.Do(ctx, cl.B().Zrank().Key("rz").Member("c").Build()).AsInt64()
	zsetWant(t, "ZRANK", r, err, 2)
	z, err := cl.Do(ctx, cl.B().Zpopmax().Key("rz").Build()).AsZScore()
	zsetWant(t, "ZPOPMAX", fmt.Sprint(z), err, "{c 3}")
	n, err = cl.Do(ctx, cl.B().Zunionstore().Destination("ru").Numkeys(1).Key("rz").Weights(2).Build()).AsInt64()
	zsetWant(t, "ZUNIONSTORE", n, err, 2)
	fs, err := cl.Do(ctx, cl.B().Zmscore().Key("ru").Member("a", "b", "x").Build()).ToArray()
	if err != nil || len(fs) != 3 || !fs[2].IsNil() {
		t.Fatalf("ZMSCORE = %v, %v", fs, err)
	}
	if v, _ := fs[1].AsFloat64(); v != 5 {
		t.Fatalf("ZMSCORE b = %v", v)
	}
	n, err = cl.Do(ctx, cl.B().Zcard().Key("ru").Build()).AsInt64()
	zsetWant(t, "ZCARD", n, err, 2)
}

// TestZSetScanGuarantee: members present for a whole ZSCAN are returned
// even when others are removed and added between the calls, and members
// sharing a score are not split across calls.
func TestZSetScanGuarantee(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	const n = 2000
	for i := range n {
		rc.ZAdd(ctx, "g", redis.Z{Score: float64(i / 10), Member: "m" + strconv.Itoa(i)})
	}
	seen, scoreStep := map[string]bool{}, map[string]int{}
	var cursor uint64
	for step := 0; ; step++ {
		items, next, err := rc.ZScan(ctx, "g", cursor, "", 25).Result()
		if err != nil || step > n {
			t.Fatalf("ZSCAN: %v after %d steps", err, step)
		}
		for i := 0; i < len(items); i += 2 {
			seen[items[i]] = true
			if at, ok := scoreStep[items[i+1]]; ok && at != step {
				t.Fatalf("score %s returned at steps %d and %d: a group was split", items[i+1], at, step)
			}
			scoreStep[items[i+1]] = step
		}
		// Churn: remove members with low odd numbers (ahead of and behind the
		// cursor), add new ones everywhere.
		rc.ZRem(ctx, "g", "m"+strconv.Itoa(2*step+1))
		rc.ZAdd(ctx, "g", redis.Z{Score: float64(step % 200), Member: "new" + strconv.Itoa(step)})
		if cursor = next; cursor == 0 {
			break
		}
	}
	for i := range n {
		m := "m" + strconv.Itoa(i)
		if present := rc.ZScore(ctx, "g", m).Err() == nil; present && !seen[m] {
			t.Fatalf("%s was present for the whole scan but not returned", m)
		}
	}
	for i := range 200 {
		rc.ZAdd(ctx, "groups", redis.Z{Score: float64(i / 10), Member: "m" + strconv.Itoa(i)})
	}
	items, next, err := rc.ZScan(ctx, "groups", 0, "", 1).Result()
	if err != nil || next == 0 || len(items) != 2*10 {
		t.Fatalf("COUNT 1 on groups of 10: %d items, next %d, %v", len(items)/2, next, err)
	}
	if _, _, err := rc.ZScan(ctx, "g", 123456789, "", 10).Result(); err != nil {
		t.Fatalf("ZSCAN from an arbitrary cursor: %v", err)
	}
}
