package server

import (
	"strings"

	"github.com/cached/cached/protocol"
)

// COMMAND and its subcommands: the command table as Redis 7 describes it,
// which cluster clients (go-redis ClusterClient, rueidis) read to find keys.
// COMMAND is a container whose own handler (COMMAND alone) lists every
// command; the dispatcher runs it when no subcommand is given.

func commandSpec() spec {
	return spec{name: "command", arity: -1, flags: "loading stale", acl: "connection", group: "server",
		since: "2.8.13", summary: "Returns detailed information about all commands.",
		complexity: "O(N) where N is the total number of Redis commands", fn: commandCommand,
		subs: commandSubSpecs()}
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
			"O(N) where N is the number of commands to look up", commandDocsCommand),
		sub("getkeys", -4, "2.8.13", "Extracts the key names from an arbitrary command.",
			"O(N) where N is the number of arguments to the command", commandGetKeysCommand),
		sub("getkeysandflags", -4, "7.0.0", "Extracts the key names and access flags for an arbitrary command.",
			"O(N) where N is the number of arguments to the command", commandGetKeysAndFlagsCommand),
		sub("help", 2, "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", commandHelpCommand),
		sub("info", -2, "2.8.13", "Returns information about one, multiple or all commands.",
			"O(N) where N is the number of commands to look up", commandInfoCommand),
		sub("list", -2, "7.0.0", "Returns a list of command names.",
			"O(N) where N is the total number of Redis commands", commandListCommand),
	}
}

// subcommandsOf returns c's subcommands sorted by name.
func subcommandsOf(c *command) []*command { return sortedSubs(c) }

// commandCommand is COMMAND alone: every command's COMMAND INFO entry.
func commandCommand(c *client, args [][]byte) {
	cmds := c.s.cmds.sorted()
	c.array(len(cmds))
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
	c.int(int64(len(c.s.cmds.m)))
}

func commandInfoCommand(c *client, args [][]byte) {
	if len(args) == 2 {
		commandCommand(c, args[:1])
		return
	}
	c.array(len(args) - 2)
	for _, a := range args[2:] {
		if cmd := c.s.lookupFull(string(a)); cmd != nil {
			c.commandInfo(cmd)
		} else {
			c.null()
		}
	}
}

// commandTips are the command tips (COMMAND INFO's 8th field) of every
// Redis 7.0.15 command that has some, by full name; cluster clients route
// by them (go-redis reads request_policy and response_policy).
var commandTips = groupTable([]tableGroup{
	{[]string{"nondeterministic_output"}, "client|info client|list cluster|bumpepoch " +
		"cluster|count-failure-reports cluster|getkeysinslot cluster|info cluster|links cluster|nodes " +
		"cluster|replicas cluster|shards cluster|slaves cluster|slots dump hrandfield hscan lastsave " +
		"migrate object|encoding object|freq object|idletime object|refcount pttl spop srandmember " +
		"sscan time ttl xadd xautoclaim xclaim xinfo|consumers xpending xtrim zrandmember zscan"},
	{[]string{"nondeterministic_output_order"}, "command command|docs command|info command|list " +
		"function|list hgetall hkeys hvals module|list sdiff sinter smembers sunion"},
	{[]string{"request_policy:all_nodes", "response_policy:all_succeeded"},
		"config|set latency|reset script|flush script|load slowlog|reset"},
	{[]string{"request_policy:all_shards", "response_policy:agg_sum"}, "dbsize"},
	{[]string{"request_policy:multi_shard", "response_policy:agg_sum"}, "del exists touch unlink"},
	{[]string{"request_policy:all_shards", "response_policy:all_succeeded"},
		"flushall flushdb function|delete function|flush function|load function|restore memory|purge ping"},
	{[]string{"request_policy:all_shards", "response_policy:one_succeeded"}, "function|kill script|kill"},
	{[]string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
		"function|stats info memory|doctor memory|malloc-stats memory|stats"},
	{[]string{"request_policy:all_shards", "nondeterministic_output_order"}, "keys"},
	{[]string{"nondeterministic_output", "request_policy:all_nodes", "response_policy:special"},
		"latency|doctor latency|graph latency|histogram latency|history latency|latest"},
	{[]string{"request_policy:multi_shard"}, "mget"},
	{[]string{"request_policy:multi_shard", "response_policy:all_succeeded"}, "mset"},
	{[]string{"request_policy:multi_shard", "response_policy:agg_min"}, "msetnx"},
	{[]string{"request_policy:all_shards", "nondeterministic_output"}, "randomkey"},
	{[]string{"nondeterministic_output", "request_policy:special"}, "scan"},
	{[]string{"request_policy:all_shards", "response_policy:agg_logical_and"}, "script|exists"},
	{[]string{"request_policy:all_nodes", "nondeterministic_output"}, "slowlog|get"},
	{[]string{"request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"}, "slowlog|len"},
	{[]string{"request_policy:all_shards", "response_policy:agg_min"}, "wait"},
})

// tableGroup gives the same values to a space-separated list of commands.
type tableGroup struct {
	values []string
	cmds   string
}

func groupTable(groups []tableGroup) map[string][]string {
	m := map[string][]string{}
	for _, g := range groups {
		for _, name := range strings.Fields(g.cmds) {
			m[name] = g.values
		}
	}
	return m
}

// commandInfo writes one COMMAND INFO entry in Redis 7's ten-field format.
func (c *client) commandInfo(cmd *command) {
	c.array(10)
	c.bulkString(cmd.fullName)
	c.int(int64(cmd.arity))
	var flags []string
	for i, name := range flagNames {
		if cmd.flags&(1<<i) != 0 {
			flags = append(flags, name)
		}
	}
	c.statusSet(flags)
	first, last, step := cmd.first, cmd.last, cmd.step
	if cmd.keysFn != nil && first <= 0 {
		first, last, step = 0, 0, 0
	}
	c.int(int64(first))
	c.int(int64(last))
	c.int(int64(step))
	c.statusSet(aclReplyOrder(cmd.acl))
	tips := commandTips[cmd.fullName]
	c.setLen(len(tips))
	for _, t := range tips {
		c.bulkString(t)
	}
	c.keySpecs(cmd)
	subs := subcommandsOf(cmd)
	if len(subs) == 0 {
		c.setLen(0)
		return
	}
	c.array(len(subs))
	for _, sub := range subs {
		c.commandInfo(sub)
	}
}

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
	c.setLen(len(items))
	for _, s := range items {
		c.simple(s)
	}
}

// keySpecFlags returns the Redis 7 key-spec flags of a command's keys, as
// Redis spells them: RO/RW/OW/RM for the access to the key, then access,
// update, insert, delete for what is done to the value.
func keySpecFlags(cmd *command) []string {
	if f, ok := keySpecOverrides[cmd.fullName]; ok {
		return f
	}
	switch {
	case cmd.flags&flagWrite != 0:
		return []string{"RW", "update"}
	case cmd.flags&flagReadonly != 0:
		return []string{"RO", "access"}
	}
	return []string{"RO"}
}

// keySpecOverrides are the flags of the first key spec of every Redis
// 7.0.15 command with keys whose flags differ from the default for its
// read/write flag, by full name.
var keySpecOverrides = groupTable([]tableGroup{
	{[]string{"RO", "access"}, "copy"},
	{[]string{"RW", "access", "delete"}, "blmove blmpop blpop brpop brpoplpush bzmpop bzpopmax bzpopmin " +
		"getdel lmove lmpop lpop migrate rename renamenx rpop rpoplpush smove spop zmpop zpopmax zpopmin"},
	{[]string{"RO"}, "exists hexists hlen hstrlen llen memory|usage object|encoding object|freq " +
		"object|idletime object|refcount scard sismember strlen touch type watch xlen zcard"},
	{[]string{"RW", "access", "update"}, "decr decrby eval evalsha fcall getex getset hincrby " +
		"hincrbyfloat incr incrby incrbyfloat move setbit zincrby"},
	{[]string{"OW", "update"}, "bitop geosearchstore mset psetex restore restore-asking sdiffstore " +
		"setex sunionstore zdiffstore zinterstore zrangestore zunionstore"},
	{[]string{"RW", "delete"}, "hdel lrem ltrim srem xautoclaim xdel xgroup|delconsumer xgroup|destroy " +
		"xtrim zrem zremrangebylex zremrangebyrank zremrangebyscore"},
	{[]string{"RW", "insert"}, "append hsetnx linsert lpush lpushx pfadd rpush rpushx sadd " +
		"xgroup|create xgroup|createconsumer"},
	{[]string{"not_key"}, "spublish ssubscribe sunsubscribe"},
	{[]string{"RW", "access", "update", "variable_flags"}, "bitfield set"},
	{[]string{"RM", "delete"}, "del unlink"},
	{[]string{"OW", "insert"}, "msetnx setnx"},
	{[]string{"RW", "access"}, "pfcount pfdebug"},
	{[]string{"RW", "access", "insert"}, "pfmerge"},
})

// keySpecNotes are Redis 7.0.15's key-spec notes.
var keySpecNotes = map[string]string{
	"eval":     "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
	"fcall":    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
	"eval_ro":  "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
	"fcall_ro": "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
	"bitfield": "This command allows both access and modification of the key",
	"pfcount":  "RW because it may change the internal representation of the key, and propagate to replicas",
	"set":      "RW and ACCESS due to the optional `GET` argument",
	"getex":    "RW and UPDATE because it changes the TTL",
	"xadd":     "UPDATE instead of INSERT because of the optional trimming feature",
}

// keySpecs writes the command's key specs: one range spec built from
// first/last/step, or an "unknown" spec for movable keys, none without keys.
func (c *client) keySpecs(cmd *command) {
	if cmd.first <= 0 && cmd.keysFn == nil {
		c.setLen(0)
		return
	}
	c.setLen(1)
	if note := keySpecNotes[cmd.fullName]; note != "" {
		c.mapLen(4)
		c.bulkString("notes")
		c.bulkString(note)
	} else {
		c.mapLen(3)
	}
	c.bulkString("flags")
	c.statusSet(keySpecFlags(cmd))
	c.bulkString("begin_search")
	c.mapLen(2)
	c.bulkString("type")
	if cmd.first <= 0 {
		c.bulkString("unknown")
		c.bulkString("spec")
		c.mapLen(0)
		c.bulkString("find_keys")
		c.mapLen(2)
		c.bulkString("type")
		c.bulkString("unknown")
		c.bulkString("spec")
		c.mapLen(0)
		return
	}
	c.bulkString("index")
	c.bulkString("spec")
	c.mapLen(1)
	c.bulkString("index")
	c.int(int64(cmd.first))
	c.bulkString("find_keys")
	c.mapLen(2)
	c.bulkString("type")
	c.bulkString("range")
	c.bulkString("spec")
	c.mapLen(3)
	lastkey := cmd.last
	if lastkey >= 0 {
		lastkey -= cmd.first // relative to the first key, as Redis's range spec
	}
	step := cmd.step
	if step <= 0 {
		step = 1
	}
	c.bulkString("lastkey")
	c.int(int64(lastkey))
	c.bulkString("keystep")
	c.int(int64(step))
	c.bulkString("limit")
	c.int(0)
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
	c.mapLen(len(cmds))
	for _, cmd := range cmds {
		c.bulkString(cmd.fullName)
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
	c.mapLen(n)
	if cmd.summary != "" {
		c.bulkString("summary")
		c.bulkString(cmd.summary)
	}
	if cmd.since != "" {
		c.bulkString("since")
		c.bulkString(cmd.since)
	}
	c.bulkString("group")
	c.bulkString(cmd.group)
	if cmd.complexity != "" {
		c.bulkString("complexity")
		c.bulkString(cmd.complexity)
	}
	if len(subs) > 0 {
		c.bulkString("subcommands")
		c.mapLen(len(subs))
		for _, sub := range subs {
			c.bulkString(sub.fullName)
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
			c.err(protocol.ErrSyntax)
			return
		}
	default:
		c.err(protocol.ErrSyntax)
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
	c.strs(names)
}

func commandGetKeysCommand(c *client, args [][]byte)         { c.getKeys(args[2:], false) }
func commandGetKeysAndFlagsCommand(c *client, args [][]byte) { c.getKeys(args[2:], true) }

// getKeys answers COMMAND GETKEYS / GETKEYSANDFLAGS for the command line line.
func (c *client) getKeys(line [][]byte, withFlags bool) {
	cmd := c.s.lookupArgs(line)
	switch {
	case cmd == nil:
		c.err("ERR Invalid command specified")
		return
	case cmd.first <= 0 && cmd.keysFn == nil:
		c.err("ERR The command has no key arguments")
		return
	case !cmd.arityOK(len(line)):
		c.err("ERR Invalid number of arguments specified for command")
		return
	}
	pos := cmd.keyPositions(line)
	if len(pos) == 0 {
		c.err("ERR Invalid arguments specified for command")
		return
	}
	flags := keySpecFlags(cmd)
	c.array(len(pos))
	for _, p := range pos {
		if p < 0 || p >= len(line) {
			c.null()
			continue
		}
		if !withFlags {
			c.bulk(line[p])
			continue
		}
		c.array(2)
		c.bulk(line[p])
		c.statusSet(flags)
	}
}

func commandHelpCommand(c *client, args [][]byte) {
	c.helpReply("COMMAND", []string{
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
