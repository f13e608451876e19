package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cached/cached/server/config"
)

// introClients returns a RESP3 and a RESP2 go-redis client, by name.
func introClients(t *testing.T, s *Server) map[string]*redis.Client {
	return map[string]*redis.Client{"resp3": newClient(t, s, nil), "resp2": newClient(t, s, resp2)}
}

// introRueidis returns a rueidis client (RESP3, no client-side cache).
func introRueidis(t *testing.T, s *Server) rueidis.Client {
	t.Helper()
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()},
		DisableCache: true, ConnWriteTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("rueidis: %v", err)
	}
	t.Cleanup(rc.Close)
	return rc
}

// introParseInfo checks INFO's layout ("# Title" headers, "\r\n" line
// ends, one blank line between sections) and returns the section titles in
// order and every field.
func introParseInfo(t *testing.T, text string) ([]string, map[string]string) {
	t.Helper()
	fields := map[string]string{}
	var titles []string
	if text == "" {
		return nil, fields
	}
	if !strings.HasSuffix(text, "\r\n") {
		t.Fatalf("INFO does not end with CRLF: %q", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	for i, line := range lines {
		switch {
		case strings.Contains(line, "\n"):
			t.Fatalf("bare LF in line %q", line)
		case strings.HasPrefix(line, "# "):
			if i > 0 && lines[i-1] != "" {
				t.Fatalf("no blank line before %q", line)
			}
			titles = append(titles, line[2:])
		case line == "":
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "# ") {
				t.Fatalf("blank line not followed by a header at line %d", i)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" {
				t.Fatalf("bad INFO line %q", line)
			}
			fields[k] = v
		}
	}
	return titles, fields
}

func introInfo(t *testing.T, rc *redis.Client, sections ...string) map[string]string {
	t.Helper()
	text, err := rc.Info(ctxT(t), sections...).Result()
	if err != nil {
		t.Fatalf("INFO %v: %v", sections, err)
	}
	_, f := introParseInfo(t, text)
	return f
}

func introInt(t *testing.T, f map[string]string, name string) int64 {
	t.Helper()
	v, ok := f[name]
	if !ok {
		t.Fatalf("INFO has no field %s", name)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", name, v, err)
	}
	return n
}

func TestIntroInfoSections(t *testing.T) {
	s := startServer(t, nil)
	defaults := "Server Clients Memory Persistence Stats Replication CPU Modules Errorstats Cluster Keyspace"
	all := "Server Clients Memory Persistence Stats Replication CPU Modules Commandstats Errorstats Latencystats Cluster Migration Keyspace"
	tests := []struct {
		args []string
		want string
	}{
		{nil, defaults},
		{[]string{"default"}, defaults},
		{[]string{"DEFAULT", "server"}, defaults},
		{[]string{"all"}, all},
		{[]string{"everything"}, all},
		{[]string{"server"}, "Server"},
		{[]string{"keyspace", "CPU"}, "CPU Keyspace"},
		{[]string{"commandstats"}, "Commandstats"},
		{[]string{"modules"}, "Modules"},
		{[]string{"errorstats", "stats", "replication"}, "Stats Replication Errorstats"},
		{[]string{"nosuch"}, ""},
	}
	for name, rc := range introClients(t, s) {
		for _, tt := range tests {
			text, err := rc.Info(ctxT(t), tt.args...).Result()
			if err != nil {
				t.Fatalf("%s INFO %v: %v", name, tt.args, err)
			}
			titles, _ := introParseInfo(t, text)
			if got := strings.Join(titles, " "); got != tt.want {
				t.Errorf("%s INFO %v sections = %q, want %q", name, tt.args, got, tt.want)
			}
		}
	}
}

func TestIntroInfoFields(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxMemory = 1 << 30; c.MaxMemoryPolicy = "allkeys-lru" })
	rc := newClient(t, s, nil)
	f := introInfo(t, rc, "everything")
	_, port, _ := net.SplitHostPort(s.Addr())
	exact := map[string]string{
		"redis_version": redisVersion, "redis_mode": "standalone", "tcp_port": port,
		"process_id": strconv.Itoa(os.Getpid()), "run_id": s.runID, "arch_bits": strconv.Itoa(strconv.IntSize),
		"hz": "10", "config_file": "", "role": "master", "connected_slaves": "0", "master_repl_offset": "0",
		"loading": "0", "aof_enabled": "0", "rdb_changes_since_last_save": "0", "blocked_clients": "0",
		"rdb_last_save_time": strconv.FormatInt(s.started.Unix(), 10), "maxclients": "10000",
		"maxmemory": "1073741824", "maxmemory_human": "1.00G", "maxmemory_policy": "allkeys-lru",
		"cluster_enabled": "0", "cached_version": Version,
	}
	for k, want := range exact {
		if got, ok := f[k]; !ok || got != want {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	patterns := map[string]string{
		"master_replid": `^[0-9a-f]{40}$`, "used_cpu_sys": `^\d+\.\d{6}$`, "used_cpu_user": `^\d+\.\d{6}$`,
		"used_memory_human": `^\d+(B|\.\d\d[KMGTP])$`, "mem_fragmentation_ratio": `^\d+\.\d\d$`,
		"instantaneous_input_kbps": `^\d+\.\d\d$`, "uptime_in_seconds": `^\d+$`, "executable": `.`,
		"os": `.`, "used_memory_rss": `^\d+$`,
		"used_cpu_gc": `^\d+\.\d{6}$`, "gc_cpu_share_perc": `^\d+\.\d\d%$`, "gc_cycles": `^\d+$`,
		"sched_latency_percentiles_usec": `^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$`,
	}
	for k, pat := range patterns {
		if !regexp.MustCompile(pat).MatchString(f[k]) {
			t.Errorf("%s = %q, want match %s", k, f[k], pat)
		}
	}
	if f["run_id"] == f["master_replid"] || len(f["run_id"]) != 40 {
		t.Errorf("run_id %q, master_replid %q", f["run_id"], f["master_replid"])
	}
	if _, err := os.Stat("/proc/self/statm"); err == nil && introInt(t, f, "used_memory_rss") <= 0 {
		t.Errorf("used_memory_rss = %s", f["used_memory_rss"])
	}
}

func TestIntroInfoCountersMove(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, resp2)
	st := s.Store()
	before := introInfo(t, rc, "stats", "keyspace", "memory", "clients")
	if _, ok := before["db0"]; ok {
		t.Fatalf("empty server shows db0: %q", before["db0"])
	}
	for i := 0; i < 5; i++ {
		mustDo(t, rc, "TIME")
	}
	st.Set(0, []byte("k1"), []byte("v1"), 0, 0, "set")
	st.Set(0, []byte("k2"), []byte("v2"), time.Now().Add(time.Hour).UnixMilli(), 0, "set")
	st.Set(3, []byte("x"), []byte("y"), 0, 0, "set")
	for _, k := range []string{"k1", "k2", "nosuch"} {
		if _, _, err := st.Get(0, []byte(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	gcBefore := introInfo(t, rc, "cpu")
	runtime.GC()
	if d := introInt(t, introInfo(t, rc, "cpu"), "gc_cycles") - introInt(t, gcBefore, "gc_cycles"); d < 1 {
		t.Errorf("gc_cycles moved by %d over a runtime.GC(), want >= 1", d)
	}
	after := introInfo(t, rc, "stats", "keyspace", "memory", "clients")
	if d := introInt(t, after, "total_commands_processed") - introInt(t, before, "total_commands_processed"); d < 6 {
		t.Errorf("total_commands_processed moved by %d, want >= 6", d)
	}
	if d := introInt(t, after, "keyspace_hits") - introInt(t, before, "keyspace_hits"); d != 2 {
		t.Errorf("keyspace_hits moved by %d, want 2", d)
	}
	if d := introInt(t, after, "keyspace_misses") - introInt(t, before, "keyspace_misses"); d != 1 {
		t.Errorf("keyspace_misses moved by %d, want 1", d)
	}
	if m := regexp.MustCompile(`^keys=2,expires=1,avg_ttl=(\d+)$`).FindStringSubmatch(after["db0"]); m == nil {
		t.Errorf("db0 = %q", after["db0"])
	} else if ttl, _ := strconv.ParseInt(m[1], 10, 64); ttl <= 0 || ttl > 3600*1000+1000 {
		// The store's clock is monotonic (store.WallClock), the test's
		// expiry time.Now(): CI saw them 2 ms apart.
		t.Errorf("db0 avg_ttl = %d", ttl)
	}
	if after["db3"] != "keys=1,expires=0,avg_ttl=0" {
		t.Errorf("db3 = %q", after["db3"])
	}
	if _, ok := after["db1"]; ok {
		t.Errorf("empty db1 listed")
	}
	if introInt(t, after, "used_memory") <= introInt(t, before, "used_memory") {
		t.Errorf("used_memory did not grow: %s -> %s", before["used_memory"], after["used_memory"])
	}
	if introInt(t, after, "connected_clients") < 1 || introInt(t, after, "total_connections_received") < 1 {
		t.Errorf("clients: %s connected, %s received", after["connected_clients"], after["total_connections_received"])
	}
	if introInt(t, after, "total_net_input_bytes") <= 0 || introInt(t, after, "total_net_output_bytes") <= 0 {
		t.Errorf("net bytes: in %s out %s", after["total_net_input_bytes"], after["total_net_output_bytes"])
	}
}

func TestIntroInfoCommandAndErrorStats(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "RESETSTAT")
	for i := 0; i < 3; i++ {
		mustDo(t, rc, "TIME")
	}
	wantErr(t, rc, "ERR wrong number of arguments for 'time' command", "TIME", "extra")
	mustDo(t, rc, "CONFIG", "GET", "maxmemory")
	wantErr(t, rc, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
		"CONFIG", "SET", "maxmemory", "lots")
	wantErr(t, rc, "ERR unknown command 'nosuch', with args beginning with: 'a' ", "nosuch", "a")
	wantErr(t, rc, "ERR no such key", "DEBUG", "OBJECT", "missing")
	f := introInfo(t, rc, "commandstats", "errorstats", "stats")
	stat := regexp.MustCompile(`^calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),rejected_calls=(\d+),failed_calls=(\d+)$`)
	tests := []struct{ name, calls, rejected, failed string }{
		{"cmdstat_time", "3", "1", "0"},
		{"cmdstat_config|get", "1", "0", "0"},
		{"cmdstat_config|set", "1", "0", "1"},
		{"cmdstat_config|resetstat", "1", "0", "0"},
		{"cmdstat_debug", "1", "0", "1"},
	}
	for _, tt := range tests {
		m := stat.FindStringSubmatch(f[tt.name])
		if m == nil {
			t.Errorf("%s = %q", tt.name, f[tt.name])
			continue
		}
		if m[1] != tt.calls || m[4] != tt.rejected || m[5] != tt.failed {
			t.Errorf("%s = %q, want calls=%s rejected=%s failed=%s", tt.name, f[tt.name], tt.calls, tt.rejected, tt.failed)
		}
	}
	if _, ok := f["cmdstat_config"]; ok {
		t.Errorf("container CONFIG has its own stats: %q", f["cmdstat_config"])
	}
	if f["errorstat_ERR"] != "count=4" {
		t.Errorf("errorstat_ERR = %q, want count=4", f["errorstat_ERR"])
	}
	if f["total_error_replies"] != "4" {
		t.Errorf("total_error_replies = %q", f["total_error_replies"])
	}
}

// introRaw dials s and returns a raw connection and its reader.
func introRaw(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	return nc, bufio.NewReader(nc)
}

// introReadBulk reads a '$' or '=' reply and returns its type byte and body.
func introReadBulk(t *testing.T, r *bufio.Reader) (byte, string) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil || len(line) < 3 || (line[0] != '$' && line[0] != '=') {
		t.Fatalf("want a bulk or verbatim reply, got %q (%v)", line, err)
	}
	n, err := strconv.Atoi(strings.TrimRight(line[1:], "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return line[0], string(body[:n])
}

// introSkipReply reads and discards one RESP reply of any type.
func introSkipReply(t *testing.T, r *bufio.Reader) {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimRight(line[1:], "\r\n"))
	switch line[0] {
	case '$', '=':
		if n >= 0 {
			if _, err := io.ReadFull(r, make([]byte, n+2)); err != nil {
				t.Fatal(err)
			}
		}
	case '*', '~', '>':
		for i := 0; i < n; i++ {
			introSkipReply(t, r)
		}
	case '%':
		for i := 0; i < 2*n; i++ {
			introSkipReply(t, r)
		}
	}
}

func TestIntroInfoVerbatimInRESP3(t *testing.T) {
	s := startServer(t, nil)
	nc, r := introRaw(t, s)
	_, _ = io.WriteString(nc, "INFO server\r\n")
	typ, body := introReadBulk(t, r)
	if typ != '$' || !strings.HasPrefix(body, "# Server\r\nredis_version:") {
		t.Fatalf("RESP2 INFO: %c %q", typ, body)
	}
	_, _ = io.WriteString(nc, "HELLO 3\r\n")
	introSkipReply(t, r)
	_, _ = io.WriteString(nc, "INFO server\r\n")
	typ, body = introReadBulk(t, r)
	if typ != '=' || !strings.HasPrefix(body, "txt:# Server\r\n") {
		t.Fatalf("RESP3 INFO: %c %q", typ, body)
	}
}

func TestIntroInfoRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl := introRueidis(t, s)
	ctx := context.Background()
	text, err := cl.Do(ctx, cl.B().Info().Section("server", "keyspace").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	// rueidis keeps the verbatim string's "txt:" format prefix.
	body, ok := strings.CutPrefix(text, "txt:")
	if !ok {
		t.Fatalf("rueidis INFO without txt: prefix: %q", text)
	}
	titles, f := introParseInfo(t, body)
	if strings.Join(titles, " ") != "Server Keyspace" || f["redis_version"] != redisVersion {
		t.Fatalf("rueidis INFO: %v %q", titles, f["redis_version"])
	}
}

func BenchmarkIntroInfoDefault(b *testing.B) {
	s := startServer(b, nil)
	s.Store().Set(0, []byte("k"), []byte("v"), 0, 0, "set")
	b.ReportAllocs()
	for b.Loop() {
		_ = s.infoString(nil)
	}
}

func BenchmarkIntroCommandAll(b *testing.B) {
	s := startServer(b, nil)
	rc := newClient(b, s, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := rc.Do(ctx, "COMMAND").Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInfoScriptMemory: INFO memory counts the cached scripts, libraries
// and functions, and their code bytes, as Redis 7.0 does.
func TestInfoScriptMemory(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	read := func() map[string]string { return infoFields(mustDo(t, rc, "INFO", "memory").(string)) }
	if f := read(); f["number_of_cached_scripts"] != "0" || f["number_of_libraries"] != "0" || f["used_memory_scripts"] != "0" {
		t.Fatalf("empty: %v", f)
	}
	body := "return 1"
	mustDo(t, rc, "SCRIPT", "LOAD", body)
	mustDo(t, rc, "EVAL", "return 2", "0")
	mustDo(t, rc, "FUNCTION", "LOAD", libB)
	f := read()
	want := map[string]string{
		"number_of_cached_scripts": "2",
		"used_memory_scripts_eval": fmt.Sprint(len(body) + len("return 2")),
		"number_of_libraries":      "1",
		"number_of_functions":      "1",
		"used_memory_functions":    fmt.Sprint(len(libB)),
		"used_memory_scripts":      fmt.Sprint(len(body) + len("return 2") + len(libB)),
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	mustDo(t, rc, "SCRIPT", "FLUSH")
	mustDo(t, rc, "FUNCTION", "FLUSH")
	if f := read(); f["number_of_cached_scripts"] != "0" || f["number_of_functions"] != "0" || f["used_memory_scripts_human"] != "0B" {
		t.Fatalf("after the flushes: %v", f)
	}
}

// TestHistQuantile: a quantile is the upper bound of the bucket that
// holds it; the open last bucket answers its lower bound.
func TestHistQuantile(t *testing.T) {
	h := &metrics.Float64Histogram{
		Counts:  []uint64{90, 9, 1},
		Buckets: []float64{0, 1e-6, 1e-3, math.Inf(1)},
	}
	for _, c := range []struct{ q, want float64 }{
		{0.5, 1e-6}, {0.9, 1e-6}, {0.95, 1e-3}, {0.99, 1e-3}, {0.999, 1e-3}, {1, 1e-3},
	} {
		if got := histQuantile(h, c.q); got != c.want {
			t.Errorf("quantile %v: %v, want %v", c.q, got, c.want)
		}
	}
	if got := histQuantile(&metrics.Float64Histogram{Counts: []uint64{0}, Buckets: []float64{0, 1}}, 0.99); got != 0 {
		t.Errorf("empty histogram: %v", got)
	}
	if got := histQuantile(nil, 0.5); got != 0 {
		t.Errorf("no histogram: %v", got)
	}
}
