package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cached/cached/server/config"
)

func TestMetricsListenAddr(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		port int
		want string
		err  bool
	}{
		{"", 6379, "", false},
		{"127.0.0.1", 6379, "127.0.0.1:9121", false}, // the default: Redis exporters' port
		{"127.0.0.1", 7000, "127.0.0.1:9742", false}, // README cluster example: one port each
		{"127.0.0.1", 7001, "127.0.0.1:9743", false},
		{"127.0.0.1", 7002, "127.0.0.1:9744", false},
		{"0.0.0.0", 0, "0.0.0.0:0", false},
		{"::1", 6380, "[::1]:9122", false},
		{"[::1]", 6380, "[::1]:9122", false},
		{"10.0.0.1:9000", 7000, "10.0.0.1:9000", false},
		{"127.0.0.1", 65000, "", true},
	} {
		got, err := metricsListenAddr(tc.dir, tc.port)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("metricsListenAddr(%q, %d) = %q, %v; want %q (error %v)", tc.dir, tc.port, got, err, tc.want, tc.err)
		}
	}
	if d := config.DefaultConfig().MetricsAddr; d != "127.0.0.1" {
		t.Errorf("default metrics-addr = %q", d)
	}
}

// TestMetricsDefaultAddrNoClash starts two nodes with the default
// metrics-addr (port 0: each gets a free metrics port): both serve metrics.
func TestMetricsDefaultAddrNoClash(t *testing.T) {
	def := config.DefaultConfig().MetricsAddr
	a := startServer(t, func(c *config.Config) { c.MetricsAddr = def })
	b := startServer(t, func(c *config.Config) { c.MetricsAddr = def })
	if a.MetricsAddr() == "" || b.MetricsAddr() == "" || a.MetricsAddr() == b.MetricsAddr() {
		t.Fatalf("metrics addresses %q and %q", a.MetricsAddr(), b.MetricsAddr())
	}
	for _, s := range []*Server{a, b} {
		if code, _ := httpGet(t, "http://"+s.MetricsAddr()+"/metrics"); code != http.StatusOK {
			t.Errorf("%s: /metrics %d", s.MetricsAddr(), code)
		}
	}
}

// readJSONLog parses a log-format json file into its records.
func readJSONLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out
}

func findLog(recs []map[string]any, msg string) map[string]any {
	for _, r := range recs {
		if r["msg"] == msg {
			return r
		}
	}
	return nil
}

// TestLogStartStopJSON checks the start line (version, addresses, config
// file, ineffective directives) and the stop lines with their reason, in
// log-format json.
func TestLogStartStopJSON(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "cached.log")
	cfg := config.DefaultConfig()
	cfg.Port, cfg.Bind, cfg.MetricsAddr = 0, []string{"127.0.0.1"}, ""
	cfg.LogFile, cfg.LogFormat = logPath, "json"
	cfg.SetConfigFile(filepath.Join(dir, "cached.conf"))
	for _, kv := range [][2]string{{"appendonly", "yes"}, {"save", "900 1"}, {"io-threads", "4"}, {"io-threads-do-reads", "no"},
		{"auto-aof-rewrite-min-size", "64mb"}} { // the last two: their defaults, spelt differently or not
		if err := cfg.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown("SIGTERM"); err != nil {
		t.Fatal(err)
	}
	recs := readJSONLog(t, logPath)
	start := findLog(recs, "cached started")
	if start == nil {
		t.Fatalf("no start line in %v", recs)
	}
	if start["version"] != Version || start["config_file"] != cfg.ConfigFile() || !strings.Contains(toJSON(start["addrs"]), s.Addr()) {
		t.Errorf("start line %v", start)
	}
	ineffective := map[string]string{}
	for _, r := range recs {
		if strings.Contains(r["msg"].(string), "has no effect") {
			ineffective[r["directive"].(string)] = r["value"].(string)
		}
	}
	want := map[string]string{"appendonly": "yes", "save": "900 1", "io-threads": "4"}
	for k, v := range want {
		if ineffective[k] != v {
			t.Errorf("no-effect log for %s = %q, want %q (all: %v)", k, ineffective[k], v, ineffective)
		}
	}
	if len(ineffective) != len(want) {
		t.Errorf("no-effect logs %v, want only %v", ineffective, want)
	}
	for _, msg := range []string{"cached stopping", "cached stopped"} {
		if r := findLog(recs, msg); r == nil || r["reason"] != "SIGTERM" || r["level"] != "WARN" {
			t.Errorf("%s line = %v", msg, r)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestShutdownCommandReason: SHUTDOWN asks the owner to stop with a reason
// naming the client.
func TestShutdownCommandReason(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	_, _ = do(t, rc, "SHUTDOWN")
	<-s.ShutdownRequested()
	reason, fatal := s.ShutdownReason()
	if !strings.HasPrefix(reason, "SHUTDOWN command from 127.0.0.1:") || fatal != nil {
		t.Fatalf("reason %q, fatal %v", reason, fatal)
	}
}

func readyzCode(t *testing.T, s *Server) (int, string) {
	t.Helper()
	return httpGet(t, "http://"+s.MetricsAddr()+"/readyz")
}

// TestReadyzCluster: a cluster node is ready once it has reached its seeds
// and holds slots; one whose seed does not answer stays not ready.
func TestReadyzCluster(t *testing.T) {
	withMetrics := func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" }
	first := startClusterNode(t, "", withMetrics)
	if code, body := readyzCode(t, first); code != http.StatusOK {
		t.Fatalf("node without seeds: /readyz %d %q", code, body)
	}
	second := startClusterNode(t, first.cl.node.Load().GossipAddr(), withMetrics)
	waitUntil(t, func() bool { code, _ := readyzCode(t, second); return code == http.StatusOK },
		func() string { _, body := readyzCode(t, second); return "second node: " + body })
	if second.cl.view.Load().servedSlots() == 0 {
		t.Fatal("ready without slots")
	}
	// A seed nobody listens on: an address that was just released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	lonely := startClusterNode(t, dead, withMetrics)
	code, body := readyzCode(t, lonely)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "seeds not reached") {
		t.Fatalf("node with an unreachable seed: /readyz %d %q", code, body)
	}
	_ = lonely.Close()
	// The cluster's table may be re-planned as members come and go: poll.
	waitUntil(t, func() bool { code, _ := readyzCode(t, first); return code == http.StatusOK },
		func() string { _, body := readyzCode(t, first); return "first node after the others: " + body })
}

// TestLatencyMetricNativeAndClassic gathers cached_command_duration_seconds
// and checks both forms: the native histogram's buckets (schema 4) hold
// every call where its duration falls, and the classic buckets at powers of
// two of a second are their cumulative sums.
func TestLatencyMetricNativeAndClassic(t *testing.T) {
	s := startServer(t, nil)
	get := s.cmds.lookup([]byte("get"))
	durs := []time.Duration{3 * time.Microsecond, 3 * time.Microsecond, 700 * time.Microsecond, 2 * time.Second, 10 * time.Nanosecond}
	for _, d := range durs {
		get.latency.Observe(d)
	}
	get.calls.Add(uint64(len(durs)))
	reg := prometheus.NewRegistry()
	if err := s.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var h *dto.Histogram
	for _, mf := range mfs {
		if mf.GetName() != "cached_command_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == "get" {
				h = m.GetHistogram()
			}
		}
	}
	if h == nil {
		t.Fatal("no histogram for get")
	}
	if h.GetSchema() != 4 || h.GetSampleCount() != 5 || h.GetZeroCount() != 1 {
		t.Fatalf("schema %d count %d zero %d", h.GetSchema(), h.GetSampleCount(), h.GetZeroCount())
	}
	// Decode the spans and deltas into bucket index -> count.
	buckets := map[int32]int64{}
	idx, count := int32(0), int64(0)
	deltas := h.GetPositiveDelta()
	for si, span := range h.GetPositiveSpan() {
		if si == 0 {
			idx = span.GetOffset()
		} else {
			idx += span.GetOffset()
		}
		for range span.GetLength() {
			count += deltas[0]
			deltas = deltas[1:]
			if count != 0 {
				buckets[idx] = count
			}
			idx++
		}
	}
	for _, d := range durs[:4] {
		i := int32(math.Ceil(math.Log2(d.Seconds()) * 16)) // the bucket (2^((i-1)/16), 2^(i/16)]
		if buckets[i] == 0 {
			t.Errorf("%v: bucket %d empty (buckets %v)", d, i, buckets)
		}
	}
	classic := h.GetBucket()
	if len(classic) != 21 || classic[20].GetUpperBound() != 1 {
		t.Fatalf("classic buckets %v", classic)
	}
	for _, b := range classic {
		want := uint64(0)
		for _, d := range durs {
			if d.Seconds() <= b.GetUpperBound() {
				want++
			}
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("classic le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
}

// TestClusterMetrics: members and slots served per role in cluster mode.
func TestClusterMetrics(t *testing.T) {
	nodes := startCluster(t, 3, func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
	waitReplSynced(t, nodes) // cluster-replicas 1: each node also serves replica slots
	total := 0
	for _, s := range nodes {
		_, body := httpGet(t, "http://"+s.MetricsAddr()+"/metrics")
		replica := fmt.Sprintf("cached_cluster_slots_served{role=\"replica\"} %d\n", replSlotsWanted(s))
		if !strings.Contains(body, "cached_cluster_members 3\n") || !strings.Contains(body, replica) ||
			!strings.Contains(body, "cached_ready 1\n") {
			t.Errorf("%s metrics lack cluster lines:\n%s", s.Addr(), grepLines(body, "cached_cluster|cached_ready"))
		}
		n := s.cl.view.Load().servedSlots()
		if !strings.Contains(body, fmt.Sprintf("cached_cluster_slots_served{role=\"primary\"} %d\n", n)) {
			t.Errorf("%s: primary slots, want %d:\n%s", s.Addr(), n, grepLines(body, "cached_cluster"))
		}
		total += n
	}
	if total != 16384 {
		t.Errorf("slots served sum to %d", total)
	}
}

func grepLines(text, re string) string {
	var out []string
	rx := regexp.MustCompile(re)
	for _, l := range strings.Split(text, "\n") {
		if rx.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestGrafanaDashboardMetrics: every cached_* series the dashboard queries
// is in a cluster node's scrape, so no panel stays empty for a typo.
func TestGrafanaDashboardMetrics(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/cached.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	s := startClusterNode(t, "", func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
	rc := newClient(t, s, nil)
	mustDo(t, rc, "SET", "k", "v")
	mustDo(t, rc, "GET", "k")
	_, body := httpGet(t, "http://"+s.MetricsAddr()+"/metrics")
	names := regexp.MustCompile(`cached_[a-z_]+`)
	seen := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range names.FindAllString(tg.Expr, -1) {
				if seen[name] {
					continue
				}
				seen[name] = true
				if !regexp.MustCompile(`(?m)^` + name + `(_bucket)?[{ ]`).MatchString(body) {
					t.Errorf("panel %q queries %s, not in the scrape", p.Title, name)
				}
			}
		}
	}
	for _, want := range []string{"cached_cluster_members", "cached_cluster_slots_served", "cached_command_duration_seconds",
		"cached_migration_incoming_slots", "cached_migration_table_staged_slots", "cached_migration_snapshot_bytes_loaded_total",
		"cached_migration_command_wait_seconds_bucket"} {
		if !seen[want] {
			t.Errorf("dashboard has no panel on %s", want)
		}
	}
}

// TestStartFailureLogged: a node that cannot start logs why (and its stop)
// before Start returns the error.
func TestStartFailureLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	logPath := filepath.Join(t.TempDir(), "cached.log")
	cfg := config.DefaultConfig()
	cfg.Bind, cfg.MetricsAddr, cfg.LogFile, cfg.LogFormat = []string{"127.0.0.1"}, "", logPath, "json"
	if err := cfg.Set("port", port); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(cfg); err == nil {
		t.Fatal("started on a port in use")
	}
	recs := readJSONLog(t, logPath)
	if r := findLog(recs, "cached not started"); r == nil || !strings.Contains(fmt.Sprint(r["error"]), "address already in use") {
		t.Errorf("start failure line: %v", recs)
	}
	if r := findLog(recs, "cached stopped"); r == nil || r["reason"] != "start-up failed" {
		t.Errorf("stop line: %v", recs)
	}
}
