package script

import (
	"fmt"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// Error texts of the redis library, as Redis 7.0 words them.
const (
	errNoArgs       = "Please specify at least one argument for this redis lib call"
	errBadArgType   = "Lua redis lib command arguments must be strings or integers"
	errArgsCount    = "wrong number of arguments"
	errArgsType     = "wrong number or type of arguments"
	errSetRespArgs  = "redis.setresp() requires one argument."
	errSetRespValue = "RESP version must be 2 or 3."
	errLogArgs      = "redis.log() requires two arguments or more."
	errLogLevelType = "First argument must be a number (log level)."
	errLogLevel     = "Invalid debug level."
	errSetReplArgs  = "redis.set_repl() requires two arguments."
	errSetReplFlags = "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
	errACLCommand   = "Invalid command passed to redis.acl_check_cmd()"
	errOutsideRun   = "redis.call can only be called inside a script invocation"
)

// redisLib builds the redis table.
func (st *state) redisLib() *lua.LTable {
	L := st.L
	t := L.NewTable()
	L.SetFuncs(t, map[string]lua.LGFunction{
		"call":               func(L *lua.LState) int { return st.call(L, true) },
		"pcall":              func(L *lua.LState) int { return st.call(L, false) },
		"error_reply":        errorReply,
		"status_reply":       statusReply,
		"sha1hex":            st.sha1hex,
		"log":                st.log,
		"setresp":            st.setResp,
		"set_repl":           st.setRepl,
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"breakpoint":         func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":              func(L *lua.LState) int { return 0 },
		"acl_check_cmd":      st.aclCheck,
	})
	for name, v := range map[string]int{"LOG_DEBUG": LogDebug, "LOG_VERBOSE": LogVerbose,
		"LOG_NOTICE": LogNotice, "LOG_WARNING": LogWarning, "REPL_NONE": 0, "REPL_AOF": 1,
		"REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3, "REDIS_VERSION_NUM": st.e.cfg.VersionNum} {
		t.RawSetString(name, lua.LNumber(v))
	}
	t.RawSetString("REDIS_VERSION", lua.LString(st.e.cfg.Version))
	return t
}

// raise raises Redis's error table for msg ("ERR msg", or "CODE rest"
// for a message given as "-CODE rest").
func (st *state) raise(L *lua.LState, msg string) {
	st.raiseText(L, errorText(msg))
}

// raiseText raises text as Redis 7.0's redis.call raises an error: a
// string (what pcall returns), which the error handler then takes as the
// error reply as it is.
func (st *state) raiseText(L *lua.LState, text string) {
	st.raised = text
	L.Error(lua.LString(text), 0)
}

// errorText is luaPushError's text: a leading "-CODE " is kept as the
// code, else ERR is prepended.
func errorText(msg string) string {
	if len(msg) > 0 && msg[0] == '-' {
		for i := 1; i < len(msg); i++ {
			if msg[i] == ' ' {
				return msg[1:]
			}
		}
		return "ERR " + msg[1:]
	}
	return "ERR " + msg
}

// call is redis.call (raise set) and redis.pcall.
func (st *state) call(L *lua.LState, raiseErr bool) int {
	r := st.run
	fail := func(msg string) int {
		if raiseErr {
			st.raise(L, msg)
		}
		L.Push(errTable(L, errorText(msg)))
		return 1
	}
	if r == nil {
		return fail(errOutsideRun)
	}
	n := L.GetTop()
	if n == 0 {
		return fail(errNoArgs)
	}
	st.args = st.args[:0]
	ends := st.ends[:0]
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			st.args = append(st.args, v...)
		case lua.LNumber:
			st.args = appendNumber(st.args, float64(v))
		default:
			return fail(errBadArgType)
		}
		ends = append(ends, len(st.args))
	}
	st.ends = ends
	buf := st.argBytes(st.args) // the command may keep its arguments
	st.argv = st.argv[:0]
	start := 0
	for _, e := range ends {
		st.argv = append(st.argv, buf[start:e:e])
		start = e
	}
	reply := r.Host.Call(r, st.argv, st.resp)
	v, _ := parseReply(L, reply, 0)
	if raiseErr && len(reply) > 0 && reply[0] == '-' {
		st.raiseText(L, lua.LVAsString(v.(*lua.LTable).RawGetString("err")))
	}
	L.Push(v)
	return 1
}

// argChunk is the size of the chunks redis.call's arguments are copied
// into.
const argChunk = 1024

// argBytes copies b for a command that may keep it: small copies are
// slices of a chunk whose bytes are handed out once and never written
// again, so the commands of many runs share one allocation.
func (st *state) argBytes(b []byte) []byte {
	if len(b) > argChunk/4 {
		return append([]byte(nil), b...)
	}
	if cap(st.chunk)-len(st.chunk) < len(b) {
		st.chunk = make([]byte, 0, argChunk)
	}
	n := len(st.chunk)
	st.chunk = append(st.chunk, b...)
	return st.chunk[n:len(st.chunk):len(st.chunk)]
}

// appendNumber formats a Lua number as a command argument: C's %.17g.
func appendNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

func errorReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errTable(L, "ERR "+errArgsType))
		return 1
	}
	msg := string(s)
	if len(msg) == 0 || msg[0] != '-' {
		msg = "-" + msg
	}
	L.Push(errTable(L, errorText(msg)))
	return 1
}

func statusReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errTable(L, "ERR "+errArgsType))
		return 1
	}
	L.Push(field(L, "ok", s))
	return 1
}

func (st *state) sha1hex(L *lua.LState) int {
	if L.GetTop() != 1 {
		st.raise(L, errArgsCount)
	}
	s := ""
	switch v := L.Get(1).(type) {
	case lua.LString:
		s = string(v)
	case lua.LNumber:
		s = v.String()
	}
	L.Push(lua.LString(SHA1Hex([]byte(s))))
	return 1
}

func (st *state) log(L *lua.LState) int {
	n := L.GetTop()
	if n < 2 {
		st.raise(L, errLogArgs)
	}
	lv, ok := L.Get(1).(lua.LNumber)
	if !ok {
		if s, isStr := L.Get(1).(lua.LString); isStr {
			f, err := strconv.ParseFloat(string(s), 64)
			lv, ok = lua.LNumber(f), err == nil
		}
	}
	if !ok {
		st.raise(L, errLogLevelType)
	}
	level := int(lv)
	if level < LogDebug || level > LogWarning {
		st.raise(L, errLogLevel)
	}
	var msg []byte
	for i := 2; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString, lua.LNumber:
			if i != 2 {
				msg = append(msg, ' ')
			}
			msg = append(msg, v.String()...)
		}
	}
	switch {
	case st.run != nil:
		st.run.Host.Log(level, string(msg))
	case st.e.cfg.Log != nil:
		st.e.cfg.Log(level, string(msg))
	}
	return 0
}

func (st *state) setResp(L *lua.LState) int {
	if L.GetTop() != 1 {
		st.raise(L, errSetRespArgs)
	}
	n := int(L.ToNumber(1))
	if n != 2 && n != 3 {
		st.raise(L, errSetRespValue)
	}
	st.resp = n
	return 0
}

func (st *state) setRepl(L *lua.LState) int {
	if L.GetTop() != 1 {
		st.raise(L, errSetReplArgs)
	}
	if int(L.ToNumber(1))&^3 != 0 {
		st.raise(L, errSetReplFlags)
	}
	return 0
}

// aclCheck is redis.acl_check_cmd: there are no ACL users here, so every
// known command is allowed.
func (st *state) aclCheck(L *lua.LState) int {
	r := st.run
	if L.GetTop() < 1 || r == nil {
		st.raise(L, errACLCommand)
	}
	name := []byte(L.ToString(1))
	checker, ok := r.Host.(interface{ KnownCommand([]byte) bool })
	if ok && !checker.KnownCommand(name) {
		st.raise(L, errACLCommand)
	}
	L.Push(lua.LTrue)
	return 1
}

// raisef raises an error message with the script position, as luaL_error
// does from Redis's C libraries.
func raisef(L *lua.LState, format string, args ...any) {
	L.RaiseError("%s", fmt.Sprintf(format, args...))
}
