// Package config owns a node's configuration: the Config struct, the
// registry of directives under redis-server's names (defaults, validation,
// which CONFIG SET may change), the redis.conf file reader with include and
// rename-command, and the file writer of CONFIG REWRITE. The CONFIG commands,
// and applying a changed value to the running server, are the server's.
package config

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// Config is a node's configuration. Every field is a directive of the registry
// (see Directives) under redis-server's name; DefaultConfig fills the defaults.
type Config struct {
	// Bind lists the addresses to listen on (directive "bind"). Default 127.0.0.1.
	Bind []string
	// Port is the TCP port (directive "port"). Default 6379. Port 0 picks a free
	// port (unlike redis-server, where 0 disables TCP): tests use it.
	Port int
	// MaxMemory is the memory limit in bytes for keys (directive "maxmemory");
	// 0 means no limit. Over it, MaxMemoryPolicy decides.
	MaxMemory int64
	// MaxMemoryPolicy names the eviction policy (directive "maxmemory-policy").
	MaxMemoryPolicy string
	// MaxMemorySamples is how many keys the sampled policies look at (default 5).
	MaxMemorySamples int
	// LFULogFactor is how slowly the LFU counter grows (directive
	// "lfu-log-factor", default 10: about 1M hits saturate it).
	LFULogFactor int
	// LFUDecayTime is the minutes a key must be idle for its LFU counter to
	// drop by one (directive "lfu-decay-time", default 1; 0 never decays).
	LFUDecayTime int
	// RequirePass, if not empty, makes clients AUTH first (directive "requirepass").
	RequirePass string
	// Databases is the number of logical databases (default 16).
	Databases int
	// MaxClients caps concurrent connections (default 10000).
	MaxClients int
	// Timeout closes a client idle for that many seconds; 0 never (default 0).
	Timeout int
	// TCPKeepAlive is the TCP keepalive period in seconds; 0 disables (default 300).
	TCPKeepAlive int
	// ProtoMaxBulkLen is the largest bulk string a client may send, in bytes (512mb).
	ProtoMaxBulkLen int64
	// ClientQueryBufferLimit caps the bytes of one pending request (default 1gb).
	ClientQueryBufferLimit int64
	// LogLevel is one of debug, verbose, notice, warning, nothing (default notice).
	LogLevel string
	// LogFile is where logs go; "" is standard output.
	LogFile string
	// Shards is the number of store shards, a power of two; 0 picks one from GOMAXPROCS.
	Shards int
	// Hz is how many times per second background tasks (active expiry) run (default 10).
	Hz int
	// GCMinHeap is the smallest Go heap target in bytes, less the store's
	// bytes off the Go heap (cached only, default 64mb): while data is small,
	// GOGC is raised so garbage collection does not run after every few MB
	// of request garbage; above it the target is the live heap plus 1/8, at
	// least 4 MiB (the server's gctune.go). 0 leaves GOGC alone.
	GCMinHeap int64
	// Encodings are the collections' encoding thresholds (hash-max-listpack-*
	// and the like, encodings.go).
	Encodings EncodingLimits
	// ManageRuntime lets the server tune the process's Go runtime: the GC
	// target floor of GCMinHeap, and a Go memory limit of 1.25×maxmemory +
	// 8 MiB (less the store's off-heap bytes) while maxmemory is set, so the collector keeps the process near
	// maxmemory instead of Go's default 2× the live heap. GOGC and GOMEMLIMIT
	// in the environment win. cmd/cached sets it; a program running several
	// servers in one process (tests) leaves it off: both settings are
	// process-wide.
	ManageRuntime bool
	// MetricsAddr is the host:port of the HTTP server for /metrics, /healthz
	// and /readyz (directive "metrics-addr"); a host alone (the default,
	// 127.0.0.1) listens on Port+2742, a free port when Port is 0; "" disables it.
	MetricsAddr string
	// SlowlogLogSlowerThan logs commands that take at least that many
	// microseconds in SLOWLOG; negative disables, 0 logs every command (default 10000).
	SlowlogLogSlowerThan int
	// SlowlogMaxLen is how many SLOWLOG entries are kept (default 128).
	SlowlogMaxLen int
	// LatencyMonitorThreshold is the latency monitor's threshold in
	// milliseconds: commands at least this slow are LATENCY events; 0 off.
	LatencyMonitorThreshold int
	// BusyReplyThreshold is how many milliseconds a script runs before
	// other clients get BUSY and SCRIPT KILL may stop it
	// (busy-reply-threshold, alias lua-time-limit; default 5000).
	BusyReplyThreshold int
	// NotifyKeyspaceEvents selects the keyspace notifications published
	// (directive "notify-keyspace-events", Redis's flag letters, canonical
	// form; default "": none). See notify.go and the server's notify.go.
	NotifyKeyspaceEvents string
	// ClientOutputBufferLimit limits each client class's queued output
	// (directive "client-output-buffer-limit"). See outbuf.go.
	ClientOutputBufferLimit OutputBufferLimits
	// Cluster holds the cluster-* directives (cluster.go).
	Cluster ClusterConfig
	// LogFormat is "text" (slog's key=value lines) or "json" (one JSON
	// object per line); directive "log-format", cached only.
	LogFormat string
	// LatencyTracking turns the per-command latency histograms (INFO
	// latencystats, the duration metric) on or off (directive
	// "latency-tracking", default yes as in Redis 7).
	LatencyTracking bool
	// LatencyPercentiles are the percentiles INFO latencystats reports
	// (directive "latency-tracking-info-percentiles", default 50 99 99.9).
	LatencyPercentiles []float64
	// UnixSocket is the path of a Unix socket to serve RESP on as well as
	// TCP (directive "unixsocket"); "" = none.
	UnixSocket string
	// UnixSocketPerm is the socket file's permission bits (directive
	// "unixsocketperm", octal as in redis.conf); 0 leaves the umask's.
	UnixSocketPerm uint32
	// IOEventLoop serves plain TCP client connections from a few epoll
	// event loops (one per GOMAXPROCS) instead of one goroutine each
	// (directive "io-event-loop", cached only, default yes; Linux only,
	// elsewhere it has no effect). Connections that must wait or are
	// detached leave the loop for a goroutine of their own: see
	// server/eventloop.go.
	IOEventLoop bool
	// PrefetchBatchMaxSize is how many keys an event loop warms in the
	// store together (one batch) before it runs a wake-up's requests,
	// whose single-key commands' keys (of the first 128 requests) it warms
	// batch after batch (directive "prefetch-batch-max-size", Redis 8's
	// name, default 16, 0 to 128; 0 or 1 turns warming off). Warming pays
	// with a key space larger than the processor's caches; the server
	// skips it below that (server/eventloop_prefetch.go).
	PrefetchBatchMaxSize int

	// Renames holds the rename-command lines of the config file, in order.
	Renames []Rename

	// inert holds the redis.conf directives cached accepts and reports but that
	// have no effect here (persistence, encodings of internals cached does not have).
	inert map[string]string
	// file is the config file the node was started with, if any.
	file string
}

// Rename is one rename-command line of the config file: the command From is
// reachable by clients only as To, or not at all when To is "".
type Rename struct{ From, To string }

// DefaultConfig returns the configuration of a node started with no directives.
func DefaultConfig() Config {
	c := Config{inert: map[string]string{}}
	for _, d := range directives {
		if err := d.set(&c, d.def); err != nil {
			panic("config: bad default for " + d.name + ": " + err.Error())
		}
	}
	return c
}

// ConfigFile reports the file the configuration was read from ("" if none).
func (c *Config) ConfigFile() string { return c.file }

// SetConfigFile records the config file path (for INFO and CONFIG REWRITE).
func (c *Config) SetConfigFile(path string) { c.file = path }

// Clone returns a copy of c that shares no slice or map with it.
func (c *Config) Clone() Config {
	n := *c
	n.Bind = append([]string(nil), c.Bind...)
	n.Cluster = c.Cluster.clone()
	n.LatencyPercentiles = append([]float64(nil), c.LatencyPercentiles...)
	n.Renames = append([]Rename(nil), c.Renames...)
	n.inert = make(map[string]string, len(c.inert))
	for k, v := range c.inert {
		n.inert[k] = v
	}
	return n
}

// directive is one configuration directive: its name as redis-server spells
// it, its default, whether CONFIG SET may change it at run time, and how to
// read and write it.
type directive struct {
	name    string
	def     string
	mutable bool
	inert   bool // accepted and reported, no effect in cached
	// cachedOnly marks directives redis-server does not know: CONFIG
	// REWRITE writes them as "# cached: name value" lines, which
	// redis-server skips as comments and cached reads (file.go).
	cachedOnly bool
	// noEffect, for an inert directive, reports whether value asks for
	// something cached does not do (logged at start-up and on CONFIG SET);
	// nil means any value other than the default.
	noEffect func(value string) bool
	doc      string
	get      func(c *Config) string
	set      func(c *Config, v string) error
}

// DirectiveInfo describes a directive for --help and documentation.
type DirectiveInfo struct {
	Name    string
	Default string
	Mutable bool // CONFIG SET may change it at run time
	Inert   bool // accepted for redis.conf compatibility, no effect
	// CachedOnly marks a directive redis-server 7.0 does not know (CONFIG
	// REWRITE writes it as a "# cached: name value" line).
	CachedOnly bool
	Doc        string
}

// Directives lists every directive cached knows, sorted by name.
func Directives() []DirectiveInfo {
	out := make([]DirectiveInfo, 0, len(directives))
	for _, d := range directives {
		out = append(out, d.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (d *directive) info() DirectiveInfo {
	return DirectiveInfo{Name: d.name, Default: d.def, Mutable: d.mutable, Inert: d.inert,
		CachedOnly: d.cachedOnly, Doc: d.doc}
}

// Lookup describes the directive name or one of its aliases (any case); the
// Name of the result is the directive's own.
func Lookup(name string) (DirectiveInfo, bool) {
	d := lookupDirective(name)
	if d == nil {
		return DirectiveInfo{}, false
	}
	return d.info(), true
}

// Names lists every name Config.Get knows, directives and their aliases,
// sorted: the names CONFIG GET matches patterns against.
func Names() []string {
	names := make([]string, 0, len(directiveIndex))
	for name := range directiveIndex {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ErrUnknownDirective is returned by Config.Set for a name the registry lacks.
var ErrUnknownDirective = errors.New("unknown directive")

// Set sets directive name to value, validating it. Errors name the directive.
func (c *Config) Set(name, value string) error {
	d := lookupDirective(name)
	if d == nil {
		return fmt.Errorf("%w '%s'", ErrUnknownDirective, name)
	}
	if err := d.set(c, value); err != nil {
		return fmt.Errorf("invalid value for '%s' (%s): %w", d.name, value, err)
	}
	return nil
}

// Get returns directive name's current value as CONFIG GET shows it.
func (c *Config) Get(name string) (string, bool) {
	d := lookupDirective(name)
	if d == nil {
		return "", false
	}
	return d.get(c), true
}

var directiveIndex map[string]*directive

// registerDirectives adds the directives of one concern, declared in its own
// file (var _ = registerDirectives(…)); package variables are initialized
// before init builds the index.
func registerDirectives(ds ...directive) bool {
	directives = append(directives, ds...)
	return true
}

func lookupDirective(name string) *directive {
	return directiveIndex[strings.ToLower(name)]
}

func init() {
	directiveIndex = make(map[string]*directive, len(directives)+len(inertDirectives))
	for _, d := range inertDirectives {
		directives = append(directives, inertDirective(d[0], d[1]))
	}
	for i := range directives {
		if directiveIndex[directives[i].name] != nil {
			panic("config: directive declared twice: " + directives[i].name)
		}
		directiveIndex[directives[i].name] = &directives[i]
	}
	for alias, name := range directiveAliases {
		directiveIndex[alias] = directiveIndex[name]
	}
	markDirectives()
}

// directiveAliases are older names redis-server still accepts.
var directiveAliases = map[string]string{
	"hash-max-ziplist-entries": "hash-max-listpack-entries",
	"hash-max-ziplist-value":   "hash-max-listpack-value",
	"zset-max-ziplist-entries": "zset-max-listpack-entries",
	"zset-max-ziplist-value":   "zset-max-listpack-value",
	"list-max-ziplist-size":    "list-max-listpack-size",
	"lua-time-limit":           "busy-reply-threshold",
}

func intDirective(name, def string, mutable bool, min, max int64, doc string, field func(c *Config) *int) directive {
	return directive{name: name, def: def, mutable: mutable, doc: doc,
		get: func(c *Config) string { return strconv.Itoa(*field(c)) },
		set: func(c *Config, v string) error {
			n, ok := protocol.ParseInt([]byte(strings.TrimSpace(v)))
			if !ok {
				return errors.New("argument couldn't be parsed into an integer")
			}
			if n < min || n > max {
				return fmt.Errorf("argument must be between %d and %d inclusive", min, max)
			}
			*field(c) = int(n)
			return nil
		}}
}

func memDirective(name, def string, doc string, field func(c *Config) *int64) directive {
	return boundedMemDirective(name, def, 0, math.MaxInt64, doc, field)
}

// boundedMemDirective is a memory directive limited to [min, max] bytes.
func boundedMemDirective(name, def string, min, max int64, doc string, field func(c *Config) *int64) directive {
	return directive{name: name, def: def, mutable: true, doc: doc,
		get: func(c *Config) string { return strconv.FormatInt(*field(c), 10) },
		set: func(c *Config, v string) error {
			n, err := protocol.ParseMemory(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return errors.New("argument must be a memory value")
			}
			if n < min || n > max {
				return fmt.Errorf("argument must be between %d and %d inclusive", min, max)
			}
			*field(c) = n
			return nil
		}}
}

func enumDirective(name, def string, mutable bool, values []string, doc string, field func(c *Config) *string) directive {
	return directive{name: name, def: def, mutable: mutable, doc: doc,
		get: func(c *Config) string { return *field(c) },
		set: func(c *Config, v string) error {
			lv := strings.ToLower(strings.TrimSpace(v))
			for _, ok := range values {
				if lv == ok {
					*field(c) = lv
					return nil
				}
			}
			return fmt.Errorf("argument(s) must be one of the following: %s", strings.Join(values, ", "))
		}}
}

func stringDirective(name, def string, mutable bool, doc string, field func(c *Config) *string) directive {
	return directive{name: name, def: def, mutable: mutable, doc: doc,
		get: func(c *Config) string { return *field(c) },
		set: func(c *Config, v string) error { *field(c) = v; return nil }}
}

func inertDirective(name, def string) directive {
	return directive{name: name, def: def, mutable: true, inert: true,
		doc: "accepted for redis.conf compatibility; no effect in cached",
		get: func(c *Config) string { return c.inert[name] },
		set: func(c *Config, v string) error { c.inert[name] = v; return nil }}
}

// directives is the registry. Keep it sorted by concern; Directives sorts by name.
var directives = []directive{
	{name: "bind", def: "127.0.0.1", doc: "addresses to listen on, space separated",
		get: func(c *Config) string { return strings.Join(c.Bind, " ") },
		set: func(c *Config, v string) error {
			f := strings.Fields(v)
			if len(f) == 0 {
				return errors.New("at least one address is needed")
			}
			c.Bind = f
			return nil
		}},
	intDirective("port", "6379", false, 0, 65535, "TCP port for clients (0: a free port)", func(c *Config) *int { return &c.Port }),
	memDirective("maxmemory", "0", "memory limit for keys, e.g. 100mb, 1gb; 0 = none", func(c *Config) *int64 { return &c.MaxMemory }),
	enumDirective("maxmemory-policy", "noeviction", true,
		[]string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"},
		"what to do when maxmemory is reached", func(c *Config) *string { return &c.MaxMemoryPolicy }),
	intDirective("maxmemory-samples", "5", true, 1, 64, "keys sampled by the approximated eviction policies", func(c *Config) *int { return &c.MaxMemorySamples }),
	intDirective("lfu-log-factor", "10", true, 0, math.MaxInt32, "LFU counter growth: higher needs more hits per step",
		func(c *Config) *int { return &c.LFULogFactor }),
	intDirective("lfu-decay-time", "1", true, 0, math.MaxInt32, "idle minutes per LFU counter decrement (0 = never)",
		func(c *Config) *int { return &c.LFUDecayTime }),
	intDirective("prefetch-batch-max-size", "16", true, 0, 128, "keys an event loop warms together before running a wake-up's requests (0 or 1 = off)",
		func(c *Config) *int { return &c.PrefetchBatchMaxSize }),
	stringDirective("requirepass", "", true, "password clients must AUTH with; empty = none", func(c *Config) *string { return &c.RequirePass }),
	intDirective("databases", "16", false, 1, 1<<16, "number of logical databases", func(c *Config) *int { return &c.Databases }),
	intDirective("maxclients", "10000", true, 1, 1<<20, "maximum concurrent client connections", func(c *Config) *int { return &c.MaxClients }),
	intDirective("timeout", "0", true, 0, 1<<31-1, "close a client idle for N seconds (0 = never)", func(c *Config) *int { return &c.Timeout }),
	intDirective("tcp-keepalive", "300", true, 0, 1<<31-1, "TCP keepalive period in seconds (0 = off)", func(c *Config) *int { return &c.TCPKeepAlive }),
	// Redis's minimum is 1mb; our maximum keeps a string (key and value in
	// one store allocation) under 4 GiB.
	boundedMemDirective("proto-max-bulk-len", "512mb", 1<<20, 1<<32-1<<20, "largest bulk string a client may send (at most 4095mb)", func(c *Config) *int64 { return &c.ProtoMaxBulkLen }),
	boundedMemDirective("client-query-buffer-limit", "1gb", 1<<20, math.MaxInt64, "largest pending request of one client", func(c *Config) *int64 { return &c.ClientQueryBufferLimit }),
	enumDirective("loglevel", "notice", true, []string{"debug", "verbose", "notice", "warning", "nothing"},
		"log verbosity", func(c *Config) *string { return &c.LogLevel }),
	intDirective("slowlog-log-slower-than", "10000", true, math.MinInt32, math.MaxInt32,
		"SLOWLOG threshold in microseconds; negative disables", func(c *Config) *int { return &c.SlowlogLogSlowerThan }),
	intDirective("slowlog-max-len", "128", true, 0, math.MaxInt32, "SLOWLOG length",
		func(c *Config) *int { return &c.SlowlogMaxLen }),
	intDirective("latency-monitor-threshold", "0", true, 0, math.MaxInt32,
		"LATENCY monitor threshold in milliseconds; 0 disables", func(c *Config) *int { return &c.LatencyMonitorThreshold }),
	intDirective("busy-reply-threshold", "5000", true, 0, math.MaxInt32,
		"ms a script runs before other clients get BUSY and SCRIPT KILL may stop it (alias lua-time-limit)",
		func(c *Config) *int { return &c.BusyReplyThreshold }),
	stringDirective("metrics-addr", "127.0.0.1", false, "HTTP address for /metrics, /healthz, /readyz: host[:port]; "+
		"without a port, port+2742 (6379 -> 9121; a free port when port is 0); empty disables; cached only",
		func(c *Config) *string { return &c.MetricsAddr }),
	stringDirective("logfile", "", false, "log file; empty = standard output", func(c *Config) *string { return &c.LogFile }),
	intDirective("shards", "0", false, 0, 1<<16, "store shards, a power of two (0 = from GOMAXPROCS); cached only", func(c *Config) *int { return &c.Shards }),
	memDirective("gc-min-heap", "64mb", "smallest Go heap target: fewer GCs while data is small (0 = Go default); cached only", func(c *Config) *int64 { return &c.GCMinHeap }),
	intDirective("hz", "10", false, 1, 500, "background task frequency (active expiry cycles per second)", func(c *Config) *int { return &c.Hz }),
}

// inertDirectives are redis.conf directives for internals cached does not have
// (persistence, list compression, threading): accepted, kept, reported by
// CONFIG GET, without effect; a value that asks for an effect is logged
// (inertNoEffect). Values are redis-server 7's defaults, except save: cached
// saves nothing, so its default is "" (no save points).
var inertDirectives = [][2]string{
	{"save", ""}, {"appendonly", "no"}, {"appendfsync", "everysec"},
	{"appendfilename", "appendonly.aof"}, {"appenddirname", "appendonlydir"}, {"dir", "/"},
	{"dbfilename", "dump.rdb"}, {"rdbcompression", "yes"}, {"rdbchecksum", "yes"},
	{"stop-writes-on-bgsave-error", "yes"},
	{"list-compress-depth", "0"},
	{"hll-sparse-max-bytes", "3000"}, {"stream-node-max-bytes", "4096"}, {"stream-node-max-entries", "100"},
	{"activerehashing", "yes"}, {"daemonize", "no"}, {"supervised", "no"}, {"pidfile", ""},
	{"protected-mode", "yes"}, {"tcp-backlog", "511"}, {"always-show-logo", "no"}, {"set-proc-title", "yes"},
	{"lazyfree-lazy-eviction", "no"}, {"lazyfree-lazy-expire", "no"}, {"lazyfree-lazy-server-del", "no"},
	{"lazyfree-lazy-user-del", "no"}, {"lazyfree-lazy-user-flush", "no"}, {"replica-lazy-flush", "no"},
	{"io-threads", "1"}, {"io-threads-do-reads", "no"}, {"jemalloc-bg-thread", "yes"}, {"activedefrag", "no"},
	{"dynamic-hz", "yes"}, {"aof-use-rdb-preamble", "yes"},
	{"syslog-enabled", "no"}, {"syslog-ident", "redis"},
	{"maxmemory-eviction-tenacity", "10"}, {"oom-score-adj", "no"}, {"disable-thp", "yes"},
	{"repl-diskless-sync", "yes"}, {"crash-log-enabled", "yes"},
	{"enable-debug-command", "no"}, {"enable-protected-configs", "no"}, {"enable-module-command", "no"},
	{"active-expire-effort", "1"}, {"propagation-error-behavior", "ignore"},
	{"acllog-max-len", "128"}, {"aof-load-truncated", "yes"}, {"aof-rewrite-incremental-fsync", "yes"},
	{"aof-timestamp-enabled", "no"}, {"auto-aof-rewrite-min-size", "67108864"}, {"auto-aof-rewrite-percentage", "100"},
	{"no-appendfsync-on-rewrite", "no"}, {"oom-score-adj-values", "0 200 800"}, {"proc-title-template", "{title} {listen-addr} {server-mode}"},
	{"rdb-del-sync-files", "no"}, {"rdb-save-incremental-fsync", "yes"}, {"repl-disable-tcp-nodelay", "no"},
	{"repl-diskless-load", "disabled"}, {"repl-diskless-sync-delay", "5"}, {"repl-diskless-sync-max-replicas", "0"},
	{"replica-priority", "100"}, {"replica-read-only", "yes"}, {"replica-serve-stale-data", "yes"},
	{"maxmemory-clients", "0"}, {"lua-replicate-commands", "yes"}, {"tracking-table-max-keys", "1000000"},
}

// Validate checks cross-directive rules after all directives are set.
func (c *Config) Validate() error {
	if c.Shards != 0 && c.Shards&(c.Shards-1) != 0 {
		return fmt.Errorf("invalid value for 'shards' (%d): must be a power of two", c.Shards)
	}
	if _, err := store.ParsePolicy(c.MaxMemoryPolicy); err != nil {
		return fmt.Errorf("invalid value for 'maxmemory-policy' (%s): %w", c.MaxMemoryPolicy, err)
	}
	return nil
}
