package server

import (
	"strings"
)

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
	rows := c.s.latmon.Latest()
	c.Array(len(rows))
	for _, r := range rows {
		c.Array(4)
		c.BulkString(r.Name)
		c.Int(r.At)
		c.Int(r.Latest)
		c.Int(r.Max)
	}
}

func latencyHistoryCommand(c *client, args [][]byte) {
	samples := c.s.latmon.History(string(args[2]))
	c.Array(len(samples))
	for _, s := range samples {
		c.Array(2)
		c.Int(s.At.Unix())
		c.Int(s.Ms)
	}
}

func latencyResetCommand(c *client, args [][]byte) {
	names := make([]string, 0, len(args)-2)
	for _, a := range args[2:] {
		names = append(names, string(a))
	}
	c.Int(int64(c.s.latmon.Reset(names...)))
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
		if cmd.latency.Total() > 0 {
			called = append(called, cmd)
		}
	}
	c.MapLen(len(called))
	for _, cmd := range called {
		cum, total := cmd.latency.PowersOfTwoMicros(latencyHistogramPowers)
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
