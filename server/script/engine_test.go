package script

import (
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// echoHost answers every command with an array of its arguments, except
// "err" (an error reply) and "nil" (a null).
type echoHost struct{ calls int }

func (h *echoHost) Call(_ *Run, args [][]byte, resp int) []byte {
	h.calls++
	switch strings.ToLower(string(args[0])) {
	case "err":
		return []byte("-ERR failed\r\n")
	case "nil":
		if resp == 3 {
			return []byte("_\r\n")
		}
		return []byte("$-1\r\n")
	case "map":
		return []byte("%1\r\n+k\r\n:1\r\n")
	}
	var b []byte
	b = protocol.AppendArray(b, len(args))
	for _, a := range args {
		b = protocol.AppendBulk(b, a)
	}
	return b
}

func (h *echoHost) Log(int, string) {}

func eval(t testing.TB, e *Engine, src string, resp int) (string, string) {
	t.Helper()
	sc, err := e.Load([]byte(src))
	if err != nil {
		return "", err.Error()
	}
	out, rerr := e.Eval(nil, sc, &Run{Host: &echoHost{}, Keys: [][]byte{[]byte("k")}, Args: [][]byte{[]byte("a")},
		Resp: resp, Name: sc.SHA})
	if rerr != nil {
		return "", rerr.Msg
	}
	return string(out), ""
}

func TestEvalConversions(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	for _, tc := range []struct {
		src  string
		resp int
		want string
	}{
		{"return redis.call('x', KEYS[1], 1.5, 3)", 2, "*4\r\n$1\r\nx\r\n$1\r\nk\r\n$3\r\n1.5\r\n$1\r\n3\r\n"},
		{"return redis.pcall('err')", 2, "-ERR failed\r\n"},
		{"return redis.call('nil')", 2, "$-1\r\n"},
		{"return redis.call('nil')", 3, "_\r\n"},
		{"redis.setresp(3) return redis.call('nil') == nil", 2, ":1\r\n"},
		{"redis.setresp(3) return redis.call('map')", 3, "%1\r\n+k\r\n:1\r\n"},
		{"redis.setresp(3) return redis.call('map')", 2, "*2\r\n+k\r\n:1\r\n"},
		{"redis.setresp(3) return {true, false}", 3, "*2\r\n#t\r\n#f\r\n"},
		{"return {double = 0.5}", 3, ",0.5\r\n"},
		{"return {big_number = '12'}", 3, "(12\r\n"},
		{"return ARGV[1] .. #KEYS", 2, "$2\r\na1\r\n"},
		{"return cjson.encode(cjson.decode('{\"a\":[1,2.5,\"x\",true,null]}'))", 2, "$27\r\n{\"a\":[1,2.5,\"x\",true,null]}\r\n"},
		{"return cmsgpack.unpack(cmsgpack.pack({1, {2, 'x'}, -1.5}))", 2, "*3\r\n:1\r\n*2\r\n:2\r\n$1\r\nx\r\n:-1\r\n"},
	} {
		got, err := eval(t, e, tc.src, tc.resp)
		if err != "" || got != tc.want {
			t.Errorf("%q (RESP%d): %q %q, want %q", tc.src, tc.resp, got, err, tc.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	for _, tc := range []struct{ src, want string }{
		{"return redis.call('err')", "ERR failed script: %s, on @user_script:1."},
		{"\nreturn nope", "ERR user_script:2: Script attempted to access nonexistent global variable 'nope' script: %s, on @user_script:2."},
		{"error({err='X y'})", "X y script: %s, on @user_script:1."},
		{"return 1 +", "ERR Error compiling script (new function): user_script:1: syntax error near '<eof>'"},
		{"#!lua flags=no-writes,bad\nreturn 1", "ERR Unexpected flag in script shebang: bad"},
	} {
		_, err := eval(t, e, tc.src, 2)
		want := strings.Replace(tc.want, "%s", SHA1Hex([]byte(tc.src)), 1)
		if err != want {
			t.Errorf("%q: error %q, want %q", tc.src, err, want)
		}
	}
}

// TestStateIsolation checks that what a script leaves in its state (a
// rawset into the globals view is refused; KEYS) does not leak into the
// next run on the same pooled state.
func TestStateIsolation(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	if _, err := eval(t, e, "KEYS[2] = 'x' return 1", 2); err != "" {
		t.Fatal(err)
	}
	if got, _ := eval(t, e, "return #KEYS", 2); got != ":1\r\n" {
		t.Fatalf("#KEYS after a script changed KEYS: %q", got)
	}
	if _, err := eval(t, e, "rawset(_G, 'leak', 1)", 2); !strings.Contains(err, errReadonly) {
		t.Fatalf("rawset on _G: %q", err)
	}
}

// FuzzEval throws arbitrary scripts at the engine: whatever they do,
// the engine answers (a reply or an error) and does not panic. Runaway
// scripts are stopped by Kill past a short busy threshold.
func FuzzEval(f *testing.F) {
	for _, s := range []string{"return 1", "return redis.call('x', 1, 'a')", "while true do end",
		"local t = {} t[1] = t return t", "return cjson.decode(ARGV[1])", "return cmsgpack.unpack(ARGV[1])",
		"return struct.unpack('>i4', ARGV[1])", "return bit.tohex(65535, -3)", "error({})", "return {map={[1]=2}}",
		"local function f() return f() end return f()", "return string.rep('x', 100)", "redis.setresp(3) return redis.call('map')",
		"return coroutine.wrap(function() coroutine.yield(redis.call('x')) end)()", "return loadstring('return 1')()"} {
		f.Add(s, "[1,{\"a\":2}]")
	}
	e := New(Config{BusyThreshold: func() time.Duration { return 20 * time.Millisecond }})
	f.Cleanup(e.Close)
	stop := make(chan struct{})
	killed := make(chan struct{})
	go func() { // the fuzz target's watchdog: it stops runaway scripts
		defer close(killed)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				e.Kill(false)
			}
		}
	}()
	f.Cleanup(func() { close(stop); <-killed })
	f.Fuzz(func(t *testing.T, src, arg string) {
		sc, err := e.Load([]byte(src))
		if err != nil {
			return
		}
		out, rerr := e.Eval(nil, sc, &Run{Host: &echoHost{}, Args: [][]byte{[]byte(arg)}, Resp: 3, Name: sc.SHA})
		if rerr == nil && len(out) == 0 {
			t.Fatalf("%q: empty reply", src)
		}
	})
}
