package server

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestLatencyMonitorEvents(t *testing.T) {
	s := startServer(t, nil)
	for _, rc := range []*redis.Client{newClient(t, s, nil), newClient(t, s, resp2)} {
		mustDo(t, rc, "LATENCY", "RESET")
		if got := mustDo(t, rc, "LATENCY", "LATEST").([]any); len(got) != 0 {
			t.Fatalf("LATEST before any event: %v", got)
		}
		mustDo(t, rc, "CONFIG", "SET", "latency-monitor-threshold", "1")
		before := time.Now().Unix()
		mustDo(t, rc, "DEBUG", "SLEEP", "0.01") // a slow (non-fast) command: event "command"
		latest := mustDo(t, rc, "LATENCY", "LATEST").([]any)
		if len(latest) != 1 {
			t.Fatalf("LATEST = %v", latest)
		}
		row := latest[0].([]any)
		if row[0] != "command" || row[1].(int64) < before || row[2].(int64) < 10 || row[3].(int64) < row[2].(int64) {
			t.Fatalf("LATEST row = %v", row)
		}
		hist := mustDo(t, rc, "LATENCY", "HISTORY", "command").([]any)
		if len(hist) != 1 || hist[0].([]any)[1].(int64) < 10 {
			t.Fatalf("HISTORY = %v", hist)
		}
		if got := mustDo(t, rc, "LATENCY", "HISTORY", "nosuch").([]any); len(got) != 0 {
			t.Fatalf("HISTORY of an unknown event = %v", got)
		}
		mustDo(t, rc, "CONFIG", "SET", "latency-monitor-threshold", "0")
		mustDo(t, rc, "DEBUG", "SLEEP", "0.01") // off: not recorded
		if n := mustDo(t, rc, "LATENCY", "RESET", "command", "nosuch"); n != int64(1) {
			t.Fatalf("RESET = %v", n)
		}
		if got := mustDo(t, rc, "LATENCY", "LATEST").([]any); len(got) != 0 {
			t.Fatalf("LATEST after RESET: %v", got)
		}
	}
}

func TestLatencyHistogram(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, resp2)
	for i := 0; i < 5; i++ {
		mustDo(t, rc, "SET", "k", "v")
	}
	mustDo(t, rc, "CONFIG", "GET", "port")
	got := mustDo(t, rc, "LATENCY", "HISTOGRAM", "set", "config|get", "nosuch").([]any)
	if len(got) != 4 || got[0] != "set" || got[2] != "config|get" {
		t.Fatalf("HISTOGRAM = %v", got)
	}
	set := got[1].([]any)
	if set[0] != "calls" || set[1] != int64(5) || set[2] != "histogram_usec" {
		t.Fatalf("set entry = %v", set)
	}
	h := set[3].([]any)
	if len(h) < 2 || len(h)%2 != 0 || h[len(h)-1] != int64(5) {
		t.Fatalf("set histogram = %v (last cumulative count must be the calls)", h)
	}
	for i := 2; i < len(h); i += 2 {
		if h[i].(int64) <= h[i-2].(int64) || h[i+1].(int64) <= h[i-1].(int64) {
			t.Fatalf("histogram bounds and counts must grow: %v", h)
		}
	}
	rc3 := newClient(t, s, nil) // RESP3: a map
	m, err := rc3.Do(ctxT(t), "LATENCY", "HISTOGRAM", "set").Result()
	if err != nil {
		t.Fatal(err)
	}
	if mm, ok := m.(map[any]any); !ok || mm["set"] == nil {
		t.Fatalf("RESP3 HISTOGRAM = %#v", m)
	}
	wantErr(t, rc, "ERR unknown subcommand 'DOCTOR'. Try LATENCY HELP.", "LATENCY", "DOCTOR")
	if help := mustDo(t, rc, "LATENCY", "HELP").([]any); len(help) < 5 {
		t.Fatalf("HELP = %v", help)
	}
}
