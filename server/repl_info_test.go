package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cached/cached/server/config"
)

// infoFields parses INFO text into field -> value, and the comma-separated
// sub-fields of a value (slaveN, replica_ofN) into name=value pairs.
func infoFields(text string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(text, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, "#") {
			out[k] = v
		}
	}
	return out
}

func subFields(v string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		k, x, _ := strings.Cut(kv, "=")
		out[k] = x
	}
	return out
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// gatherRepl scrapes s's metrics into name{labels} -> value.
func gatherRepl(t *testing.T, s *Server) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := s.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = metricValue(m)
		}
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestReplicationInfoMetricsLogs: INFO replication, the metrics and the log
// lines describe the links, and their numbers move with writes.
func TestReplicationInfoMetricsLogs(t *testing.T) {
	dir := t.TempDir()
	var logs []string
	nodes := replNodes(t, 3, func(c *config.Config) {
		c.LogLevel = "notice"
		c.LogFile = filepath.Join(dir, fmt.Sprintf("n%d.log", len(logs)))
		logs = append(logs, c.LogFile)
	})
	s := nodes[0]
	self := s.cl.node.Load().ID()
	before := infoFields(replInfo(s))
	if before["role"] != "master" || atoi(t, before["slots_primary"]) == 0 || atoi(t, before["slots_replica"]) == 0 ||
		atoi(t, before["connected_slaves"]) == 0 || before["replica_of0"] == "" {
		t.Fatalf("INFO replication:\n%s", replInfo(s))
	}
	sl := subFields(before["slave0"])
	for _, k := range []string{"ip", "port", "state", "offset", "lag", "id", "slots", "lag_records", "lag_ms",
		"snapshot_slots_left", "snapshot_slots_done", "snapshot_keys", "snapshot_bytes"} {
		if _, ok := sl[k]; !ok {
			t.Fatalf("slave0 has no %s: %q", k, before["slave0"])
		}
	}
	// The snapshot counters are the current connection's: one that resumed
	// every slot from the backlog (a reconnect after a table change) sent
	// none, so only "nothing left" is certain here.
	if sl["state"] != "online" || atoi(t, sl["slots"]) == 0 || atoi(t, sl["snapshot_slots_left"]) != 0 ||
		s.cl.view.Load().t.Member(s.cl.view.Load().t.IndexOf(sl["id"])).Addr() != sl["ip"]+":"+sl["port"] {
		t.Fatalf("slave0 %q", before["slave0"])
	}
	if ro := subFields(before["replica_of0"]); ro["link"] != "up" || ro["slots"] != ro["slots_live"] || ro["slots"] == "0" {
		t.Fatalf("replica_of0 %q", before["replica_of0"])
	} else {
		atoi(t, ro["slot_changes"]) // present and a number
	}
	m0 := gatherRepl(t, s)
	conns := connsTo(t, nodes)
	ctx := ctxT(t)
	for i := 0; i < 400; i++ {
		if k := fmt.Sprint("im:", i); ownerOf(nodes, k) == s {
			if err := conns[s].Set(ctx, k, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := conns[s].Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT %d %v", n, err)
	}
	after := infoFields(replInfo(s))
	for _, k := range []string{"master_repl_offset", "repl_backlog_histlen", "repl_backlog_last_index"} {
		if atoi(t, after[k]) <= atoi(t, before[k]) {
			t.Fatalf("%s did not grow: %s -> %s", k, before[k], after[k])
		}
	}
	m1 := gatherRepl(t, s)
	if m1["cached_repl_offset{}"] <= m0["cached_repl_offset{}"] || m1["cached_repl_backlog_bytes{kind=used}"] == 0 {
		t.Fatalf("cached_repl_offset %v -> %v", m0["cached_repl_offset{}"], m1["cached_repl_offset{}"])
	}
	rep := sl["id"]
	for _, k := range []string{"cached_repl_replica_lag_records{replica=" + rep + "}", "cached_repl_replica_lag_seconds{replica=" + rep + "}",
		"cached_repl_replica_sync_bytes_sent{replica=" + rep + "}", "cached_repl_full_sync_slots_total{}"} {
		if _, ok := m1[k]; !ok {
			t.Fatalf("metric %s missing", k)
		}
	}
	if m1["cached_repl_full_sync_slots_total{}"] == 0 || m1["cached_cluster_slots_served{role=replica}"] == 0 {
		t.Fatal("no slot was ever snapshotted, or the replica slot count is 0")
	}
	if _, ok := m1["cached_repl_replica_sync_slots{replica="+rep+",state=done}"]; !ok {
		t.Fatal("sync progress metric missing")
	}
	live := 0.0
	for k, v := range m1 {
		if strings.HasPrefix(k, "cached_repl_follow_slots{") && strings.HasSuffix(k, "state=live}") {
			live += v
		}
	}
	if int64(live) != atoi(t, after["slots_replica"]) {
		t.Fatalf("follow_slots live %v, slots_replica %s", live, after["slots_replica"])
	}
	// Every link's sync started with a log line on its primary, and a run of
	// snapshots that finished ended with one. A link a table change cut
	// before its snapshots finished logs no end; its successor may resume
	// every slot from the backlog (slots_full=0) and have none to finish.
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	var start, end, resumedLast, anyEnd bool
	for _, l := range strings.Split(string(b), "\n") {
		done := strings.Contains(l, `msg="replica sync done" `) && strings.Contains(l, " slots=") &&
			strings.Contains(l, " keys=") && strings.Contains(l, " bytes=") && strings.Contains(l, " duration=")
		anyEnd = anyEnd || done
		if !strings.Contains(l, " replica="+rep+" ") {
			continue
		}
		if strings.Contains(l, `msg="replica sync" `) && strings.Contains(l, " slots_full=") {
			start, resumedLast = true, strings.Contains(l, " slots_full=0")
		}
		end = end || done
	}
	if !start || !anyEnd || !end && !resumedLast {
		t.Fatalf("%s's log has no sync start/end lines for %s:\n%s", self, rep, b)
	}
}
