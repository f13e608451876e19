package server

// FUNCTION and FCALL, with Redis 7.0's replies. Libraries live in the
// script engine (package script); a function runs as an EVAL script does
// (script_run.go), with its registered flags.

import (
	"strings"
	"time"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/script"
	"github.com/cached/cached/store/rdb"
)

// Function error replies, as Redis 7.0 words them.
const (
	errFunctionNotFound = "ERR Function not found"
	errFcallROWrite     = "ERR Can not execute a script with write flag using *_ro command."
	errLibraryNotFound  = "ERR Library not found"
	errFunctionFlushArg = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
	errLibNameMissing   = "ERR library name argument was not given"
	errRestorePolicy    = "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
	errDumpPayload      = "ERR DUMP payload version or checksum are wrong"
	errFunctionPayload  = "ERR given payload is not a valid function payload"
)

// rdbOpcodeFunction2 starts a library in a FUNCTION DUMP payload.
const rdbOpcodeFunction2 = 245

// functionCommands declares FCALL, FCALL_RO and FUNCTION.
func functionCommands() []spec {
	sub := func(name string, arity int, flags, summary, complexity string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: flags, since: "7.0.0", summary: summary, complexity: complexity, fn: fn}
	}
	return []spec{
		spec{name: "fcall", arity: -3, flags: "noscript stale skip_monitor no_mandatory_keys", group: "scripting", since: "7.0.0",
			summary: "Invoke a function", complexity: "Depends on the function that is executed.", fn: fcallCommand}.withKeys(evalKeysRW),
		spec{name: "fcall_ro", arity: -3, flags: "readonly noscript stale skip_monitor no_mandatory_keys", group: "scripting", since: "7.0.0",
			summary: "Invoke a read-only function", complexity: "Depends on the function that is executed.", fn: fcallCommand}.withKeys(evalKeysRO),
		{name: "function", arity: -2, group: "scripting", since: "7.0.0", summary: "A container for function commands",
			complexity: "Depends on subcommand.", subs: []spec{
				sub("delete", 3, "write noscript", "Delete a function by name", "O(1)", functionDeleteCommand).withTips("request_policy:all_shards response_policy:all_succeeded"),
				sub("dump", 2, "noscript", "Dump all functions into a serialized binary payload", "O(N) where N is the number of functions", functionDumpCommand),
				sub("flush", -2, "write noscript", "Deleting all functions", "O(N) where N is the number of functions deleted", functionFlushCommand).withTips("request_policy:all_shards response_policy:all_succeeded"),
				sub("kill", 2, "noscript allow_busy", "Kill the function currently in execution.", "O(1)", functionKillCommand).withTips("request_policy:all_shards response_policy:one_succeeded"),
				sub("list", -2, "noscript", "List information about all the functions", "O(N) where N is the number of functions", functionListCommand).withTips("nondeterministic_output_order"),
				sub("load", -3, "write denyoom noscript", "Create a function with the given arguments (name, code, description)", "O(1) (considering compilation time is redundant)", functionLoadCommand).withTips("request_policy:all_shards response_policy:all_succeeded"),
				sub("restore", -3, "write denyoom noscript", "Restore all the functions on the given payload", "O(N) where N is the number of functions on the payload", functionRestoreCommand).withTips("request_policy:all_shards response_policy:all_succeeded"),
				sub("stats", 2, "noscript allow_busy", "Return information about the function currently running (name, description, duration)", "O(1)", functionStatsCommand).withTips("nondeterministic_output request_policy:all_shards response_policy:special"),
				sub("help", 2, "loading stale", "Show helpful text about the different subcommands", "O(1)", functionHelpCommand),
			}},
	}
}

// fcallCommand is FCALL and FCALL_RO.
func fcallCommand(c *client, args [][]byte) {
	ro := strings.HasSuffix(c.lastCmd.Load().name, "_ro")
	keys, argv, ok := c.scriptKeys(args)
	if !ok {
		return
	}
	f := c.s.scripts.Function(args[1])
	if f == nil {
		c.Err(errFunctionNotFound)
		return
	}
	if ro && f.Flags&script.FlagNoWrites == 0 {
		c.Err(errFcallROWrite)
		return
	}
	c.s.runScript(c, scriptCall{fn: f, keys: keys, args: argv, argv: args, ro: ro, name: f.Name,
		flags: f.Flags, function: true})
}

func functionLoadCommand(c *client, args [][]byte) {
	replace := false
	for _, a := range args[2 : len(args)-1] {
		if !strings.EqualFold(string(a), "replace") {
			c.Err("ERR Unknown option given: " + string(a))
			return
		}
		replace = true
	}
	var name string
	var err *script.Error
	c.s.changeLibraries(func() bool {
		name, err = c.s.scripts.LoadLibrary(args[len(args)-1], replace)
		return err == nil
	})
	if err != nil {
		c.Err(err.Msg)
		return
	}
	c.BulkString(name)
}

func functionDeleteCommand(c *client, args [][]byte) {
	if !c.s.changeLibraries(func() bool { return c.s.scripts.DeleteLibrary(string(args[2])) }) {
		c.Err(errLibraryNotFound)
		return
	}
	c.OK()
}

func functionFlushCommand(c *client, args [][]byte) {
	if len(args) > 3 || len(args) == 3 && !strings.EqualFold(string(args[2]), "sync") &&
		!strings.EqualFold(string(args[2]), "async") {
		c.Err(errFunctionFlushArg)
		return
	}
	c.s.changeLibraries(func() bool { c.s.scripts.FlushLibraries(); return true })
	c.OK()
}

func functionKillCommand(c *client, args [][]byte) { c.killScript(true) }

// functionListCommand is FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
func functionListCommand(c *client, args [][]byte) {
	withCode := false
	var pattern []byte
	for i := 2; i < len(args); i++ {
		switch {
		case strings.EqualFold(string(args[i]), "withcode"):
			withCode = true
		case strings.EqualFold(string(args[i]), "libraryname"):
			if i+1 >= len(args) {
				c.Err(errLibNameMissing)
				return
			}
			i++
			pattern = args[i]
		default:
			c.Err("ERR Unknown argument " + string(args[i]))
			return
		}
	}
	var libs []*script.Library
	for _, lib := range c.s.scripts.ListLibraries() {
		if pattern == nil || protocol.Match(pattern, []byte(lib.Name), false) {
			libs = append(libs, lib)
		}
	}
	c.Array(len(libs))
	for _, lib := range libs {
		c.libraryInfo(lib, withCode)
	}
}

// libraryInfo writes one FUNCTION LIST entry.
func (c *client) libraryInfo(lib *script.Library, withCode bool) {
	n := 3
	if withCode {
		n = 4
	}
	c.MapLen(n)
	c.BulkString("library_name")
	c.BulkString(lib.Name)
	c.BulkString("engine")
	c.BulkString("LUA")
	c.BulkString("functions")
	c.Array(len(lib.Funcs))
	for _, f := range lib.Funcs {
		c.MapLen(3)
		c.BulkString("name")
		c.BulkString(f.Name)
		c.BulkString("description")
		if f.HasDesc {
			c.BulkString(f.Description)
		} else {
			c.Null()
		}
		c.BulkString("flags")
		c.statusSet(f.Flags.Names())
	}
	if withCode {
		c.BulkString("library_code")
		c.Bulk(lib.Code)
	}
}

// functionStatsCommand is FUNCTION STATS.
func functionStatsCommand(c *client, args [][]byte) {
	c.MapLen(2)
	c.BulkString("running_script")
	if name, d, ok := c.s.scripts.RunningInfo(true); ok {
		c.MapLen(3)
		c.BulkString("name")
		c.BulkString(name)
		c.BulkString("command")
		c.Strs([]string{"fcall", name})
		c.BulkString("duration_ms")
		c.Int(int64(d / time.Millisecond))
	} else {
		c.Null()
	}
	c.BulkString("engines")
	c.MapLen(1)
	c.BulkString("LUA")
	libs, funcs := c.s.scripts.LibraryStats()
	c.MapLen(2)
	c.BulkString("libraries_count")
	c.Int(int64(libs))
	c.BulkString("functions_count")
	c.Int(int64(funcs))
}

// functionDumpCommand is FUNCTION DUMP: each library's code after the
// RDB function opcode, sealed with the RDB version and CRC-64 as Redis's.
func functionDumpCommand(c *client, args [][]byte) {
	c.Bulk(librariesPayload(c.s.scripts.ListLibraries()))
}

// librariesPayload is libs as a FUNCTION DUMP payload.
func librariesPayload(libs []*script.Library) []byte {
	var p []byte
	for _, lib := range libs {
		p = append(p, rdbOpcodeFunction2)
		p = rdb.AppendString(p, lib.Code)
	}
	return rdb.Seal(p)
}

// parseLibrariesPayload returns the library codes of a FUNCTION DUMP
// payload, or the error reply.
func parseLibrariesPayload(p []byte) ([][]byte, string) {
	if rdb.Verify(p) != nil {
		return nil, errDumpPayload
	}
	body := p[:len(p)-10]
	var codes [][]byte
	for len(body) > 0 {
		if body[0] != rdbOpcodeFunction2 {
			return nil, errFunctionPayload
		}
		code, rest, ok := rdb.ReadString(body[1:])
		if !ok {
			return nil, errFunctionPayload
		}
		codes = append(codes, code)
		body = rest
	}
	return codes, ""
}

// functionRestoreCommand is FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
func functionRestoreCommand(c *client, args [][]byte) {
	flush, replace := false, false
	if len(args) > 4 {
		c.Err(protocol.ErrSyntax)
		return
	}
	if len(args) == 4 {
		switch strings.ToLower(string(args[3])) {
		case "flush":
			flush = true
		case "replace":
			replace = true
		case "append":
		default:
			c.Err(errRestorePolicy)
			return
		}
	}
	codes, msg := parseLibrariesPayload(args[2])
	if msg != "" {
		c.Err(msg)
		return
	}
	var err *script.Error
	c.s.changeLibraries(func() bool {
		err = c.s.scripts.RestoreLibraries(codes, flush, replace)
		return err == nil
	})
	if err != nil {
		c.Err(err.Msg)
		return
	}
	c.OK()
}

func functionHelpCommand(c *client, args [][]byte) {
	c.Strs([]string{
		"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"LOAD [REPLACE] <FUNCTION CODE>",
		"    Create a new library with the given library name and code.",
		"DELETE <LIBRARY NAME>",
		"    Delete the given library.",
		"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
		"    Return general information on all the libraries:",
		"    * Library name",
		"    * The engine used to run the Library",
		"    * Library description",
		"    * Functions list",
		"    * Library code (if WITHCODE is given)",
		"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
		"FCALL <FUNCTION NAME> nkeys <key1 .. keyn> <arg1 .. argn>",
		"    Call a function with the given arguments.",
		"FCALL_RO <FUNCTION NAME> nkeys <key1 .. keyn> <arg1 .. argn>",
		"    Call a read-only function with the given arguments.",
		"KILL",
		"    Kill the current running function.",
		"FLUSH [ASYNC|SYNC]",
		"    Delete all the libraries.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the libraries.",
		"    * SYNC: Synchronously flush the libraries.",
		"DUMP",
		"    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
		"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
		"    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
		"    control how to handle existing libraries (default APPEND):",
		"    * FLUSH: delete all existing libraries.",
		"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
		"    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
		"      libraries with the new libraries (notice that even on this option there is a chance of failure",
		"      in case of functions name collision with another library).",
		"HELP",
		"    Prints this help.",
	})
}
