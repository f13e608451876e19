package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
)

// redisWithConf starts /usr/bin/redis-server on conf (plus args, which
// override it) serving a Unix socket in a temporary directory, and returns a
// client on it; the process is killed by its PID when the test ends. If
// redis-server exits instead (a directive it refuses), the test fails with
// its output.
func redisWithConf(t *testing.T, conf string, args ...string) *redis.Client {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	argv := append([]string{conf}, args...)
	argv = append(argv, "--port", "0", "--unixsocket", sock, "--dir", dir, "--daemonize", "no", "--logfile", "")
	cmd := exec.Command("/usr/bin/redis-server", argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("redis-server exited on %s:\n%s", conf, out.String())
		default:
		}
		if nc, err := net.Dial("unix", sock); err == nil {
			_ = nc.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer within 10s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling for readiness
	}
	rc := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Protocol: 2, MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConfigInclude: include nests, takes paths relative to the working
// directory and glob patterns (in name order), and a later line wins, as in
// redis-server; an include loop is an error, not a hang.
func TestConfigInclude(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "main.conf", "maxmemory 1mb\ninclude sub/a.conf\nhz 20\n")
	writeFile(t, "sub/a.conf", "maxmemory 2mb\nhz 30\ninclude conf.d/*.conf\n") // relative to the working directory
	writeFile(t, "conf.d/1.conf", "maxmemory-policy allkeys-lru\nslowlog-max-len 5\n")
	writeFile(t, "conf.d/2.conf", "slowlog-max-len 7\n")
	cfg := config.DefaultConfig()
	if err := config.ParseConfigFile("main.conf", &cfg); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"maxmemory": "2097152", "hz": "20", "maxmemory-policy": "allkeys-lru", "slowlog-max-len": "7"} {
		if got, _ := cfg.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	writeFile(t, "loop.conf", "include loop.conf\n")
	if err := config.ParseConfigFile("loop.conf", &cfg); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("include loop: %v", err)
	}
	writeFile(t, "missing.conf", "include nothere.conf\n")
	if err := config.ParseConfigFile("missing.conf", &cfg); err == nil || !strings.Contains(err.Error(), "nothere.conf") {
		t.Errorf("missing include: %v", err)
	}
	// redis-server reads the same files the same way.
	rc := redisWithConf(t, filepath.Join(dir, "main.conf"))
	for k, want := range map[string]string{"maxmemory": "2097152", "hz": "20", "maxmemory-policy": "allkeys-lru", "slowlog-max-len": "7"} {
		if got, err := rc.ConfigGet(context.Background(), k).Result(); err != nil || got[k] != want {
			t.Errorf("redis-server %s = %v %v, want %q", k, got, err, want)
		}
	}
}

// TestUnixSocket serves RESP on unixsocket with unixsocketperm: go-redis
// over unix and redis-cli -s talk to it; Shutdown removes the file.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "cached.sock")
	s := startServer(t, func(c *config.Config) { c.UnixSocket, c.UnixSocketPerm = sock, 0o700 })
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket file %v %v", fi, err)
	}
	rc := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, MaxRetries: -1})
	defer rc.Close()
	ctx := ctxT(t)
	if err := rc.Set(ctx, "k", "over unix", 0).Err(); err != nil {
		t.Fatal(err)
	}
	list, err := rc.ClientList(ctx).Result()
	if err != nil || !strings.Contains(list, "addr="+sock+":0 laddr="+sock+":0") {
		t.Errorf("CLIENT LIST over unix: %q %v", list, err)
	}
	out, err := exec.Command("redis-cli", "-s", sock, "GET", "k").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "over unix" {
		t.Errorf("redis-cli -s: %q %v", out, err)
	}
	if v, _ := s.cfg.Get("unixsocketperm"); v != "700" {
		t.Errorf("CONFIG GET unixsocketperm = %q", v)
	}
	_ = rc.Close()
	_ = s.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

// TestRenameCommandVsRedis compares rename-command with redis-server 7.0.15:
// the old name is unknown, the new one runs the command, "" removes it,
// COMMAND and commandstats keep the command's own name.
func TestRenameCommandVsRedis(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "rename.conf")
	writeFile(t, conf, "save \"\"\nrename-command config myconfig\nrename-command FLUSHALL \"\"\n")
	cfg := config.DefaultConfig()
	if err := config.ParseConfigFile(conf, &cfg); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(c *config.Config) { c.Renames = cfg.Renames })
	plain := startServer(t, nil)
	ours, theirs := newClient(t, s, resp2), redisWithConf(t, conf)
	empty := filepath.Join(t.TempDir(), "empty.conf")
	writeFile(t, empty, "")
	plainRedis := redisWithConf(t, empty)
	ctx := ctxT(t)
	cmds := [][]any{
		{"config", "get", "maxmemory"}, {"myconfig", "get", "maxmemory-policy"}, {"flushall"},
		{"command", "info", "myconfig"}, {"command", "info", "config"}, {"command", "info", "flushall"},
		{"command", "docs", "myconfig"}, {"myconfig", "resetstat"}, {"myconfig", "get", "hz"},
	}
	for _, args := range cmds {
		a, aerr := ours.Do(ctx, args...).Result()
		b, berr := theirs.Do(ctx, args...).Result()
		if len(args) > 1 && args[1] == "docs" { // cached's docs are shorter: compare the keys only
			a, b = docNames(a), docNames(b)
		}
		if len(args) > 1 && args[1] == "info" {
			a, b = infoNames(a), infoNames(b)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(aerr) != fmt.Sprint(berr) {
			t.Errorf("%v: cached %v %v, redis %v %v", args, a, aerr, b, berr)
		}
	}
	ourStats, _ := ours.Info(ctx, "commandstats").Result()
	if !strings.Contains(ourStats, "cmdstat_config|get:calls=1") {
		t.Errorf("commandstats after rename:\n%s", ourStats)
	}
	// COMMAND COUNT drops by one (flushall) on both.
	pc := newClient(t, plain, nil)
	for _, pair := range [][2]*redis.Client{{pc, ours}, {plainRedis, theirs}} {
		before, _ := pair[0].Do(ctx, "command", "count").Int()
		after, _ := pair[1].Do(ctx, "command", "count").Int()
		if before-after != 1 {
			t.Errorf("COMMAND COUNT %d -> %d", before, after)
		}
	}
	bad := config.DefaultConfig()
	bad.Renames = []config.Rename{{From: "nosuchcmd", To: "x"}}
	if _, err := Start(bad); err == nil || !strings.Contains(err.Error(), "No such command in rename-command") {
		t.Errorf("unknown command renamed: %v", err)
	}
}

// docNames returns the command names a COMMAND DOCS reply describes.
func docNames(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for i := 0; i < len(l); i += 2 {
			out = append(out, fmt.Sprint(l[i]))
		}
	}
	return out
}

// infoNames returns the names in a COMMAND INFO reply (nil entries as "nil").
func infoNames(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			if info, ok := e.([]any); ok && len(info) > 0 {
				out = append(out, fmt.Sprint(info[0]))
			} else {
				out = append(out, "nil")
			}
		}
	}
	return out
}

// TestCachedOnlyDirectivesVsRedis checks the cachedOnly marks against a
// real redis-server 7.0.15: CONFIG GET knows every other directive.
func TestCachedOnlyDirectivesVsRedis(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.conf")
	writeFile(t, empty, "")
	rc := redisWithConf(t, empty)
	ctx := ctxT(t)
	for _, d := range config.Directives() {
		got, err := rc.ConfigGet(ctx, d.Name).Result()
		if err != nil {
			t.Fatal(err)
		}
		_, known := got[d.Name]
		if known == d.CachedOnly {
			t.Errorf("%s: redis-server knows it: %v, marked cached-only: %v", d.Name, known, d.CachedOnly)
		}
	}
}

// TestConfigRewriteRedisReadable: CONFIG REWRITE of a node with cached-only
// and shared directives changed writes a file that redis-server 7.0.15
// starts with (and reads the shared values from), and that cached reads
// back whole.
func TestConfigRewriteRedisReadable(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "cached.conf")
	writeFile(t, conf, "# my cache\nshards 8\nmaxmemory 10mb\nrename-command debug \"\"\n")
	cfg := config.DefaultConfig()
	if err := config.ParseConfigFile(conf, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.SetConfigFile(conf)
	cfg.Port, cfg.Bind, cfg.MetricsAddr, cfg.LogLevel = 0, []string{"127.0.0.1"}, "", "warning"
	cfg.LogFormat, cfg.GCMinHeap = "json", 32<<20
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rc := newClient(t, s, nil)
	shared := map[string]string{"maxmemory-policy": "allkeys-lru", "notify-keyspace-events": "KEA",
		"latency-tracking-info-percentiles": "50 90 99.99", "hz": "10", "save": "", "appendonly": "no",
		"client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 1000000 500000 30",
		"slowlog-max-len":            "64", "latency-tracking": "no"}
	for k, v := range shared {
		if k != "hz" {
			mustDo(t, rc, "CONFIG", "SET", k, v)
		}
	}
	mustDo(t, rc, "CONFIG", "REWRITE")
	text, _ := os.ReadFile(conf)
	for _, want := range []string{"# my cache\n", "# cached: shards 8\n", "# cached: log-format json\n",
		"# cached: gc-min-heap 33554432\n", "rename-command debug \"\"\n", "maxmemory 10485760\n",
		"latency-tracking-info-percentiles 50 90 99.99\n"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("rewritten file lacks %q:\n%s", want, text)
		}
	}
	// redis-server starts on it and reads the shared directives.
	redisRC := redisWithConf(t, conf)
	ctx := ctxT(t)
	shared["maxmemory"] = "10485760"
	for k := range shared {
		want, _ := s.cfg.Get(k)
		got, err := redisRC.ConfigGet(ctx, k).Result()
		if err != nil || got[k] != want {
			t.Errorf("redis-server %s = %q %v, want %q", k, got[k], err, want)
		}
	}
	// cached reads it back whole.
	back := config.DefaultConfig()
	if err := config.ParseConfigFile(conf, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"shards", "log-format", "gc-min-heap", "maxmemory", "maxmemory-policy", "latency-tracking"} {
		a, _ := back.Get(k)
		b, _ := s.cfg.Get(k)
		if a != b {
			t.Errorf("%s read back %q, node has %q", k, a, b)
		}
	}
	if len(back.Renames) != 1 || back.Renames[0] != (config.Rename{From: "debug", To: ""}) {
		t.Errorf("renames read back %v", back.Renames)
	}
	// A second rewrite changes nothing.
	mustDo(t, rc, "CONFIG", "REWRITE")
	if again, _ := os.ReadFile(conf); !bytes.Equal(again, text) {
		t.Errorf("second rewrite differs:\n%s\n---\n%s", text, again)
	}
}

// TestConfigSetIneffectiveLogged: CONFIG SET appendonly yes is accepted as
// Redis does and logged as having no effect.
func TestConfigSetIneffectiveLogged(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "cached.log")
	s := startServer(t, func(c *config.Config) { c.LogFile, c.LogFormat = logPath, "json" })
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "SET", "appendonly", "yes", "maxmemory-policy", "allkeys-lru")
	mustDo(t, rc, "CONFIG", "SET", "io-threads-do-reads", "no") // its default: nothing to say
	var lines []string
	for _, r := range readJSONLog(t, logPath) {
		if strings.Contains(fmt.Sprint(r["msg"]), "no effect") {
			lines = append(lines, fmt.Sprint(r["directive"], "=", r["value"]))
		}
	}
	if fmt.Sprint(lines) != "[appendonly=yes]" {
		t.Errorf("no-effect log lines %v", lines)
	}
}

// TestLatencyTrackingToggle: latency-tracking no stops the histograms (INFO
// latencystats is empty), yes records again; the percentiles follow
// latency-tracking-info-percentiles.
func TestLatencyTrackingToggle(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	mustDo(t, rc, "CONFIG", "SET", "latency-tracking", "no")
	mustDo(t, rc, "SET", "k", "v")
	if info, _ := rc.Info(ctx, "latencystats").Result(); strings.Contains(info, "latency_percentiles_usec_set") {
		t.Errorf("latency-tracking no, INFO has:\n%s", info)
	}
	mustDo(t, rc, "CONFIG", "SET", "latency-tracking", "yes", "latency-tracking-info-percentiles", "50 99.5")
	mustDo(t, rc, "SET", "k", "v")
	info, _ := rc.Info(ctx, "latencystats").Result()
	if !strings.Contains(info, "latency_percentiles_usec_set:p50=") || !strings.Contains(info, ",p99.5=") || strings.Contains(info, "p99.9") {
		t.Errorf("latency-tracking yes, INFO:\n%s", info)
	}
}
