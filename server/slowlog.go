package server

import (
	"math"
	"strconv"
)

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
	entries := c.s.slowlog.Get(n)
	c.Array(len(entries))
	for _, e := range entries {
		c.Array(6)
		c.Int(e.ID)
		c.Int(e.At)
		c.Int(e.Micros)
		c.Strs(e.Args)
		c.BulkString(e.Addr)
		c.BulkString(e.Name)
	}
}

func slowlogLenCommand(c *client, _ [][]byte) { c.Int(int64(c.s.slowlog.Len())) }

func slowlogResetCommand(c *client, _ [][]byte) {
	c.s.slowlog.Reset()
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
