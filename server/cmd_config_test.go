package server

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
)

func TestIntroConfigGet(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		args []string
		want map[string]string
	}{
		{[]string{"maxmemory"}, map[string]string{"maxmemory": "0"}},
		{[]string{"maxmemory*"}, map[string]string{"maxmemory": "0", "maxmemory-policy": "noeviction",
			"maxmemory-samples": "5", "maxmemory-clients": "0", "maxmemory-eviction-tenacity": "10"}},
		{[]string{"maxmemory", "maxmemory-*"}, map[string]string{"maxmemory": "0", "maxmemory-policy": "noeviction",
			"maxmemory-samples": "5", "maxmemory-clients": "0", "maxmemory-eviction-tenacity": "10"}},
		{[]string{"hash-max-*-entries"}, map[string]string{"hash-max-listpack-entries": "512", "hash-max-ziplist-entries": "512"}},
		{[]string{"lua-time-limit"}, map[string]string{"lua-time-limit": "5000"}},
		{[]string{"port", "databases", "timeout"}, map[string]string{"port": "0", "databases": "16", "timeout": "0"}},
		{[]string{"MAXMEMORY-POL?CY"}, map[string]string{"maxmemory-policy": "noeviction"}},
		{[]string{"nosuch"}, map[string]string{}},
		{[]string{"nosuch*"}, map[string]string{}},
	}
	for name, rc := range introClients(t, s) {
		for _, tt := range tests {
			args := []any{"CONFIG", "GET"}
			for _, a := range tt.args {
				args = append(args, a)
			}
			cmd := rc.ConfigGet(ctxT(t), tt.args[0])
			if len(tt.args) > 1 {
				got := introMapReply(t, mustDo(t, rc, args...))
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s CONFIG GET %v = %v, want %v", name, tt.args, got, tt.want)
				}
				continue
			}
			got, err := cmd.Result()
			if err != nil {
				t.Fatalf("%s CONFIG GET %v: %v", name, tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s CONFIG GET %v = %v, want %v", name, tt.args, got, tt.want)
			}
		}
		all, err := rc.ConfigGet(ctxT(t), "*").Result()
		if err != nil || len(all) != len(config.Names()) {
			t.Errorf("%s CONFIG GET * gave %d entries (%v), want %d", name, len(all), err, len(config.Names()))
		}
		wantErr(t, rc, "ERR wrong number of arguments for 'config|get' command", "CONFIG", "GET")
	}
}

// introMapReply turns a go-redis map reply (RESP3 map or RESP2 flat array)
// into a map of strings.
func introMapReply(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch x := v.(type) {
	case map[any]any:
		for k, v := range x {
			out[k.(string)] = v.(string)
		}
	case []any:
		for i := 0; i+1 < len(x); i += 2 {
			out[x[i].(string)] = x[i+1].(string)
		}
	default:
		t.Fatalf("not a map reply: %T %v", v, v)
	}
	return out
}

func TestIntroConfigSet(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	if err := rc.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	if got := rc.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != "1048576" {
		t.Fatalf("maxmemory = %q", got)
	}
	if s.maxMemory.Load() != 1<<20 || s.store.MaxMemory() != 1<<20 {
		t.Fatalf("maxmemory not applied: %d %d", s.maxMemory.Load(), s.store.MaxMemory())
	}
	mustDo(t, rc, "CONFIG", "SET", "maxmemory", "2mb", "Maxmemory-Policy", "ALLKEYS-LRU", "timeout", "7")
	got := introMapReply(t, mustDo(t, rc, "CONFIG", "GET", "maxmemory", "maxmemory-policy", "timeout"))
	want := map[string]string{"maxmemory": "2097152", "maxmemory-policy": "allkeys-lru", "timeout": "7"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after multi-set: %v", got)
	}
	if s.idleTimeout.Load() != 7 || s.store.Policy().String() != "allkeys-lru" {
		t.Fatalf("not applied: timeout %d policy %v", s.idleTimeout.Load(), s.store.Policy())
	}
	mustDo(t, rc, "CONFIG", "SET", "hash-max-ziplist-entries", "64")
	if got := rc.ConfigGet(ctx, "hash-max-listpack-entries").Val()["hash-max-listpack-entries"]; got != "64" {
		t.Fatalf("alias set: %q", got)
	}
	errs := []struct {
		msg  string
		args []any
	}{
		{"ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config", []any{"port", "1"}},
		{"ERR Unknown option or number of arguments for CONFIG SET - 'foo'", []any{"foo", "1"}},
		{"ERR Unknown option or number of arguments for CONFIG SET - 'foo'", []any{"timeout", "1", "foo", "1"}},
		{"ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value", []any{"maxmemory", "abc"}},
		{"ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 64 inclusive", []any{"maxmemory-samples", "0"}},
		{"ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer", []any{"timeout", "x"}},
		{"ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction", []any{"maxmemory-policy", "lfu"}},
		{"ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter", []any{"maxmemory", "1", "maxmemory", "2"}},
		{"ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - duplicate parameter", []any{"hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"}},
		{"ERR syntax error", []any{"maxmemory", "1", "timeout"}},
		{"ERR wrong number of arguments for 'config|set' command", []any{"maxmemory"}},
		// Atomic: the valid settings before the bad one are not applied.
		{"ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction", []any{"maxmemory", "5mb", "timeout", "10", "maxmemory-policy", "nope"}},
	}
	for _, e := range errs {
		wantErr(t, rc, e.msg, append([]any{"CONFIG", "SET"}, e.args...)...)
	}
	got = introMapReply(t, mustDo(t, rc, "CONFIG", "GET", "maxmemory", "maxmemory-policy", "timeout"))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("a failed CONFIG SET changed something: %v, want %v", got, want)
	}
	if s.idleTimeout.Load() != 7 || s.maxMemory.Load() != 2<<20 {
		t.Fatalf("a failed CONFIG SET applied something: timeout %d maxmemory %d", s.idleTimeout.Load(), s.maxMemory.Load())
	}
}

func TestIntroConfigResetStat(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "TIME")
	wantErr(t, rc, "ERR wrong number of arguments for 'time' command", "TIME", "x")
	s.Store().Set(0, []byte("k"), []byte("v"), 0, 0, "set")
	_, _, _ = s.Store().Get(0, []byte("k"), nil)
	if f := introInfo(t, rc, "stats"); f["keyspace_hits"] != "1" || f["total_error_replies"] == "0" {
		t.Fatalf("before reset: hits %q errors %q", f["keyspace_hits"], f["total_error_replies"])
	}
	if err := rc.ConfigResetStat(ctxT(t)).Err(); err != nil {
		t.Fatal(err)
	}
	f := introInfo(t, rc, "stats", "commandstats", "errorstats")
	zero := []string{"keyspace_hits", "keyspace_misses", "total_error_replies", "rejected_connections", "expired_keys", "evicted_keys"}
	for _, k := range zero {
		if f[k] != "0" {
			t.Errorf("%s = %q after RESETSTAT", k, f[k])
		}
	}
	if f["total_commands_processed"] != "1" { // the INFO itself
		t.Errorf("total_commands_processed = %q", f["total_commands_processed"])
	}
	var stats []string
	for k := range f {
		if strings.HasPrefix(k, "cmdstat_") || strings.HasPrefix(k, "errorstat_") {
			stats = append(stats, k)
		}
	}
	if len(stats) != 1 || stats[0] != "cmdstat_config|resetstat" {
		t.Errorf("stats after RESETSTAT: %v", stats)
	}
}

func TestIntroConfigRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cached.conf")
	orig := "# my cache\nport 0\nmaxmemory 100mb\n\n# again\nmaxmemory 200mb\ntimeout 5\n"
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(c *config.Config) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := config.ParseConfig(f, c); err != nil {
			t.Fatal(err)
		}
		c.SetConfigFile(path)
	})
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy", "allkeys-lru",
		"syslog-ident", `my "cache"`, "save", "100 10", "notify-keyspace-events", "")
	if err := rc.ConfigRewrite(ctxT(t)).Err(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	loop := "" // CACHED_TEST_EVENT_LOOP (harness_test.go) may set io-event-loop away from its default
	if on := s.cfg.IOEventLoop; on != config.DefaultConfig().IOEventLoop {
		loop = "# cached: io-event-loop no\n"
		if on {
			loop = "# cached: io-event-loop yes\n"
		}
	}
	want := "# my cache\nport 0\nmaxmemory 1048576\n\n# again\ntimeout 5\n# Generated by CONFIG REWRITE\n" +
		"bind 127.0.0.1\n" + loop + "loglevel warning\nmaxmemory-policy allkeys-lru\n# cached: metrics-addr \"\"\nsave 100 10\nsyslog-ident \"my \\\"cache\\\"\"\n"
	if string(data) != want {
		t.Fatalf("rewritten file:\n%s\nwant:\n%s", data, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	cfg := config.DefaultConfig()
	if err := config.ParseConfig(strings.NewReader(string(data)), &cfg); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"maxmemory": "1048576", "maxmemory-policy": "allkeys-lru", "timeout": "5",
		"syslog-ident": `my "cache"`, "save": "100 10", "port": "0", "notify-keyspace-events": ""} {
		if got, _ := cfg.Get(k); got != v {
			t.Errorf("re-read %s = %q, want %q", k, got, v)
		}
	}
	// A second rewrite with nothing changed is a fixed point.
	mustDo(t, rc, "CONFIG", "REWRITE")
	if again, _ := os.ReadFile(path); string(again) != want {
		t.Fatalf("second rewrite changed the file:\n%s", again)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestIntroConfigRewriteNoFile(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	wantErr(t, rc, "ERR The server is running without a config file", "CONFIG", "REWRITE")
}

func TestIntroConfigHelpAndRueidis(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	help, err := rc.Do(ctxT(t), "CONFIG", "HELP").StringSlice()
	if err != nil || len(help) != 11 || !strings.HasPrefix(help[0], "CONFIG <subcommand>") || help[9] != "HELP" {
		t.Fatalf("CONFIG HELP = %q (%v)", help, err)
	}
	wantErr(t, rc, "ERR unknown subcommand 'nope'. Try CONFIG HELP.", "CONFIG", "nope")
	cl := introRueidis(t, s)
	ctx := context.Background()
	if err := cl.Do(ctx, cl.B().ConfigSet().ParameterValue().ParameterValue("maxmemory-samples", "7").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	m, err := cl.Do(ctx, cl.B().ConfigGet().Parameter("maxmemory-s*").Build()).AsStrMap()
	if err != nil || !reflect.DeepEqual(m, map[string]string{"maxmemory-samples": "7"}) {
		t.Fatalf("rueidis CONFIG GET = %v (%v)", m, err)
	}
}
