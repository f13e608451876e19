package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cached/cached/internal/freeport"
	"github.com/cached/cached/server"
)

func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, []byte("# a redis.conf\nport 7001\nmaxmemory 100mb\nsave 900 1\nappendonly no\nhash-max-ziplist-entries 64\nrequirepass \"p w\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, act, err := parseArgs([]string{conf, "--port", "7002", "--maxmemory-policy", "allkeys-lru"})
	if err != nil || act != actionRun {
		t.Fatalf("parseArgs: %v %v", act, err)
	}
	checks := map[string]string{"port": "7002", "maxmemory": "104857600", "maxmemory-policy": "allkeys-lru",
		"save": "900 1", "appendonly": "no", "hash-max-listpack-entries": "64", "requirepass": "p w"}
	for k, want := range checks {
		if got, _ := cfg.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if cfg.ConfigFile() != conf {
		t.Errorf("config file = %q", cfg.ConfigFile())
	}
	cfg, _, err = parseArgs([]string{"--config", conf, "--save", ""})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := cfg.Get("save"); got != "" {
		t.Errorf("save = %q, want empty", got)
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--port", "notanumber"}, "'port'"},
		{[]string{"--maxmemory", "12 parsecs"}, "'maxmemory'"},
		{[]string{"--maxmemory-policy", "allkeys-best"}, "'maxmemory-policy'"},
		{[]string{"--proto-max-bulk-len", "8gb"}, "'proto-max-bulk-len'"},
		{[]string{"--client-query-buffer-limit", "1000"}, "'client-query-buffer-limit'"},
		{[]string{"--no-such-directive", "1"}, "no-such-directive"},
		{[]string{"/does/not/exist.conf"}, "can't open config file"},
		{[]string{"--port", "1", "stray"}, ""},
	} {
		_, _, err := parseArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, d := range []string{"--port", "--maxmemory-policy", "--requirepass", "--shards", "appendonly"} {
		if !strings.Contains(out.String(), d) {
			t.Errorf("--help lacks %s", d)
		}
	}
	out.Reset()
	if code := run([]string{"--version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "cached v=") {
		t.Fatalf("--version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"--port", "x"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "'port'") {
		t.Fatalf("bad flag: exit %d, stderr %q", code, errb.String())
	}
}

// TestBinaryServesAndStopsOnSignal builds the real binary, runs it on a free
// port, talks RESP to it and stops it with SIGTERM: it must exit 0.
func TestBinaryServesAndStopsOnSignal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cached")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port := freePort(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(bin, "--port", port, "--loglevel", "warning", "--metrics-addr", "127.0.0.1:0")
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		nc := dialPoll(t, "127.0.0.1:"+port)
		_, _ = nc.Write([]byte("SET k v\r\nGET k\r\n"))
		r := bufio.NewReader(nc)
		for _, want := range []string{"+OK\r\n", "$1\r\n", "v\r\n"} {
			if got, err := r.ReadString('\n'); err != nil || got != want {
				t.Fatalf("got %q %v, want %q", got, err, want)
			}
		}
		_ = cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: exit: %v\n%s", sig, err, logs.String())
			}
			// The stop is logged with its reason, even at loglevel warning.
			name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
			for _, want := range []string{`msg="cached stopping" reason=` + name, `msg="cached stopped" reason=` + name} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("%v: log lacks %q:\n%s", sig, want, logs.String())
				}
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("%v: did not exit", sig)
		}
		nc.Close()
	}
}

// freePort returns a port for a node to listen on, below the kernel's
// ephemeral range (internal/freeport).
func freePort(t *testing.T) string {
	p, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

func dialPoll(t *testing.T, addr string) net.Conn {
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
			return nc
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDebianRedisConfStarts reads the redis.conf that Debian's redis-server
// package installs (.ci/run installs it): a user's existing file must load.
func TestDebianRedisConfStarts(t *testing.T) {
	const conf = "/etc/redis/redis.conf"
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("%s: %v (install Debian's redis-server, as .ci/run does)", conf, err)
	}
	cfg, _, err := parseArgs([]string{conf, "--port", "0", "--logfile", "", "--metrics-addr", ""})
	if err != nil {
		t.Fatalf("parse %s: %v", conf, err)
	}
	if v, _ := cfg.Get("appendonly"); v == "" {
		t.Errorf("appendonly not kept from %s", conf)
	}
	srv, err := server.Start(cfg) // bind 127.0.0.1 -::1 (the second optional)
	if err != nil {
		t.Fatalf("start with %s: %v", conf, err)
	}
	defer srv.Close()
	nc := dialPoll(t, srv.Addr())
	defer nc.Close()
	_, _ = nc.Write([]byte("PING\r\n"))
	if line, err := bufio.NewReader(nc).ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING: %q %v", line, err)
	}
}

// TestParseArgsIncludeRename: include and rename-command work from the
// command line as in a config file, and --help documents the metrics port.
func TestParseArgsIncludeRename(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	if err := os.WriteFile(inc, []byte("maxmemory 5mb\n# cached: shards 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := parseArgs([]string{"--include", inc, "--rename-command", "flushall", "", "--port", "0", "--metrics-addr", "",
		"--loglevel", "warning"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"maxmemory": "5242880", "shards": "4"} {
		if got, _ := cfg.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	srv, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	nc := dialPoll(t, srv.Addr())
	defer nc.Close()
	_, _ = nc.Write([]byte("FLUSHALL\r\n"))
	if line, _ := bufio.NewReader(nc).ReadString('\n'); !strings.HasPrefix(line, "-ERR unknown command 'FLUSHALL'") {
		t.Errorf("renamed-away FLUSHALL: %q", line)
	}
	var out, errb bytes.Buffer
	run([]string{"--help"}, &out, &errb)
	if !strings.Contains(out.String(), "port+2742 (6379 -> 9121") {
		t.Errorf("--help does not document the metrics port:\n%s", out.String())
	}
}
