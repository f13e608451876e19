package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// Hash commands: scripted replies checked on cached (RESP2 and RESP3) and
// on a real redis-server, go-redis typed API, rueidis, effects, generic
// commands on hash keys.

const hashNotFloat = "-ERR value is not a valid float"

var hashScript = []strStep{
	{cmd: "HSET h", want: "-ERR wrong number of arguments for 'hset' command"},
	{cmd: "HSET h a", want: "-ERR wrong number of arguments for 'hset' command"},
	{cmd: "HSET h a 1 b", want: "-ERR wrong number of arguments for 'hset' command"},
	{cmd: "HMSET h a 1 b", want: "-ERR wrong number of arguments for 'hmset' command"},
	{cmd: "EXISTS h", want: "0"},
	{cmd: "HSET h a 1 b 2 a 3", want: "2"},
	{cmd: "HGETALL h", want: `["a" "3" "b" "2"]`, want3: `{"a":"3" "b":"2"}`},
	{cmd: "HMSET h c 4", want: `"OK"`},
	{cmd: "HSET h c 5 d 6", want: "1"},
	{cmd: "HKEYS h", want: `["a" "b" "c" "d"]`},
	{cmd: "HVALS h", want: `["3" "2" "5" "6"]`},
	{cmd: "HLEN h", want: "4"},
	{cmd: "HLEN nokey", want: "0"},
	{cmd: "HGET h a", want: `"3"`},
	{cmd: "HGET h zz", want: "nil"},
	{cmd: "HGET nokey a", want: "nil"},
	{cmd: "HMGET h a zz d", want: `["3" nil "6"]`},
	{cmd: "HMGET nokey a b", want: `[nil nil]`},
	{cmd: "HEXISTS h a", want: "1"},
	{cmd: "HEXISTS h zz", want: "0"},
	{cmd: "HEXISTS nokey a", want: "0"},
	{cmd: "HSTRLEN h a", want: "1"},
	{cmd: "HSTRLEN h zz", want: "0"},
	{cmd: "HSTRLEN nokey a", want: "0"},
	{cmd: "HSETNX h a 9", want: "0"},
	{cmd: "HSETNX h e 9", want: "1"},
	{cmd: "HSETNX newh f v", want: "1"},
	{cmd: "HGETALL newh", want: `["f" "v"]`, want3: `{"f":"v"}`},
	{cmd: "HGETALL nokey", want: `[]`, want3: `{}`},
	{cmd: "HKEYS nokey", want: `[]`},
	{cmd: "HVALS nokey", want: `[]`},
	{cmd: "HDEL h zz", want: "0"},
	{cmd: "HDEL nokey a", want: "0"},
	{cmd: "HDEL h a b a", want: "2"},
	{cmd: "HDEL newh f", want: "1"},
	{cmd: "EXISTS newh", want: "0"},
	{cmd: "OBJECT ENCODING h", want: `"listpack"`},
	{cmd: "TYPE h", want: `"hash"`},
	// HINCRBY
	{cmd: "HINCRBY h c 10", want: "15"},
	{cmd: "HINCRBY h new -3", want: "-3"},
	{cmd: "HINCRBY h c x", want: strNotInteger},
	{cmd: "HINCRBY h c 1.5", want: strNotInteger},
	{cmd: `HSET h s str big 9223372036854775807 sp "\x201"`, want: "3"},
	{cmd: "HINCRBY h s 1", want: "-ERR hash value is not an integer"},
	{cmd: "HINCRBY h sp 1", want: "-ERR hash value is not an integer"},
	{cmd: "HINCRBY h big 1", want: "-ERR increment or decrement would overflow"},
	{cmd: "HINCRBY h big -9223372036854775807", want: "0"},
	{cmd: "HINCRBY h big -9223372036854775808", want: "-9223372036854775808"},
	{cmd: "HINCRBY h big -1", want: "-ERR increment or decrement would overflow"},
	{cmd: "HINCRBY nokey2 f 5", want: "5"},
	// HINCRBYFLOAT
	{cmd: "HSET h f 1.5", want: "1"},
	{cmd: "HINCRBYFLOAT h f 0.1", want: `"1.6"`},
	{cmd: "HINCRBYFLOAT h f 1.5e3", want: `"1501.59999999999999998"`},
	{cmd: "HINCRBYFLOAT h f 0x10", want: `"1517.59999999999999998"`},
	{cmd: "HINCRBYFLOAT h f -1517.59999999999999998", want: `"0"`},
	{cmd: "HINCRBYFLOAT h nf 0.1", want: `"0.1"`},
	{cmd: "HINCRBYFLOAT h nf 0.2", want: `"0.3"`},
	{cmd: "HINCRBYFLOAT h s 1", want: "-ERR hash value is not a float"},
	{cmd: "HINCRBYFLOAT h sp 1", want: "-ERR hash value is not a float"},
	{cmd: "HINCRBYFLOAT h f x", want: hashNotFloat},
	{cmd: "HINCRBYFLOAT h f nan", want: hashNotFloat},
	{cmd: "HINCRBYFLOAT h f 1e5000", want: hashNotFloat},
	{cmd: "HINCRBYFLOAT h f inf", want: "-ERR value is NaN or Infinity"},
	{cmd: "HINCRBYFLOAT h f -infinity", want: "-ERR value is NaN or Infinity"},
	{cmd: "HSET h ld 1e4932", want: "1"},
	{cmd: "HINCRBYFLOAT h ld 1e4932", want: "-ERR increment would produce NaN or Infinity"},
	{cmd: "HINCRBYFLOAT h big 1", want: `"-9223372036854775807"`},
	// Integer and float parsing of stored values and increments.
	{cmd: "HSET pz a +1 b 01 c -0 d 1.0 e 0x10 f 9223372036854775808", want: "6"},
	{cmd: "HINCRBY pz a 1", want: "-ERR hash value is not an integer"},
	{cmd: "HINCRBY pz b 1", want: "-ERR hash value is not an integer"},
	{cmd: "HINCRBY pz c 1", want: "-ERR hash value is not an integer"},
	{cmd: "HINCRBY pz d 1", want: "-ERR hash value is not an integer"},
	{cmd: "HINCRBY pz f 1", want: "-ERR hash value is not an integer"},
	{cmd: "HINCRBY pz x +5", want: strNotInteger},
	{cmd: "HINCRBY pz x 05", want: strNotInteger},
	{cmd: "HINCRBYFLOAT pz e 1", want: `"17"`},
	{cmd: "HINCRBYFLOAT pz f 1", want: `"9223372036854775809"`},
	{cmd: "HINCRBYFLOAT pz b 1", want: `"2"`},
	{cmd: "HINCRBYFLOAT pz a 1", want: `"2"`},
	{cmd: "HINCRBYFLOAT pz z +1.5", want: `"1.5"`},
	{cmd: "HINCRBYFLOAT pz w .5", want: `"0.5"`},
	{cmd: "HINCRBYFLOAT pz v 5.", want: `"5"`},
	{cmd: "HINCRBYFLOAT pz u 1e", want: hashNotFloat},
	{cmd: `HINCRBYFLOAT pz u "\x201"`, want: hashNotFloat},
	{cmd: "HSET pz h 1e3 i 0x1p3 j -inf", want: "3"},
	{cmd: "HINCRBYFLOAT pz h 1", want: `"1001"`},
	{cmd: "HINCRBYFLOAT pz i 1", want: `"9"`},
	{cmd: "HINCRBYFLOAT pz j 1", want: "-ERR increment would produce NaN or Infinity"},
	// HRANDFIELD argument errors
	{cmd: "HRANDFIELD nokey", want: "nil"},
	{cmd: "HRANDFIELD nokey 5", want: "[]"},
	{cmd: "HRANDFIELD nokey 5 WITHVALUES", want: "[]"},
	{cmd: "HRANDFIELD nokey x", want: strNotInteger},
	{cmd: "HRANDFIELD h x", want: strNotInteger},
	{cmd: "HRANDFIELD h 1 foo", want: strSyntaxErr},
	{cmd: "HRANDFIELD h 1 withvalues x", want: strSyntaxErr},
	{cmd: "HRANDFIELD h -9223372036854775808", want: "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"},
	{cmd: "HRANDFIELD h -9223372036854775807 withvalues", want: "-ERR value is out of range"},
	{cmd: "HRANDFIELD h 0", want: "[]"},
	{cmd: "HRANDFIELD h 0 withvalues", want: "[]"},
	{cmd: "HSET one f v", want: "1"},
	{cmd: "HRANDFIELD one", want: `"f"`},
	{cmd: "HRANDFIELD one 5", want: `["f"]`},
	{cmd: "HRANDFIELD one -2", want: `["f" "f"]`},
	{cmd: "HRANDFIELD one -2 WITHVALUES", want: `["f" "v" "f" "v"]`, want3: `[["f" "v"] ["f" "v"]]`},
	{cmd: "HRANDFIELD one 1 WITHVALUES", want: `["f" "v"]`, want3: `[["f" "v"]]`},
	// HSCAN
	{cmd: "HSCAN one 0", want: `["0" ["f" "v"]]`},
	{cmd: "HSCAN one 0 MATCH x*", want: `["0" []]`},
	{cmd: "HSCAN one 0 MATCH f* COUNT 1", want: `["0" ["f" "v"]]`},
	{cmd: "HSCAN one x", want: "-ERR invalid cursor"},
	{cmd: "HSCAN one 0 COUNT 0", want: strSyntaxErr},
	{cmd: "HSCAN one 0 COUNT x", want: strNotInteger},
	{cmd: "HSCAN one 0 TYPE hash", want: strSyntaxErr},
	{cmd: "HSCAN one 0 NOVALUES", want: strSyntaxErr},
	{cmd: "HSCAN one 0 MATCH", want: strSyntaxErr},
	{cmd: "HSCAN nokey 0 COUNT 0", want: `["0" []]`},
	{cmd: "HSCAN nokey x", want: "-ERR invalid cursor"},
	// Wrong types
	{cmd: "SET str x", want: `"OK"`},
	{cmd: "HSET str a 1", want: strWrongType},
	{cmd: "HSETNX str a 1", want: strWrongType},
	{cmd: "HGET str a", want: strWrongType},
	{cmd: "HMGET str a", want: strWrongType},
	{cmd: "HDEL str a", want: strWrongType},
	{cmd: "HEXISTS str a", want: strWrongType},
	{cmd: "HGETALL str", want: strWrongType},
	{cmd: "HKEYS str", want: strWrongType},
	{cmd: "HVALS str", want: strWrongType},
	{cmd: "HLEN str", want: strWrongType},
	{cmd: "HSTRLEN str a", want: strWrongType},
	{cmd: "HINCRBY str a 1", want: strWrongType},
	{cmd: "HINCRBYFLOAT str a 1", want: strWrongType},
	{cmd: "HRANDFIELD str", want: strWrongType},
	{cmd: "HRANDFIELD str 2", want: strWrongType},
	{cmd: "HSCAN str 0", want: strWrongType},
	{cmd: "GET h", want: strWrongType},
	// Encodings
	{cmd: "HSET enc f " + strings.Repeat("v", 64), want: "1"},
	{cmd: "OBJECT ENCODING enc", want: `"listpack"`},
	{cmd: "HSET enc g " + strings.Repeat("v", 65), want: "1"},
	{cmd: "OBJECT ENCODING enc", want: `"hashtable"`},
	{cmd: "HDEL enc g", want: "1"},
	{cmd: "OBJECT ENCODING enc", want: `"hashtable"`},
	{cmd: "HSETNX enc2 f v", want: "1"},
	{cmd: "HSETNX enc2 f " + strings.Repeat("v", 65), want: "0"},
	{cmd: "OBJECT ENCODING enc2", want: `"listpack"`},
	{cmd: "HINCRBYFLOAT enc3 f 1", want: `"1"`},
	{cmd: "OBJECT ENCODING enc3", want: `"listpack"`},
	{cmd: "HINCRBYFLOAT enc3 f 1e70", want: `"10000000000000000000222479489586148259025995410601157579323600873193472"`},
	{cmd: "OBJECT ENCODING enc3", want: `"hashtable"`},
	{cmd: "HINCRBY enc4 " + strings.Repeat("f", 65) + " 1", want: "1"},
	{cmd: "OBJECT ENCODING enc4", want: `"hashtable"`},
	{cmd: "HSETNX enc5 " + strings.Repeat("f", 65) + " 1", want: "1"},
	{cmd: "OBJECT ENCODING enc5", want: `"hashtable"`},
}

func TestHashScript(t *testing.T) { strCheckScript(t, hashScript) }

func TestHashScriptVsRedis(t *testing.T) { strCheckScriptRedis(t, hashScript) }

// TestHashEncodingEntries checks the 512-field listpack limit, on cached
// and on redis-server.
func TestHashEncodingEntries(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	for _, rc := range []*redis.Client{newClient(t, s, nil), mk(true, 0)} {
		ctx := ctxT(t)
		args := []any{}
		for i := range 511 {
			args = append(args, "f"+strconv.Itoa(i), "v")
		}
		rc.HSet(ctx, "h", args...)
		rc.HIncrBy(ctx, "h", "f511", 1)
		if enc := rc.ObjectEncoding(ctx, "h").Val(); enc != "listpack" {
			t.Fatalf("512 fields: %s", enc)
		}
		rc.HIncrBy(ctx, "h", "f512", 1)
		if enc := rc.ObjectEncoding(ctx, "h").Val(); enc != "hashtable" {
			t.Fatalf("513 fields: %s", enc)
		}
		if n := rc.HLen(ctx, "h").Val(); n != 513 {
			t.Fatalf("HLEN %d", n)
		}
	}
}

func TestHashGoRedisTyped(t *testing.T) {
	s := startServer(t, nil)
	for _, mut := range []func(*redis.Options){nil, resp2} {
		rc := newClient(t, s, mut)
		ctx := ctxT(t)
		rc.FlushAll(ctx)
		if n, err := rc.HSet(ctx, "h", map[string]any{"a": "1", "b": "2"}).Result(); err != nil || n != 2 {
			t.Fatalf("HSet = %d %v", n, err)
		}
		if ok, err := rc.HMSet(ctx, "h", "c", "3").Result(); err != nil || !ok {
			t.Fatalf("HMSet = %v %v", ok, err)
		}
		if ok := rc.HSetNX(ctx, "h", "a", "x").Val(); ok {
			t.Fatal("HSetNX on an existing field")
		}
		all := rc.HGetAll(ctx, "h").Val()
		if len(all) != 3 || all["a"] != "1" || all["c"] != "3" {
			t.Fatalf("HGetAll = %v", all)
		}
		if v := rc.HMGet(ctx, "h", "a", "zz").Val(); len(v) != 2 || v[0] != "1" || v[1] != nil {
			t.Fatalf("HMGet = %v", v)
		}
		if v := rc.HIncrBy(ctx, "h", "a", 5).Val(); v != 6 {
			t.Fatalf("HIncrBy = %d", v)
		}
		if v := rc.HIncrByFloat(ctx, "h", "a", 0.5).Val(); v != 6.5 {
			t.Fatalf("HIncrByFloat = %v", v)
		}
		if v := rc.HStrLen(ctx, "h", "a").Val(); v != 3 {
			t.Fatalf("HStrLen = %d", v)
		}
		if v := rc.HRandFieldWithValues(ctx, "h", -5).Val(); len(v) != 5 || v[0].Value != all[v[0].Key] && v[0].Key != "a" {
			t.Fatalf("HRandFieldWithValues = %v", v)
		}
		if v := rc.HRandField(ctx, "h", 2).Val(); len(v) != 2 || v[0] == v[1] {
			t.Fatalf("HRandField = %v", v)
		}
		keys, cur := rc.HScan(ctx, "h", 0, "", 10).Val()
		if cur != 0 || len(keys) != 6 {
			t.Fatalf("HScan = %v %d", keys, cur)
		}
		if n := rc.HDel(ctx, "h", "a", "b", "c").Val(); n != 3 {
			t.Fatalf("HDel = %d", n)
		}
		if rc.Exists(ctx, "h").Val() != 0 {
			t.Fatal("emptied hash still exists")
		}
	}
}

func TestHashRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxT(t)
	if n, err := cl.Do(ctx, cl.B().Hset().Key("h").FieldValue().FieldValue("a", "1").FieldValue("b", "2").Build()).AsInt64(); err != nil || n != 2 {
		t.Fatalf("HSET = %d %v", n, err)
	}
	m, err := cl.Do(ctx, cl.B().Hgetall().Key("h").Build()).AsStrMap()
	if err != nil || m["a"] != "1" || m["b"] != "2" {
		t.Fatalf("HGETALL = %v %v", m, err)
	}
	if v, err := cl.Do(ctx, cl.B().Hincrbyfloat().Key("h").Field("a").Increment(0.25).Build()).ToString(); err != nil || v != "1.25" {
		t.Fatalf("HINCRBYFLOAT = %q %v", v, err)
	}
	pairs, err := cl.Do(ctx, cl.B().Hrandfield().Key("h").Count(-3).Withvalues().Build()).ToArray()
	if err != nil || len(pairs) != 3 {
		t.Fatalf("HRANDFIELD WITHVALUES = %v %v", pairs, err)
	}
	for _, p := range pairs {
		if kv, err := p.AsStrSlice(); err != nil || len(kv) != 2 {
			t.Fatalf("HRANDFIELD pair %v %v (RESP3: arrays of 2)", kv, err)
		}
	}
	if n, err := cl.Do(ctx, cl.B().Hlen().Key("h").Build()).AsInt64(); err != nil || n != 2 {
		t.Fatalf("HLEN = %d %v", n, err)
	}
}

// TestHashBigScan checks HSCAN of a hashtable-encoded hash: every field once
// or more, values beside fields, cursor back to 0, MATCH applied.
func TestHashBigScan(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	args := []any{}
	for i := range 1000 {
		args = append(args, "f"+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	rc.HSet(ctx, "big", args...)
	seen := map[string]bool{}
	var cur uint64
	calls := 0
	for {
		items, next, err := rc.HScan(ctx, "big", cur, "f1*", 50).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(items); i += 2 {
			if !strings.HasPrefix(items[i], "f1") || items[i+1] != "v"+items[i][1:] {
				t.Fatalf("item %q %q", items[i], items[i+1])
			}
			seen[items[i]] = true
		}
		calls++
		if cur = next; cur == 0 {
			break
		}
	}
	if len(seen) != 111 || calls < 5 {
		t.Fatalf("saw %d fields (want 111) in %d calls", len(seen), calls)
	}
	// HRANDFIELD positive count on a big hash: distinct fields.
	for _, n := range []int{10, 500, 999} {
		fs := rc.HRandField(ctx, "big", n).Val()
		uniq := map[string]bool{}
		for _, f := range fs {
			uniq[f] = true
		}
		if len(fs) != n || len(uniq) != n {
			t.Fatalf("HRANDFIELD %d: %d fields, %d distinct", n, len(fs), len(uniq))
		}
	}
}
