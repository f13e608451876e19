package server

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Redis's limits on what a slowlog entry keeps of a command.
const (
	slowlogMaxArgc   = 32
	slowlogMaxArgLen = 128
)

// slowlogEntry is one logged command.
type slowlogEntry struct {
	id       int64
	at       int64 // unix seconds
	micros   int64
	args     []string
	addr     string
	userName string
}

// slowlog is SLOWLOG's ring of the slowest recent commands. threshold is read
// on every command without a lock; the entries are locked (rare path).
type slowlog struct {
	threshold atomic.Int64 // nanoseconds; math.MaxInt64 when disabled

	mu      sync.Mutex // protects the fields below
	maxLen  int
	nextID  int64
	entries []slowlogEntry // newest first
}

// configure applies slowlog-log-slower-than (µs, negative disables) and
// slowlog-max-len.
func (l *slowlog) configure(micros, maxLen int) {
	if micros < 0 {
		l.threshold.Store(math.MaxInt64)
	} else {
		l.threshold.Store(int64(micros) * int64(time.Microsecond))
	}
	l.mu.Lock()
	l.maxLen = maxLen
	if len(l.entries) > maxLen {
		l.entries = l.entries[:maxLen]
	}
	l.mu.Unlock()
}

// add logs a command that took d, copying (and, as Redis, trimming) its args.
func (l *slowlog) add(c *client, args [][]byte, d time.Duration) {
	argc := min(len(args), slowlogMaxArgc)
	kept := make([]string, argc)
	for i := 0; i < argc; i++ {
		switch a := args[i]; {
		case i == slowlogMaxArgc-1 && len(args) > slowlogMaxArgc:
			kept[i] = "... (" + strconv.Itoa(len(args)-slowlogMaxArgc+1) + " more arguments)"
		case len(a) > slowlogMaxArgLen:
			kept[i] = string(a[:slowlogMaxArgLen]) + "... (" + strconv.Itoa(len(a)-slowlogMaxArgLen) + " more bytes)"
		default:
			kept[i] = string(a)
		}
	}
	e := slowlogEntry{at: time.Now().Unix(), micros: int64(d / time.Microsecond), args: kept,
		addr: c.addr, userName: c.getName()}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	if l.maxLen <= 0 {
		return
	}
	if len(l.entries) >= l.maxLen {
		l.entries = l.entries[:l.maxLen-1]
	}
	l.entries = append(l.entries, slowlogEntry{})
	copy(l.entries[1:], l.entries)
	l.entries[0] = e
}

// get returns up to n newest entries (n < 0: all).
func (l *slowlog) get(n int) []slowlogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > len(l.entries) {
		n = len(l.entries)
	}
	return append([]slowlogEntry(nil), l.entries[:n]...)
}

func (l *slowlog) length() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *slowlog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// observabilityCommands declares SLOWLOG.
func observabilityCommands() []spec {
	return []spec{
		{name: "slowlog", arity: -2, group: "server", since: "2.2.12",
			summary: "A container for slow log commands.", complexity: "Depends on subcommand.",
			subs: []spec{
				spec{name: "get", arity: -2, flags: "admin loading stale", group: "server", since: "2.2.12",
					summary: "Returns the slow log's entries.", complexity: "O(N) where N is the number of entries returned", fn: slowlogGetCommand}.withTips("request_policy:all_nodes nondeterministic_output"),
				spec{name: "len", arity: 2, flags: "admin loading stale", group: "server", since: "2.2.12",
					summary: "Returns the number of entries in the slow log.", complexity: "O(1)", fn: slowlogLenCommand}.withTips("request_policy:all_nodes response_policy:agg_sum nondeterministic_output"),
				spec{name: "reset", arity: 2, flags: "admin loading stale", group: "server", since: "2.2.12",
					summary: "Clears all entries from the slow log.", complexity: "O(N) where N is the number of entries in the slowlog", fn: slowlogResetCommand}.withTips("request_policy:all_nodes response_policy:all_succeeded"),
				{name: "help", arity: 2, flags: "loading stale", group: "server", since: "6.2.0",
					summary: "Show helpful text about the different subcommands", complexity: "O(1)", fn: slowlogHelpCommand},
			}},
		monitorSpec(), // monitor.go
	}
}

func slowlogGetCommand(c *client, args [][]byte) {
	n := 10
	if len(args) > 3 {
		c.Err("ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.")
		return
	}
	if len(args) == 3 {
		v, err := strconv.ParseInt(string(args[2]), 10, 64)
		if err != nil || v < -1 || v > math.MaxInt32 {
			c.Err("ERR count should be greater than or equal to -1")
			return
		}
		n = int(v)
	}
	entries := c.s.slowlog.get(n)
	c.Array(len(entries))
	for _, e := range entries {
		c.Array(6)
		c.Int(e.id)
		c.Int(e.at)
		c.Int(e.micros)
		c.Strs(e.args)
		c.BulkString(e.addr)
		c.BulkString(e.userName)
	}
}

func slowlogLenCommand(c *client, _ [][]byte) { c.Int(int64(c.s.slowlog.length())) }

func slowlogResetCommand(c *client, _ [][]byte) {
	c.s.slowlog.reset()
	c.OK()
}

var slowlogHelp = []string{
	"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
	"HELP",
	"    Print this help.",
}

func slowlogHelpCommand(c *client, _ [][]byte) {
	c.Array(len(slowlogHelp))
	for _, l := range slowlogHelp {
		c.Simple(l)
	}
}
