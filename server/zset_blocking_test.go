package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// zsetBlocked starts cmd on its own connection and waits until the server
// reports it blocked. It returns the reply channel, or skips the test when
// the command answered at once (blockFor is still the stub that replies
// the timeout reply without waiting).
func zsetBlocked(t *testing.T, s *Server, args ...any) <-chan string {
	t.Helper()
	rc := newClient(t, s, nil)
	done := make(chan string, 1)
	go func() { done <- strFmt(rc.Do(ctxT(t), args...).Result()) }()
	probe := newClient(t, s, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case r := <-done:
			t.Skipf("%v answered %s without blocking: blockFor is not merged yet", args, r)
		default:
		}
		if strings.Contains(probe.Info(ctxT(t), "clients").Val(), "blocked_clients:1\r\n") {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v never blocked", args)
		}
		time.Sleep(5 * time.Millisecond) // polling the server state, not waiting for time to pass
	}
}

// TestZSetBlockingWakeup: BZPOPMIN, BZPOPMAX and BZMPOP wait for a ZADD
// to one of their keys and record the non-blocking pop as their effect.
func TestZSetBlockingWakeup(t *testing.T) {
	for _, tc := range []struct {
		args   []any
		want   string
		effect string
	}{
		{[]any{"BZPOPMIN", "k1", "k2", "5"}, `["k2" "a" float64(1)]`, "ZPOPMIN k2 1"},
		{[]any{"BZPOPMAX", "k2", "5"}, `["k2" "b" float64(2)]`, "ZPOPMAX k2 1"},
		{[]any{"BZMPOP", "5", "2", "k1", "k2", "MIN", "COUNT", "5"}, `["k2" [["a" float64(1)] ["b" float64(2)]]]`, "ZPOPMIN k2 2"},
	} {
		t.Run(fmt.Sprint(tc.args[0]), func(t *testing.T) {
			s := startServer(t, nil)
			var log keysEffectLog
			s.SetEffectHook(log.hook)
			done := zsetBlocked(t, s, tc.args...)
			mustDo(t, newClient(t, s, nil), "ZADD", "k2", "1", "a", "2", "b")
			if got := <-done; got != tc.want {
				t.Fatalf("%v = %s, want %s", tc.args, got, tc.want)
			}
			effects := log.take()
			if last := strings.Join(effects[len(effects)-1].cmd, " "); last != tc.effect {
				t.Fatalf("effects %v, want last %q", effects, tc.effect)
			}
		})
	}
}

// TestZSetBlockingTimeout: with nothing to pop, the blocking pops reply
// the null array when their timeout passes.
func TestZSetBlockingTimeout(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	if got := strFmt(rc.Do(ctxT(t), "BZPOPMIN", "none", "0.05").Result()); got != "nil" {
		t.Fatalf("BZPOPMIN timeout = %s", got)
	}
	if got := strFmt(rc.Do(ctxT(t), "BZMPOP", "0.05", "1", "none", "MAX").Result()); got != "nil" {
		t.Fatalf("BZMPOP timeout = %s", got)
	}
}
