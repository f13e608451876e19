package server

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// Set commands: scripted replies checked on cached (RESP2 and RESP3) and on
// a real redis-server, go-redis typed API, rueidis. Replies whose order
// Redis does not define are only checked on intsets (sorted) or one-member
// sets here; the random cross-check sorts them.

const (
	setOutOfRange = "-ERR value is out of range, must be positive"
	setNumkeys    = "-ERR numkeys should be greater than 0"
)

var setScript = []strStep{
	{cmd: "SADD s", want: "-ERR wrong number of arguments for 'sadd' command"},
	{cmd: "SADD s 3 1 2 1", want: "3"},
	{cmd: "SADD s 2 4", want: "1"},
	{cmd: "SMEMBERS s", want: `["1" "2" "3" "4"]`},
	{cmd: "OBJECT ENCODING s", want: `"intset"`},
	{cmd: "TYPE s", want: `"set"`},
	{cmd: "SCARD s", want: "4"},
	{cmd: "SCARD nokey", want: "0"},
	{cmd: "SISMEMBER s 1", want: "1"},
	{cmd: "SISMEMBER s 01", want: "0"},
	{cmd: "SISMEMBER s x", want: "0"},
	{cmd: "SISMEMBER nokey x", want: "0"},
	{cmd: "SMISMEMBER s 1 x 4", want: "[1 0 1]"},
	{cmd: "SMISMEMBER nokey 1", want: "[0]"},
	{cmd: "SMEMBERS nokey", want: "[]"},
	{cmd: "SREM s 1 9 2", want: "2"},
	{cmd: "SREM nokey 1", want: "0"},
	{cmd: "SREM s 3 4", want: "2"},
	{cmd: "EXISTS s", want: "0"},
	{cmd: "SADD s -5 7 0", want: "3"},
	{cmd: "SMEMBERS s", want: `["-5" "0" "7"]`},
	// Only canonical integers go into an intset.
	{cmd: "SADD si 3 1", want: "2"},
	{cmd: "SADD si 007 -0 +3 3 9223372036854775808", want: "4"},
	{cmd: "SCARD si", want: "6"},
	{cmd: "SISMEMBER si 007", want: "1"},
	{cmd: "SISMEMBER si 7", want: "0"},
	{cmd: "SADD sj -9223372036854775808 9223372036854775807 0 -1", want: "4"},
	{cmd: "SMEMBERS sj", want: `["-9223372036854775808" "-1" "0" "9223372036854775807"]`},
	{cmd: "OBJECT ENCODING sj", want: `"intset"`},
	// SPOP / SRANDMEMBER argument checks
	{cmd: "SPOP nokey", want: "nil"},
	{cmd: "SPOP nokey 2", want: "[]"},
	{cmd: "SPOP s -1", want: setOutOfRange},
	{cmd: "SPOP s x", want: setOutOfRange},
	{cmd: "SPOP s 1 x", want: strSyntaxErr},
	{cmd: "SPOP s 0", want: "[]"},
	{cmd: "SRANDMEMBER nokey", want: "nil"},
	{cmd: "SRANDMEMBER nokey 3", want: "[]"},
	{cmd: "SRANDMEMBER s x", want: strNotInteger},
	{cmd: "SRANDMEMBER s 1 x", want: strSyntaxErr},
	{cmd: "SRANDMEMBER s -9223372036854775808", want: "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"},
	{cmd: "SRANDMEMBER s 0", want: "[]"},
	{cmd: "SRANDMEMBER s 10", want: `["-5" "0" "7"]`},
	{cmd: "SADD one m", want: "1"},
	{cmd: "SRANDMEMBER one", want: `"m"`},
	{cmd: "SRANDMEMBER one -3", want: `["m" "m" "m"]`},
	{cmd: "SPOP one", want: `"m"`},
	{cmd: "EXISTS one", want: "0"},
	{cmd: "SPOP s 10", want: `["-5" "0" "7"]`},
	{cmd: "EXISTS s", want: "0"},
	// SMOVE
	{cmd: "SADD a 1 2", want: "2"},
	{cmd: "SMOVE a b 1", want: "1"},
	{cmd: "SMOVE a b 9", want: "0"},
	{cmd: "SMOVE nokey b 1", want: "0"},
	{cmd: "SMOVE a a 2", want: "1"},
	{cmd: "SMOVE a a 9", want: "0"},
	{cmd: "SMEMBERS b", want: `["1"]`},
	{cmd: "SMOVE a b 2", want: "1"},
	{cmd: "EXISTS a", want: "0"},
	{cmd: "SMEMBERS b", want: `["1" "2"]`},
	// algebra
	{cmd: "SADD x 1 2 3 4", want: "4"},
	{cmd: "SADD y 3 4 5", want: "3"},
	{cmd: "SINTER x y", want: `["3" "4"]`},
	{cmd: "SINTER x nokey", want: "[]"},
	{cmd: "SINTER x x", want: `["1" "2" "3" "4"]`},
	{cmd: "SUNION y nokey b", want: `["1" "2" "3" "4" "5"]`},
	{cmd: "SDIFF x y b", want: "[]"},
	{cmd: "SDIFF x y", want: `["1" "2"]`},
	{cmd: "SDIFF nokey x", want: "[]"},
	{cmd: "SINTERSTORE d x y", want: "2"},
	{cmd: "SMEMBERS d", want: `["3" "4"]`},
	{cmd: "SUNIONSTORE d x y", want: "5"},
	{cmd: "SDIFFSTORE d x y", want: "2"},
	{cmd: "SMEMBERS d", want: `["1" "2"]`},
	{cmd: "SINTERSTORE d x nokey", want: "0"},
	{cmd: "EXISTS d", want: "0"},
	{cmd: "SET str v", want: `"OK"`},
	{cmd: "SUNIONSTORE str x", want: "4"},
	{cmd: "TYPE str", want: `"set"`},
	{cmd: "SET str v", want: `"OK"`},
	{cmd: "SINTERCARD 2 x y", want: "2"},
	{cmd: "SINTERCARD 2 x y LIMIT 1", want: "1"},
	{cmd: "SINTERCARD 2 x y limit 0", want: "2"},
	{cmd: "SINTERCARD 2 x y LIMIT 0 LIMIT 1", want: "1"},
	{cmd: "SINTERCARD 2 x nokey", want: "0"},
	{cmd: "SINTERCARD 0 x", want: setNumkeys},
	{cmd: "SINTERCARD -1 x", want: setNumkeys},
	{cmd: "SINTERCARD z x", want: setNumkeys},
	{cmd: "SINTERCARD 3 x y", want: "-ERR Number of keys can't be greater than number of args"},
	{cmd: "SINTERCARD 1 x LIMIT -1", want: "-ERR LIMIT can't be negative"},
	{cmd: "SINTERCARD 1 x LIMIT z", want: "-ERR LIMIT can't be negative"},
	{cmd: "SINTERCARD 1 x LIMIT", want: strSyntaxErr},
	{cmd: "SINTERCARD 1 x FOO 1", want: strSyntaxErr},
	{cmd: "SINTERCARD 1 x str", want: strSyntaxErr},
	// SSCAN
	{cmd: "SSCAN x 0", want: `["0" ["1" "2" "3" "4"]]`},
	{cmd: "SSCAN x 0 MATCH 1*", want: `["0" ["1"]]`},
	{cmd: "SSCAN x 0 COUNT 0", want: strSyntaxErr},
	{cmd: "SSCAN x z", want: "-ERR invalid cursor"},
	{cmd: "SSCAN x 0 TYPE set", want: strSyntaxErr},
	{cmd: "SSCAN nokey 0 COUNT 0", want: `["0" []]`},
	// wrong types
	{cmd: "SADD str 1", want: strWrongType},
	{cmd: "SREM str 1", want: strWrongType},
	{cmd: "SMEMBERS str", want: strWrongType},
	{cmd: "SISMEMBER str 1", want: strWrongType},
	{cmd: "SMISMEMBER str 1", want: strWrongType},
	{cmd: "SCARD str", want: strWrongType},
	{cmd: "SPOP str", want: strWrongType},
	{cmd: "SPOP str 0", want: strWrongType},
	{cmd: "SRANDMEMBER str", want: strWrongType},
	{cmd: "SRANDMEMBER str 0", want: strWrongType},
	{cmd: "SMOVE str x 1", want: strWrongType},
	{cmd: "SMOVE x str 1", want: strWrongType},
	{cmd: "SMOVE x str 99", want: strWrongType},
	{cmd: "SMOVE nokey str 1", want: "0"},
	{cmd: "SINTER nokey str", want: strWrongType},
	{cmd: "SUNION x str", want: strWrongType},
	{cmd: "SDIFF x str", want: strWrongType},
	{cmd: "SINTERSTORE d nokey str", want: strWrongType},
	{cmd: "SINTERCARD 2 x str", want: strWrongType},
	{cmd: "SSCAN str 0", want: strWrongType},
	{cmd: "SADD big " + setSeq(0, 512), want: "512"},
	{cmd: "OBJECT ENCODING big", want: `"intset"`},
	{cmd: "SADD big 512", want: "1"},
	{cmd: "OBJECT ENCODING big", want: `"hashtable"`},
}

// setSeq returns "from from+1 … to-1".
func setSeq(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

func TestSetScript(t *testing.T) { strCheckScript(t, setScript) }

func TestSetScriptVsRedis(t *testing.T) { strCheckScriptRedis(t, setScript) }

// TestSetEncodings checks the listpack encoding of small sets (Redis 7.2's;
// redis-server 7.0 reports hashtable for them).
func TestSetEncodings(t *testing.T) {
	strCheckScript(t, []strStep{
		{cmd: "SADD s a b", want: "2"},
		{cmd: "OBJECT ENCODING s", want: `"listpack"`},
		{cmd: "SADD i 1 2", want: "2"},
		{cmd: "SADD i a", want: "1"},
		{cmd: "OBJECT ENCODING i", want: `"listpack"`},
		{cmd: "SADD l " + strings.Repeat("x", 65), want: "1"},
		{cmd: "OBJECT ENCODING l", want: `"hashtable"`},
		{cmd: "SADD m " + setSeq(0, 129), want: "129"},
		{cmd: "SADD m a", want: "1"},
		{cmd: "OBJECT ENCODING m", want: `"hashtable"`},
		{cmd: "SADD n a " + setSeq(0, 127), want: "128"},
		{cmd: "OBJECT ENCODING n", want: `"listpack"`},
		{cmd: "SADD n b", want: "1"},
		{cmd: "OBJECT ENCODING n", want: `"hashtable"`},
	})
}

func TestSetGoRedisTyped(t *testing.T) {
	s := startServer(t, nil)
	for _, mut := range []func(*redis.Options){nil, resp2} {
		rc := newClient(t, s, mut)
		ctx := ctxT(t)
		rc.FlushAll(ctx)
		if n := rc.SAdd(ctx, "s", "a", "b", "c").Val(); n != 3 {
			t.Fatalf("SAdd = %d", n)
		}
		m := rc.SMembers(ctx, "s").Val()
		slices.Sort(m)
		if !slices.Equal(m, []string{"a", "b", "c"}) {
			t.Fatalf("SMembers = %v", m)
		}
		if mm := rc.SMembersMap(ctx, "s").Val(); len(mm) != 3 {
			t.Fatalf("SMembersMap = %v", mm)
		}
		if !rc.SIsMember(ctx, "s", "a").Val() || rc.SIsMember(ctx, "s", "z").Val() {
			t.Fatal("SIsMember")
		}
		if v := rc.SMIsMember(ctx, "s", "a", "z").Val(); !slices.Equal(v, []bool{true, false}) {
			t.Fatalf("SMIsMember = %v", v)
		}
		if v := rc.SRandMemberN(ctx, "s", -5).Val(); len(v) != 5 {
			t.Fatalf("SRandMemberN = %v", v)
		}
		rc.SAdd(ctx, "t", "b", "c", "d")
		if v := rc.SInterCard(ctx, 0, "s", "t").Val(); v != 2 {
			t.Fatalf("SInterCard = %d", v)
		}
		if v := rc.SUnionStore(ctx, "u", "s", "t").Val(); v != 4 {
			t.Fatalf("SUnionStore = %d", v)
		}
		if v := rc.SDiff(ctx, "u", "t").Val(); !slices.Equal(v, []string{"a"}) {
			t.Fatalf("SDiff = %v", v)
		}
		if !rc.SMove(ctx, "s", "t", "a").Val() {
			t.Fatal("SMove")
		}
		if v := rc.SPopN(ctx, "t", 2).Val(); len(v) != 2 {
			t.Fatalf("SPopN = %v", v)
		}
		if v := rc.SCard(ctx, "t").Val(); v != 2 {
			t.Fatalf("SCard = %d", v)
		}
		keys, cur := rc.SScan(ctx, "u", 0, "*", 100).Val()
		if cur != 0 || len(keys) != 4 {
			t.Fatalf("SScan = %v %d", keys, cur)
		}
	}
}

func TestSetRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxT(t)
	if n, err := cl.Do(ctx, cl.B().Sadd().Key("s").Member("1", "2", "x").Build()).AsInt64(); err != nil || n != 3 {
		t.Fatalf("SADD = %d %v", n, err)
	}
	m, err := cl.Do(ctx, cl.B().Smembers().Key("s").Build()).AsStrSlice()
	slices.Sort(m)
	if err != nil || !slices.Equal(m, []string{"1", "2", "x"}) {
		t.Fatalf("SMEMBERS = %v %v", m, err)
	}
	if n, err := cl.Do(ctx, cl.B().Sintercard().Numkeys(1).Key("s").Limit(2).Build()).AsInt64(); err != nil || n != 2 {
		t.Fatalf("SINTERCARD = %d %v", n, err)
	}
	p, err := cl.Do(ctx, cl.B().Spop().Key("s").Count(3).Build()).AsStrSlice()
	if err != nil || len(p) != 3 {
		t.Fatalf("SPOP 3 = %v %v", p, err)
	}
	if n, err := cl.Do(ctx, cl.B().Exists().Key("s").Build()).AsInt64(); err != nil || n != 0 {
		t.Fatalf("EXISTS after SPOP all = %d %v", n, err)
	}
}

// TestSetBig checks a hashtable-encoded set: SSCAN sees every member, SPOP
// and SRANDMEMBER give distinct members, SINTERSTORE of big sets.
func TestSetBig(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	var ms []any
	for i := range 2000 {
		ms = append(ms, "m"+strconv.Itoa(i))
	}
	rc.SAdd(ctx, "big", ms...)
	seen := map[string]bool{}
	var cur uint64
	for {
		keys, next, err := rc.SScan(ctx, "big", cur, "", 100).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		if cur = next; cur == 0 {
			break
		}
	}
	if len(seen) != 2000 {
		t.Fatalf("SSCAN saw %d", len(seen))
	}
	for _, n := range []int64{5, 1000, 1999} {
		v := rc.SRandMemberN(ctx, "big", n).Val()
		if u := slices.Compact(slices.Sorted(slices.Values(v))); int64(len(u)) != n {
			t.Fatalf("SRANDMEMBER %d: %d distinct", n, len(u))
		}
	}
	p := rc.SPopN(ctx, "big", 500).Val()
	if u := slices.Compact(slices.Sorted(slices.Values(p))); len(u) != 500 || rc.SCard(ctx, "big").Val() != 1500 {
		t.Fatalf("SPOP 500: %d distinct, %d left", len(u), rc.SCard(ctx, "big").Val())
	}
	for _, m := range p {
		if rc.SIsMember(ctx, "big", m).Val() {
			t.Fatalf("popped %s still a member", m)
		}
	}
}
