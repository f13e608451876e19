package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/store/rdb"
)

// dumpFill is the same data for cached and redis-server: every type in its
// small and big encodings, integers, binary and empty strings, large values.
func dumpFill() [][]any {
	bin := string([]byte{0, 1, 0xff, '\r', '\n', 0x80})
	big := strings.Repeat("0123456789abcdef", 6000) // redis-server LZF-compresses it
	var cmds [][]any
	add := func(args ...any) { cmds = append(cmds, args) }
	for k, v := range map[string]string{"s:int8": "12", "s:neg": "-5", "s:int32": "2000000000",
		"s:int64": "123456789012", "s:lead0": "007", "s:empty": "", "s:short": "hello", "s:bin": bin,
		"s:big": big, "s:float": "3.25"} {
		add("SET", k, v)
	}
	add("RPUSH", "l:small", "a", "1", "-100", "5000", "70000", "", bin, "-0", strings.Repeat("x", 100))
	many := func(prefix string, n int, f func(i int) []any) []any {
		out := []any{prefix}
		for i := range n {
			out = append(out, f(i)...)
		}
		return out
	}
	add(append([]any{"RPUSH"}, many("l:big", 5000, func(i int) []any { return []any{"e" + strconv.Itoa(i)} })...)...)
	add("RPUSH", "l:huge", strings.Repeat("y", 10000), "mid", big)
	add("SADD", "set:ints", 1, -2, 300, 70000, int64(1)<<40)
	add(append([]any{"SADD"}, many("set:manyints", 600, func(i int) []any { return []any{i * 7} })...)...)
	add("SADD", "set:str", "a", "b", "", bin, "1")
	add(append([]any{"SADD"}, many("set:big", 1000, func(i int) []any { return []any{"m" + strconv.Itoa(i)} })...)...)
	add("ZADD", "z:small", 1, "one", 0.1, "tenth", "-inf", "ninf", "+inf", "pinf", -2.5, bin, 1e300, "huge")
	add(append([]any{"ZADD"}, many("z:big", 300, func(i int) []any { return []any{float64(i%40) / 8, "m" + strconv.Itoa(i)} })...)...)
	add("HSET", "h:small", "f", "v", "n", "12", "e", "", "b", bin)
	add(append([]any{"HSET"}, many("h:big", 1000, func(i int) []any { return []any{"f" + strconv.Itoa(i), i} })...)...)
	add("HSET", "h:longval", "f", strings.Repeat("v", 100))
	return cmds
}

// dumpContents is a key's type and elements in a comparable form.
func dumpContents(t *testing.T, rc *redis.Client, key string) string {
	t.Helper()
	ctx := ctxT(t)
	typ, err := rc.Type(ctx, key).Result()
	if err != nil {
		t.Fatalf("TYPE %s: %v", key, err)
	}
	var elems []string
	switch typ {
	case "string":
		v, _ := rc.Get(ctx, key).Result()
		elems = []string{v}
	case "list":
		elems, err = rc.LRange(ctx, key, 0, -1).Result()
	case "set":
		elems, err = rc.SMembers(ctx, key).Result()
		slices.Sort(elems)
	case "hash":
		var m map[string]string
		m, err = rc.HGetAll(ctx, key).Result()
		for f, v := range m {
			elems = append(elems, f+"="+v)
		}
		slices.Sort(elems)
	case "zset":
		var zs []redis.Z
		zs, err = rc.ZRangeWithScores(ctx, key, 0, -1).Result()
		for _, z := range zs {
			elems = append(elems, fmt.Sprintf("%s=%v", z.Member, z.Score))
		}
	default:
		t.Fatalf("%s: type %s", key, typ)
	}
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return typ + ":" + strconv.Itoa(len(elems)) + ":" + strings.Join(elems, "\x00")
}

// dumpEncoding is OBJECT ENCODING, with cached's small-set "listpack"
// (Redis 7.2's) read as 7.0's "hashtable".
func dumpEncoding(t *testing.T, rc *redis.Client, key string) string {
	t.Helper()
	enc, err := rc.ObjectEncoding(ctxT(t), key).Result()
	if err != nil {
		t.Fatalf("OBJECT ENCODING %s: %v", key, err)
	}
	if enc == "listpack" && rc.Type(ctxT(t), key).Val() == "set" {
		return "hashtable"
	}
	return enc
}

// TestDumpRestoreWithRedis moves every kind of value both ways between
// redis-server 7.0.15 and cached with DUMP and RESTORE and compares every
// element and the encoding.
func TestDumpRestoreWithRedis(t *testing.T) {
	real := strRealRedis(t)(false, 0)
	rc := newClient(t, startServer(t, nil), resp2)
	ctx := ctxT(t)
	var keys []string
	for _, cmd := range dumpFill() {
		keys = append(keys, cmd[1].(string))
		for _, c := range []*redis.Client{real, rc} {
			if err := c.Do(ctx, cmd...).Err(); err != nil {
				t.Fatalf("%v: %v", cmd[:2], err)
			}
		}
	}
	for _, k := range keys {
		want := dumpContents(t, real, k)
		if got := dumpContents(t, rc, k); got != want {
			t.Fatalf("%s: filled differently", k)
		}
		fromRedis, err := real.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Restore(ctx, "from-redis:"+k, 0, fromRedis).Err(); err != nil {
			t.Fatalf("cached RESTORE of redis-server's %s: %v", k, err)
		}
		fromCached, err := rc.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := real.Restore(ctx, "from-cached:"+k, 0, fromCached).Err(); err != nil {
			t.Fatalf("redis-server RESTORE of cached's %s: %v", k, err)
		}
		if got := dumpContents(t, rc, "from-redis:"+k); got != want {
			t.Errorf("%s: redis-server -> cached changed the value", k)
		}
		if got := dumpContents(t, real, "from-cached:"+k); got != want {
			t.Errorf("%s: cached -> redis-server changed the value", k)
		}
		if a, b := dumpEncoding(t, rc, "from-redis:"+k), dumpEncoding(t, real, k); a != b {
			t.Errorf("%s: encoding %s in cached, %s in redis-server", k, a, b)
		}
		if a, b := dumpEncoding(t, real, "from-cached:"+k), dumpEncoding(t, real, k); a != b {
			t.Errorf("%s: encoding %s restored in redis-server, %s there", k, a, b)
		}
	}
}

// TestRestoreOptionsVsRedis runs RESTORE's option and error matrix on
// redis-server 7.0.15 and cached and compares the replies byte for byte,
// then what each left in the keyspace.
func TestRestoreOptionsVsRedis(t *testing.T) {
	real := strRealRedis(t)(false, 0)
	rc := newClient(t, startServer(t, nil), resp2)
	ctx := ctxT(t)
	good := real.Dump(ctx, "nokey").Err() // a missing key dumps as nil on both
	if good != redis.Nil {
		t.Fatalf("DUMP of a missing key: %v", good)
	}
	mustDo(t, real, "SET", "src", "hello")
	payload := real.Dump(ctx, "src").Val()
	mustDo(t, rc, "SET", "src", "hello")
	newer := []byte(payload)
	newer[len(newer)-10]++ // version 11, checksum then wrong too: either error is the same text
	badBody := string(rdb.Seal([]byte{99, 1, 'x'}))
	truncated := string(rdb.Seal([]byte{0, 20, 'x'}))
	abs := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	steps := [][]any{
		{"SET", "k", "old"},
		{"RESTORE", "k", "0", payload},
		{"RESTORE", "k", "abc", payload},
		{"RESTORE", "k", "0", payload, "BOGUS"},
		{"RESTORE", "k", "0", "garbage"},
		{"RPUSH", "lst", "a"},
		{"RESTORE", "lst", "0", payload, "REPLACE"},
		{"TYPE", "lst"},
		{"GET", "lst"},
		{"RESTORE", "k", "0", payload, "REPLACE"},
		{"RESTORE", "k", "abc", payload, "REPLACE"},
		{"RESTORE", "k", "-1", payload, "REPLACE"},
		{"RESTORE", "k", "-1", "garbage", "REPLACE"},
		{"RESTORE", "k", "0", "garbage", "REPLACE", "BOGUS"},
		{"RESTORE", "n1", "0", "garbage"},
		{"RESTORE", "n1", "0", ""},
		{"RESTORE", "n1", "0", string(newer)},
		{"RESTORE", "n1", "0", badBody},
		{"RESTORE", "n1", "0", truncated},
		{"RESTORE", "n1", "0", payload, "FOO"},
		{"RESTORE", "n1", "0", payload, "IDLETIME"},
		{"RESTORE", "n1", "0", payload, "IDLETIME", "-1"},
		{"RESTORE", "n1", "0", payload, "IDLETIME", "x"},
		{"RESTORE", "n1", "0", payload, "FREQ", "256"},
		{"RESTORE", "n1", "0", payload, "FREQ", "-1"},
		{"RESTORE", "n1", "0", payload, "FREQ", "1.5"},
		{"RESTORE", "n1", "0", payload, "IDLETIME", "10", "FREQ", "5"},
		{"RESTORE", "n1", "0", payload, "FREQ", "5", "IDLETIME", "10"},
		{"RESTORE", "n1", "0", payload, "FREQ", "255"},
		{"RESTORE", "n2", "0", payload, "IDLETIME", "1000", "replace", "replace", "absttl"},
		{"OBJECT", "IDLETIME", "n2"},
		{"RESTORE", "n3", "100000", payload},
		{"RESTORE", "n4", abs, payload, "ABSTTL"},
		{"RESTORE", "n5", "1", payload, "ABSTTL"},
		{"EXISTS", "n5"},
		{"RESTORE", "k", "1", payload, "ABSTTL", "REPLACE"},
		{"EXISTS", "k"},
		{"RESTORE", "n6", "9223372036854775807", payload},
		{"EXISTS", "n6"},
		{"RESTORE", "n7", "9223372036854775807", payload, "ABSTTL"},
		{"EXISTS", "n7"},
		{"RESTORE", "n8", "9223372036854775808", payload},
		{"RESTORE", "n8"},
		{"DUMP"},
		{"DUMP", "a", "b"},
		{"DUMP", "nokey"},
		{"DUMP", "n1"},
		{"GET", "n1"},
		{"DBSIZE"},
	}
	for _, st := range steps {
		a, aerr := real.Do(ctx, st...).Result()
		b, berr := rc.Do(ctx, st...).Result()
		if fmt.Sprint(aerr) != fmt.Sprint(berr) || fmt.Sprintf("%q", a) != fmt.Sprintf("%q", b) {
			t.Errorf("%q:\n cached       %q %v\n redis-server %q %v", st, b, berr, a, aerr)
		}
	}
	for _, c := range []*redis.Client{real, rc} {
		if d := c.PTTL(ctx, "n3").Val(); d <= 0 || d > 100*time.Second {
			t.Errorf("PTTL n3 = %v", d)
		}
		if d := c.PTTL(ctx, "n4").Val(); d <= 0 || d > time.Hour {
			t.Errorf("PTTL n4 = %v", d)
		}
		if d, err := c.Do(ctx, "PTTL", "n7").Int64(); err != nil || d < 1<<62 {
			t.Errorf("PTTL n7 = %d %v", d, err)
		}
	}
}

// TestRestoreEffectsAndEvents: RESTORE records RESTORE key <absolute ms>
// payload REPLACE [ABSTTL], which rebuilds the same key on a replica, and
// publishes the "restore" event; an already expired REPLACE deletes (DEL
// effect, "del" event).
func TestRestoreEffectsAndEvents(t *testing.T) {
	primary, replica := startServer(t, nil), startServer(t, nil)
	var log keysEffectLog
	primary.SetEffectHook(log.hook)
	rc := newClient(t, primary, resp2)
	mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", "KEA")
	events := newEventLog(t, primary, nil)
	ctx := ctxT(t)
	mustDo(t, rc, "RPUSH", "src", "a", "b", "3")
	payload := rc.Dump(ctx, "src").Val()
	log.take()
	events.next()

	before := time.Now().UnixMilli()
	mustDo(t, rc, "RESTORE", "k", "60000", payload)
	got := log.take()
	if len(got) != 1 || len(got[0].cmd) != 6 || got[0].cmd[0] != "RESTORE" || got[0].cmd[1] != "k" ||
		got[0].cmd[3] != payload || got[0].cmd[4] != "REPLACE" || got[0].cmd[5] != "ABSTTL" {
		t.Fatalf("effects %v", got)
	}
	// The store's clock is monotonic with a wall-clock offset measured once
	// a second (store.MonoMs), the test's time.Now: they may be a few ms
	// apart (CI saw 2). A relative 60000 would be off by decades.
	if at, _ := strconv.ParseInt(got[0].cmd[2], 10, 64); at < before+60000-1000 {
		t.Fatalf("effect expiry %d, want absolute >= %d", at, before+60000-1000)
	}
	keysReplay(t, replica, got)
	if ev := events.next(); strings.Join(ev, "|") != strings.Join(ev0("restore", "k"), "|") {
		t.Fatalf("events %q", ev)
	}

	mustDo(t, rc, "RESTORE", "k2", "0", payload, "IDLETIME", "5")
	got = log.take()
	if len(got) != 1 || strings.Join(got[0].cmd, " ") != "RESTORE k2 0 "+payload+" REPLACE" {
		t.Fatalf("effects %v", got)
	}
	keysReplay(t, replica, got)
	events.next()

	mustDo(t, rc, "RESTORE", "k", "1", payload, "ABSTTL", "REPLACE")
	got = log.take()
	if len(got) != 1 || strings.Join(got[0].cmd, " ") != "DEL k" {
		t.Fatalf("effects %v", got)
	}
	keysReplay(t, replica, got)
	if ev := events.next(); strings.Join(ev, "|") != strings.Join(ev0("del", "k"), "|") {
		t.Fatalf("events %q", ev)
	}
	mustDo(t, rc, "RESTORE", "k3", "1", payload, "ABSTTL")
	if got := log.take(); len(got) != 0 {
		t.Fatalf("an expired RESTORE of a new key recorded %v", got)
	}
	mustDo(t, rc, "DEL", "src")
	keysReplay(t, replica, log.take())
	keysSameStores(t, primary, replica)
}

func ev0(event, key string) []string { return ev(0, event, key) }
