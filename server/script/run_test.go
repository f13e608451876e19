package script

import (
	"strings"
	"testing"
	"time"
)

// keepHost answers ":1" and keeps every command's arguments (the byte
// slices it got; the list of them is the engine's scratch), as a command
// that holds on to its arguments would.
type keepHost struct{ calls [][][]byte }

func (h *keepHost) Call(_ *Run, args [][]byte, _ int) []byte {
	h.calls = append(h.calls, append([][]byte(nil), args...))
	return []byte(":1\r\n")
}

func (h *keepHost) Log(int, string) {}

// TestCallArgumentsKept checks that the arguments a command got stay as
// they were while later commands and runs copy theirs (argBytes hands out
// shared chunks), across chunk boundaries and for long arguments.
func TestCallArgumentsKept(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	sc, err := e.Load([]byte("for i = 1, #ARGV do redis.call('set', KEYS[1] .. i, ARGV[i]) end return 1"))
	if err != nil {
		t.Fatal(err)
	}
	h := &keepHost{}
	var want [][]string
	for run := 0; run < 20; run++ {
		args := [][]byte{[]byte(strings.Repeat("v", run*37)), []byte("x"), []byte(strings.Repeat("w", 300))}
		if _, rerr := e.Eval(nil, sc, &Run{Host: h, Keys: [][]byte{[]byte("k" + string(rune('a'+run)))}, Args: args, Resp: 2}); rerr != nil {
			t.Fatal(rerr.Msg)
		}
		for i, a := range args {
			want = append(want, []string{"set", "k" + string(rune('a'+run)) + string(rune('1'+i)), string(a)})
		}
	}
	if len(h.calls) != len(want) {
		t.Fatalf("%d calls, want %d", len(h.calls), len(want))
	}
	for i, call := range h.calls {
		for j, a := range call {
			if string(a) != want[i][j] {
				t.Fatalf("call %d argument %d is now %q, want %q", i, j, a, want[i][j])
			}
		}
		if len(call) > 1 && cap(call[1]) != len(call[1]) {
			t.Fatalf("call %d: an argument with room to grow into the next one (cap %d, len %d)", i, cap(call[1]), len(call[1]))
		}
	}
}

// TestKeysArgvReuse runs scripts on one pooled state with KEYS and ARGV of
// changing lengths and values (the tables are refilled, not remade): each
// run sees exactly its own.
func TestKeysArgvReuse(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	sc, err := e.Load([]byte("return {#KEYS, #ARGV, table.concat(KEYS, ','), table.concat(ARGV, ',')}"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keys, args []string
		want       string
	}{
		{[]string{"a", "b"}, []string{"1", "2", "3"}, "*4\r\n:2\r\n:3\r\n$3\r\na,b\r\n$5\r\n1,2,3\r\n"},
		{[]string{"a"}, []string{"1"}, "*4\r\n:1\r\n:1\r\n$1\r\na\r\n$1\r\n1\r\n"},
		{[]string{"a", "c"}, nil, "*4\r\n:2\r\n:0\r\n$3\r\na,c\r\n$0\r\n\r\n"},
		{nil, []string{"2", "2"}, "*4\r\n:0\r\n:2\r\n$0\r\n\r\n$3\r\n2,2\r\n"},
	} {
		out, rerr := e.Eval(nil, sc, &Run{Host: &echoHost{}, Keys: bytesOf(tc.keys), Args: bytesOf(tc.args), Resp: 2})
		if rerr != nil || string(out) != tc.want {
			t.Errorf("KEYS %v ARGV %v: %q %v, want %q", tc.keys, tc.args, out, rerr, tc.want)
		}
	}
}

func bytesOf(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

// TestFunctionDoesNotSeeKeys checks that a function run on a state an
// EVAL ran on before does not see the EVAL's KEYS and ARGV globals.
func TestFunctionDoesNotSeeKeys(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	if _, err := e.LoadLibrary([]byte("#!lua name=l\nredis.register_function('k', function() return KEYS end)"), false); err != nil {
		t.Fatal(err.Msg)
	}
	for i := 0; i < 3; i++ {
		if got, err := eval(t, e, "return KEYS[1]", 2); got != "$1\r\nk\r\n" {
			t.Fatalf("EVAL: %q %q", got, err)
		}
		_, rerr := e.Call(nil, e.Function([]byte("k")), &Run{Host: &echoHost{}, Keys: bytesOf([]string{"x"}), Resp: 2, Function: true, Name: "k"})
		if rerr == nil || !strings.Contains(rerr.Msg, "nonexistent global variable 'KEYS'") {
			t.Fatalf("FCALL of a function reading KEYS: %v", rerr)
		}
	}
}

// TestLookupAfterFlush checks that EVALSHA's remembered script goes with
// SCRIPT FLUSH, and that a SHA matches in any case.
func TestLookupAfterFlush(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	sc, err := e.Load([]byte("return 1"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Lookup([]byte(sc.SHA)) != sc || e.Lookup([]byte(strings.ToUpper(sc.SHA))) != sc {
		t.Fatal("a cached script is not found by its SHA")
	}
	e.Flush()
	if e.Lookup([]byte(sc.SHA)) != nil {
		t.Fatal("a flushed script is still found")
	}
}

// TestWatcherWakesAfterIdle runs short scripts until the watcher has gone
// idle, then a script that never ends: the watcher must wake, mark it busy
// past the threshold, and SCRIPT KILL must stop it.
func TestWatcherWakesAfterIdle(t *testing.T) {
	e := New(Config{BusyThreshold: func() time.Duration { return 10 * time.Millisecond }})
	defer e.Close()
	for i := 0; i < 100; i++ {
		if got, err := eval(t, e, "return 1", 2); got != ":1\r\n" {
			t.Fatalf("%q %q", got, err)
		}
	}
	waitFor(t, "the watcher to go idle", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.idle
	})
	sc, err := e.Load([]byte("while true do end"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *Error, 1)
	go func() {
		_, rerr := e.Eval(nil, sc, &Run{Host: &echoHost{}, Resp: 2, Name: sc.SHA})
		done <- rerr
	}()
	waitFor(t, "the script to be busy", func() bool { busy, _ := e.Busy(); return busy })
	if res := e.Kill(false); res != KillOK {
		t.Fatalf("Kill: %v", res)
	}
	select {
	case rerr := <-done:
		if rerr == nil || !strings.HasPrefix(rerr.Msg, errKilledByUser) {
			t.Fatalf("killed script: %v", rerr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the killed script did not end")
	}
	if got, err := eval(t, e, "return 2", 2); got != ":2\r\n" { // the state's stopped context is replaced
		t.Fatalf("after a kill: %q %q", got, err)
	}
}

// waitFor polls cond until it holds, for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNumberReplies checks integer replies on both sides of the boxed
// small integers.
func TestNumberReplies(t *testing.T) {
	for _, n := range []string{"-17", "-16", "-1", "0", "1", "1007", "1008", "123456789012"} {
		v, used := parseReply(nil, []byte(":"+n+"\r\n"), 0)
		if used != len(n)+3 || v.String() != n {
			t.Errorf(":%s: %v (%d bytes)", n, v, used)
		}
	}
}
