package server

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cached/cached/server/pubsub"
)

// INFO: Redis 7.0's sections and field names, so that dashboards and
// exporters written for redis-server read cached's figures. Fields whose
// Redis meaning does not exist here (forks, AOF, RDB, listpacks) report the
// value of a Redis that never did it: 0, -1 or "ok".

// infoSection is one INFO section: its lower-case name, whether INFO with no
// argument (or "default") shows it, and its writer.
type infoSection struct {
	name  string
	title string
	def   bool
	write func(s *Server, b *strings.Builder)
}

// infoSections lists the sections in the order Redis 7.0 prints them.
var infoSections = []infoSection{
	{"server", "Server", true, (*Server).infoServer},
	{"clients", "Clients", true, (*Server).infoClients},
	{"memory", "Memory", true, (*Server).infoMemory},
	{"persistence", "Persistence", true, (*Server).infoPersistence},
	{"stats", "Stats", true, (*Server).infoStats},
	{"replication", "Replication", true, (*Server).infoReplication},
	{"cpu", "CPU", true, (*Server).infoCPU},
	{"modules", "Modules", true, func(*Server, *strings.Builder) {}},
	{"commandstats", "Commandstats", false, (*Server).infoCommandStats},
	{"errorstats", "Errorstats", true, (*Server).infoErrorStats},
	{"latencystats", "Latencystats", false, (*Server).latencyStatsInfo},
	{"cluster", "Cluster", true, (*Server).infoCluster},
	{"migration", "Migration", false, (*Server).infoMigration},
	{"keyspace", "Keyspace", true, (*Server).infoKeyspace},
}

func infoCommand(c *client, args [][]byte) {
	c.Verbatim(c.s.infoString(args[1:]))
}

// infoString renders the sections args ask for, as INFO does: none means
// the default ones; "default", "all" and "everything" select groups; unknown
// names select nothing.
func (s *Server) infoString(args [][]byte) string {
	all := false
	want := map[string]bool{}
	if len(args) == 0 {
		want["default"] = true
	}
	for _, a := range args {
		switch name := strings.ToLower(string(a)); name {
		case "all", "everything":
			all = true
		case "module_list":
			want["modules"] = true
		default:
			want[name] = true
		}
	}
	var b strings.Builder
	b.Grow(4096)
	n := 0
	for _, sec := range infoSections {
		if !all && !want[sec.name] && !(want["default"] && sec.def) {
			continue
		}
		if n > 0 {
			b.WriteString("\r\n")
		}
		n++
		b.WriteString("# " + sec.title + "\r\n")
		sec.write(s, &b)
	}
	return b.String()
}

// field writes one "name:value\r\n" line.
func field(b *strings.Builder, name string, v any) {
	b.WriteString(name)
	b.WriteByte(':')
	switch x := v.(type) {
	case string:
		b.WriteString(x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', 2, 64))
	default:
		fmt.Fprint(b, x)
	}
	b.WriteString("\r\n")
}

// infoConfig is the part of the configuration INFO shows, read under cfgMu.
type infoConfig struct {
	hz         int
	maxClients int
	maxMemory  int64
	policy     string
	file       string
	cluster    bool
}

func (s *Server) infoConfig() infoConfig {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	ic := infoConfig{hz: s.cfg.Hz, maxClients: s.cfg.MaxClients, maxMemory: s.cfg.MaxMemory,
		policy: s.cfg.MaxMemoryPolicy, file: s.cfg.ConfigFile()}
	if v, ok := s.cfg.Get("cluster-enabled"); ok && v == "yes" {
		ic.cluster = true
	}
	return ic
}

func (s *Server) infoServer(b *strings.Builder) {
	ic := s.infoConfig()
	now := time.Now()
	uptime := int64(now.Sub(s.started) / time.Second)
	exe, _ := os.Executable()
	cfgFile := ic.file
	if cfgFile != "" {
		if abs, err := filepath.Abs(cfgFile); err == nil {
			cfgFile = abs
		}
	}
	mode := "standalone"
	if ic.cluster {
		mode = "cluster"
	}
	field(b, "redis_version", redisVersion)
	field(b, "redis_git_sha1", "00000000")
	field(b, "redis_git_dirty", 0)
	field(b, "redis_build_id", "0")
	field(b, "redis_mode", mode)
	field(b, "cached_version", Version)
	field(b, "os", osName())
	field(b, "arch_bits", strconv.IntSize)
	field(b, "monotonic_clock", "Go runtime monotonic clock")
	field(b, "multiplexing_api", multiplexingAPI())
	field(b, "atomicvar_api", "go-sync-atomic")
	field(b, "gcc_version", "0.0.0")
	field(b, "go_version", runtime.Version())
	field(b, "process_id", os.Getpid())
	field(b, "process_supervised", "no")
	field(b, "run_id", s.runID)
	field(b, "tcp_port", s.listenPort())
	field(b, "server_time_usec", now.UnixMicro())
	field(b, "uptime_in_seconds", uptime)
	field(b, "uptime_in_days", uptime/86400)
	field(b, "hz", ic.hz)
	field(b, "configured_hz", ic.hz)
	field(b, "lru_clock", now.Unix()&(1<<24-1))
	field(b, "executable", exe)
	field(b, "config_file", cfgFile)
	field(b, "io_threads_active", 0)
}

// listenPort is the TCP port of the first listener (the one chosen when the
// configured port is 0).
func (s *Server) listenPort() int {
	_, p, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// osName is uname's "sysname release machine", as Redis prints it.
func osName() string {
	sys := runtime.GOOS
	if len(sys) > 0 {
		sys = strings.ToUpper(sys[:1]) + sys[1:]
	}
	if b, err := os.ReadFile("/proc/sys/kernel/ostype"); err == nil {
		sys = strings.TrimSpace(string(b))
	}
	rel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		rel = strings.TrimSpace(string(b))
	}
	machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686"}[runtime.GOARCH]
	if machine == "" {
		machine = runtime.GOARCH
	}
	return strings.Join(strings.Fields(sys+" "+rel+" "+machine), " ")
}

func multiplexingAPI() string {
	switch runtime.GOOS {
	case "linux":
		return "epoll"
	case "darwin", "freebsd", "netbsd", "openbsd":
		return "kqueue"
	}
	return "go-netpoll"
}

func (s *Server) infoClients(b *strings.Builder) {
	ic := s.infoConfig()
	field(b, "connected_clients", s.clients.count())
	field(b, "cluster_connections", 0)
	field(b, "maxclients", ic.maxClients)
	field(b, "client_recent_max_input_buffer", 0)
	field(b, "client_recent_max_output_buffer", 0)
	field(b, "blocked_clients", s.pause.waiting.Load()+s.blocks.n.Load())
	field(b, "tracking_clients", 0)
	field(b, "clients_in_timeout_table", s.blocks.timed.Load())
}

// memStats are the memory figures INFO memory and MEMORY STATS share.
type memStats struct {
	used     int64 // dataset + overhead: what maxmemory limits (used_memory)
	dataset  int64 // bytes the store accounts to keys
	overhead int64 // client buffers and replication backlog (memory.go)
	peak     int64
	rss      int64 // resident set size of the process
	// The allocator is the Go heap plus the store's off-heap arenas
	// (store.OffHeapBytes: slabs, record chunks, large indexes), which
	// count in each of allocated, active and resident.
	allocated int64 // Go heap bytes in live objects, and the arenas
	active    int64 // Go heap bytes in spans in use, and the arenas
	resident  int64 // bytes the Go runtime holds from the OS, minus released, and the arenas
	system    int64 // total physical memory, 0 if unknown
	keys      int64
}

// runtimeSamples are the runtime/metrics INFO reads; reading them does not
// stop the world, unlike runtime.ReadMemStats.
var runtimeSampleNames = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
}

func (s *Server) memStats() memStats {
	m := memStats{rss: readRSS(), system: totalSystemMemory()}
	m.dataset, m.overhead = s.usedMemory()
	m.used = m.dataset + m.overhead
	samples := make([]metrics.Sample, len(runtimeSampleNames))
	for i, n := range runtimeSampleNames {
		samples[i].Name = n
	}
	metrics.Read(samples)
	val := func(i int) int64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return int64(samples[i].Value.Uint64())
		}
		return 0
	}
	off := s.store.OffHeapBytes()
	m.allocated = val(0) + off
	m.active = val(0) + val(1) + off
	m.resident = val(2) - val(3) + off
	m.peak = usedMemoryPeak(s, m.used)
	for db := 0; db < s.store.Databases(); db++ {
		m.keys += s.store.DBSize(db)
	}
	return m
}

// usedMemoryPeak returns the peak of used memory: the highest value the
// cron goroutine sampled (every 100 ms), or used if that is higher.
func usedMemoryPeak(s *Server, used int64) int64 {
	s.stats.notePeak(used)
	return s.stats.memPeak.Load()
}

// readRSS returns the resident set size from /proc/self/statm (0 if absent).
func readRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// totalSystemMemory reads MemTotal from /proc/meminfo (0 if absent).
func totalSystemMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// bytesToHuman formats n as Redis does: 512B, 1.50K, 2.00M, 1.00G …
func bytesToHuman(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	units := "KMGTP"
	d := float64(n)
	for i := 0; i < len(units); i++ {
		d /= 1024
		if d < 1024 || i == len(units)-1 {
			return strconv.FormatFloat(d, 'f', 2, 64) + units[i:i+1]
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (s *Server) infoMemory(b *strings.Builder) {
	ic := s.infoConfig()
	m := s.memStats()
	field(b, "used_memory", m.used)
	field(b, "used_memory_human", bytesToHuman(m.used))
	field(b, "used_memory_rss", m.rss)
	field(b, "used_memory_rss_human", bytesToHuman(m.rss))
	field(b, "used_memory_peak", m.peak)
	field(b, "used_memory_peak_human", bytesToHuman(m.peak))
	field(b, "used_memory_peak_perc", strconv.FormatFloat(100*ratio(m.used, m.peak), 'f', 2, 64)+"%")
	field(b, "used_memory_overhead", m.overhead)
	field(b, "used_memory_startup", 0)
	field(b, "used_memory_dataset", m.dataset)
	field(b, "used_memory_dataset_perc", strconv.FormatFloat(100*ratio(m.dataset, m.used), 'f', 2, 64)+"%")
	field(b, "allocator_allocated", m.allocated)
	field(b, "allocator_active", m.active)
	field(b, "allocator_resident", m.resident)
	field(b, "total_system_memory", m.system)
	field(b, "total_system_memory_human", bytesToHuman(m.system))
	s.infoScriptMemory(b)
	field(b, "maxmemory", ic.maxMemory)
	field(b, "maxmemory_human", bytesToHuman(ic.maxMemory))
	field(b, "maxmemory_policy", ic.policy)
	field(b, "allocator_frag_ratio", ratio(m.active, m.allocated))
	field(b, "allocator_frag_bytes", m.active-m.allocated)
	field(b, "allocator_rss_ratio", ratio(m.resident, m.active))
	field(b, "allocator_rss_bytes", m.resident-m.active)
	field(b, "rss_overhead_ratio", ratio(m.rss, m.resident))
	field(b, "rss_overhead_bytes", m.rss-m.resident)
	field(b, "mem_fragmentation_ratio", ratio(m.rss, m.used))
	field(b, "mem_fragmentation_bytes", m.rss-m.used)
	// The replication buffer: the backlog up to repl-backlog-size counts
	// against maxmemory (overheadMemory); what is kept beyond it for
	// replicas that lag counts in used_memory (usedMemory) but not against
	// maxmemory, as Redis's freeMemoryGetNotCountedMemory.
	replHeld, replBacklog := s.replBuffer()
	field(b, "mem_not_counted_for_evict", replHeld-replBacklog)
	field(b, "mem_replication_backlog", replBacklog)
	field(b, "mem_total_replication_buffers", replHeld)
	field(b, "mem_clients_slaves", replHeld-replBacklog)
	field(b, "mem_clients_normal", 0)
	field(b, "mem_cluster_links", 0)
	field(b, "mem_aof_buffer", 0)
	field(b, "mem_allocator", "go-"+runtime.Version())
	field(b, "active_defrag_running", 0)
	field(b, "lazyfree_pending_objects", 0)
	field(b, "lazyfreed_objects", 0)
}

func (s *Server) infoPersistence(b *strings.Builder) {
	for _, kv := range [][2]string{
		{"loading", "0"}, {"async_loading", "0"}, {"current_cow_peak", "0"}, {"current_cow_size", "0"},
		{"current_cow_size_age", "0"}, {"current_fork_perc", "0.00"}, {"current_save_keys_processed", "0"},
		{"current_save_keys_total", "0"}, {"rdb_changes_since_last_save", "0"}, {"rdb_bgsave_in_progress", "0"},
		{"rdb_last_save_time", strconv.FormatInt(s.started.Unix(), 10)}, {"rdb_last_bgsave_status", "ok"},
		{"rdb_last_bgsave_time_sec", "-1"}, {"rdb_current_bgsave_time_sec", "-1"}, {"rdb_saves", "0"},
		{"rdb_last_cow_size", "0"}, {"rdb_last_load_keys_expired", "0"}, {"rdb_last_load_keys_loaded", "0"},
		{"aof_enabled", "0"}, {"aof_rewrite_in_progress", "0"}, {"aof_rewrite_scheduled", "0"},
		{"aof_last_rewrite_time_sec", "-1"}, {"aof_current_rewrite_time_sec", "-1"},
		{"aof_last_bgrewrite_status", "ok"}, {"aof_rewrites", "0"}, {"aof_rewrites_consecutive_failures", "0"},
		{"aof_last_write_status", "ok"}, {"aof_last_cow_size", "0"}, {"module_fork_in_progress", "0"},
		{"module_fork_last_cow_size", "0"},
	} {
		field(b, kv[0], kv[1])
	}
}

func (s *Server) infoStats(b *strings.Builder) {
	st := &s.stats
	ks := s.store.Stats()
	ops, in, out := st.instantaneous()
	field(b, "total_connections_received", st.connectionsReceived.Load())
	field(b, "total_commands_processed", st.totalCommands.Load())
	field(b, "instantaneous_ops_per_sec", int64(ops))
	field(b, "total_net_input_bytes", st.netInput.Load())
	field(b, "total_net_output_bytes", st.netOutput.Load())
	field(b, "total_net_repl_input_bytes", 0)
	field(b, "total_net_repl_output_bytes", 0)
	field(b, "instantaneous_input_kbps", in/1024)
	field(b, "instantaneous_output_kbps", out/1024)
	field(b, "instantaneous_input_repl_kbps", 0.0)
	field(b, "instantaneous_output_repl_kbps", 0.0)
	field(b, "rejected_connections", st.rejectedConnections.Load())
	field(b, "sync_full", 0)
	field(b, "sync_partial_ok", 0)
	field(b, "sync_partial_err", 0)
	field(b, "expired_keys", ks.Expired)
	field(b, "expired_stale_perc", 0.0)
	field(b, "expired_time_cap_reached_count", 0)
	field(b, "expire_cycle_cpu_milliseconds", 0)
	field(b, "evicted_keys", ks.Evicted)
	field(b, "evicted_clients", 0)
	field(b, "total_eviction_exceeded_time", 0)
	field(b, "current_eviction_exceeded_time", 0)
	field(b, "keyspace_hits", ks.Hits)
	field(b, "keyspace_misses", ks.Misses)
	field(b, "pubsub_channels", s.pubsub.Size(pubsub.Channel))
	field(b, "pubsub_patterns", s.pubsub.Size(pubsub.Pattern))
	field(b, "pubsubshard_channels", s.pubsub.Size(pubsub.Shard))
	field(b, "latest_fork_usec", 0)
	field(b, "total_forks", 0)
	field(b, "migrate_cached_sockets", 0)
	field(b, "slave_expires_tracked_keys", 0)
	moved := s.store.CompactedItems() // slab compaction (store/compact.go) is cached's active defrag
	field(b, "active_defrag_hits", moved)
	field(b, "active_defrag_misses", 0)
	field(b, "active_defrag_key_hits", moved)
	field(b, "active_defrag_key_misses", 0)
	field(b, "total_active_defrag_time", 0)
	field(b, "current_active_defrag_time", 0)
	field(b, "tracking_total_keys", 0)
	field(b, "tracking_total_items", 0)
	field(b, "tracking_total_prefixes", 0)
	field(b, "unexpected_error_replies", 0)
	field(b, "total_error_replies", st.totalErrors())
	field(b, "dump_payload_sanitizations", 0)
	field(b, "total_reads_processed", st.totalCommands.Load())
	field(b, "total_writes_processed", st.totalCommands.Load())
	field(b, "io_threaded_reads_processed", 0)
	field(b, "io_threaded_writes_processed", 0)
	field(b, "reply_buffer_shrinks", 0)
	field(b, "reply_buffer_expands", 0)
	s.infoLoopBatches(b)
}

// replID is the node's replication ID: 40 hex characters derived from the
// run ID, so it is stable for the life of the process.
func (s *Server) replID() string {
	sum := sha1.Sum([]byte("replid:" + s.runID))
	return hex.EncodeToString(sum[:])
}

func (s *Server) infoReplication(b *strings.Builder) {
	if rs := s.repl.Load(); rs != nil { // repl_cmds.go
		rs.info(b)
		return
	}
	field(b, "role", "master")
	field(b, "connected_slaves", 0)
	field(b, "master_failover_state", "no-failover")
	field(b, "master_replid", s.replID())
	field(b, "master_replid2", strings.Repeat("0", 40))
	field(b, "master_repl_offset", 0)
	field(b, "second_repl_offset", -1)
	field(b, "repl_backlog_active", 0)
	field(b, "repl_backlog_size", 1048576)
	field(b, "repl_backlog_first_byte_offset", 0)
	field(b, "repl_backlog_histlen", 0)
}

// cpuSeconds formats a rusage time as Redis does: seconds.microseconds.
func cpuSeconds(tv syscall.Timeval) string {
	return fmt.Sprintf("%d.%06d", int64(tv.Sec), int64(tv.Usec))
}

func (s *Server) infoCPU(b *strings.Builder) {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	field(b, "used_cpu_sys", cpuSeconds(self.Stime))
	field(b, "used_cpu_user", cpuSeconds(self.Utime))
	field(b, "used_cpu_sys_children", cpuSeconds(children.Stime))
	field(b, "used_cpu_user_children", cpuSeconds(children.Utime))
	gc, cycles := gcCPU()
	field(b, "used_cpu_gc", strconv.FormatFloat(gc, 'f', 6, 64))
	used := tvSeconds(self.Utime) + tvSeconds(self.Stime)
	field(b, "gc_cpu_share_perc", strconv.FormatFloat(100*min(1, gc/max(used, 1e-9)), 'f', 2, 64)+"%")
	field(b, "gc_cycles", cycles)
	b.WriteString("sched_latency_percentiles_usec:")
	appendSchedLatency(b, []float64{50, 99, 99.9})
	b.WriteString("\r\n")
}

// appendSchedLatency writes, as appendPercentiles does, the percentiles of
// how long the process's goroutines waited runnable before they ran, since
// it started (the runtime's /sched/latencies histogram; each percentile is
// its bucket's upper bound). A client that waits on a node whose own
// numbers are low waited here: for a P, on a busy machine or behind
// goroutines that ran long.
func appendSchedLatency(b *strings.Builder, ps []float64) {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(sample)
	var h *metrics.Float64Histogram
	if sample[0].Value.Kind() == metrics.KindFloat64Histogram {
		h = sample[0].Value.Float64Histogram()
	}
	appendQuantiles(b, ps, func(q float64) float64 { return histQuantile(h, q) * 1e6 })
}

// histQuantile returns the upper bound of the bucket of h that holds
// quantile q (0 for an empty or missing histogram; the highest finite
// bound for the open last bucket).
func histQuantile(h *metrics.Float64Histogram, q float64) float64 {
	if h == nil {
		return 0
	}
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		if seen += c; seen >= max(want, 1) {
			if up := h.Buckets[i+1]; !math.IsInf(up, 1) {
				return up
			}
			return h.Buckets[i]
		}
	}
	return 0
}

// gcCPU returns the CPU seconds the Go collector took from the process
// since it started and the collections completed. The seconds are the
// runtime's estimate (/cpu/classes/gc: mark assists, dedicated mark
// workers, stop-the-world pauses counted GOMAXPROCS times) without the
// idle mark workers, which run only on Ps that had nothing else to do.
func gcCPU() (float64, uint64) {
	samples := []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(samples)
	f := func(i int) float64 {
		if samples[i].Value.Kind() == metrics.KindFloat64 {
			return samples[i].Value.Float64()
		}
		return 0
	}
	var cycles uint64
	if samples[2].Value.Kind() == metrics.KindUint64 {
		cycles = samples[2].Value.Uint64()
	}
	return max(0, f(0)-f(1)), cycles
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// commandStatLine formats one commandstats line.
func commandStatLine(b *strings.Builder, c *command) {
	calls, nanos := c.calls.Load(), c.nanos.Load()
	rejected, failed := c.rejected.Load(), c.failed.Load()
	if calls == 0 && rejected == 0 && failed == 0 {
		return
	}
	usec := nanos / 1000
	perCall := 0.0
	if calls > 0 {
		perCall = float64(usec) / float64(calls)
	}
	fmt.Fprintf(b, "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d\r\n",
		c.fullName, calls, usec, perCall, rejected, failed)
}

func (s *Server) infoCommandStats(b *strings.Builder) {
	for _, c := range s.cmds.sorted() {
		commandStatLine(b, c)
		for _, sub := range sortedSubs(c) {
			commandStatLine(b, sub)
		}
	}
}

// sortedSubs returns a command's subcommands ordered by name.
func sortedSubs(c *command) []*command {
	out := make([]*command, 0, len(c.subs))
	for _, sub := range c.subs {
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (s *Server) infoErrorStats(b *strings.Builder) {
	codes, counts := s.stats.errorCounts()
	for i, code := range codes {
		b.WriteString("errorstat_" + code + ":count=" + strconv.FormatUint(counts[i], 10) + "\r\n")
	}
}

func (s *Server) infoCluster(b *strings.Builder) {
	enabled := 0
	if s.infoConfig().cluster {
		enabled = 1
	}
	field(b, "cluster_enabled", enabled)
}

func (s *Server) infoKeyspace(b *strings.Builder) {
	for db := 0; db < s.store.Databases(); db++ {
		keys := s.store.DBSize(db)
		if keys == 0 {
			continue
		}
		fmt.Fprintf(b, "db%d:keys=%d,expires=%d,avg_ttl=%d\r\n",
			db, keys, s.store.DBExpires(db), s.store.AvgTTL(db))
	}
}

// resetStats zeroes every command's counters (CONFIG RESETSTAT).
func (t *commandTable) resetStats() { t.forEach((*command).resetStats) }

func (c *command) resetStats() {
	c.calls.Store(0)
	c.nanos.Store(0)
	c.rejected.Store(0)
	c.failed.Store(0)
	c.latency.Reset()
}

// infoScriptMemory writes INFO memory's scripting fields in Redis 7.0's
// order. The cached scripts' and libraries' counts and code bytes are
// exact; the interpreters' own memory (the *_vm_* and *_lua fields) is not
// measured apart: gopher-lua's states live in the Go heap, which
// used_memory_overhead counts, so those fields read 0.
func (s *Server) infoScriptMemory(b *strings.Builder) {
	scripts, evalBytes := s.scripts.Stats()
	libs, funcs := s.scripts.LibraryStats()
	var fnBytes int64
	for _, lib := range s.scripts.ListLibraries() {
		fnBytes += int64(len(lib.Code))
	}
	field(b, "used_memory_lua", 0)
	field(b, "used_memory_vm_eval", 0)
	field(b, "used_memory_lua_human", bytesToHuman(0))
	field(b, "used_memory_scripts_eval", evalBytes)
	field(b, "number_of_cached_scripts", scripts)
	field(b, "number_of_functions", funcs)
	field(b, "number_of_libraries", libs)
	field(b, "used_memory_vm_functions", 0)
	field(b, "used_memory_vm_total", 0)
	field(b, "used_memory_vm_total_human", bytesToHuman(0))
	field(b, "used_memory_functions", fnBytes)
	field(b, "used_memory_scripts", evalBytes+fnBytes)
	field(b, "used_memory_scripts_human", bytesToHuman(evalBytes+fnBytes))
}
