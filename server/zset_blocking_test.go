package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// zsetBlocked starts cmd on its own connection and waits until the server
// reports it blocked. It returns the reply channel.
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
			t.Fatalf("%v answered %s without blocking", args, r)
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

// TestZSetBlockingTypeChange: a client blocked in BZPOPMIN keeps waiting
// while its key holds a string, and is served once it is a sorted set
// again (Redis 7.0's behaviour, checked against redis-server too).
func TestZSetBlockingTypeChange(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	for name, pair := range map[string][2]*redis.Client{
		"cached": {newClient(t, s, nil), newClient(t, s, nil)},
		"redis":  {mk(true, 0), mk(true, 0)},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := pair[0], pair[1]
			done := make(chan string, 1)
			go func() { done <- strFmt(a.Do(ctxT(t), "BZPOPMIN", "tc", "10").Result()) }()
			waitUntil(t, func() bool {
				return strings.Contains(b.Info(ctxT(t), "clients").Val(), "blocked_clients:1\r\n")
			}, func() string { return "BZPOPMIN never blocked" })
			mustDo(t, b, "SET", "tc", "x")
			mustDo(t, b, "DEL", "tc")
			mustDo(t, b, "ZADD", "tc", "1", "m")
			if got := <-done; got != `["tc" "m" float64(1)]` {
				t.Fatalf("BZPOPMIN = %s", got)
			}
		})
	}
}

// TestZSetBlockingInMulti: inside MULTI the blocking pops do not block.
func TestZSetBlockingInMulti(t *testing.T) {
	s := startServer(t, nil)
	conn := newClient(t, s, nil).Conn()
	defer conn.Close()
	ctx := ctxT(t)
	mustOK := func(args ...any) {
		if err := conn.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	mustOK("MULTI")
	mustOK("BZPOPMIN", "none", "0")
	mustOK("BZMPOP", "0", "1", "none", "MIN")
	mustOK("ZADD", "m", "1", "a")
	mustOK("BZPOPMAX", "m", "0")
	got := strFmt(conn.Do(ctx, "EXEC").Result())
	if want := `[nil nil 1 ["m" "a" float64(1)]]`; got != want {
		t.Fatalf("EXEC = %s, want %s", got, want)
	}
}

// TestZSetBlockingEarlierKeyOtherType: a client blocked on k1 k2 whose k1
// becomes a string is served from k2 when it fills, as redis-server 7.0
// does (not WRONGTYPE).
func TestZSetBlockingEarlierKeyOtherType(t *testing.T) {
	for _, args := range [][]any{
		{"BZPOPMIN", "k1", "k2", "5"},
		{"BZMPOP", "5", "2", "k1", "k2", "MIN"},
	} {
		s := startServer(t, nil)
		done := zsetBlocked(t, s, args...)
		rc := newClient(t, s, nil)
		mustDo(t, rc, "SET", "k1", "str")
		mustDo(t, rc, "ZADD", "k2", "1", "a")
		if got := <-done; !strings.HasPrefix(got, `["k2"`) {
			t.Fatalf("%v = %s, want served from k2", args, got)
		}
	}
}
