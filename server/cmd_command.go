package server

import (
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/keyspec"
)

// COMMAND and its subcommands: the command table as Redis 7 describes it,
// which cluster clients (go-redis ClusterClient, rueidis) read to find keys.
// COMMAND is a container whose own handler (COMMAND alone) lists every
// command; the dispatcher runs it when no subcommand is given.

func commandSpec() spec {
	return spec{name: "command", arity: -1, flags: "loading stale", acl: "connection", group: "server",
		since: "2.8.13", summary: "Returns detailed information about all commands.",
		complexity: "O(N) where N is the total number of Redis commands", fn: commandCommand,
		subs: commandSubSpecs()}.withTips("nondeterministic_output_order")
}

// commandSubSpecs are COMMAND's subcommands.
func commandSubSpecs() []spec {
	sub := func(name string, arity int, since, summary, complexity string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: "loading stale", acl: "connection", group: "server",
			since: since, summary: summary, complexity: complexity, fn: fn}
	}
	return []spec{
		sub("count", 2, "2.8.13", "Returns a count of commands.", "O(1)", commandCountCommand),
		sub("docs", -2, "7.0.0", "Returns documentary information about one, multiple or all commands.",
			"O(N) where N is the number of commands to look up", commandDocsCommand).withTips("nondeterministic_output_order"),
		sub("getkeys", -4, "2.8.13", "Extracts the key names from an arbitrary command.",
			"O(N) where N is the number of arguments to the command", commandGetKeysCommand),
		sub("getkeysandflags", -4, "7.0.0", "Extracts the key names and access flags for an arbitrary command.",
			"O(N) where N is the number of arguments to the command", commandGetKeysAndFlagsCommand),
		sub("help", 2, "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", commandHelpCommand),
		sub("info", -2, "2.8.13", "Returns information about one, multiple or all commands.",
			"O(N) where N is the number of commands to look up", commandInfoCommand).withTips("nondeterministic_output_order"),
		sub("list", -2, "7.0.0", "Returns a list of command names.",
			"O(N) where N is the total number of Redis commands", commandListCommand).withTips("nondeterministic_output_order"),
	}
}

// subcommandsOf returns c's subcommands sorted by name.
func subcommandsOf(c *command) []*command { return sortedSubs(c) }

// commandCommand is COMMAND alone: every command's COMMAND INFO entry.
func commandCommand(c *client, args [][]byte) {
	cmds := c.s.cmds.sorted()
	c.Array(len(cmds))
	for _, cmd := range cmds {
		c.commandInfo(cmd)
	}
}

// lookupFull finds a command by its full name ("get", "config|get"),
// case-insensitively.
func (s *Server) lookupFull(name string) *command {
	parent, sub, hasSub := strings.Cut(strings.ToLower(name), "|")
	c := s.cmds.lookup([]byte(parent))
	if c == nil || !hasSub {
		return c
	}
	for _, sc := range subcommandsOf(c) {
		if sc.name == sub {
			return sc
		}
	}
	return nil
}

// lookupArgs finds the command that args (a full command line) would run, as
// Redis's lookupCommand: a container with a known subcommand gives the
// subcommand, a container alone gives the container, an unknown
// subcommand gives nil.
func (s *Server) lookupArgs(args [][]byte) *command {
	c := s.cmds.lookup(args[0])
	if c == nil || len(args) < 2 {
		return c
	}
	subs := subcommandsOf(c)
	if len(subs) == 0 {
		return c
	}
	name := strings.ToLower(string(args[1]))
	for _, sc := range subs {
		if sc.name == name {
			return sc
		}
	}
	return nil
}

func commandCountCommand(c *client, args [][]byte) {
	c.Int(int64(len(c.s.cmds.m)))
}

func commandInfoCommand(c *client, args [][]byte) {
	if len(args) == 2 {
		commandCommand(c, args[:1])
		return
	}
	c.Array(len(args) - 2)
	for _, a := range args[2:] {
		if cmd := c.s.lookupFull(string(a)); cmd != nil {
			c.commandInfo(cmd)
		} else {
			c.Null()
		}
	}
}

// commandInfo writes one COMMAND INFO entry in Redis 7's ten-field format.
func (c *client) commandInfo(cmd *command) {
	c.Array(10)
	c.BulkString(cmd.fullName)
	c.Int(int64(cmd.arity))
	var flags []string
	for _, name := range flagReplyOrder {
		if cmd.flags&(1<<indexOf(flagNames, name)) != 0 {
			flags = append(flags, name)
		}
	}
	c.statusSet(flags)
	c.Int(int64(cmd.first))
	c.Int(int64(cmd.last))
	c.Int(int64(cmd.step))
	c.statusSet(aclReplyOrder(cmd.acl))
	c.SetLen(len(cmd.tips))
	for _, t := range cmd.tips {
		c.BulkString(t)
	}
	keyspec.Write(&c.Ctx, cmd.keySpecs)
	subs := subcommandsOf(cmd)
	if len(subs) == 0 {
		c.SetLen(0)
		return
	}
	c.Array(len(subs))
	for _, sub := range subs {
		c.commandInfo(sub)
	}
}

// flagReplyOrder is the order in which Redis 7 lists command flags;
// may_replicate is not listed, as in Redis ("hidden on purpose").
var flagReplyOrder = []string{"write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking",
	"loading", "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi",
	"movablekeys", "allow_busy"}

// aclOrder is Redis's order of ACL categories, in which COMMAND lists them.
var aclOrder = strings.Fields("keyspace read write set sortedset list hash string bitmap hyperloglog " +
	"geo stream pubsub admin fast slow blocking dangerous connection transaction scripting")

// aclReplyOrder returns the categories as "@name", in Redis's order
// (unknown ones last, in their order).
func aclReplyOrder(acl []string) []string {
	out := make([]string, 0, len(acl))
	for _, a := range aclOrder {
		if indexOf(acl, a) >= 0 {
			out = append(out, "@"+a)
		}
	}
	for _, a := range acl {
		if indexOf(aclOrder, a) < 0 {
			out = append(out, "@"+a)
		}
	}
	return out
}

// statusSet writes a set of simple strings (an array in RESP2).
func (c *client) statusSet(items []string) {
	c.SetLen(len(items))
	for _, s := range items {
		c.Simple(s)
	}
}

func commandDocsCommand(c *client, args [][]byte) {
	var cmds []*command
	if len(args) == 2 {
		cmds = c.s.cmds.sorted()
	} else {
		for _, a := range args[2:] {
			if cmd := c.s.lookupFull(string(a)); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	c.MapLen(len(cmds))
	for _, cmd := range cmds {
		c.BulkString(cmd.fullName)
		c.commandDocs(cmd)
	}
}

// commandDocs writes one command's documentation map. cached's table holds
// no argument descriptions, so "arguments" is never present.
func (c *client) commandDocs(cmd *command) {
	subs := subcommandsOf(cmd)
	n := 1
	for _, s := range []string{cmd.summary, cmd.since, cmd.complexity} {
		if s != "" {
			n++
		}
	}
	if len(subs) > 0 {
		n++
	}
	c.MapLen(n)
	if cmd.summary != "" {
		c.BulkString("summary")
		c.BulkString(cmd.summary)
	}
	if cmd.since != "" {
		c.BulkString("since")
		c.BulkString(cmd.since)
	}
	c.BulkString("group")
	c.BulkString(cmd.group)
	if cmd.complexity != "" {
		c.BulkString("complexity")
		c.BulkString(cmd.complexity)
	}
	if len(subs) > 0 {
		c.BulkString("subcommands")
		c.MapLen(len(subs))
		for _, sub := range subs {
			c.BulkString(sub.fullName)
			c.commandDocs(sub)
		}
	}
}

func commandListCommand(c *client, args [][]byte) {
	match := func(*command) bool { return true }
	switch {
	case len(args) == 2:
	case len(args) == 5 && strings.EqualFold(string(args[2]), "FILTERBY"):
		v := args[4]
		switch strings.ToLower(string(args[3])) {
		case "module":
			match = func(*command) bool { return false } // cached has no modules
		case "aclcat":
			cat := strings.ToLower(string(v))
			match = func(cmd *command) bool { return indexOf(cmd.acl, cat) >= 0 }
		case "pattern":
			match = func(cmd *command) bool { return protocol.Match(v, []byte(cmd.fullName), true) }
		default:
			c.Err(protocol.ErrSyntax)
			return
		}
	default:
		c.Err(protocol.ErrSyntax)
		return
	}
	var names []string
	for _, cmd := range c.s.cmds.sorted() {
		if match(cmd) {
			names = append(names, cmd.fullName)
		}
		for _, sub := range subcommandsOf(cmd) {
			if match(sub) {
				names = append(names, sub.fullName)
			}
		}
	}
	c.Strs(names)
}

func commandGetKeysCommand(c *client, args [][]byte)         { c.getKeys(args[2:], false) }
func commandGetKeysAndFlagsCommand(c *client, args [][]byte) { c.getKeys(args[2:], true) }

// getKeys answers COMMAND GETKEYS / GETKEYSANDFLAGS for the command line
// line from the command's key specs, with Redis 7's errors.
func (c *client) getKeys(line [][]byte, withFlags bool) {
	cmd := c.s.lookupArgs(line)
	switch {
	case cmd == nil:
		c.Err("ERR Invalid command specified")
		return
	case !cmd.hasKeys():
		c.Err("ERR The command has no key arguments")
		return
	case !cmd.arityOK(len(line)):
		c.Err("ERR Invalid number of arguments specified for command")
		return
	}
	refs, ok := keyspec.Find(cmd.keySpecs, line, false)
	if (!ok || len(refs) == 0) && cmd.flags&flagNoMandatoryKeys != 0 {
		refs = nil // as Redis: EVAL and FCALL may have no keys
	} else if !ok || len(refs) == 0 {
		c.Err("ERR Invalid arguments specified for command")
		return
	}
	c.Array(len(refs))
	for _, r := range refs {
		if !withFlags {
			c.Bulk(line[r.Pos])
			continue
		}
		flags := r.Flags
		if cmd.keyFlags != nil {
			flags = cmd.keyFlags(line)
		}
		c.Array(2)
		c.Bulk(line[r.Pos])
		c.statusSet(flags)
	}
}

// hasKeys reports whether a key spec of cmd finds keys (not shard
// channels), as Redis's doesCommandHaveKeys.
func (cmd *command) hasKeys() bool {
	for i := range cmd.keySpecs {
		if !cmd.keySpecs[i].Has("not_key") {
			return true
		}
	}
	return false
}

func commandHelpCommand(c *client, args [][]byte) {
	c.HelpReply("COMMAND", []string{
		"(no subcommand)",
		"    Return details about all Redis commands.",
		"COUNT",
		"    Return the total number of commands in this Redis server.",
		"LIST",
		"    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"GETKEYS <full-command>",
		"    Return the keys from a full Redis command.",
		"GETKEYSANDFLAGS <full-command>",
		"    Return the keys and the access flags from a full Redis command.",
	})
}
