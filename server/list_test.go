package server

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cached/cached/store/list"
)

// listClients returns a RESP3 and a RESP2 go-redis client on s, each on
// its own database so their keys do not meet.
func listClients(t *testing.T, s *Server) map[string]*redis.Client {
	return map[string]*redis.Client{
		"resp3": newClient(t, s, nil),
		"resp2": newClient(t, s, func(o *redis.Options) { o.Protocol = 2; o.DB = 1 }),
	}
}

func listWant[T comparable](t *testing.T, what string, got T, err error, want T) {
	t.Helper()
	if err != nil || got != want {
		t.Fatalf("%s = %v (%v), want %v", what, got, err, want)
	}
}

func listWantSlice[T comparable](t *testing.T, what string, got []T, err error, want ...T) {
	t.Helper()
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%s = %v (%v), want %v", what, got, err, want)
	}
}

func TestListPushPopTyped(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range listClients(t, s) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			n, err := rc.LPushX(ctx, "l", "x").Result()
			listWant(t, "LPUSHX missing", n, err, 0)
			n, err = rc.RPushX(ctx, "l", "x").Result()
			listWant(t, "RPUSHX missing", n, err, 0)
			n, err = rc.LPush(ctx, "l", "b", "a").Result()
			listWant(t, "LPUSH", n, err, 2)
			n, err = rc.RPush(ctx, "l", "c", "d", "e").Result()
			listWant(t, "RPUSH", n, err, 5)
			n, err = rc.LPushX(ctx, "l", "0").Result()
			listWant(t, "LPUSHX", n, err, 6)
			n, err = rc.RPushX(ctx, "l", "f", "g").Result()
			listWant(t, "RPUSHX", n, err, 8)
			got, err := rc.LRange(ctx, "l", 0, -1).Result()
			listWantSlice(t, "LRANGE", got, err, "0", "a", "b", "c", "d", "e", "f", "g")
			n, err = rc.LLen(ctx, "l").Result()
			listWant(t, "LLEN", n, err, 8)
			v, err := rc.LPop(ctx, "l").Result()
			listWant(t, "LPOP", v, err, "0")
			v, err = rc.RPop(ctx, "l").Result()
			listWant(t, "RPOP", v, err, "g")
			got, err = rc.LPopCount(ctx, "l", 2).Result()
			listWantSlice(t, "LPOP 2", got, err, "a", "b")
			got, err = rc.RPopCount(ctx, "l", 2).Result()
			listWantSlice(t, "RPOP 2", got, err, "f", "e")
			got, err = rc.LPopCount(ctx, "l", 0).Result()
			listWantSlice(t, "LPOP 0", got, err)
			got, err = rc.RPopCount(ctx, "l", 10).Result()
			listWantSlice(t, "RPOP 10", got, err, "d", "c")
			if e, err := rc.Exists(ctx, "l").Result(); err != nil || e != 0 {
				t.Fatalf("emptied list still exists: %d %v", e, err)
			}
			if _, err := rc.LPop(ctx, "l").Result(); err != redis.Nil {
				t.Fatalf("LPOP missing: %v", err)
			}
			if _, err := rc.LPopCount(ctx, "l", 0).Result(); err != redis.Nil {
				t.Fatalf("LPOP missing 0: %v", err)
			}
			if _, err := rc.RPopCount(ctx, "l", 3).Result(); err != redis.Nil {
				t.Fatalf("RPOP missing 3: %v", err)
			}
			n, err = rc.LLen(ctx, "l").Result()
			listWant(t, "LLEN missing", n, err, 0)
		})
	}
}

func TestListIndexTyped(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range listClients(t, s) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			rc.RPush(ctx, "l", "a", "b", "c", "b", "a", "b")
			for _, tc := range []struct {
				start, stop int64
				want        []string
			}{
				{0, -1, []string{"a", "b", "c", "b", "a", "b"}},
				{1, 2, []string{"b", "c"}},
				{-2, -1, []string{"a", "b"}},
				{-100, 1, []string{"a", "b"}},
				{4, 100, []string{"a", "b"}},
				{3, 2, nil},
				{6, 10, nil},
			} {
				got, err := rc.LRange(ctx, "l", tc.start, tc.stop).Result()
				listWantSlice(t, "LRANGE "+strconv.Itoa(int(tc.start))+" "+strconv.Itoa(int(tc.stop)), got, err, tc.want...)
			}
			v, err := rc.LIndex(ctx, "l", 2).Result()
			listWant(t, "LINDEX 2", v, err, "c")
			v, err = rc.LIndex(ctx, "l", -1).Result()
			listWant(t, "LINDEX -1", v, err, "b")
			if _, err := rc.LIndex(ctx, "l", 6).Result(); err != redis.Nil {
				t.Fatalf("LINDEX out of range: %v", err)
			}
			if _, err := rc.LIndex(ctx, "nokey", 0).Result(); err != redis.Nil {
				t.Fatalf("LINDEX missing: %v", err)
			}
			st, err := rc.LSet(ctx, "l", -1, "z").Result()
			listWant(t, "LSET", st, err, "OK")
			n, err := rc.LInsertBefore(ctx, "l", "c", "C0").Result()
			listWant(t, "LINSERT BEFORE", n, err, 7)
			n, err = rc.LInsertAfter(ctx, "l", "c", "C1").Result()
			listWant(t, "LINSERT AFTER", n, err, 8)
			n, err = rc.LInsert(ctx, "l", "before", "nope", "x").Result()
			listWant(t, "LINSERT no pivot", n, err, -1)
			n, err = rc.LInsertAfter(ctx, "nokey", "a", "x").Result()
			listWant(t, "LINSERT missing", n, err, 0)
			got, err := rc.LRange(ctx, "l", 0, -1).Result()
			listWantSlice(t, "after edits", got, err, "a", "b", "C0", "c", "C1", "b", "a", "z")
			pos, err := rc.LPos(ctx, "l", "b", redis.LPosArgs{}).Result()
			listWant(t, "LPOS", pos, err, 1)
			pos, err = rc.LPos(ctx, "l", "b", redis.LPosArgs{Rank: 2}).Result()
			listWant(t, "LPOS RANK 2", pos, err, 5)
			pos, err = rc.LPos(ctx, "l", "a", redis.LPosArgs{Rank: -1}).Result()
			listWant(t, "LPOS RANK -1", pos, err, 6)
			if _, err := rc.LPos(ctx, "l", "b", redis.LPosArgs{MaxLen: 1}).Result(); err != redis.Nil {
				t.Fatalf("LPOS MAXLEN 1: %v", err)
			}
			ps, err := rc.LPosCount(ctx, "l", "a", 0, redis.LPosArgs{}).Result()
			listWantSlice(t, "LPOS COUNT 0", ps, err, 0, 6)
			ps, err = rc.LPosCount(ctx, "l", "b", 1, redis.LPosArgs{Rank: -1}).Result()
			listWantSlice(t, "LPOS COUNT 1 RANK -1", ps, err, 5)
			ps, err = rc.LPosCount(ctx, "l", "nope", 2, redis.LPosArgs{}).Result()
			listWantSlice(t, "LPOS COUNT no match", ps, err)
			n, err = rc.LRem(ctx, "l", -1, "a").Result()
			listWant(t, "LREM -1", n, err, 1)
			n, err = rc.LRem(ctx, "l", 0, "b").Result()
			listWant(t, "LREM 0", n, err, 2)
			n, err = rc.LRem(ctx, "nokey", 0, "b").Result()
			listWant(t, "LREM missing", n, err, 0)
			st, err = rc.LTrim(ctx, "l", 1, -2).Result()
			listWant(t, "LTRIM", st, err, "OK")
			got, err = rc.LRange(ctx, "l", 0, -1).Result()
			listWantSlice(t, "after LREM/LTRIM", got, err, "C0", "c", "C1")
			st, err = rc.LTrim(ctx, "l", 5, 1).Result()
			listWant(t, "LTRIM empty", st, err, "OK")
			if e, _ := rc.Exists(ctx, "l").Result(); e != 0 {
				t.Fatal("LTRIM to nothing kept the key")
			}
			st, err = rc.LTrim(ctx, "nokey", 0, 1).Result()
			listWant(t, "LTRIM missing", st, err, "OK")
		})
	}
}

func TestListMoveTyped(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range listClients(t, s) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			rc.RPush(ctx, "src", "1", "2", "3")
			v, err := rc.LMove(ctx, "src", "dst", "LEFT", "RIGHT").Result()
			listWant(t, "LMOVE", v, err, "1")
			v, err = rc.RPopLPush(ctx, "src", "dst").Result()
			listWant(t, "RPOPLPUSH", v, err, "3")
			v, err = rc.LMove(ctx, "src", "src", "left", "right").Result()
			listWant(t, "LMOVE rotate single", v, err, "2")
			got, err := rc.LRange(ctx, "dst", 0, -1).Result()
			listWantSlice(t, "dst", got, err, "3", "1")
			v, err = rc.LMove(ctx, "src", "dst", "RIGHT", "LEFT").Result()
			listWant(t, "LMOVE last", v, err, "2")
			if e, _ := rc.Exists(ctx, "src").Result(); e != 0 {
				t.Fatal("emptied source kept")
			}
			if _, err := rc.LMove(ctx, "src", "dst", "LEFT", "LEFT").Result(); err != redis.Nil {
				t.Fatalf("LMOVE missing: %v", err)
			}
			if _, err := rc.RPopLPush(ctx, "src", "dst").Result(); err != redis.Nil {
				t.Fatalf("RPOPLPUSH missing: %v", err)
			}
			rc.RPush(ctx, "m2", "a", "b", "c")
			k, vals, err := rc.LMPop(ctx, "right", 2, "m1", "m2").Result()
			if err != nil || k != "m2" || !slices.Equal(vals, []string{"c", "b"}) {
				t.Fatalf("LMPOP = %q %q %v", k, vals, err)
			}
			k, vals, err = rc.LMPop(ctx, "left", 10, "m1", "m2").Result()
			if err != nil || k != "m2" || !slices.Equal(vals, []string{"a"}) {
				t.Fatalf("LMPOP left 10 = %q %q %v", k, vals, err)
			}
			if _, _, err := rc.LMPop(ctx, "left", 1, "m1", "m2").Result(); err != redis.Nil {
				t.Fatalf("LMPOP none: %v", err)
			}
		})
	}
}

func TestListBlockingServesAtOnce(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range listClients(t, s) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			rc.RPush(ctx, "b", "1", "2", "3", "4", "5")
			got, err := rc.BLPop(ctx, time.Second, "none", "b").Result()
			listWantSlice(t, "BLPOP", got, err, "b", "1")
			got, err = rc.BRPop(ctx, 0, "b").Result()
			listWantSlice(t, "BRPOP", got, err, "b", "5")
			v, err := rc.BLMove(ctx, "b", "d", "LEFT", "LEFT", time.Second).Result()
			listWant(t, "BLMOVE", v, err, "2")
			v, err = rc.BRPopLPush(ctx, "b", "d", 0).Result()
			listWant(t, "BRPOPLPUSH", v, err, "4")
			k, vals, err := rc.BLMPop(ctx, time.Second, "left", 5, "none", "b").Result()
			if err != nil || k != "b" || !slices.Equal(vals, []string{"3"}) {
				t.Fatalf("BLMPOP = %q %q %v", k, vals, err)
			}
		})
	}
}

func TestListErrors(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range listClients(t, s) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			rc.Set(ctx, "str", "x", 0)
			rc.RPush(ctx, "l", "a", "b")
			const wt = "WRONGTYPE Operation against a key holding the wrong kind of value"
			const ni = "ERR value is not an integer or out of range"
			const syn = "ERR syntax error"
			for _, tc := range []struct {
				msg  string
				args []any
			}{
				{wt, []any{"LPUSH", "str", "a"}}, {wt, []any{"RPUSHX", "str", "a"}},
				{wt, []any{"LPOP", "str"}}, {wt, []any{"RPOP", "str", "0"}}, {wt, []any{"LLEN", "str"}},
				{wt, []any{"LRANGE", "str", "0", "1"}}, {wt, []any{"LINDEX", "str", "x"}},
				{wt, []any{"LSET", "str", "x", "y"}}, {wt, []any{"LINSERT", "str", "before", "a", "b"}},
				{wt, []any{"LREM", "str", "0", "a"}}, {wt, []any{"LTRIM", "str", "0", "1"}},
				{wt, []any{"LPOS", "str", "a"}}, {wt, []any{"LMOVE", "str", "l", "left", "left"}},
				{wt, []any{"LMOVE", "l", "str", "left", "left"}}, {wt, []any{"RPOPLPUSH", "l", "str"}},
				{wt, []any{"LMPOP", "2", "nokey", "str", "left"}}, {wt, []any{"BLPOP", "nokey", "str", "l", "0"}},
				{wt, []any{"BLMOVE", "str", "x", "left", "left", "0"}}, {wt, []any{"BLMPOP", "0", "1", "str", "left"}},
				{"ERR wrong number of arguments for 'lpop' command", []any{"LPOP", "l", "1", "2"}},
				{"ERR wrong number of arguments for 'rpop' command", []any{"RPOP", "l", "1", "2"}},
				{"ERR wrong number of arguments for 'lpush' command", []any{"LPUSH", "l"}},
				{"ERR wrong number of arguments for 'blmpop' command", []any{"BLMPOP", "0", "1", "l"}},
				{"ERR value is out of range, must be positive", []any{"LPOP", "l", "-1"}},
				{"ERR value is out of range, must be positive", []any{"RPOP", "nokey", "x"}},
				{ni, []any{"LRANGE", "nokey", "a", "1"}}, {ni, []any{"LINDEX", "l", "1.5"}},
				{ni, []any{"LSET", "l", "x", "v"}}, {ni, []any{"LREM", "nokey", "x", "v"}},
				{ni, []any{"LTRIM", "nokey", "0", "x"}}, {ni, []any{"LPOS", "l", "a", "RANK", "x"}},
				{"ERR no such key", []any{"LSET", "nokey", "0", "v"}},
				{"ERR index out of range", []any{"LSET", "l", "2", "v"}},
				{syn, []any{"LINSERT", "l", "middle", "a", "b"}}, {syn, []any{"LINSERT", "str", "middle", "a", "b"}},
				{syn, []any{"LPOS", "l", "a", "RANK"}}, {syn, []any{"LPOS", "l", "a", "FOO", "1"}},
				{syn, []any{"LMOVE", "l", "d", "up", "left"}}, {syn, []any{"BLMOVE", "l", "d", "left", "down", "0"}},
				{syn, []any{"LMPOP", "2", "l", "left"}}, {syn, []any{"LMPOP", "1", "l", "middle"}},
				{syn, []any{"LMPOP", "1", "l", "left", "COUNT"}}, {syn, []any{"LMPOP", "1", "l", "left", "COUNT", "1", "COUNT", "1"}},
				{syn, []any{"LMPOP", "1", "l", "left", "FOO", "1"}},
				{"ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list", []any{"LPOS", "nokey", "a", "RANK", "0"}},
				{"ERR COUNT can't be negative", []any{"LPOS", "l", "a", "COUNT", "-1"}},
				{"ERR MAXLEN can't be negative", []any{"LPOS", "l", "a", "MAXLEN", "-1"}},
				{"ERR numkeys should be greater than 0", []any{"LMPOP", "0", "l", "left"}},
				{"ERR numkeys should be greater than 0", []any{"BLMPOP", "0", "x", "l", "left"}},
				{"ERR count should be greater than 0", []any{"LMPOP", "1", "l", "left", "COUNT", "0"}},
				{"ERR timeout is not a float or out of range", []any{"BLPOP", "l", "x"}},
				{"ERR timeout is negative", []any{"BRPOP", "l", "-1"}},
				{"ERR timeout is negative", []any{"BLMPOP", "-1", "1", "l", "left"}},
				{"ERR timeout is not a float or out of range", []any{"BRPOPLPUSH", "l", "d", "x"}},
			} {
				wantErr(t, rc, tc.msg, tc.args...)
			}
			got, err := rc.LRange(ctx, "l", 0, -1).Result()
			listWantSlice(t, "list untouched by errors", got, err, "a", "b")
		})
	}
}

func TestListRueidis(t *testing.T) {
	s := startServer(t, nil)
	for _, proto := range []bool{false, true} {
		cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true,
			AlwaysRESP2: proto, SelectDB: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		b := cl.B()
		if n, err := cl.Do(ctx, b.Rpush().Key("q").Element("a", "b", "c", "d").Build()).AsInt64(); err != nil || n != 4 {
			t.Fatalf("RPUSH = %d %v", n, err)
		}
		if v, err := cl.Do(ctx, b.Lpop().Key("q").Build()).ToString(); err != nil || v != "a" {
			t.Fatalf("LPOP = %q %v", v, err)
		}
		if vs, err := cl.Do(ctx, b.Rpop().Key("q").Count(2).Build()).AsStrSlice(); err != nil || !slices.Equal(vs, []string{"d", "c"}) {
			t.Fatalf("RPOP 2 = %q %v", vs, err)
		}
		if vs, err := cl.Do(ctx, b.Lrange().Key("q").Start(0).Stop(-1).Build()).AsStrSlice(); err != nil || !slices.Equal(vs, []string{"b"}) {
			t.Fatalf("LRANGE = %q %v", vs, err)
		}
		if n, err := cl.Do(ctx, b.Lpos().Key("q").Element("b").Build()).AsInt64(); err != nil || n != 0 {
			t.Fatalf("LPOS = %d %v", n, err)
		}
		if err := cl.Do(ctx, b.Lpop().Key("none").Count(1).Build()).Error(); !rueidis.IsRedisNil(err) {
			t.Fatalf("LPOP none 1: %v", err)
		}
		if v, err := cl.Do(ctx, b.Lmove().Source("q").Destination("q2").Left().Right().Build()).ToString(); err != nil || v != "b" {
			t.Fatalf("LMOVE = %q %v", v, err)
		}
		if vs, err := cl.Do(ctx, b.Blpop().Key("q2").Timeout(1).Build()).AsStrSlice(); err != nil || !slices.Equal(vs, []string{"q2", "b"}) {
			t.Fatalf("BLPOP = %q %v", vs, err)
		}
		if err := cl.Do(ctx, b.Lmpop().Numkeys(1).Key("q2").Left().Build()).Error(); !rueidis.IsRedisNil(err) {
			t.Fatalf("LMPOP none: %v", err)
		}
		cl.Close()
	}
}

// TestListKeyspace checks that the generic key commands work on lists
// without knowing them: TYPE, OBJECT ENCODING, MEMORY USAGE, SCAN TYPE,
// COPY, RENAME, MOVE, EXPIRE, DEL.
func TestListKeyspace(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	rc.RPush(ctx, "l", "a", "b", "c")
	listWant(t, "TYPE", rc.Type(ctx, "l").Val(), nil, "list")
	listWant(t, "OBJECT ENCODING", rc.ObjectEncoding(ctx, "l").Val(), nil, "quicklist")
	small := rc.MemoryUsage(ctx, "l").Val()
	big := make([]any, 5000)
	for i := range big {
		big[i] = strings.Repeat("v", 100)
	}
	rc.RPush(ctx, "l", big...)
	if grown := rc.MemoryUsage(ctx, "l").Val(); small <= 0 || grown < small+5000*100 {
		t.Fatalf("MEMORY USAGE %d then %d", small, grown)
	}
	rc.Set(ctx, "s", "x", 0)
	keys, _, err := rc.ScanType(ctx, 0, "*", 100, "list").Result()
	listWantSlice(t, "SCAN TYPE list", keys, err, "l")
	listWant(t, "COPY", rc.Copy(ctx, "l", "c", 0, false).Val(), nil, 1)
	rc.LPush(ctx, "c", "only-in-copy")
	listWant(t, "original after COPY+LPUSH", rc.LLen(ctx, "l").Val(), nil, 5003)
	listWant(t, "copy", rc.LLen(ctx, "c").Val(), nil, 5004)
	listWant(t, "RENAME", rc.Rename(ctx, "c", "r").Val(), nil, "OK")
	v, err := rc.LIndex(ctx, "r", 0).Result()
	listWant(t, "renamed head", v, err, "only-in-copy")
	listWant(t, "MOVE", rc.Move(ctx, "r", 3).Val(), nil, true)
	r3 := newClient(t, s, func(o *redis.Options) { o.DB = 3 })
	listWant(t, "moved LLEN", r3.LLen(ctx, "r").Val(), nil, 5004)
	rc.Expire(ctx, "l", time.Hour)
	rc.RPush(ctx, "l", "more")
	rc.LPop(ctx, "l")
	if ttl := rc.TTL(ctx, "l").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL after list writes = %v", ttl)
	}
	listWant(t, "DEL", rc.Del(ctx, "l").Val(), nil, 1)
	listWant(t, "LLEN after DEL", rc.LLen(ctx, "l").Val(), nil, 0)
	// The store object is a *list.List sized as it says.
	tx := s.Store().Lock([]byte("r"))
	e, ok := tx.Peek(3, []byte("r"))
	l, isList := e.Object().(*list.List)
	tx.Unlock()
	if !ok || !isList || l.Len() != 5004 {
		t.Fatalf("store object %T ok=%v", e.Object(), ok)
	}
}

// TestListLarge builds a list of many nodes through the server and checks
// positional reads and edits against a model.
func TestListLarge(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	const n = 50000
	var front, back []string // the model: reversed front, then back
	pipe := rc.Pipeline()
	for i := range n {
		v := "e" + strconv.Itoa(i)
		if i%2 == 0 {
			pipe.RPush(ctx, "big", v)
			back = append(back, v)
		} else {
			pipe.LPush(ctx, "big", v)
			front = append(front, v)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(front)
	model := append(front, back...)
	for _, i := range []int64{0, 1, 4095, 4096, 25000, n - 2, n - 1, -1, -30000} {
		j := i
		if j < 0 {
			j += n
		}
		v, err := rc.LIndex(ctx, "big", i).Result()
		listWant(t, "LINDEX "+strconv.Itoa(int(i)), v, err, model[j])
	}
	got, err := rc.LRange(ctx, "big", 24990, 25010).Result()
	listWantSlice(t, "LRANGE middle", got, err, model[24990:25011]...)
	rc.LSet(ctx, "big", 30000, strings.Repeat("w", 20000))
	model[30000] = strings.Repeat("w", 20000)
	rc.LInsertBefore(ctx, "big", model[12345], "ins")
	model = slices.Insert(model, 12345, "ins")
	got, err = rc.LRange(ctx, "big", 0, -1).Result()
	listWantSlice(t, "whole list", got, err, model...)
	pos, err := rc.LPos(ctx, "big", model[40000], redis.LPosArgs{}).Result()
	listWant(t, "LPOS deep", pos, err, 40000)
}

// TestListNonListObject: a key of type list holding a foreign object (as
// other tests seed) answers WRONGTYPE instead of crashing.
func TestListNonListObject(t *testing.T) {
	s := startServer(t, nil)
	keysSeedObj(s, 0, "fake", 2 /* store.TypeList */, newKeysObj("x"), 0)
	rc := newClient(t, s, nil)
	wantErr(t, rc, "WRONGTYPE Operation against a key holding the wrong kind of value", "LLEN", "fake")
}
