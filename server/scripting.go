package server

// Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, with Redis
// 7.0's replies. The Lua side (interpreters, conversions, libraries, the
// script cache) is package script; this file runs a script against the
// store as one unit:
//
//   - the shards of the declared keys are locked for the whole script
//     (the client's held Tx, as a command holds it), or every shard for a
//     script known to touch keys it does not declare; inside EXEC the
//     transaction's Tx is used as it is;
//   - redis.call runs through the command table on an internal client
//     (scriptHost) that shares that Tx, so its changes join the script's
//     one change record; a key outside the Tx extends it (store.Tx.Extend)
//     and, if that would have to wait out of lock order before the script
//     wrote anything, the script is run again from the start with every
//     shard locked;
//   - the Tx commits when EVAL ends (call), so WATCH, keyspace
//     notifications and the effect stream see the script's writes as one
//     unit, as replicas apply them.

import (
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/script"
)

// Scripting error replies, as Redis 7.0 words them.
const (
	errNoScript        = "NOSCRIPT No matching script. Please use EVAL."
	errNegativeKeys    = "ERR Number of keys can't be negative"
	errTooManyKeys     = "ERR Number of keys can't be greater than number of args"
	errBusyEval        = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errBusyFunction    = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	errNotBusy         = "NOTBUSY No scripts in execution right now."
	errUnkillable      = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	errScriptFlushArg  = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
	errNoCluster       = "ERR Can not run script on cluster, 'no-cluster' flag is set."
	errScriptStaleRepl = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
)

// evalKeySpec is EVAL's key spec: numkeys at 2, the keys after it.
const (
	evalKeysRW = "RW access update | index 2 | keynum 0 1 1 | We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
	evalKeysRO = "RO access | index 2 | keynum 0 1 1 | We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"
)

// scriptCommands declares EVAL, EVALSHA, their _RO forms and SCRIPT.
func scriptCommands() []spec {
	ev := func(name, flags, since, summary string, fn handlerFunc, keys string) spec {
		return spec{name: name, arity: -3, flags: flags, group: "scripting", since: since, summary: summary,
			complexity: "Depends on the script that is executed.", fn: fn}.withKeys(keys)
	}
	sub := func(name string, arity int, flags, since, summary, complexity string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: flags, since: since, summary: summary, complexity: complexity, fn: fn}
	}
	return []spec{
		ev("eval", "noscript stale skip_monitor no_mandatory_keys", "2.6.0", "Execute a Lua script server side", evalCommand, evalKeysRW),
		ev("evalsha", "noscript stale skip_monitor no_mandatory_keys", "2.6.0", "Execute a Lua script server side", evalCommand, "RW access update | index 2 | keynum 0 1 1"),
		ev("eval_ro", "readonly noscript stale skip_monitor no_mandatory_keys", "7.0.0", "Execute a read-only Lua script server side", evalCommand, evalKeysRO),
		ev("evalsha_ro", "readonly noscript stale skip_monitor no_mandatory_keys", "7.0.0", "Execute a read-only Lua script server side", evalCommand, "RO access | index 2 | keynum 0 1 1"),
		{name: "script", arity: -2, group: "scripting", since: "2.6.0", summary: "A container for Lua scripts management commands",
			complexity: "Depends on subcommand.", subs: []spec{
				sub("exists", -3, "noscript", "2.6.0", "Check existence of scripts in the script cache.", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).", scriptExistsCommand).withTips("request_policy:all_shards response_policy:agg_logical_and"),
				sub("flush", -2, "noscript", "2.6.0", "Remove all the scripts from the script cache.", "O(N) with N being the number of scripts in cache", scriptFlushCommand).withTips("request_policy:all_nodes response_policy:all_succeeded"),
				sub("kill", 2, "noscript allow_busy", "2.6.0", "Kill the script currently in execution.", "O(1)", scriptKillCommand).withTips("request_policy:all_shards response_policy:one_succeeded"),
				sub("load", 3, "noscript stale", "2.6.0", "Load the specified Lua script into the script cache.", "O(N) with N being the length in bytes of the script body.", scriptLoadCommand).withTips("request_policy:all_nodes response_policy:all_succeeded"),
				sub("help", 2, "loading stale", "5.0.0", "Show helpful text about the different subcommands", "O(1)", scriptHelpCommand),
			}},
	}
}

// evalCommand is EVAL, EVALSHA, EVAL_RO and EVALSHA_RO.
func evalCommand(c *client, args [][]byte) {
	name := c.lastCmd.Load().name // call set it: a renamed EVAL keeps its own name
	byHash := strings.HasPrefix(name, "evalsha")
	ro := strings.HasSuffix(name, "_ro")
	keys, argv, ok := c.scriptKeys(args)
	if !ok {
		return
	}
	var sc *script.Script
	if byHash {
		if sc = c.s.scripts.Lookup(args[1]); sc == nil {
			c.Err(errNoScript)
			return
		}
	} else {
		var err error
		if sc, err = c.s.scripts.Load(args[1]); err != nil {
			c.Err(err.Error())
			return
		}
	}
	c.s.runScript(c, scriptCall{sc: sc, keys: keys, args: argv, argv: args, ro: ro, name: sc.SHA, flags: sc.Flags})
}

// scriptKeys splits EVAL's or FCALL's arguments after the script into
// keys and arguments, answering Redis's error when numkeys is bad.
func (c *client) scriptKeys(args [][]byte) (keys, argv [][]byte, ok bool) {
	n, isInt := protocol.ParseInt(args[2])
	switch {
	case !isInt:
		c.Err(protocol.ErrNotInteger)
		return nil, nil, false
	case n < 0:
		c.Err(errNegativeKeys)
		return nil, nil, false
	case n > int64(len(args)-3):
		c.Err(errTooManyKeys)
		return nil, nil, false
	}
	return args[3 : 3+n], args[3+n:], true
}

func scriptLoadCommand(c *client, args [][]byte) {
	sc, err := c.s.scripts.Load(args[2])
	if err != nil {
		c.Err(err.Error())
		return
	}
	c.BulkString(sc.SHA)
}

func scriptExistsCommand(c *client, args [][]byte) {
	c.Array(len(args) - 2)
	for _, sha := range args[2:] {
		c.BoolInt(c.s.scripts.Lookup(sha) != nil)
	}
}

func scriptFlushCommand(c *client, args [][]byte) {
	if len(args) > 3 || len(args) == 3 && !strings.EqualFold(string(args[2]), "sync") &&
		!strings.EqualFold(string(args[2]), "async") {
		c.Err(errScriptFlushArg)
		return
	}
	c.s.scripts.Flush()
	c.OK()
}

func scriptKillCommand(c *client, args [][]byte) { c.killScript(false) }

// killScript is SCRIPT KILL (function false) and FUNCTION KILL.
func (c *client) killScript(function bool) {
	switch c.s.scripts.Kill(function) {
	case script.KillOK:
		c.OK()
	case script.KillUnkillable:
		c.Err(errUnkillable)
	case script.KillWrongKind:
		if function {
			c.Err(errBusyEval)
		} else {
			c.Err(errBusyFunction)
		}
	default:
		c.Err(errNotBusy)
	}
}

func scriptHelpCommand(c *client, args [][]byte) {
	c.Strs([]string{
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed.",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
		"HELP",
		"    Prints this help.",
	})
}

// busyRefusal is the BUSY error a command gets while a script runs past
// busy-reply-threshold, or "" (commands flagged allow_busy always run).
func (s *Server) busyRefusal(cmd *command) string {
	if cmd.flags&flagAllowBusy != 0 {
		return ""
	}
	busy, function := s.scripts.Busy()
	switch {
	case !busy:
		return ""
	case function:
		return errBusyFunction
	}
	return errBusyEval
}
