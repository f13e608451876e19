package server

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latencyHistoryLen is how many per-second samples an event keeps (Redis's
// LATENCY_TS_LEN).
const latencyHistoryLen = 160

type latencySample struct {
	at time.Time // second the sample belongs to
	ms int64
}

// latencyEvent is one latency monitor event's history: a ring of samples,
// one per second (the highest of that second), and the all-time maximum.
type latencyEvent struct {
	ring [latencyHistoryLen]latencySample
	next int // ring index of the next sample
	n    int
	max  int64
}

func (e *latencyEvent) add(now time.Time, ms int64) {
	sec := now.Truncate(time.Second)
	if e.n > 0 {
		last := &e.ring[(e.next+latencyHistoryLen-1)%latencyHistoryLen]
		if last.at.Equal(sec) {
			last.ms = max(last.ms, ms)
			e.max = max(e.max, ms)
			return
		}
	}
	e.ring[e.next] = latencySample{at: sec, ms: ms}
	e.next = (e.next + 1) % latencyHistoryLen
	e.n = min(e.n+1, latencyHistoryLen)
	e.max = max(e.max, ms)
}

// samples returns the history oldest first.
func (e *latencyEvent) samples() []latencySample {
	out := make([]latencySample, 0, e.n)
	for i := 0; i < e.n; i++ {
		out = append(out, e.ring[(e.next-e.n+i+2*latencyHistoryLen)%latencyHistoryLen])
	}
	return out
}

// latencyMonitor is Redis's latency monitor: commands slower than
// latency-monitor-threshold milliseconds are recorded as the events
// "command" and "fast-command". The threshold is read on the request path
// with one atomic load; events are rare and locked.
type latencyMonitor struct {
	threshold atomic.Int64 // ms; 0 disables
	mu        sync.Mutex   // protects events
	events    map[string]*latencyEvent
}

// observe records a command that took d if the monitor is on and d reaches
// the threshold. Called from dispatch.
func (m *latencyMonitor) observe(cmd *command, d time.Duration) {
	th := m.threshold.Load()
	if th <= 0 || d.Milliseconds() < th {
		return
	}
	name := "command"
	if cmd.flags&flagFast != 0 {
		name = "fast-command"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = map[string]*latencyEvent{}
	}
	e := m.events[name]
	if e == nil {
		e = &latencyEvent{}
		m.events[name] = e
	}
	e.add(time.Now(), d.Milliseconds())
}

func latencyCommands() []spec {
	sub := func(name string, arity int, flags, summary, complexity string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: flags, group: "server", since: "2.8.13",
			summary: summary, complexity: complexity, fn: fn}
	}
	return []spec{{name: "latency", arity: -2, group: "server", since: "2.8.13",
		summary: "A container for latency diagnostics commands.", complexity: "Depends on subcommand.",
		subs: []spec{
			sub("latest", 2, "admin noscript loading stale", "Returns the latest latency samples for all events.", "O(1)", latencyLatestCommand).withTips("nondeterministic_output request_policy:all_nodes response_policy:special"),
			sub("history", 3, "admin noscript loading stale", "Returns timestamp-latency samples for an event.", "O(1)", latencyHistoryCommand).withTips("nondeterministic_output request_policy:all_nodes response_policy:special"),
			sub("reset", -2, "admin noscript loading stale", "Resets the latency data for one or more events.", "O(1)", latencyResetCommand).withTips("request_policy:all_nodes response_policy:all_succeeded"),
			sub("histogram", -2, "admin noscript loading stale", "Returns the cumulative distribution of latencies of a subset or all commands.", "O(N) where N is the number of commands with latency information being retrieved.", latencyHistogramCommand).withTips("nondeterministic_output request_policy:all_nodes response_policy:special"),
			sub("help", 2, "loading stale", "Returns helpful text about the different subcommands.", "O(1)", latencyHelpCommand),
		}}}
}

func latencyLatestCommand(c *client, args [][]byte) {
	m := &c.s.latmon
	m.mu.Lock()
	names := make([]string, 0, len(m.events))
	for name := range m.events {
		names = append(names, name)
	}
	sort.Strings(names)
	type row struct {
		name        string
		at          int64
		latest, max int64
	}
	rows := make([]row, 0, len(names))
	for _, name := range names {
		e := m.events[name]
		last := e.ring[(e.next+latencyHistoryLen-1)%latencyHistoryLen]
		rows = append(rows, row{name, last.at.Unix(), last.ms, e.max})
	}
	m.mu.Unlock()
	c.Array(len(rows))
	for _, r := range rows {
		c.Array(4)
		c.BulkString(r.name)
		c.Int(r.at)
		c.Int(r.latest)
		c.Int(r.max)
	}
}

func latencyHistoryCommand(c *client, args [][]byte) {
	m := &c.s.latmon
	m.mu.Lock()
	var samples []latencySample
	if e := m.events[string(args[2])]; e != nil {
		samples = e.samples()
	}
	m.mu.Unlock()
	c.Array(len(samples))
	for _, s := range samples {
		c.Array(2)
		c.Int(s.at.Unix())
		c.Int(s.ms)
	}
}

func latencyResetCommand(c *client, args [][]byte) {
	m := &c.s.latmon
	m.mu.Lock()
	n := 0
	if len(args) == 2 {
		n = len(m.events)
		m.events = nil
	} else {
		for _, name := range args[2:] {
			if _, ok := m.events[string(name)]; ok {
				delete(m.events, string(name))
				n++
			}
		}
	}
	m.mu.Unlock()
	c.Int(int64(n))
}

// latencyHistogramCommand answers LATENCY HISTOGRAM [command ...] as Redis
// 7: a map from command name to {calls, histogram_usec}, the histogram as
// cumulative counts at power-of-two microsecond bounds (only bounds where the
// count grows). Unknown names are skipped.
func latencyHistogramCommand(c *client, args [][]byte) {
	var cmds []*command
	if len(args) == 2 {
		for _, cmd := range c.s.cmds.sorted() {
			cmds = append(cmds, cmd)
			cmds = append(cmds, sortedSubs(cmd)...)
		}
	} else {
		for _, name := range args[2:] {
			if cmd := c.s.lookupFull(strings.ToLower(string(name))); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	var called []*command
	for _, cmd := range cmds {
		if cmd.latency.total() > 0 {
			called = append(called, cmd)
		}
	}
	c.MapLen(len(called))
	for _, cmd := range called {
		cum, total := cmd.latency.powersOfTwoMicros(latencyHistogramPowers)
		c.BulkString(cmd.fullName)
		c.MapLen(2)
		c.BulkString("calls")
		c.Int(int64(total))
		c.BulkString("histogram_usec")
		var bounds, counts []int64
		prev := uint64(0)
		for i, n := range cum {
			if n > prev {
				bounds = append(bounds, int64(1)<<i)
				counts = append(counts, int64(n))
			}
			prev = n
		}
		if total > prev { // slower than the last finite bound
			bounds = append(bounds, int64(1)<<latencyHistogramPowers)
			counts = append(counts, int64(total))
		}
		c.MapLen(len(bounds))
		for i := range bounds {
			c.Int(bounds[i])
			c.Int(counts[i])
		}
	}
}

// latencyHistogramPowers is how many power-of-two µs bounds LATENCY
// HISTOGRAM reports: 1 µs to 2^30 µs (about 18 minutes).
const latencyHistogramPowers = 31

func latencyHelpCommand(c *client, args [][]byte) {
	c.HelpReply("LATENCY", []string{
		"HISTORY <event>", "    Return time-latency samples for the <event> class.",
		"LATEST", "    Return the latest latency samples for all events.",
		"RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
		"    (default: reset all data for all event classes)",
		"HISTOGRAM [COMMAND ...]", "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
		"    If no commands are specified then all histograms are replied.",
	})
}
