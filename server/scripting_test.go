package server

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/script"
	"github.com/cached/cached/store"
)

// incrScript reads, then writes: without atomicity concurrent runs lose
// updates.
const incrScript = "local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1) return v + 1"

// TestScriptAtomic runs read-modify-write scripts from many clients, with
// declared keys, with undeclared keys (locked as reached, restarted with
// every shard locked when that would wait out of order) and mixed with
// plain INCRs: no update may be lost.
func TestScriptAtomic(t *testing.T) {
	s := startServer(t, nil)
	const workers, runs = 8, 150
	undeclared := strings.ReplaceAll(incrScript, "KEYS[1]", "ARGV[1]")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rc := newClient(t, s, nil)
			ctx := ctxT(t)
			for i := 0; i < runs; i++ {
				var err error
				switch (w + i) % 4 {
				case 0:
					err = rc.Eval(ctx, incrScript, []string{"ctr"}).Err()
				case 1:
					err = rc.Eval(ctx, undeclared, nil, "ctr").Err()
				case 2:
					err = rc.Incr(ctx, "ctr").Err()
				case 3: // two keys, one declared: the other is locked when reached
					err = rc.Eval(ctx, incrScript+" , redis.call('incr', ARGV[1])", []string{"other" + strconv.Itoa(w%3)}, "ctr").Err()
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d run %d: %w", w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rc := newClient(t, s, nil)
	if got := mustDo(t, rc, "GET", "ctr"); got != strconv.Itoa(workers*runs) {
		t.Fatalf("ctr = %v, want %d", got, workers*runs)
	}
}

// TestScriptEffectsOneUnit checks that a script's writes reach the effect
// stream as one committed unit, with its keyspace notifications.
func TestScriptEffectsOneUnit(t *testing.T) {
	s := startServer(t, nil)
	var mu sync.Mutex
	var units [][]string
	s.SetEffectSink(sinkFunc(func(r *store.Record) {
		var u []string
		for i := range r.NumEffects() {
			u = append(u, joinArgs(r.Effect(i).Args))
		}
		mu.Lock()
		units = append(units, u)
		mu.Unlock()
	}))
	rc := newClient(t, s, nil)
	mustDo(t, rc, "EVAL", "redis.call('set', KEYS[1], 'a') redis.call('incr', KEYS[2]) redis.call('set', 'undeclared', 'x') return 1",
		"2", "k1", "k2")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"set k1 a", "set k2 1 KEEPTTL", "set undeclared x"}
	if len(units) != 1 || strings.Join(units[0], "|") != strings.Join(want, "|") {
		t.Fatalf("effect units %q, want one unit %q", units, want)
	}
}

type sinkFunc func(r *store.Record)

func (f sinkFunc) CommitEffects(r *store.Record) { f(r) }

func joinArgs(args [][]byte) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = strings.ToLower(string(a))
		if i > 0 {
			parts[i] = string(a)
		}
	}
	return strings.Join(parts, " ")
}

// TestScriptMultiWatchVsRedis: EVAL inside MULTI, a script error inside
// EXEC, and a script's write failing another client's WATCH, compared
// with redis-server.
func TestScriptMultiWatchVsRedis(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		a := newVsRedisPair(t, resp3)
		b := dialVsRedisPair(t, a.addr, a.sock, resp3)
		for _, c := range [][]string{
			{"FLUSHALL"}, {"MULTI"}, {"EVAL", incrScript, "1", "x"}, {"EVAL", "return redis.call('incr', 'str')", "0"},
			{"SET", "str", "abc"}, {"EVAL", "return redis.call('incr', 'str')", "0"}, {"EVAL", "return 1", "-1"},
			{"EXEC"}, {"GET", "x"},
			{"WATCH", "x"}, {"MULTI"}, {"GET", "x"},
		} {
			a.same(t, c...)
		}
		b.same(t, "EVAL", incrScript, "1", "x")
		a.same(t, "EXEC")
		a.same(t, "WATCH", "x")
		b.same(t, "EVAL", "return redis.call('get', KEYS[1])", "1", "x") // a read does not fail the watch
		a.same(t, "MULTI")
		a.same(t, "EVAL", incrScript, "1", "x")
		a.same(t, "EXEC")
		a.same(t, "MULTI")
		a.same(t, "EVAL", "return redis.call('multi')", "0")
		a.same(t, "EXEC")
	}
}

// TestScriptBusyKillVsRedis: past busy-reply-threshold other clients get
// BUSY, SCRIPT KILL stops a script that has not written and refuses one
// that has, and the killed script's client gets Redis's error.
func TestScriptBusyKillVsRedis(t *testing.T) {
	s := startServer(t, nil)
	sock := listRealRedis(t)
	for _, target := range []struct{ network, addr string }{{"tcp", s.Addr()}, {"unix", sock}} {
		ctl := listDialRaw(t, target.network, target.addr)
		ctl.do(t, "CONFIG", "SET", "busy-reply-threshold", "50")
		ctl.do(t, "FLUSHALL")
		if got := ctl.do(t, "SCRIPT", "KILL"); got != "-NOTBUSY No scripts in execution right now.\r\n" {
			t.Errorf("%s: SCRIPT KILL idle: %q", target.network, got)
		}
		for _, tc := range []struct {
			src, kill, reply string
		}{
			{"while true do end", "+OK\r\n",
				"-ERR Script killed by user with SCRIPT KILL... script: 8fb3f1a0b1d6d3d5b0e1d2b1fcc6c5c8c08f7fbb, on @user_script:1.\r\n"},
			{"redis.call('set', 'w', '1') local t0 = redis.call('time') while true do local t = redis.call('time') " +
				"if (t[1] - t0[1]) * 1e6 + t[2] - t0[2] > 2000000 then return 7 end end", "-" + errUnkillable + "\r\n", ":7\r\n"},
		} {
			runner := listDialRaw(t, target.network, target.addr)
			done := make(chan string, 1)
			go func() {
				r, err := rawDo(runner, "EVAL", tc.src, "0")
				if err != nil {
					r = err.Error()
				}
				done <- r
			}()
			var busy string
			waitUntil(t, func() bool { busy = ctl.do(t, "PING"); return strings.HasPrefix(busy, "-BUSY") },
				func() string { return "PING while a script runs: " + busy })
			if busy != "-"+errBusyEval+"\r\n" {
				t.Errorf("%s: BUSY reply %q", target.network, busy)
			}
			if got := ctl.do(t, "SCRIPT", "KILL"); got != tc.kill {
				t.Errorf("%s: SCRIPT KILL of %q: %q, want %q", target.network, tc.src, got, tc.kill)
			}
			got := <-done
			want := tc.reply
			if strings.Contains(want, "script: ") { // the SHA is the script's
				want = strings.Replace(want, "8fb3f1a0b1d6d3d5b0e1d2b1fcc6c5c8c08f7fbb", sha1Hex(tc.src), 1)
			}
			if got != want {
				t.Errorf("%s: EVAL %q after SCRIPT KILL: %q, want %q", target.network, tc.src, got, want)
			}
			if p := ctl.do(t, "PING"); p != "+PONG\r\n" {
				t.Errorf("%s: PING after the script: %q", target.network, p)
			}
		}
	}
}

// TestScriptLimits: a script that exhausts memory or the call stack ends
// with an error and the node keeps serving; Close stops a running script.
func TestScriptLimits(t *testing.T) {
	s := startServer(t, nil)
	s.scripts.SetMaxMemory(16 << 20)
	rc := newClient(t, s, nil)
	for _, tc := range []struct{ src, want string }{
		{"local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end", "ERR Script killed: it used more memory"},
		{"local function f(n) return f(n + 1) + 1 end return f(1)", "stack overflow"},
		{"local t = {} t[1] = t return t", ""},
		{"return string.rep('x', 1e10)", "string.rep: result larger than"},
	} {
		_, err := do(t, rc, "EVAL", tc.src, "0")
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("EVAL %q: error %v, want one containing %q", tc.src, err, tc.want)
		}
		if got := mustDo(t, rc, "PING"); got != "PONG" {
			t.Fatalf("PING after %q: %v", tc.src, got)
		}
	}
	// Close with a script running forever: the script is stopped.
	runner := listDialRaw(t, "tcp", s.Addr())
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, _ = rawDo(runner, "EVAL", "while true do end", "0") // the connection closes
	}()
	waitUntil(t, func() bool { return s.scripts.Running() > 0 }, func() string { return "the script to start" })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-ended
}

// TestScriptClusterSlots: in cluster mode a script's keys must be on this
// node and, without allow-cross-slot-keys, in one slot.
func TestScriptCrossSlotFlags(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, func(o *redis.Options) { o.Protocol = 2 })
	// Not a cluster: keys of any slot may be used.
	if got := mustDo(t, rc, "EVAL", "#!lua\nredis.call('set', 'a', 1) return redis.call('set', 'b', 2)", "0"); got != "OK" {
		t.Fatalf("EVAL: %v", got)
	}
	// no-writes refuses writes, reads work.
	wantErr(t, rc, "ERR Write commands are not allowed from read-only scripts. script: "+
		sha1Hex("#!lua flags=no-writes\nreturn redis.call('del', 'a')")+", on @user_script:2.",
		"EVAL", "#!lua flags=no-writes\nreturn redis.call('del', 'a')", "0")
	if got := mustDo(t, rc, "EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'a')", "0"); got != "1" {
		t.Fatalf("read in a no-writes script: %v", got)
	}
}

func sha1Hex(s string) string { return script.SHA1Hex([]byte(s)) }

// rawDo is listRaw.do for a goroutine: errors are returned, not fatal.
func rawDo(c *listRaw, args ...string) (string, error) {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	if _, err := c.nc.Write(protocol.AppendCommand(nil, bs...)); err != nil {
		return "", err
	}
	var out bytes.Buffer
	err := listReadReply(c.r, &out)
	return out.String(), err
}

// TestScriptLog: redis.log lines at or above loglevel reach the log.
func TestScriptLog(t *testing.T) {
	path := t.TempDir() + "/cached.log"
	s := startServer(t, func(c *config.Config) { c.LogFile = path; c.LogLevel = "notice" })
	rc := newClient(t, s, nil)
	mustDo(t, rc, "EVAL", "redis.log(redis.LOG_WARNING, 'warned', 1) redis.log(redis.LOG_DEBUG, 'hidden') return 1", "0")
	var text string
	waitUntil(t, func() bool {
		b, _ := os.ReadFile(path)
		text = string(b)
		return strings.Contains(text, "warned 1")
	}, func() string { return "the log: " + text })
	if strings.Contains(text, "hidden") {
		t.Fatalf("a debug line was logged at loglevel notice: %s", text)
	}
}

// TestScriptTimeIsFrozen: as in Redis 7, every command of a script runs at
// the script's start time, however long the script runs: a TTL set and read
// back in one script is exact, EXPIRE computes from that time like SET PX,
// and a key that expires while the script runs is still there for it.
func TestScriptTimeIsFrozen(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	// The loop takes longer than a millisecond (15 ms here without
	// -race), so a clock read per command would see time pass between the
	// commands; 3,000,000 rounds made the test take 11 s under -race.
	const spin = "local x = 0 for i = 1, 200000 do x = x + i end "
	cases := []struct {
		name, body string
		want       any
	}{
		{"SET PX then PTTL", "redis.call('SET', KEYS[1], 'v', 'PX', 100000) " + spin + "return redis.call('PTTL', KEYS[1])", int64(100000)},
		{"PEXPIRE then PTTL", "redis.call('SET', KEYS[1], 'v') " + spin + "redis.call('PEXPIRE', KEYS[1], 100000) " + spin + "return redis.call('PTTL', KEYS[1])", int64(100000)},
		{"EXPIRE then PTTL", "redis.call('SET', KEYS[1], 'v') " + spin + "redis.call('EXPIRE', KEYS[1], 100) return redis.call('PTTL', KEYS[1])", int64(100000)},
		{"expires during the script", "redis.call('SET', KEYS[1], 'v', 'PX', 1) " + spin + "return redis.call('GET', KEYS[1])", "v"},
	}
	for _, tc := range cases {
		got, err := rc.Eval(ctx, tc.body, []string{"frozen"}).Result()
		if err != nil || got != tc.want {
			t.Errorf("%s: %v (%T) %v, want %v", tc.name, got, got, err, tc.want)
		}
		rc.Del(ctx, "frozen")
	}
}
