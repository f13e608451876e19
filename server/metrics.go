package server

import (
	"regexp"
	"strconv"
	"time"

	"github.com/cached/cached/server/pubsub"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metricsCollector is a prometheus.Collector that reads the server's
// existing counters at scrape time and reports them as constant metrics.
type metricsCollector struct {
	s *Server

	calls, failed, rejected, latency                     *prometheus.Desc
	hits, misses, expired, evicted                       *prometheus.Desc
	keys, expiring                                       *prometheus.Desc
	memUsed, memMax, memPeak                             *prometheus.Desc
	connCur, connAccepted, connRejected, netIn, netOut   *prometheus.Desc
	commandsTotal, uptime, blocked, pubsubCh, pubsubPats *prometheus.Desc
	panics                                               *prometheus.Desc
}

func newMetricsCollector(s *Server) *metricsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cached_"+name, help, labels, nil)
	}
	return &metricsCollector{
		s:             s,
		calls:         d("commands_processed_total", "Commands run, by command (subcommands as container|sub).", "cmd"),
		failed:        d("commands_failed_total", "Commands that ran and replied with an error, by command.", "cmd"),
		rejected:      d("commands_rejected_total", "Commands refused before running (arity, auth, OOM), by command.", "cmd"),
		latency:       d("command_duration_seconds", "Time to run a command, by command.", "cmd"),
		hits:          d("keyspace_hits_total", "Successful key lookups."),
		misses:        d("keyspace_misses_total", "Failed key lookups."),
		expired:       d("expired_keys_total", "Keys deleted because their TTL passed."),
		evicted:       d("evicted_keys_total", "Keys evicted under maxmemory."),
		keys:          d("db_keys", "Keys per logical database.", "db"),
		expiring:      d("db_expiring_keys", "Keys with a TTL per logical database.", "db"),
		memUsed:       d("memory_used_bytes", "INFO used_memory: keys, client buffers and the replication buffer; of these, what is kept for lagging replicas beyond repl-backlog-size does not count against maxmemory."),
		memMax:        d("memory_max_bytes", "The maxmemory limit in bytes (0: no limit)."),
		memPeak:       d("memory_peak_bytes", "Highest memory_used_bytes seen."),
		connCur:       d("connected_clients", "Client connections open now."),
		connAccepted:  d("connections_received_total", "Client connections accepted."),
		connRejected:  d("connections_rejected_total", "Client connections refused (maxclients)."),
		netIn:         d("net_input_bytes_total", "Bytes read from clients."),
		netOut:        d("net_output_bytes_total", "Bytes written to clients."),
		commandsTotal: d("commands_total", "All commands received, including unknown and rejected ones."),
		uptime:        d("uptime_seconds", "Seconds since the node started."),
		blocked:       d("blocked_clients", "Clients blocked in a blocking command."),
		pubsubCh:      d("pubsub_channels", "Channels with at least one subscriber."),
		pubsubPats:    d("pubsub_patterns", "Patterns with at least one subscriber."),
		panics:        d("command_panics_total", "Panics recovered inside commands; each closed its client."),
	}
}

// Describe sends every descriptor.
func (m *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.calls, m.failed, m.rejected, m.latency, m.hits, m.misses,
		m.expired, m.evicted, m.keys, m.expiring, m.memUsed, m.memMax, m.memPeak, m.connCur,
		m.connAccepted, m.connRejected, m.netIn, m.netOut, m.commandsTotal, m.uptime, m.blocked,
		m.pubsubCh, m.pubsubPats, m.panics} {
		ch <- d
	}
}

// Collect reads the counters and sends them.
func (m *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	s := m.s
	for _, c := range s.cmds.sorted() {
		if c.subs == nil {
			m.collectCommand(ch, c)
			continue
		}
		for _, sub := range c.subs {
			m.collectCommand(ch, sub)
		}
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := s.store.Stats()
	counter(m.hits, st.Hits)
	counter(m.misses, st.Misses)
	counter(m.expired, st.Expired)
	counter(m.evicted, st.Evicted)
	s.cfgMu.Lock()
	dbs := s.cfg.Databases
	s.cfgMu.Unlock()
	for db := 0; db < dbs; db++ {
		n := s.store.DBSize(db)
		if n == 0 {
			continue // as INFO keyspace: only databases with keys
		}
		label := strconv.Itoa(db)
		gauge(m.keys, float64(n), label)
		gauge(m.expiring, float64(s.store.DBExpires(db)), label)
	}
	dataset, overhead := s.usedMemory()
	gauge(m.memUsed, float64(dataset+overhead))
	gauge(m.memMax, float64(s.maxMemory.Load()))
	gauge(m.memPeak, float64(s.stats.memPeak.Load()))
	gauge(m.connCur, float64(s.clients.count()))
	counter(m.connAccepted, s.stats.connectionsReceived.Load())
	counter(m.connRejected, s.stats.rejectedConnections.Load())
	counter(m.netIn, s.stats.netInput.Load())
	counter(m.netOut, s.stats.netOutput.Load())
	counter(m.commandsTotal, s.stats.totalCommands.Load())
	gauge(m.uptime, time.Since(s.started).Seconds())
	gauge(m.blocked, float64(s.blocks.n.Load()))
	counter(m.panics, s.stats.commandPanics.Load())
	gauge(m.pubsubCh, float64(s.pubsub.Size(pubsub.Channel)))
	gauge(m.pubsubPats, float64(s.pubsub.Size(pubsub.Pattern)))
}

// collectCommand reports one command's counters; commands never called are
// left out, as INFO commandstats does, to keep scrapes small.
func (m *metricsCollector) collectCommand(ch chan<- prometheus.Metric, c *command) {
	calls, failed, rejected := c.calls.Load(), c.failed.Load(), c.rejected.Load()
	if calls == 0 && failed == 0 && rejected == 0 {
		return
	}
	name := c.fullName
	ch <- prometheus.MustNewConstMetric(m.calls, prometheus.CounterValue, float64(calls), name)
	ch <- prometheus.MustNewConstMetric(m.failed, prometheus.CounterValue, float64(failed), name)
	ch <- prometheus.MustNewConstMetric(m.rejected, prometheus.CounterValue, float64(rejected), name)
	if m := c.latency.Metric(m.latency, float64(c.nanos.Load())/1e9, name); m != nil {
		ch <- m
	}
}

// NewMetrics registers the node's collectors on reg: the cached_* metrics
// read from the server's counters at scrape time, plus the Go runtime and
// process collectors. Register once per registry.
func (s *Server) NewMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		newMetricsCollector(s),
		newClusterCollector(s),
		newReplCollector(s), // repl_metrics.go
		newMigrationCollector(s),
		// The Go collector's defaults, plus the collector's CPU time
		// (go_cpu_classes_gc_total_cpu_seconds_total and its parts):
		// issue 13 asks for the GC's CPU share, INFO cpu has it too.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/cpu/classes/gc/`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
