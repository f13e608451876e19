package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cached/cached/store"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// txStep is one command of a transaction script, sent on connection conn.
type txStep struct {
	conn int
	args string // space-separated
}

// txScripts are run on cached and on redis-server 7.0.15, reply bytes
// compared (TestMultiScriptsVsRedis), and on cached alone against the
// expected replies written here (TestMultiScripts).
var txScripts = []struct {
	name  string
	steps []txStep
	want  []string // cached's expected replies (RESP2), one per step
}{
	{"errors outside and inside MULTI", []txStep{
		{0, "EXEC"}, {0, "DISCARD"}, {0, "MULTI"}, {0, "MULTI"}, {0, "WATCH x"}, {0, "SET a 1"}, {0, "EXEC"},
	}, []string{"-ERR EXEC without MULTI\r\n", "-ERR DISCARD without MULTI\r\n", "+OK\r\n",
		"-ERR MULTI calls can not be nested\r\n", "-ERR WATCH inside MULTI is not allowed\r\n", "+QUEUED\r\n",
		"*1\r\n+OK\r\n"}},
	{"queuing errors abort", []txStep{
		{0, "MULTI"}, {0, "SET a 1"}, {0, "NOSUCH x"}, {0, "GET"}, {0, "SAVE"}, {0, "SHUTDOWN"}, {0, "EXEC"}, {0, "GET a"},
	}, []string{"+OK\r\n", "+QUEUED\r\n", "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n",
		"-ERR wrong number of arguments for 'get' command\r\n", "-ERR Command not allowed inside a transaction\r\n",
		"-ERR Command not allowed inside a transaction\r\n",
		"-EXECABORT Transaction discarded because of previous errors.\r\n", "$-1\r\n"}},
	{"a refused EXEC aborts", []txStep{
		{0, "MULTI"}, {0, "SET x 1"}, {0, "EXEC x"}, {0, "EXEC"}, {0, "EXEC y"},
		{0, "MULTI"}, {0, "DISCARD x"}, {0, "EXEC"}, {0, "GET x"},
	}, []string{"+OK\r\n", "+QUEUED\r\n",
		"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
		"-ERR EXEC without MULTI\r\n",
		"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
		"+OK\r\n", "-ERR wrong number of arguments for 'discard' command\r\n",
		"-EXECABORT Transaction discarded because of previous errors.\r\n", "$-1\r\n"}},
	{"subscribe inside EXEC, then refused in the subscribed context", []txStep{
		{0, "MULTI"}, {0, "SUBSCRIBE c"}, {0, "EXEC"}, {0, "MULTI"}, {0, "EXEC"}, {0, "UNSUBSCRIBE"},
	}, []string{"+OK\r\n", "+QUEUED\r\n", "*1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n",
		"-ERR Can't execute 'multi': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
		"-EXECABORT Transaction discarded because of: Can't execute 'exec': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
		"*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n"}},
	{"maxmemory: EXEC of a write is refused, and every command inside MULTI", []txStep{
		{0, "SET big xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, {0, "MULTI"}, {0, "SET a 1"},
		{1, "CONFIG SET maxmemory 1"}, {0, "EXEC"}, {0, "MULTI"}, {0, "SET b 1"}, {0, "GET big"}, {0, "EXEC"},
		{0, "MULTI"}, {0, "STRLEN big"}, {0, "EXEC"}, {1, "CONFIG SET maxmemory 0"},
	}, []string{"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "+OK\r\n",
		"-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n",
		"+OK\r\n", "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
		"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
		"-EXECABORT Transaction discarded because of previous errors.\r\n",
		"+OK\r\n", "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
		"-EXECABORT Transaction discarded because of previous errors.\r\n", "+OK\r\n"}},
	{"runtime errors are per command", []txStep{
		{0, "MULTI"}, {0, "INCR n"}, {0, "SET n x"}, {0, "INCR n"}, {0, "LPUSH n y"}, {0, "GET n"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n",
		"*5\r\n:1\r\n+OK\r\n-ERR value is not an integer or out of range\r\n" +
			"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\nx\r\n"}},
	{"select inside MULTI stays", []txStep{
		{0, "MULTI"}, {0, "SELECT 3"}, {0, "SET k v"}, {0, "EXEC"}, {0, "GET k"}, {0, "SELECT 0"}, {0, "EXISTS k"},
	}, []string{"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n+OK\r\n+OK\r\n", "$1\r\nv\r\n", "+OK\r\n", ":0\r\n"}},
	{"discard and empty exec", []txStep{
		{0, "MULTI"}, {0, "SET d 1"}, {0, "DISCARD"}, {0, "GET d"}, {0, "MULTI"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+QUEUED\r\n", "+OK\r\n", "$-1\r\n", "+OK\r\n", "*0\r\n"}},
	{"blocking commands and MONITOR inside EXEC do not block", []txStep{
		{0, "MULTI"}, {0, "BLPOP nolist 0"}, {0, "BRPOPLPUSH nolist other 0"}, {0, "MONITOR"}, {0, "PING"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n",
		"*4\r\n*-1\r\n$-1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n+PONG\r\n"}},
	{"watch and another client's write", []txStep{
		{0, "SET w 1"}, {0, "WATCH w"}, {1, "SET w 2"}, {0, "MULTI"}, {0, "GET w"}, {0, "EXEC"},
		{0, "WATCH w"}, {0, "MULTI"}, {0, "GET w"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "*-1\r\n",
		"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "*1\r\n$1\r\n2\r\n"}},
	{"watch and own write, unwatch", []txStep{
		{0, "WATCH o"}, {0, "SET o 1"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH o"}, {0, "SET o 2"}, {0, "UNWATCH"}, {0, "MULTI"}, {0, "GET o"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+OK\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "*1\r\n$1\r\n2\r\n"}},
	{"watch and delete, expire, rename onto", []txStep{
		{0, "SET e 1"}, {0, "SET src 2"}, {0, "WATCH e"}, {1, "EXPIRE e 100"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH e"}, {1, "RENAME src e"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH e"}, {1, "DEL e"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH e"}, {1, "DEL e"}, {0, "MULTI"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+OK\r\n", "+OK\r\n", ":1\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", "+OK\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", ":1\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", ":0\r\n", "+OK\r\n", "*0\r\n"}},
	{"watch and another client's hash and list writes", []txStep{
		{0, "HSET h f 1"}, {0, "WATCH h l"}, {1, "HSET h f 2"}, {0, "MULTI"}, {0, "HGET h f"}, {0, "EXEC"},
		{0, "WATCH h l"}, {1, "RPUSH l x"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH h l"}, {1, "HDEL h nosuchfield"}, {0, "MULTI"}, {0, "HGET h f"}, {0, "EXEC"},
	}, []string{":1\r\n", "+OK\r\n", ":0\r\n", "+OK\r\n", "+QUEUED\r\n", "*-1\r\n",
		"+OK\r\n", ":1\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", ":0\r\n", "+OK\r\n", "+QUEUED\r\n", "*1\r\n$1\r\n2\r\n"}},
	{"smove of a member the destination has leaves a watch on it alone (7.0.15)", []txStep{
		{0, "SADD s a"}, {0, "SADD d a"}, {0, "WATCH d"}, {1, "SMOVE s d a"}, {0, "MULTI"}, {0, "SET x 1"}, {0, "EXEC"},
	}, []string{":1\r\n", ":1\r\n", "+OK\r\n", ":1\r\n", "+OK\r\n", "+QUEUED\r\n", "*1\r\n+OK\r\n"}},
	{"watch and flushdb, flushall, swapdb", []txStep{
		{0, "SET f 1"}, {0, "WATCH f"}, {1, "FLUSHDB"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH f"}, {1, "FLUSHDB"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "SET f 1"}, {0, "WATCH f"}, {1, "SELECT 5"}, {1, "FLUSHALL"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH f"}, {1, "SET f 5"}, {1, "SWAPDB 0 5"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH g"}, {1, "SWAPDB 0 5"}, {0, "MULTI"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", "+OK\r\n", "+OK\r\n", "*0\r\n",
		"+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "*-1\r\n",
		"+OK\r\n", "+OK\r\n", "+OK\r\n", "*0\r\n"}},
	{"watch in another db, multiple keys, twice", []txStep{
		{0, "SELECT 2"}, {0, "WATCH a b a"}, {1, "SET b 1"}, {0, "MULTI"}, {0, "EXEC"},
		{0, "WATCH a"}, {1, "SELECT 2"}, {1, "SET b 2"}, {0, "MULTI"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "*0\r\n",
		"+OK\r\n", "+OK\r\n", "+OK\r\n", "+OK\r\n", "*0\r\n"}},
	{"reset discards the transaction and its watches", []txStep{
		{0, "WATCH r"}, {0, "MULTI"}, {0, "SET r 2"}, {1, "HSET r f 1"}, {0, "RESET"}, {0, "EXEC"},
		{0, "MULTI"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", ":1\r\n", "+RESET\r\n",
		"-ERR EXEC without MULTI\r\n", "+OK\r\n", "*0\r\n"}},
	{"reset outside MULTI unwatches", []txStep{
		{0, "WATCH r2"}, {1, "HSET r2 f 1"}, {0, "RESET"}, {0, "MULTI"}, {0, "EXEC"},
	}, []string{"+OK\r\n", ":1\r\n", "+RESET\r\n", "+OK\r\n", "*0\r\n"}},
	{"queued unwatch and watch of a key written inside", []txStep{
		{0, "WATCH u"}, {0, "MULTI"}, {0, "UNWATCH"}, {0, "SET u 1"}, {0, "EXEC"},
		{0, "WATCH u"}, {0, "MULTI"}, {0, "SET u 2"}, {0, "EXEC"},
	}, []string{"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n+OK\r\n+OK\r\n",
		"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "*1\r\n+OK\r\n"}},
}

// txRun runs a script on fresh connections dialled by dial and returns the
// raw replies.
func txRun(t *testing.T, dial func() *listRaw, steps []txStep, resp3 bool) []string {
	t.Helper()
	conns := map[int]*listRaw{}
	var out []string
	for _, st := range steps {
		rc := conns[st.conn]
		if rc == nil {
			rc = dial()
			conns[st.conn] = rc
			if resp3 {
				rc.do(t, "HELLO", "3")
			}
		}
		out = append(out, rc.do(t, strings.Fields(st.args)...))
	}
	return out
}

func TestMultiScripts(t *testing.T) {
	s := startServer(t, nil)
	for _, sc := range txScripts {
		t.Run(sc.name, func(t *testing.T) {
			mustDo(t, newClient(t, s, nil), "flushall")
			got := txRun(t, func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) }, sc.steps, false)
			for i := range sc.steps {
				if i >= len(sc.want) || got[i] != sc.want[i] {
					w := "(none)"
					if i < len(sc.want) {
						w = sc.want[i]
					}
					t.Errorf("step %d %q: got %q, want %q", i, sc.steps[i].args, got[i], w)
				}
			}
		})
	}
}

func TestMultiScriptsVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	for _, resp3 := range []bool{false, true} {
		for _, sc := range txScripts {
			t.Run(fmt.Sprintf("%s/resp3=%v", sc.name, resp3), func(t *testing.T) {
				listDialRaw(t, "unix", sock).do(t, "FLUSHALL")
				mustDo(t, newClient(t, s, nil), "flushall")
				want := txRun(t, func() *listRaw { return listDialRaw(t, "unix", sock) }, sc.steps, resp3)
				got := txRun(t, func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) }, sc.steps, resp3)
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("step %d %q: cached %q, redis %q", i, sc.steps[i].args, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestMultiTxPipelined(t *testing.T) {
	s := startServer(t, nil)
	for _, mode := range []struct {
		name string
		opt  func(*redis.Options)
	}{{"resp3", nil}, {"resp2", resp2}} {
		t.Run(mode.name, func(t *testing.T) {
			rc := newClient(t, s, mode.opt)
			ctx := ctxT(t)
			mustDo(t, rc, "flushall")
			var incr *redis.IntCmd
			var get *redis.StringCmd
			cmds, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "a", "1", 0)
				incr = p.Incr(ctx, "a")
				p.Set(ctx, "s", "x", 0)
				p.Incr(ctx, "s")
				get = p.Get(ctx, "a")
				return nil
			})
			if err == nil || err.Error() != "ERR value is not an integer or out of range" {
				t.Fatalf("TxPipelined error = %v, want the INCR's error", err)
			}
			if len(cmds) != 5 || incr.Val() != 2 || get.Val() != "2" {
				t.Fatalf("cmds %d, incr %d, get %q", len(cmds), incr.Val(), get.Val())
			}
			if cmds[3].Err() == nil || cmds[2].Err() != nil {
				t.Fatalf("per-command errors: %v %v", cmds[2].Err(), cmds[3].Err())
			}
			// A queuing error: the whole transaction is refused.
			_, err = rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "b", "1", 0)
				p.Do(ctx, "nosuchcommand")
				return nil
			})
			if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT Transaction discarded") {
				t.Fatalf("queuing error: %v", err)
			}
			if n := rc.Exists(ctx, "b").Val(); n != 0 {
				t.Fatalf("aborted transaction wrote b")
			}
		})
	}
}

// TestExecAtomic: a reader never sees half of an EXEC that sets two keys.
func TestExecAtomic(t *testing.T) {
	s := startServer(t, nil)
	w := newClient(t, s, nil)
	r := newClient(t, s, resp2)
	ctx := ctxT(t)
	// Keys in different shards, so that only EXEC's Tx over both keeps them together.
	a, b := "atomic:a", "atomic:b{x}"
	w.MSet(ctx, a, 0, b, 0)
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, err := w.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, a, i, 0)
				p.Set(ctx, b, i, 0)
				return nil
			})
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	for range 1500 {
		v, err := r.MGet(ctx, a, b).Result()
		if err != nil {
			t.Fatal(err)
		}
		if v[0] != v[1] {
			close(stop)
			t.Fatalf("half an EXEC seen: %v", v)
		}
	}
	close(stop)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestMultiRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis: %v", err)
	}
	defer cl.Close()
	ctx := ctxT(t)
	err = cl.Dedicated(func(dc rueidis.DedicatedClient) error {
		dc.Do(ctx, dc.B().Set().Key("r").Value("1").Build())
		if err := dc.Do(ctx, dc.B().Watch().Key("r").Build()).Error(); err != nil {
			return err
		}
		res := dc.DoMulti(ctx,
			dc.B().Multi().Build(),
			dc.B().Incr().Key("r").Build(),
			dc.B().Get().Key("r").Build(),
			dc.B().Exec().Build())
		arr, err := res[3].ToArray()
		if err != nil {
			return err
		}
		if n, _ := arr[0].AsInt64(); n != 2 {
			return fmt.Errorf("INCR in EXEC = %d", n)
		}
		if v, _ := arr[1].ToString(); v != "2" {
			return fmt.Errorf("GET in EXEC = %q", v)
		}
		// A watched key touched by another client: EXEC answers null.
		dc.Do(ctx, dc.B().Watch().Key("rl").Build())
		if err := cl.Do(ctx, cl.B().Rpush().Key("rl").Element("9").Build()).Error(); err != nil {
			return err
		}
		res = dc.DoMulti(ctx, dc.B().Multi().Build(), dc.B().Get().Key("r").Build(), dc.B().Exec().Build())
		if !rueidis.IsRedisNil(res[2].Error()) {
			return fmt.Errorf("EXEC after a touch: %v", res[2])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMultiClientList(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	conn := rc.Conn()
	defer conn.Close()
	id := conn.ClientID(ctx).Val()
	field := func() string { // "multi=N flags=F"
		var multi, flags string
		for _, line := range strings.Split(rc.ClientList(ctx).Val(), "\n") {
			if strings.HasPrefix(line, "id="+strconv.FormatInt(id, 10)+" ") {
				for _, f := range strings.Fields(line) {
					if strings.HasPrefix(f, "multi=") {
						multi = f
					}
					if strings.HasPrefix(f, "flags=") {
						flags = f
					}
				}
			}
		}
		return multi + " " + flags
	}
	if f := field(); f != "multi=-1 flags=N" {
		t.Fatalf("before MULTI: %s", f)
	}
	conn.Do(ctx, "multi")
	conn.Do(ctx, "set", "a", "1")
	conn.Do(ctx, "get", "a")
	if f := field(); f != "multi=2 flags=x" {
		t.Fatalf("inside MULTI: %s", f)
	}
	conn.Do(ctx, "exec")
	if f := field(); f != "multi=-1 flags=N" {
		t.Fatalf("after EXEC: %s", f)
	}
}

// unitLog is an EffectSink that keeps each committed unit as one string.
type unitLog struct {
	mu    sync.Mutex
	units []string
}

func (l *unitLog) CommitEffects(r *store.Record) {
	var cmds []string
	for i := range r.NumEffects() {
		e := r.Effect(i)
		parts := []string{strconv.Itoa(e.DB)}
		for _, a := range e.Args {
			parts = append(parts, string(a))
		}
		cmds = append(cmds, strings.Join(parts, " "))
	}
	l.mu.Lock()
	l.units = append(l.units, strings.Join(cmds, "; "))
	l.mu.Unlock()
}

// TestMultiEffects: EXEC commits its commands' effects as one unit, with
// each effect's database; an EXEC that wrote nothing commits nothing.
func TestMultiEffects(t *testing.T) {
	s := startServer(t, nil)
	var log unitLog
	s.SetEffectSink(&log)
	rc := newClient(t, s, nil)
	conn := rc.Conn()
	defer conn.Close()
	ctx := ctxT(t)
	for _, cmd := range [][]any{{"multi"}, {"get", "x"}, {"exec"},
		{"multi"}, {"set", "a", "1"}, {"incr", "a"}, {"select", "2"}, {"set", "b", "2"}, {"incr", "nan"}, {"exec"},
		{"set", "c", "3"}} {
		_ = conn.Do(ctx, cmd...).Err()
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	want := []string{"0 SET a 1; 0 SET a 2 KEEPTTL; 2 SET b 2; 2 SET nan 1 KEEPTTL", "2 SET c 3"}
	if !strings.EqualFold(strings.Join(log.units, "|"), strings.Join(want, "|")) {
		t.Fatalf("effect units %q, want %q", log.units, want)
	}
}

// TestExecClientPause: CLIENT PAUSE WRITE holds an EXEC that writes until
// the pause ends, and lets a read-only EXEC through, as Redis.
func TestExecClientPause(t *testing.T) {
	s := startServer(t, nil)
	p := listDialRaw(t, "tcp", s.Addr())
	c := listDialRaw(t, "tcp", s.Addr())
	c.do(t, "MULTI")
	c.do(t, "GET", "p")
	p.do(t, "CLIENT", "PAUSE", "100000", "WRITE")
	if got := c.do(t, "EXEC"); got != "*1\r\n$-1\r\n" {
		t.Fatalf("read-only EXEC under a write pause = %q", got)
	}
	c.do(t, "MULTI")
	c.do(t, "SET", "p", "1")
	c.send(t, "EXEC")
	waitUntil(t, func() bool { return s.pause.waiting.Load() == 1 }, func() string { return "EXEC to wait for the pause" })
	if got := p.do(t, "EXISTS", "p"); got != ":0\r\n" {
		t.Fatalf("a paused EXEC wrote: EXISTS %q", got)
	}
	p.do(t, "CLIENT", "UNPAUSE")
	if got := c.read(t); got != "*1\r\n+OK\r\n" {
		t.Fatalf("EXEC after the pause = %q", got)
	}
}

// BenchmarkMultiExec measures a MULTI, SET, INCR, EXEC round trip.
func BenchmarkMultiExec(b *testing.B) {
	s := startServer(b, nil)
	rc := newClient(b, s, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "bm", "1", 0)
			p.Incr(ctx, "bm")
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// txRandomStep makes a random transaction-heavy command for conn 0 or 1.
func txRandomStep(r *rand.Rand) txStep {
	keys := []string{"k1", "k2", "h", "l"}
	k := keys[r.IntN(len(keys))]
	cmds := []string{
		"MULTI", "MULTI", "EXEC", "EXEC", "DISCARD", "WATCH " + k, "WATCH k1 k2", "UNWATCH",
		"SET " + k + " v", "INCR " + k, "GET " + k, "HSET " + k + " f v", "DEL " + k, "LPUSH " + k + " x",
		"EXPIRE " + k + " 100", "PERSIST " + k, "NOSUCH " + k, "GET", "SELECT " + strconv.Itoa(r.IntN(2)),
		"RENAME " + k + " k2", "SWAPDB 0 1", "BLPOP " + k + " 0.01", "PING", "EXISTS k1 k2 h l",
	}
	if r.IntN(40) == 0 {
		cmds = append(cmds, "FLUSHDB")
	}
	return txStep{conn: r.IntN(2), args: cmds[r.IntN(len(cmds))]}
}

// TestMultiRandomVsRedis runs random transaction scripts on cached and on
// redis-server 7.0.15 and compares every reply byte for byte.
func TestMultiRandomVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	for seed := range uint64(6) {
		resp3 := seed%2 == 1
		r := rand.New(rand.NewPCG(seed, 42))
		steps := make([]txStep, 250)
		for i := range steps {
			steps[i] = txRandomStep(r)
		}
		listDialRaw(t, "unix", sock).do(t, "FLUSHALL")
		mustDo(t, newClient(t, s, nil), "flushall")
		want := txRun(t, func() *listRaw { return listDialRaw(t, "unix", sock) }, steps, resp3)
		got := txRun(t, func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) }, steps, resp3)
		for i := range want {
			if got[i] != want[i] {
				from := max(0, i-12)
				var ctx []string
				for j := from; j <= i; j++ {
					ctx = append(ctx, fmt.Sprintf("%d:%s", steps[j].conn, steps[j].args))
				}
				t.Fatalf("seed %d step %d %q: cached %q, redis %q\nlast steps: %q", seed, i, steps[i].args, got[i], want[i], ctx)
			}
		}
	}
}
