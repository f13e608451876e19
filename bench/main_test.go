package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/bench/load"
	"github.com/cached/cached/server"
	"github.com/cached/cached/server/config"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args  []string
		check func(load.Config, options) string
		err   bool
	}{
		{[]string{}, func(c load.Config, _ options) string {
			if len(c.Commands) != 2 || c.Commands[0].Weight != 1 || c.Commands[1].Weight != 10 || c.Addrs[0] != "127.0.0.1:6379" {
				return "defaults: want SET:GET 1:10 on 127.0.0.1:6379"
			}
			return ""
		}, false},
		{[]string{"--addr", "a:1, b:2", "--cluster", "--clients", "3", "--pipeline", "16", "--requests", "100"}, func(c load.Config, _ options) string {
			if len(c.Addrs) != 2 || c.Addrs[1] != "b:2" || !c.Cluster || c.Clients != 3 || c.Pipeline != 16 || c.Requests != 100 {
				return "addr list / cluster / clients / pipeline / requests not applied"
			}
			return ""
		}, false},
		{[]string{"--command", "INCR __key__", "--command", "3:LPUSH l __data__"}, func(c load.Config, _ options) string {
			if len(c.Commands) != 2 || c.Commands[0].Name != "INCR" || c.Commands[1].Weight != 3 {
				return "--command alone must replace the ratio"
			}
			return ""
		}, false},
		{[]string{"--command", "INCR __key__", "--ratio", "1:0"}, func(c load.Config, _ options) string {
			if len(c.Commands) != 2 || c.Commands[0].Name != "SET" || c.Commands[1].Name != "INCR" {
				return "--ratio with --command must keep both"
			}
			return ""
		}, false},
		{[]string{"--key-dist", "zipf:1.1", "--data-size", "10-20", "--ttl", "1m", "--rate", "500", "--warmup", "1s"}, func(c load.Config, _ options) string {
			if c.KeyDist.Param != 1.1 || c.DataMin != 10 || c.DataMax != 20 || c.Rate != 500 || c.Warmup != time.Second {
				return "workload flags not applied"
			}
			if got := strings.Join(c.Commands[0].Args, " "); got != "SET __key__ __data__ EX 60" {
				return "TTL not on SET: " + got
			}
			return ""
		}, false},
		{[]string{"--compare", "a:1,b:2", "--rounds", "5", "--json", "x.json"}, func(_ load.Config, o options) string {
			if o.compare != "a:1,b:2" || o.rounds != 5 || o.jsonFile != "x.json" {
				return "compare options not applied"
			}
			return ""
		}, false},
		{[]string{"--key-dist", "pareto"}, nil, true},
		{[]string{"--data-size", "9-1"}, nil, true},
		{[]string{"--ratio", "x"}, nil, true},
		{[]string{"--clients", "0"}, nil, true},
		{[]string{"--compare", "a:1"}, nil, true},
		{[]string{"stray"}, nil, true},
	}
	for _, tt := range tests {
		cfg, opt, err := parseFlags(tt.args, io.Discard)
		if tt.err {
			if err == nil {
				t.Errorf("%v: no error", tt.args)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if msg := tt.check(cfg, opt); msg != "" {
			t.Errorf("%v: %s", tt.args, msg)
		}
	}
	if _, _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestRunWritesReports runs the command's path end to end against an
// in-process cached node and checks the table, the JSON and the HTML files.
func TestRunWritesReports(t *testing.T) {
	scfg := config.DefaultConfig()
	scfg.Port, scfg.Bind, scfg.LogLevel, scfg.MetricsAddr = 0, []string{"127.0.0.1"}, "warning", ""
	s, err := server.Start(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	jsonFile, htmlFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	cfg, opt, err := parseFlags([]string{"--addr", s.Addr(), "--requests", "2000", "--clients", "4", "--keyspace", "100",
		"--preload", "--json", jsonFile, "--html", htmlFile, "--progress", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), cfg, opt, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "TOTAL") || errOut.Len() != 0 {
		t.Errorf("stdout %q, stderr %q (--progress 0: no progress lines off a terminal)", out.String(), errOut.String())
	}
	raw, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var res load.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if res.Total.Requests != 2000 || res.Total.HitRatio != 1 {
		t.Errorf("JSON total: %+v", res.Total)
	}
	page, err := os.ReadFile(htmlFile)
	if err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("HTML report missing or without charts: %v", err)
	}
}

func TestProgressLine(t *testing.T) {
	got := load.ProgressLine(load.Progress{Phase: "run", Elapsed: 2 * time.Second, Left: 8 * time.Second, OpsPerSec: 12345, P99: 1500 * time.Microsecond, Errors: 3})
	for _, want := range []string{"run", "12345 ops/s", "p99", "1.500 ms", "errors 3", "8s left"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress line %q lacks %q", got, want)
		}
	}
}

// TestProgressOffTerminal feeds the off-terminal printer a preload and a
// run, one call a second as the collector makes them: one line per
// interval of each phase, each ending in a newline, no terminal controls.
func TestProgressOffTerminal(t *testing.T) {
	var b bytes.Buffer
	p := progressPrinter(&b, false, 5*time.Second)
	for _, phase := range []string{"preload", "run", "run"} { // the second run: --compare's next round
		for s := 1; s <= 12; s++ {
			p(load.Progress{Phase: phase, Elapsed: time.Duration(s) * time.Second, OpsPerSec: 1000})
		}
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 6 || strings.ContainsAny(b.String(), "\r\033") {
		t.Fatalf("got %d lines %q; want 6 plain lines (5 s and 10 s of each phase)", len(lines), b.String())
	}
	for i, want := range []string{"preload", "run", "run"} {
		for j, at := range []string{"5.0s", "10.0s"} {
			if l := lines[2*i+j]; !strings.HasPrefix(l, "bench: "+want) || !strings.Contains(l, at) {
				t.Errorf("line %d = %q, want the %s line at %s", 2*i+j, l, want, at)
			}
		}
	}
	if progressPrinter(&b, false, 0) != nil {
		t.Error("--progress 0 off a terminal still prints")
	}
	b.Reset()
	progressPrinter(&b, true, 0)(load.Progress{Phase: "run", Elapsed: time.Second})
	if !strings.HasPrefix(b.String(), "\r") {
		t.Errorf("terminal line %q does not rewrite itself", b.String())
	}
}

// TestProgressLinesInRun runs the command's path for 3 s with --progress
// 1s into a buffer (not a terminal): progress lines appear on stderr.
func TestProgressLinesInRun(t *testing.T) {
	scfg := config.DefaultConfig()
	scfg.Port, scfg.Bind, scfg.LogLevel, scfg.MetricsAddr = 0, []string{"127.0.0.1"}, "warning", ""
	s, err := server.Start(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg, opt, err := parseFlags([]string{"--addr", s.Addr(), "--duration", "3s", "--clients", "2", "--rate", "2000", "--progress", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), cfg, opt, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "bench: run") || !strings.Contains(out.String(), "TOTAL") {
		t.Errorf("stderr %q, stdout %q; want progress lines and the table", errOut.String(), out.String())
	}
}
