package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/bitcmd"
	"github.com/cached/cached/server/stringcmd"
	"github.com/cached/cached/store"
)

// Scripted checks: each step is a command and its expected reply, written
// in a compact form (see strFmt). The same scripts run against cached in
// RESP2 and RESP3 and, when redis-server is installed, against a real
// Redis, which keeps the expectations honest.

// strStep is one command and its expected reply; want3 is the RESP3 reply
// when it differs from want. A command "@list key" makes key hold a list.
type strStep struct {
	cmd, want, want3 string
}

// strFmt renders a go-redis reply: "nil", "-ERR …" for errors, quoted
// strings, integers, [a b] arrays, {k:v} maps (keys sorted).
func strFmt(v any, err error) string {
	if errors.Is(err, redis.Nil) {
		return "nil"
	}
	if err != nil {
		return "-" + err.Error()
	}
	return strFmtVal(v)
}

func strFmtVal(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case []any:
		items := make([]string, len(x))
		for i, it := range x {
			items[i] = strFmtVal(it)
		}
		return "[" + strings.Join(items, " ") + "]"
	case map[any]any:
		items := make([]string, 0, len(x))
		for k, it := range x {
			items = append(items, strFmtVal(k)+":"+strFmtVal(it))
		}
		slices.Sort(items)
		return "{" + strings.Join(items, " ") + "}"
	default:
		return fmt.Sprintf("%T(%v)", v, v)
	}
}

// strArgs splits a script command on spaces; ” is an empty argument and
// a Go-quoted token ("\xff\x00") is unquoted.
func strArgs(cmd string) []any {
	f := strings.Fields(cmd)
	out := make([]any, len(f))
	for i, a := range f {
		switch {
		case a == "''":
			a = ""
		case strings.HasPrefix(a, `"`):
			if u, err := strconv.Unquote(a); err == nil {
				a = u
			}
		}
		out[i] = a
	}
	return out
}

// strRunScript runs steps on rc; mkList makes a key hold a list.
func strRunScript(t *testing.T, rc *redis.Client, resp3 bool, steps []strStep, mkList func(key string)) {
	t.Helper()
	for i, st := range steps {
		if k, ok := strings.CutPrefix(st.cmd, "@list "); ok {
			mkList(k)
			continue
		}
		got := strFmt(rc.Do(ctxT(t), strArgs(st.cmd)...).Result())
		want := st.want
		if resp3 && st.want3 != "" {
			want = st.want3
		}
		if got != want {
			t.Errorf("step %d %s (resp3=%v):\n got %s\nwant %s", i, st.cmd, resp3, got, want)
		}
	}
}

// strPutList makes key in db hold a list (a collection object of another
// helper's kind is not needed: only the type matters to string commands).
func strPutList(s *Server, db int, key string) {
	tx := s.Store().Lock([]byte(key))
	tx.SetObject(db, []byte(key), store.TypeList, &keysObj{items: []string{"x"}}, 32, 0)
	tx.Unlock()
}

// strCheckScript runs steps on a fresh cached node in RESP2 (db 0) and
// RESP3 (db 1).
func strCheckScript(t *testing.T, steps []strStep) {
	s := startServer(t, nil)
	for db, resp3 := range []bool{false, true} {
		rc := newClient(t, s, func(o *redis.Options) {
			o.DB = db
			if !resp3 {
				o.Protocol = 2
			}
		})
		strRunScript(t, rc, resp3, steps, func(key string) { strPutList(s, db, key) })
	}
}

// strRealRedis starts redis-server on a unix socket in a temporary
// directory; a missing redis-server fails the test (.ci/run installs
// Debian's package). It is killed, by its PID, when the test ends.
func strRealRedis(t *testing.T) func(resp3 bool, db int) *redis.Client {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not installed: install Debian's redis-server (.ci/run does)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	mk := func(resp3 bool, db int) *redis.Client {
		o := &redis.Options{Network: "unix", Addr: sock, DB: db, Protocol: 2, MaxRetries: -1}
		if resp3 {
			o.Protocol = 3
		}
		rc := redis.NewClient(o)
		t.Cleanup(func() { _ = rc.Close() })
		return rc
	}
	probe := mk(false, 0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil && probe.Ping(context.Background()).Err() == nil {
			return mk
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling for readiness, not waiting for time to pass
	}
}

// strCheckScriptRedis runs steps against a real redis-server.
func strCheckScriptRedis(t *testing.T, steps []strStep) {
	mk := strRealRedis(t)
	for db, resp3 := range []bool{false, true} {
		rc := mk(resp3, db)
		strRunScript(t, rc, resp3, steps, func(key string) {
			rc.Del(ctxT(t), key)
			rc.RPush(ctxT(t), key, "x")
		})
	}
}

const (
	strWrongType  = "-WRONGTYPE Operation against a key holding the wrong kind of value"
	strNotInteger = "-ERR value is not an integer or out of range"
	strSyntaxErr  = "-ERR syntax error"
)

var strSetScript = []strStep{
	{cmd: "GET s1", want: "nil"},
	{cmd: "SET s1 hello", want: `"OK"`},
	{cmd: "GET s1", want: `"hello"`},
	{cmd: "SET s1 world NX", want: "nil"},
	{cmd: "SET s1 world XX GET", want: `"hello"`},
	{cmd: "GET s1", want: `"world"`},
	{cmd: "SET s2 v XX", want: "nil"},
	{cmd: "GET s2", want: "nil"},
	{cmd: "SET s2 v NX GET", want: "nil"},
	{cmd: "SET s2 v2 NX GET", want: `"v"`},
	{cmd: "GET s2", want: `"v"`},
	{cmd: "SET s2 v3 xx px 100000 get", want: `"v"`},
	{cmd: "SET s1 x EX 100 PX 100", want: strSyntaxErr},
	{cmd: "SET s1 x NX XX", want: strSyntaxErr},
	{cmd: "SET s1 x KEEPTTL EX 10", want: strSyntaxErr},
	{cmd: "SET s1 x EX", want: strSyntaxErr},
	{cmd: "SET s1 x FOO", want: strSyntaxErr},
	{cmd: "SET s1 x EX 0", want: "-ERR invalid expire time in 'set' command"},
	{cmd: "SET s1 x EX -5", want: "-ERR invalid expire time in 'set' command"},
	{cmd: "SET s1 x EX abc", want: strNotInteger},
	{cmd: "SET s1 x PX 9223372036854775807", want: "-ERR invalid expire time in 'set' command"},
	{cmd: "SET s1 x EX 9223372036854775", want: "-ERR invalid expire time in 'set' command"},
	{cmd: "SET s1 x EXAT 9223372036854776", want: "-ERR invalid expire time in 'set' command"},
	{cmd: "SET s1 x EX 100 EX 200 GET GET", want: `"world"`},
	{cmd: "SET s1 y KEEPTTL", want: `"OK"`},
	{cmd: "GET s1", want: `"y"`},
	{cmd: "SET s1 z PXAT 1", want: `"OK"`},
	{cmd: "GET s1", want: "nil"},
	{cmd: "SET s1 z EXAT 1 GET", want: "nil"},
	{cmd: "SET s1 '' GET", want: "nil"},
	{cmd: "SET s1 x GET", want: `""`},
	{cmd: "@list l1"},
	{cmd: "SET l1 x GET", want: strWrongType},
	{cmd: "GET l1", want: strWrongType},
	{cmd: "SET l1 x NX GET", want: strWrongType},
	{cmd: "SET l1 x EX 0 GET", want: "-ERR invalid expire time in 'set' command"},
	{cmd: "SET l1 x NX", want: "nil"},
	{cmd: "SET l1 x XX", want: `"OK"`},
	{cmd: "GET l1", want: `"x"`},
	{cmd: "SETNX s3 a", want: "1"},
	{cmd: "SETNX s3 b", want: "0"},
	{cmd: "GET s3", want: `"a"`},
	{cmd: "SETEX s4 100 v", want: `"OK"`},
	{cmd: "GET s4", want: `"v"`},
	{cmd: "SETEX s4 0 v", want: "-ERR invalid expire time in 'setex' command"},
	{cmd: "SETEX s4 -1 v", want: "-ERR invalid expire time in 'setex' command"},
	{cmd: "SETEX s4 x v", want: strNotInteger},
	{cmd: "SETEX s4 9223372036854775807 v", want: "-ERR invalid expire time in 'setex' command"},
	{cmd: "SETEX s4 9223372036854775 v", want: "-ERR invalid expire time in 'setex' command"},
	{cmd: "PSETEX s4 0 v", want: "-ERR invalid expire time in 'psetex' command"},
	{cmd: "PSETEX s4 9223372036854775807 v", want: "-ERR invalid expire time in 'psetex' command"},
	{cmd: "PSETEX s4 100000 w", want: `"OK"`},
	{cmd: "GET s4", want: `"w"`},
	{cmd: "SETEX s4 100", want: "-ERR wrong number of arguments for 'setex' command"},
	{cmd: "GETSET s5 a", want: "nil"},
	{cmd: "GETSET s5 b", want: `"a"`},
	{cmd: "@list l2"},
	{cmd: "GETSET l2 x", want: strWrongType},
	{cmd: "GETDEL s5", want: `"b"`},
	{cmd: "GETDEL s5", want: "nil"},
	{cmd: "GETDEL l2", want: strWrongType},
	{cmd: "GETEX nosuch", want: "nil"},
	{cmd: "GETEX nosuch EX 0", want: "nil"},
	{cmd: "GETEX s3", want: `"a"`},
	{cmd: "GETEX s3 EX 100", want: `"a"`},
	{cmd: "GETEX s3 PERSIST", want: `"a"`},
	{cmd: "GETEX s3 EX 0", want: "-ERR invalid expire time in 'getex' command"},
	{cmd: "GETEX s3 PX abc", want: strNotInteger},
	{cmd: "GETEX s3 PERSIST EX 1", want: strSyntaxErr},
	{cmd: "GETEX s3 EX 1 PX 1", want: strSyntaxErr},
	{cmd: "GETEX s3 FOO", want: strSyntaxErr},
	{cmd: "GETEX s3 KEEPTTL", want: strSyntaxErr},
	{cmd: "GETEX s3 PXAT 9223372036854775807", want: `"a"`},
	{cmd: "GETEX s3 EX 9223372036854775807", want: "-ERR invalid expire time in 'getex' command"},
	{cmd: "GETEX s3 EXAT 1", want: `"a"`},
	{cmd: "GET s3", want: "nil"},
	{cmd: "@list l3"},
	{cmd: "GETEX l3", want: strWrongType},
	{cmd: "GETEX l3 EX 0", want: strWrongType},
	{cmd: "MSET a 1 b 2", want: `"OK"`},
	{cmd: "MSET a 1 b", want: "-ERR wrong number of arguments for 'mset' command"},
	{cmd: "MGET a b l3 nosuch a", want: `["1" "2" nil nil "1"]`},
	{cmd: "MSETNX a 1 c 3", want: "0"},
	{cmd: "MSETNX c 3 d 4 c 5", want: "1"},
	{cmd: "MSETNX c 3 d", want: "-ERR wrong number of arguments for 'msetnx' command"},
	{cmd: "MSETNX l3 x", want: "0"},
	{cmd: "MGET c d", want: `["5" "4"]`},
	{cmd: "MSET a x a y", want: `"OK"`},
	{cmd: "GET a", want: `"y"`},
	{cmd: "MSET l3 z", want: `"OK"`},
	{cmd: "GET l3", want: `"z"`},
}

func TestStringScriptSet(t *testing.T)         { strCheckScript(t, strSetScript) }
func TestStringScriptSetVsRedis(t *testing.T)  { strCheckScriptRedis(t, strSetScript) }
func TestStringScriptMisc(t *testing.T)        { strCheckScript(t, strMiscScript) }
func TestStringScriptMiscVsRedis(t *testing.T) { strCheckScriptRedis(t, strMiscScript) }

var strMiscScript = []strStep{
	{cmd: "@list l"},
	{cmd: "APPEND ap x", want: "1"},
	{cmd: "APPEND ap yz", want: "3"},
	{cmd: "APPEND ap ''", want: "3"},
	{cmd: "GET ap", want: `"xyz"`},
	{cmd: "APPEND l x", want: strWrongType},
	{cmd: "STRLEN ap", want: "3"},
	{cmd: "STRLEN nosuch", want: "0"},
	{cmd: "STRLEN l", want: strWrongType},
	{cmd: "INCR n", want: "1"},
	{cmd: "INCRBY n 10", want: "11"},
	{cmd: "INCRBY n abc", want: strNotInteger},
	{cmd: "INCRBY n 1.5", want: strNotInteger},
	{cmd: "DECR n", want: "10"},
	{cmd: "DECRBY n 15", want: "-5"},
	{cmd: "DECRBY n -9223372036854775808", want: "-ERR decrement would overflow"},
	{cmd: "INCRBY n 9223372036854775807", want: "9223372036854775802"},
	{cmd: "INCRBY n 6", want: "-ERR increment or decrement would overflow"},
	{cmd: "SET n -9223372036854775808", want: `"OK"`},
	{cmd: "DECR n", want: "-ERR increment or decrement would overflow"},
	{cmd: "INCRBY n -1", want: "-ERR increment or decrement would overflow"},
	{cmd: "INCR n", want: "-9223372036854775807"},
	{cmd: "SET n abc", want: `"OK"`},
	{cmd: "INCR n", want: strNotInteger},
	{cmd: "SET n 01", want: `"OK"`},
	{cmd: "INCR n", want: strNotInteger},
	{cmd: "SET n 9223372036854775808", want: `"OK"`},
	{cmd: "DECR n", want: strNotInteger},
	{cmd: "INCR l", want: strWrongType},
	{cmd: "INCRBY l abc", want: strNotInteger},
	{cmd: "INCRBY n", want: "-ERR wrong number of arguments for 'incrby' command"},
	{cmd: "INCRBYFLOAT f 10.5", want: `"10.5"`},
	{cmd: "INCRBYFLOAT f 0.1", want: `"10.6"`},
	{cmd: "INCRBYFLOAT f -5", want: `"5.6"`},
	{cmd: "INCRBYFLOAT f -5.6", want: `"0"`},
	{cmd: "INCRBYFLOAT h 5.0e3", want: `"5000"`},
	{cmd: "INCRBYFLOAT h -0.25", want: `"4999.75"`},
	{cmd: "INCRBYFLOAT f abc", want: "-ERR value is not a valid float"},
	{cmd: "INCRBYFLOAT f inf", want: "-ERR increment would produce NaN or Infinity"},
	{cmd: "INCRBYFLOAT f nan", want: "-ERR value is not a valid float"},
	{cmd: "SET f abc", want: `"OK"`},
	{cmd: "INCRBYFLOAT f 1", want: "-ERR value is not a valid float"},
	{cmd: "INCRBYFLOAT l 1", want: strWrongType},
	{cmd: "INCRBYFLOAT l abc", want: strWrongType},
	{cmd: "INCRBYFLOAT g 3", want: `"3"`},
	{cmd: "INCRBYFLOAT g 1.5e1", want: `"18"`},
	{cmd: "INCR g", want: "19"},
	{cmd: "SET r Thisisastring", want: `"OK"`},
	{cmd: "GETRANGE r 0 3", want: `"This"`},
	{cmd: "GETRANGE r -3 -1", want: `"ing"`},
	{cmd: "GETRANGE r 0 -1", want: `"Thisisastring"`},
	{cmd: "GETRANGE r 10 100", want: `"ing"`},
	{cmd: "GETRANGE r 5 3", want: `""`},
	{cmd: "GETRANGE r -1 -5", want: `""`},
	{cmd: "GETRANGE r -100 -90", want: `"T"`},
	{cmd: "GETRANGE r -100 2", want: `"Thi"`},
	{cmd: "GETRANGE r 100 200", want: `""`},
	{cmd: "GETRANGE r 0 abc", want: strNotInteger},
	{cmd: "GETRANGE nosuch 0 1", want: `""`},
	{cmd: "GETRANGE nosuch x 1", want: strNotInteger},
	{cmd: "GETRANGE l 0 1", want: strWrongType},
	{cmd: "SUBSTR r 4 5", want: `"is"`},
	{cmd: "SETRANGE sr 5 abc", want: "8"},
	{cmd: "GET sr", want: `"\x00\x00\x00\x00\x00abc"`},
	{cmd: "SETRANGE sr 0 XY", want: "8"},
	{cmd: "SETRANGE sr 7 XYZ", want: "10"},
	{cmd: "GET sr", want: `"XY\x00\x00\x00abXYZ"`},
	{cmd: "SETRANGE sr -1 x", want: "-ERR offset is out of range"},
	{cmd: "SETRANGE sr abc x", want: strNotInteger},
	{cmd: "SETRANGE none 5 ''", want: "0"},
	{cmd: "GET none", want: "nil"},
	{cmd: "SETRANGE sr 1 ''", want: "10"},
	{cmd: "SETRANGE sr 536870911 xx", want: "-ERR string exceeds maximum allowed size (proto-max-bulk-len)"},
	{cmd: "SETRANGE none 536870912 x", want: "-ERR string exceeds maximum allowed size (proto-max-bulk-len)"},
	{cmd: "SETRANGE l 0 x", want: strWrongType},
	{cmd: "SETRANGE l -1 x", want: "-ERR offset is out of range"},
	{cmd: "SET k1 ohmytext", want: `"OK"`},
	{cmd: "SET k2 mynewtext", want: `"OK"`},
	{cmd: "LCS k1 k2", want: `"mytext"`},
	{cmd: "LCS k1 k2 LEN", want: "6"},
	{cmd: "LCS k1 k2 IDX", want: `["matches" [[[4 7] [5 8]] [[2 3] [0 1]]] "len" 6]`,
		want3: `{"len":6 "matches":[[[4 7] [5 8]] [[2 3] [0 1]]]}`},
	{cmd: "LCS k1 k2 IDX MINMATCHLEN 4", want: `["matches" [[[4 7] [5 8]]] "len" 6]`,
		want3: `{"len":6 "matches":[[[4 7] [5 8]]]}`},
	{cmd: "LCS k1 k2 idx minmatchlen 4 withmatchlen", want: `["matches" [[[4 7] [5 8] 4]] "len" 6]`,
		want3: `{"len":6 "matches":[[[4 7] [5 8] 4]]}`},
	{cmd: "LCS k1 k2 IDX WITHMATCHLEN", want: `["matches" [[[4 7] [5 8] 4] [[2 3] [0 1] 2]] "len" 6]`,
		want3: `{"len":6 "matches":[[[4 7] [5 8] 4] [[2 3] [0 1] 2]]}`},
	{cmd: "LCS k1 k2 LEN IDX", want: "-ERR If you want both the length and indexes, please just use IDX."},
	{cmd: "LCS k1 k2 FOO", want: strSyntaxErr},
	{cmd: "LCS k1 k2 MINMATCHLEN", want: strSyntaxErr},
	{cmd: "LCS k1 k2 MINMATCHLEN x", want: strNotInteger},
	{cmd: "LCS k1 l", want: "-ERR The specified keys must contain string values"},
	{cmd: "LCS l k1 FOO", want: "-ERR The specified keys must contain string values"},
	{cmd: "LCS nosuch k1", want: `""`},
	{cmd: "LCS nosuch k1 LEN", want: "0"},
	{cmd: "LCS nosuch k1 IDX", want: `["matches" [] "len" 0]`, want3: `{"len":0 "matches":[]}`},
	{cmd: "LCS k1", want: "-ERR wrong number of arguments for 'lcs' command"},
}

// TestStringCommandInfoVsRedis compares the head of COMMAND INFO (name,
// arity, flags, key positions, ACL categories) of every string and bitmap
// command with a real Redis's.
func TestStringCommandInfoVsRedis(t *testing.T) {
	real := strRealRedis(t)(false, 0)
	rc := newClient(t, startServer(t, nil), resp2)
	for _, sp := range append(stringcmd.Commands(), bitcmd.Commands()...) {
		want, err1 := real.Do(ctxT(t), "COMMAND", "INFO", sp.Name).Slice()
		got, err2 := rc.Do(ctxT(t), "COMMAND", "INFO", sp.Name).Slice()
		if err1 != nil || err2 != nil || len(want) != 1 || len(got) != 1 {
			t.Fatalf("COMMAND INFO %s: %v %v / %v %v", sp.Name, want, err1, got, err2)
		}
		w, g := want[0].([]any), got[0].([]any)
		if len(g) < 7 || strFmtVal(g[:7]) != strFmtVal(w[:7]) {
			t.Errorf("COMMAND INFO %s:\n got %s\nwant %s", sp.Name, strFmtVal(g), strFmtVal(w[:7]))
		}
	}
}

// strRandomCommand builds a random string or bitmap command over a small
// key space, with arguments drawn near the edge cases, including float
// increments that float64 cannot represent (cached computes in long
// double, as Redis does, so the replies agree to the last digit). TTLs
// are long (1,000 s at the shortest in ms): a key that expired between
// the two servers' replies would fail the comparison (a 100 ms TTL did
// once in CI).
func strRandomCommand(r *rand.Rand) []any {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	key := func() string { return pick("k0", "k1", "k2", "k3", "l") }
	val := func() string {
		return pick("", "a", "abc", "10", "-5", "3.5", "\xff\x00\x0f", "foobar", "1125899906842624")
	}
	num := func() string {
		return pick("0", "1", "-1", "2", "-2", "5", "-7", "100", "x", "9223372036854775807", "-9223372036854775808", strconv.Itoa(r.IntN(40)-20))
	}
	bit := func() string { return pick("0", "1", "2", "x") }
	unit := func() []any {
		if r.IntN(3) == 0 {
			return []any{pick("BIT", "BYTE", "bit", "FOO")}
		}
		return nil
	}
	ftype := func() string { return pick("i1", "u1", "i8", "u8", "i16", "u63", "i64", "u64", "x8") }
	var args []any
	switch r.IntN(22) {
	case 0:
		args = []any{"GET", key()}
	case 1:
		args = []any{"SET", key(), val()}
		for range r.IntN(3) {
			args = append(args, pick("NX", "XX", "GET", "KEEPTTL", "EX", "PX"))
			if r.IntN(2) == 0 {
				args = append(args, pick("1000000", "0", "-1", "x", "100000"))
			}
		}
	case 2:
		args = []any{pick("SETNX", "GETSET", "APPEND"), key(), val()}
	case 3:
		args = []any{pick("SETEX", "PSETEX"), key(), pick("1000000", "0", "-1", "x", "100000"), val()}
	case 4:
		args = []any{pick("GETDEL", "STRLEN", "INCR", "DECR"), key()}
	case 5:
		args = []any{"GETEX", key()}
		for range r.IntN(3) {
			args = append(args, pick("PERSIST", "EX", "PX", "FOO", "1000000"))
		}
	case 6:
		args = []any{"MGET", key(), key(), key()}
	case 7:
		args = []any{pick("MSET", "MSETNX"), key(), val(), key(), val()}
	case 8:
		args = []any{pick("INCRBY", "DECRBY"), key(), num()}
	case 9:
		args = []any{"INCRBYFLOAT", key(), pick("0.5", "-1.5", "2", "x", "inf", "1e3", "-0.5", "0.1", "-0.2", "1.1", "3.3333333333333333333", "1e-7", "0x1p-3")}
	case 10:
		args = []any{pick("GETRANGE", "SUBSTR"), key(), num(), num()}
	case 11:
		args = []any{"SETRANGE", key(), pick("0", "1", "3", "-1", "x", "20"), val()}
	case 12:
		args = append([]any{"LCS", key(), key()}, []any{pick("LEN", "IDX", "FOO", "WITHMATCHLEN")}[:r.IntN(2)]...)
		if r.IntN(2) == 0 {
			args = append(args, "IDX", "MINMATCHLEN", pick("0", "1", "2", "-3"), "WITHMATCHLEN")
		}
	case 13:
		args = []any{"SETBIT", key(), pick(strconv.Itoa(r.IntN(48)), "-1", "x"), bit()}
	case 14:
		args = []any{"GETBIT", key(), pick(strconv.Itoa(r.IntN(48)), "-1", "x")}
	case 15:
		args = []any{"BITCOUNT", key()}
		if r.IntN(3) > 0 {
			args = append(append(args, num(), num()), unit()...)
		}
	case 16:
		args = []any{"BITPOS", key(), bit()}
		if n := r.IntN(3); n > 0 {
			args = append(args, num())
			if n > 1 {
				args = append(append(args, num()), unit()...)
			}
		}
	case 17:
		args = []any{"BITOP", pick("AND", "OR", "XOR", "NOT", "FOO"), key(), key()}
		if r.IntN(2) == 0 {
			args = append(args, key())
		}
	case 18, 19:
		args = []any{pick("BITFIELD", "BITFIELD", "BITFIELD_RO"), key()}
		for range r.IntN(4) {
			switch r.IntN(4) {
			case 0:
				args = append(args, "GET", ftype(), pick("0", "3", "#1", "13", "-1"))
			case 1:
				args = append(args, "SET", ftype(), pick("0", "3", "#1", "13"), num())
			case 2:
				args = append(args, "INCRBY", ftype(), pick("0", "3", "#1", "13"), num())
			default:
				args = append(args, "OVERFLOW", pick("WRAP", "SAT", "FAIL", "FOO"))
			}
		}
	default:
		args = []any{"SET", key(), val()}
	}
	return args
}

// TestStringRandomVsRedis runs the same random command stream on cached and
// on a real Redis, in RESP2 and RESP3, and compares every reply.
func TestStringRandomVsRedis(t *testing.T) {
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
		strRandomRun(t, rand.New(rand.NewPCG(1, uint64(db))), 3000, real, rc, func() { strPutList(s, db, "l") })
	}
}

// strRandomRun sends n random commands to real and rc and compares replies.
func strRandomRun(t *testing.T, r *rand.Rand, n int, real, rc *redis.Client, mkList func()) {
	var history []string
	for i := range n {
		if i%200 == 0 {
			real.Del(ctxT(t), "l")
			real.RPush(ctxT(t), "l", "x")
			mkList()
		}
		args := strRandomCommand(r)
		history = append(history, fmt.Sprintf("%q", args))
		want := strFmt(real.Do(ctxT(t), args...).Result())
		got := strFmt(rc.Do(ctxT(t), args...).Result())
		if got != want {
			t.Fatalf("command %d differs:\n got %s\nwant %s\nlast commands:\n%s", i, got, want,
				strings.Join(history[max(0, len(history)-8):], "\n"))
		}
	}
}

// strStatsSteps are commands with the keyspace hits and misses each one
// counts in Redis: reads count, writes (INCR, SETRANGE, SET NX…) do not.
var strStatsSteps = []struct {
	cmd          string
	hits, misses int
}{
	{"SET a 1", 0, 0}, {"GET a", 1, 0}, {"GET nosuch", 0, 1}, {"MGET a nosuch a", 2, 1},
	{"INCR a", 0, 0}, {"APPEND a x", 0, 0}, {"SETRANGE a 0 y", 0, 0}, {"SET a 2 NX", 0, 0},
	{"SET a 3 GET", 1, 0}, {"SET b 3 GET", 0, 1}, {"GETSET a 4", 1, 0}, {"STRLEN a", 1, 0},
	{"GETRANGE a 0 0", 1, 0}, {"GETEX a", 1, 0}, {"GETDEL b", 1, 0}, {"GETDEL b", 0, 1},
	{"INCRBYFLOAT a 1", 0, 0}, {"SETBIT bits 3 1", 0, 0}, {"GETBIT bits 3", 1, 0}, {"BITCOUNT nosuch", 0, 1},
	{"BITPOS bits 1", 1, 0}, {"BITOP OR d bits nosuch", 1, 1}, {"BITFIELD bits GET u8 0", 1, 0},
	{"BITFIELD bits SET u8 0 1", 0, 0}, {"BITFIELD_RO nosuch GET u8 0", 0, 1}, {"LCS a bits", 2, 0},
	{"MSETNX a 1 z 2", 0, 0}, {"SETNX a 1", 0, 0},
}

// strCheckStats runs strStatsSteps on rc and checks each step's hit and
// miss counts (INFO stats).
func strCheckStats(t *testing.T, rc *redis.Client) {
	stats := func() (int, int) {
		info := rc.Info(ctxT(t), "stats").Val()
		var h, m int
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "keyspace_hits:"); ok {
				h, _ = strconv.Atoi(v)
			}
			if v, ok := strings.CutPrefix(line, "keyspace_misses:"); ok {
				m, _ = strconv.Atoi(v)
			}
		}
		return h, m
	}
	for _, st := range strStatsSteps {
		h0, m0 := stats()
		if err := rc.Do(ctxT(t), strArgs(st.cmd)...).Err(); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("%s: %v", st.cmd, err)
		}
		h1, m1 := stats()
		if h1-h0 != st.hits || m1-m0 != st.misses {
			t.Errorf("%s: hits +%d misses +%d, want +%d +%d", st.cmd, h1-h0, m1-m0, st.hits, st.misses)
		}
	}
}

func TestStringKeyspaceStats(t *testing.T) { strCheckStats(t, newClient(t, startServer(t, nil), nil)) }
func TestStringKeyspaceStatsVsRedis(t *testing.T) {
	strCheckStats(t, strRealRedis(t)(true, 0))
}
