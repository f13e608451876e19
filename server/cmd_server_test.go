package server

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestIntroServerTime(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range introClients(t, s) {
		var prev time.Time
		for i := 0; i < 20; i++ {
			tm, err := rc.Time(ctxT(t)).Result()
			if err != nil {
				t.Fatalf("%s TIME: %v", name, err)
			}
			if tm.Before(prev) {
				t.Fatalf("%s TIME went back: %v after %v", name, tm, prev)
			}
			prev = tm
		}
		if d := time.Since(prev); d < -time.Minute || d > time.Minute {
			t.Errorf("%s TIME %v is far from now", name, prev)
		}
		v := mustDo(t, rc, "TIME").([]any)
		if len(v) != 2 || !regexp.MustCompile(`^\d{10,}$`).MatchString(v[0].(string)) ||
			!regexp.MustCompile(`^\d{1,6}$`).MatchString(v[1].(string)) {
			t.Errorf("%s TIME = %v", name, v)
		}
		wantErr(t, rc, "ERR wrong number of arguments for 'time' command", "TIME", "x")
	}
}

func TestIntroServerSaveFamily(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	if n, err := rc.LastSave(ctx).Result(); err != nil || n != s.started.Unix() {
		t.Errorf("LASTSAVE = %d (%v), want %d", n, err, s.started.Unix())
	}
	if v, err := rc.Save(ctx).Result(); err != nil || v != "OK" {
		t.Errorf("SAVE = %q (%v)", v, err)
	}
	if v, err := rc.BgSave(ctx).Result(); err != nil || v != "Background saving started" {
		t.Errorf("BGSAVE = %q (%v)", v, err)
	}
	if v := mustDo(t, rc, "BGSAVE", "schedule"); v != "Background saving started" {
		t.Errorf("BGSAVE SCHEDULE = %v", v)
	}
	wantErr(t, rc, "ERR syntax error", "BGSAVE", "now")
	wantErr(t, rc, "ERR wrong number of arguments for 'save' command", "SAVE", "x")
	if n, _ := rc.LastSave(ctx).Result(); n != s.started.Unix() {
		t.Errorf("LASTSAVE moved after SAVE: %d", n)
	}
}

func TestIntroServerDebug(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range introClients(t, s) {
		for _, arg := range []string{"0", "0.001", "-1", "abc"} {
			if v := mustDo(t, rc, "DEBUG", "SLEEP", arg); v != "OK" {
				t.Errorf("%s DEBUG SLEEP %s = %v", name, arg, v)
			}
		}
		wantErr(t, rc, "ERR no such key", "DEBUG", "OBJECT", "nokey")
		s.Store().Set(0, []byte("dk"), []byte("hello"), 0, 0, "set")
		s.Store().Set(0, []byte("dn"), []byte("12345"), 0, 0, "set")
		re := regexp.MustCompile(`^Value at:0x0 refcount:1 encoding:(\w+) serializedlength:(\d+) lru:\d+ lru_seconds_idle:\d+$`)
		// Encodings and RDB lengths as redis-server 7.0.15 reports them.
		for key, want := range map[string][2]string{"dk": {"embstr", "6"}, "dn": {"int", "3"}} {
			v, _ := mustDo(t, rc, "DEBUG", "OBJECT", key).(string)
			if m := re.FindStringSubmatch(v); m == nil || m[1] != want[0] || m[2] != want[1] {
				t.Errorf("%s DEBUG OBJECT %s = %q", name, key, v)
			}
		}
		wantErr(t, rc, "ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.", "DEBUG", "FOO")
		wantErr(t, rc, "ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP.", "DEBUG", "sleep")
		wantErr(t, rc, "ERR wrong number of arguments for 'debug' command", "DEBUG")
		help, err := rc.Do(ctxT(t), "DEBUG", "HELP").StringSlice()
		if err != nil || len(help) != 11 || help[1] != "OBJECT <key>" {
			t.Errorf("%s DEBUG HELP = %q (%v)", name, help, err)
		}
		for _, arg := range []string{"0", "1"} {
			if v := mustDo(t, rc, "DEBUG", "SET-ACTIVE-EXPIRE", arg); v != "OK" {
				t.Errorf("%s SET-ACTIVE-EXPIRE %s = %v", name, arg, v)
			}
			if off := s.store.ActiveExpireOff(); off != (arg == "0") {
				t.Errorf("%s SET-ACTIVE-EXPIRE %s: store expirer off = %v", name, arg, off)
			}
		}
	}
}

// A long DEBUG SLEEP does not hold up Close.
func TestIntroServerDebugSleepInterruptedByClose(t *testing.T) {
	s := startServer(t, nil)
	nc, r := introRaw(t, s)
	if _, err := io.WriteString(nc, "DEBUG SLEEP 3600\r\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := false
		for _, c := range s.clients.list() {
			if lc := c.lastCmd.Load(); lc != nil && lc.name == "debug" {
				busy = true
			}
		}
		if busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("DEBUG SLEEP never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { _ = s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waits for DEBUG SLEEP")
	}
	if line, err := r.ReadString('\n'); err == nil && line != "+OK\r\n" {
		t.Errorf("after Close read %q", line)
	}
}

func TestIntroServerShutdown(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	for _, args := range [][]any{{"SHUTDOWN", "NOSAVE", "SAVE"}, {"SHUTDOWN", "FOO"}, {"SHUTDOWN", "ABORT", "NOW"}} {
		wantErr(t, rc, "ERR syntax error", args...)
	}
	wantErr(t, rc, "ERR No shutdown in progress.", "SHUTDOWN", "ABORT")
	select {
	case <-s.ShutdownRequested():
		t.Fatal("shutdown requested by a failed SHUTDOWN")
	default:
	}
	if err := rc.ShutdownNoSave(ctxT(t)).Err(); err != nil {
		t.Fatalf("SHUTDOWN NOSAVE: %v (want the connection closed)", err)
	}
	select {
	case <-s.ShutdownRequested():
	case <-time.After(10 * time.Second):
		t.Fatal("ShutdownRequested not closed")
	}
	// Raw: no reply, the connection closes.
	nc, r := introRaw(t, s)
	_, _ = io.WriteString(nc, "SHUTDOWN NOW FORCE\r\n")
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("SHUTDOWN replied %q", line)
	}
}

func TestIntroServerMemory(t *testing.T) {
	s := startServer(t, nil)
	s.Store().Set(0, []byte("mkey"), []byte(strings.Repeat("v", 100)), 0, 0, "set")
	s.Store().Set(2, []byte("other"), []byte("x"), 0, 0, "set")
	for name, rc := range introClients(t, s) {
		ctx := ctxT(t)
		n, err := rc.MemoryUsage(ctx, "mkey").Result()
		if err != nil || n < 104 || n > 4096 {
			t.Errorf("%s MEMORY USAGE = %d (%v)", name, n, err)
		}
		if n2, _ := rc.MemoryUsage(ctx, "mkey", 0).Result(); n2 != n {
			t.Errorf("%s MEMORY USAGE SAMPLES 0 = %d, want %d", name, n2, n)
		}
		if _, err := rc.MemoryUsage(ctx, "nokey").Result(); !errors.Is(err, redis.Nil) {
			t.Errorf("%s MEMORY USAGE missing: %v, want nil", name, err)
		}
		wantErr(t, rc, "ERR syntax error", "MEMORY", "USAGE", "mkey", "SAMPLES", "-1")
		wantErr(t, rc, "ERR syntax error", "MEMORY", "USAGE", "mkey", "SAMPLES")
		wantErr(t, rc, "ERR syntax error", "MEMORY", "USAGE", "mkey", "FOO", "1")
		wantErr(t, rc, "ERR value is not an integer or out of range", "MEMORY", "USAGE", "mkey", "SAMPLES", "x")
		wantErr(t, rc, "ERR wrong number of arguments for 'memory|usage' command", "MEMORY", "USAGE")
		wantErr(t, rc, "ERR unknown subcommand 'FOO'. Try MEMORY HELP.", "MEMORY", "FOO")

		st := introMap(t, mustDo(t, rc, "MEMORY", "STATS"))
		// overhead.total counts client buffers, this client's command among
		// them when the 100 ms cron sampled it in flight.
		total, _ := st["total.allocated"].(int64)
		dataset, _ := st["dataset.bytes"].(int64)
		overhead, _ := st["overhead.total"].(int64)
		if st["keys.count"] != int64(2) || total != dataset+overhead {
			t.Errorf("%s MEMORY STATS = %v", name, st)
		}
		if ta, _ := st["total.allocated"].(int64); ta < n {
			t.Errorf("%s total.allocated %v < usage of one key %d", name, st["total.allocated"], n)
		}
		switch f := st["fragmentation"].(type) {
		case float64, string:
		default:
			t.Errorf("%s fragmentation is %T", name, f)
		}
		if v, _ := mustDo(t, rc, "MEMORY", "DOCTOR").(string); !strings.HasPrefix(v, "Hi Sam") && !strings.HasPrefix(v, "Sam,") {
			t.Errorf("%s MEMORY DOCTOR = %q", name, v)
		}
		if v, _ := mustDo(t, rc, "MEMORY", "MALLOC-STATS").(string); !strings.Contains(v, "/memory/classes/total:bytes") {
			t.Errorf("%s MALLOC-STATS = %q", name, v)
		}
		if v := mustDo(t, rc, "MEMORY", "PURGE"); v != "OK" {
			t.Errorf("%s MEMORY PURGE = %v", name, v)
		}
		help, err := rc.Do(ctx, "MEMORY", "HELP").StringSlice()
		if err != nil || len(help) != 14 || help[1] != "DOCTOR" {
			t.Errorf("%s MEMORY HELP = %q (%v)", name, help, err)
		}
	}
	cl := introRueidis(t, s)
	n, err := cl.Do(context.Background(), cl.B().MemoryUsage().Key("mkey").Samples(5).Build()).AsInt64()
	if err != nil || n < 104 {
		t.Errorf("rueidis MEMORY USAGE = %d (%v)", n, err)
	}
	tm, err := cl.Do(context.Background(), cl.B().Time().Build()).AsStrSlice()
	if err != nil || len(tm) != 2 {
		t.Errorf("rueidis TIME = %v (%v)", tm, err)
	}
}
