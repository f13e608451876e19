package server

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/cached/cached/server/config"
)

func metricsServer(t *testing.T) *Server {
	t.Helper()
	return startServer(t, func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// sampleValue returns the value of family name's sample whose labels
// include want (counter, gauge, or a histogram's count).
func sampleValue(fams []*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range want {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func TestMetricsLintAndValuesMove(t *testing.T) {
	s := metricsServer(t)
	rc := newClient(t, s, nil)
	reg := prometheus.NewRegistry()
	if err := s.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	mustDo(t, rc, "SET", "a", "1")
	mustDo(t, rc, "SET", "b", "2", "EX", "100")
	mustDo(t, rc, "GET", "a")
	_, _ = do(t, rc, "GET", "missing") // a miss: redis.Nil
	_, _ = do(t, rc, "GET")            // arity error: rejected
	mustDo(t, rc, "CONFIG", "GET", "maxmemory")

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cached_commands_processed_total", map[string]string{"cmd": "set"}, 2},
		{"cached_commands_processed_total", map[string]string{"cmd": "get"}, 2},
		{"cached_commands_rejected_total", map[string]string{"cmd": "get"}, 1},
		{"cached_commands_processed_total", map[string]string{"cmd": "config|get"}, 1},
		{"cached_command_duration_seconds", map[string]string{"cmd": "set"}, 2},
		{"cached_keyspace_hits_total", nil, 1},
		{"cached_keyspace_misses_total", nil, 1},
		{"cached_db_keys", map[string]string{"db": "0"}, 2},
		{"cached_db_expiring_keys", map[string]string{"db": "0"}, 1},
	}
	for _, tc := range cases {
		got, ok := sampleValue(fams, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	for _, name := range []string{"cached_memory_used_bytes", "cached_connected_clients",
		"cached_connections_received_total", "cached_net_input_bytes_total", "go_goroutines"} {
		if v, ok := sampleValue(fams, name, nil); !ok || v <= 0 {
			t.Errorf("%s = %v (found %v), want > 0", name, v, ok)
		}
	}
}

func TestMetricsHTTPEndpoints(t *testing.T) {
	s := metricsServer(t)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "SET", "k", "v")
	base := "http://" + s.MetricsAddr()
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics status %d", code)
	}
	for _, want := range []string{
		`cached_commands_processed_total{cmd="set"} 1`,
		`cached_command_duration_seconds_bucket{cmd="set",le="+Inf"} 1`,
		"# TYPE cached_keyspace_hits_total counter",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint (scrape): %s: %s", p.Metric, p.Text)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := httpGet(t, base+path); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s = %d %q", path, code, body)
		}
	}
}

func TestMetricsCloseStopsHTTP(t *testing.T) {
	s := metricsServer(t)
	addr := s.MetricsAddr()
	if addr == "" {
		t.Fatal("no metrics address")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the HTTP goroutine; the port no longer accepts.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Fatalf("metrics address %s still accepts after Close", addr)
	}
	// The address is free again: a new listener can take it.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("metrics address not released: %v", err)
	}
	_ = ln.Close()
}

func TestMetricsDisabled(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MetricsAddr = "" })
	if s.MetricsAddr() != "" {
		t.Fatalf("MetricsAddr = %q, want empty", s.MetricsAddr())
	}
}
