package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cached/cached/server"
)

// TestHealthcheck runs `cached healthcheck` against a real node: 0 while
// it serves (by flag and by config file, /healthz and /readyz), 1 once it
// has stopped or when metrics are off.
func TestHealthcheck(t *testing.T) {
	cfg, _, err := parseArgs([]string{"--port", "0", "--metrics-addr", "127.0.0.1:0", "--loglevel", "warning"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.MetricsAddr()
	conf := filepath.Join(t.TempDir(), "cached.conf")
	if err := os.WriteFile(conf, []byte("metrics-addr "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"healthcheck", "--metrics-addr", addr},
		{"healthcheck", "--ready", "--metrics-addr", addr},
		{"healthcheck", conf},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "ok http://") {
			t.Errorf("%v: exit %d, out %q, err %q", args, code, out.String(), errb.String())
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"healthcheck", "--metrics-addr", addr},
		{"healthcheck", "--metrics-addr", ""},
		{"healthcheck", "--version"},
		{"healthcheck", "--port", "x"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 1 || !strings.HasPrefix(errb.String(), "cached healthcheck: ") {
			t.Errorf("%v after stop: exit %d, err %q; want 1 and a reason", args, code, errb.String())
		}
	}
}

func TestProbeURL(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:9121":   "http://127.0.0.1:9121/healthz",
		":9121":          "http://127.0.0.1:9121/healthz",
		"[::]:9121":      "http://127.0.0.1:9121/healthz",
		"10.1.2.3:9121":  "http://10.1.2.3:9121/healthz",
		"[::1]:9121":     "http://[::1]:9121/healthz",
		"cache-1.x:9121": "http://cache-1.x:9121/healthz",
	} {
		if got, err := probeURL(in, "/healthz"); err != nil || got != want {
			t.Errorf("probeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := probeURL("9121", "/healthz"); err == nil {
		t.Error("probeURL without a port separator: no error")
	}
}

func TestBuildCommit(t *testing.T) {
	info := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		ldflags string
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"", info, true, "abc123-dirty"},
		{"", &debug.BuildInfo{Settings: info.Settings[:1]}, true, "abc123"},
		{"", &debug.BuildInfo{}, true, "unknown"},
		{"", nil, false, "unknown"},
		{"f00d", info, true, "f00d"},
	} {
		commit = tc.ldflags
		if got := buildCommit(tc.info, tc.ok); got != tc.want {
			t.Errorf("buildCommit(ldflags %q) = %q, want %q", tc.ldflags, got, tc.want)
		}
	}
	commit = ""
	var out bytes.Buffer
	printVersion(&out)
	if !strings.HasPrefix(out.String(), "cached v="+server.Version+" sha=") || !strings.Contains(out.String(), " go=go") {
		t.Errorf("version line %q", out.String())
	}
}
