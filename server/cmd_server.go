package server

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/cached/cached/protocol"
)

// Server introspection and administration: INFO (info.go), CONFIG
// (cmd_config.go), COMMAND (cmd_command.go), TIME, LASTSAVE, SAVE, BGSAVE,
// DEBUG, SHUTDOWN and MEMORY.

func serverCommands() []spec {
	return []spec{
		spec{name: "info", arity: -1, flags: "loading stale", acl: "dangerous", group: "server", since: "1.0.0",
			summary: "Returns information and statistics about the server.", complexity: "O(1)", fn: infoCommand}.withTips("nondeterministic_output request_policy:all_shards response_policy:special"),
		spec{name: "time", arity: 1, flags: "loading stale fast", group: "server", since: "2.6.0",
			summary: "Returns the server time.", complexity: "O(1)", fn: timeCommand}.withTips("nondeterministic_output"),
		spec{name: "lastsave", arity: 1, flags: "loading stale fast", acl: "admin dangerous", group: "server", since: "1.0.0",
			summary:    "Returns the Unix timestamp of the last successful save to disk. cached never saves: it is the start-up time.",
			complexity: "O(1)", fn: lastSaveCommand}.withTips("nondeterministic_output"),
		{name: "save", arity: 1, flags: "admin noscript no_async_loading no_multi", group: "server", since: "1.0.0",
			summary:    "Synchronously saves the database(s) to disk. cached keeps nothing on disk: it replies OK and does nothing.",
			complexity: "O(N) where N is the total number of keys in all databases", fn: saveCommand},
		{name: "bgsave", arity: -1, flags: "admin noscript no_async_loading", group: "server", since: "1.0.0",
			summary:    "Asynchronously saves the database(s) to disk. cached keeps nothing on disk: it replies as Redis and does nothing.",
			complexity: "O(N) where N is the total number of keys in all databases", fn: bgsaveCommand},
		{name: "debug", arity: -2, flags: "admin noscript loading stale", group: "server", since: "1.0.0",
			summary:    "A container for debugging commands (SLEEP, SET-ACTIVE-EXPIRE, OBJECT).",
			complexity: "Depends on subcommand.", fn: debugCommand},
		{name: "shutdown", arity: -1, flags: "admin noscript loading stale no_multi allow_busy", group: "server", since: "1.0.0",
			summary:    "Shuts down the server (cached saves nothing first).",
			complexity: "O(1)", fn: shutdownCommand},
		memorySpec(),
		configSpec(),
		commandSpec(),
	}
}

func timeCommand(c *client, args [][]byte) {
	now := time.Now()
	c.Array(2)
	c.BulkString(strconv.FormatInt(now.Unix(), 10))
	c.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func lastSaveCommand(c *client, args [][]byte) { c.Int(c.s.started.Unix()) }

func saveCommand(c *client, args [][]byte) { c.OK() }

func bgsaveCommand(c *client, args [][]byte) {
	if len(args) > 2 || len(args) == 2 && !strings.EqualFold(string(args[1]), "SCHEDULE") {
		c.Err(protocol.ErrSyntax)
		return
	}
	c.Simple("Background saving started")
}

func shutdownCommand(c *client, args [][]byte) {
	var nosave, save, abort, other bool
	for _, a := range args[1:] {
		switch strings.ToLower(string(a)) {
		case "nosave":
			nosave = true
		case "save":
			save = true
		case "now", "force":
			other = true
		case "abort":
			abort = true
		default:
			c.Err(protocol.ErrSyntax)
			return
		}
	}
	if abort && (nosave || save || other) || nosave && save {
		c.Err(protocol.ErrSyntax)
		return
	}
	if abort {
		c.Err("ERR No shutdown in progress.") // a shutdown here is immediate
		return
	}
	c.s.log.Warn("shutdown requested by a client", "addr", c.addr)
	c.s.requestShutdown("SHUTDOWN command from "+c.addr, nil)
	// As Redis: no reply, the client sees the connection close.
	c.killed.Store(true)
	c.closeAfterReply = true
}

// debugSleepSlice bounds how long DEBUG SLEEP waits before checking whether
// its connection was closed, so that Close does not wait for a long sleep.
const debugSleepSlice = 10 * time.Millisecond

func debugCommand(c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "help" && len(args) == 2:
		c.HelpReply("DEBUG", []string{
			"OBJECT <key>",
			"    Show low level info about the key and associated value.",
			"SET-ACTIVE-EXPIRE <0|1>",
			"    Setting it to 0 disables expiring keys in background when they are not",
			"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
			"    default.",
			"SLEEP <seconds>",
			"    Stop the server for <seconds>. Decimals allowed.",
		})
	case sub == "sleep" && len(args) == 3:
		debugSleep(c, args[2])
	case sub == "set-active-expire" && len(args) == 3:
		n, _ := strconv.Atoi(string(args[2])) // as Redis: atoi, anything else is 0
		c.s.store.SetActiveExpire(n != 0)
		c.OK()
	case sub == "object" && len(args) == 3:
		debugObject(c, args[2])
	default:
		c.Err(protocol.SubcommandSyntax(args[1], "DEBUG"))
	}
}

// debugSleep blocks this connection (not the server, unlike Redis) for the
// given seconds; like Redis's strtod, text that is not a number means 0.
func debugSleep(c *client, arg []byte) {
	secs, err := strconv.ParseFloat(strings.TrimSpace(string(arg)), 64)
	if err != nil || secs < 0 || secs != secs {
		secs = 0
	}
	if secs > 1e9 {
		secs = 1e9
	}
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	for !c.killed.Load() {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		time.Sleep(min(left, debugSleepSlice))
	}
	c.OK()
}

func debugObject(c *client, key []byte) {
	tx := c.Lock(key)
	e, ok := tx.Peek(int(c.Selected.Load()), key)
	if !ok {
		tx.Unlock()
		c.Err(protocol.ErrNoSuchKey)
		return
	}
	enc, idle := e.Encoding(), e.IdleMs()/1000
	size := e.MemoryUsage()
	if str := e.Str(); str != nil {
		size = serializedLen(str, enc)
	}
	lru := (time.Now().Unix() - idle) & (1<<24 - 1)
	tx.Unlock()
	c.Simple("Value at:0x0 refcount:1 encoding:" + enc + " serializedlength:" + strconv.FormatInt(size, 10) +
		" lru:" + strconv.FormatInt(lru, 10) + " lru_seconds_idle:" + strconv.FormatInt(idle, 10))
}

// serializedLen is the length of a string in Redis's RDB encoding, which
// DEBUG OBJECT reports: small integers take 2, 3 or 5 bytes, other strings
// a length prefix (1, 2, 5 or 9 bytes) and their bytes.
func serializedLen(v []byte, enc string) int64 {
	if enc == "int" {
		if n, ok := protocol.ParseInt(v); ok {
			switch {
			case n >= -1<<7 && n < 1<<7:
				return 2
			case n >= -1<<15 && n < 1<<15:
				return 3
			case n >= -1<<31 && n < 1<<31:
				return 5
			}
		}
	}
	n := int64(len(v))
	switch {
	case n < 1<<6:
		return 1 + n
	case n < 1<<14:
		return 2 + n
	case n < 1<<32:
		return 5 + n
	}
	return 9 + n
}

func memorySpec() spec {
	sub := func(name string, arity int, flags, summary, complexity string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: flags, group: "server", since: "4.0.0",
			summary: summary, complexity: complexity, fn: fn}
	}
	usage := sub("usage", -3, "readonly", "Estimates the memory usage of a key.",
		"O(N) where N is the number of samples.", memoryUsageCommand).withKeys("RO | index 2 | range 0 1 0")
	usage.first, usage.last, usage.step = 2, 2, 1
	return spec{name: "memory", arity: -2, group: "server", since: "4.0.0",
		summary: "A container for memory diagnostics commands.", complexity: "Depends on subcommand.",
		subs: []spec{
			sub("doctor", 2, "", "Outputs a memory problems report.", "O(1)", memoryDoctorCommand).withTips("nondeterministic_output request_policy:all_shards response_policy:special"),
			sub("help", 2, "loading stale", "Returns helpful text about the different subcommands.", "O(1)", memoryHelpCommand),
			sub("malloc-stats", 2, "", "Returns the allocator statistics.",
				"Depends on how much memory is allocated, could be slow", memoryMallocStatsCommand).withTips("nondeterministic_output request_policy:all_shards response_policy:special"),
			sub("purge", 2, "", "Asks the allocator to release memory.",
				"Depends on how much memory is allocated, could be slow", memoryPurgeCommand).withTips("request_policy:all_shards response_policy:all_succeeded"),
			sub("stats", 2, "", "Returns details about memory usage.", "O(1)", memoryStatsCommand).withTips("nondeterministic_output request_policy:all_shards response_policy:special"),
			usage,
		}}
}

func memoryUsageCommand(c *client, args [][]byte) {
	for i := 3; i < len(args); i++ {
		if !strings.EqualFold(string(args[i]), "SAMPLES") || i+1 >= len(args) {
			c.Err(protocol.ErrSyntax)
			return
		}
		n, ok := protocol.ParseInt(args[i+1])
		if !ok {
			c.Err(protocol.ErrNotInteger)
			return
		}
		if n < 0 {
			c.Err(protocol.ErrSyntax)
			return
		}
		i++ // cached measures whole values: the sample count changes nothing
	}
	tx := c.Lock(args[2])
	e, ok := tx.Peek(int(c.Selected.Load()), args[2])
	var n int64
	if ok {
		n = e.MemoryUsage()
	}
	tx.Unlock()
	if !ok {
		c.Null()
		return
	}
	c.Int(n)
}

func memoryStatsCommand(c *client, args [][]byte) {
	m := c.s.memStats()
	perKey := int64(0)
	if m.keys > 0 {
		perKey = m.dataset / m.keys
	}
	ints := []struct {
		name string
		v    int64
	}{
		{"peak.allocated", m.peak}, {"total.allocated", m.used}, {"startup.allocated", 0},
		{"replication.backlog", 0}, {"clients.slaves", 0}, {"clients.normal", 0}, {"cluster.links", 0},
		{"aof.buffer", 0}, {"lua.caches", 0}, {"functions.caches", 0}, {"overhead.total", m.overhead},
		{"keys.count", m.keys}, {"keys.bytes-per-key", perKey}, {"dataset.bytes", m.dataset},
		{"allocator.allocated", m.allocated}, {"allocator.active", m.active}, {"allocator.resident", m.resident},
		{"allocator-fragmentation.bytes", m.active - m.allocated}, {"allocator-rss.bytes", m.resident - m.active},
		{"rss-overhead.bytes", m.rss - m.resident}, {"fragmentation.bytes", m.rss - m.used},
	}
	doubles := []struct {
		name string
		v    float64
	}{
		{"dataset.percentage", 100 * ratio(m.dataset, m.used)}, {"peak.percentage", 100 * ratio(m.used, m.peak)},
		{"allocator-fragmentation.ratio", ratio(m.active, m.allocated)},
		{"allocator-rss.ratio", ratio(m.resident, m.active)}, {"rss-overhead.ratio", ratio(m.rss, m.resident)},
		{"fragmentation", ratio(m.rss, m.used)},
	}
	c.MapLen(len(ints) + len(doubles))
	for _, f := range ints {
		c.BulkString(f.name)
		c.Int(f.v)
	}
	for _, f := range doubles {
		c.BulkString(f.name)
		c.Double(f.v)
	}
}

func memoryDoctorCommand(c *client, args [][]byte) {
	m := c.s.memStats()
	var report string
	switch {
	case m.used < 5<<20:
		report = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
	case ratio(m.rss, m.used) > 1.4:
		report = "Sam, I detected a few issues in this cached instance memory implants:\n\n" +
			" * High total RSS: the process RSS is " + strconv.FormatFloat(ratio(m.rss, m.used), 'f', 2, 64) +
			" times the memory used by keys. The Go runtime keeps freed memory for reuse; MEMORY PURGE returns it to the system.\n\n" +
			"I'm here to keep you safe, Sam. I want to help you.\n"
	default:
		report = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
	}
	c.Verbatim(report)
}

func memoryMallocStatsCommand(c *client, args [][]byte) {
	descs := metrics.All()
	samples := make([]metrics.Sample, 0, len(descs))
	for _, d := range descs {
		if strings.HasPrefix(d.Name, "/memory/") || strings.HasPrefix(d.Name, "/gc/heap/") {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	var b strings.Builder
	b.WriteString("Go runtime memory statistics (" + runtime.Version() + "):\n")
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			b.WriteString(s.Name + " " + strconv.FormatUint(s.Value.Uint64(), 10) + "\n")
		}
	}
	c.Verbatim(b.String())
}

func memoryPurgeCommand(c *client, args [][]byte) {
	debug.FreeOSMemory()
	c.OK()
}

func memoryHelpCommand(c *client, args [][]byte) {
	c.HelpReply("MEMORY", []string{
		"DOCTOR",
		"    Return memory problems reports.",
		"MALLOC-STATS",
		"    Return internal statistics report from the memory allocator.",
		"PURGE",
		"    Attempt to purge dirty pages for reclamation by the allocator.",
		"STATS",
		"    Return information about the memory usage of the server.",
		"USAGE <key> [SAMPLES <count>]",
		"    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
	})
}
