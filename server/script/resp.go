package script

// Conversion between RESP and Lua, as Redis 7.0's script_lua.c does it.
//
// RESP → Lua (a command's reply inside redis.call): integer → number, bulk
// string → string, simple string → {ok=s}, error → {err=s}, array →
// table, RESP2 nulls → false; RESP3 (after redis.setresp(3)): null → nil,
// map → {map={…}}, set → {set={k=true}}, boolean → boolean, double →
// {double=n}, big number → {big_number=s}, verbatim string →
// {verbatim_string={format=f, string=s}}.
//
// Lua → RESP (the script's return value): string → bulk, number → integer
// (truncated toward zero), boolean → 1 / null with RESP2 inside the script
// and a boolean with RESP3, {err=}, {ok=}, {double=}, {big_number=},
// {verbatim_string=}, {map=}, {set=} as above, other tables → array of
// t[1], t[2] … up to the first nil, anything else → null.

import (
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"github.com/cached/cached/protocol"
)

// maxReplyDepth bounds the nesting of a converted value (a table that
// holds itself would recurse for ever).
const maxReplyDepth = 256

// appendLua appends the RESP form of v for a caller speaking resp, with
// luaResp the script's redis.setresp version.
func appendLua(dst []byte, L *lua.LState, v lua.LValue, resp, luaResp, depth int) []byte {
	switch v := v.(type) {
	case lua.LString:
		return protocol.AppendBulkString(dst, string(v))
	case lua.LBool:
		if luaResp == 2 {
			if v {
				return protocol.AppendInt(dst, 1)
			}
			return appendNull(dst, resp)
		}
		if resp == 2 {
			return protocol.AppendInt(dst, boolInt(bool(v)))
		}
		return protocol.AppendBool(dst, bool(v))
	case lua.LNumber:
		return protocol.AppendInt(dst, truncate(float64(v)))
	case *lua.LTable:
		if depth >= maxReplyDepth {
			return appendNull(dst, resp)
		}
		return appendTable(dst, L, v, resp, luaResp, depth+1)
	}
	return appendNull(dst, resp)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// truncate is C's (long long) cast of a double on amd64: toward zero, and
// the minimum for NaN and values out of range.
func truncate(f float64) int64 {
	if math.IsNaN(f) || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return math.MinInt64
	}
	return int64(f)
}

func appendNull(dst []byte, resp int) []byte {
	if resp == 3 {
		return protocol.AppendNull(dst)
	}
	return protocol.AppendNullBulk(dst)
}

// appendTable converts a table: one of Redis's typed forms, or an array.
func appendTable(dst []byte, L *lua.LState, t *lua.LTable, resp, luaResp, depth int) []byte {
	if s, ok := t.RawGetString("err").(lua.LString); ok {
		return protocol.AppendError(dst, oneLine(string(s)))
	}
	if s, ok := t.RawGetString("ok").(lua.LString); ok {
		return protocol.AppendSimple(dst, oneLine(string(s)))
	}
	if n, ok := t.RawGetString("double").(lua.LNumber); ok {
		if resp == 3 {
			return protocol.AppendDouble(dst, float64(n))
		}
		return protocol.AppendBulk(dst, protocol.AppendFloat(nil, float64(n)))
	}
	if s, ok := t.RawGetString("big_number").(lua.LString); ok {
		if resp == 3 {
			return append(append(append(dst, '('), oneLine(string(s))...), "\r\n"...)
		}
		return protocol.AppendBulkString(dst, string(s))
	}
	if vt, ok := t.RawGetString("verbatim_string").(*lua.LTable); ok {
		f, fok := vt.RawGetString("format").(lua.LString)
		s, sok := vt.RawGetString("string").(lua.LString)
		if fok && sok {
			if resp == 3 {
				return protocol.AppendVerbatim(dst, string(f), []byte(s))
			}
			return protocol.AppendBulkString(dst, string(s))
		}
	}
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		n := 0
		m.ForEach(func(_, _ lua.LValue) { n++ })
		if resp == 3 {
			dst = protocol.AppendMap(dst, n)
		} else {
			dst = protocol.AppendArray(dst, 2*n)
		}
		m.ForEach(func(k, v lua.LValue) {
			dst = appendLua(dst, L, k, resp, luaResp, depth)
			dst = appendLua(dst, L, v, resp, luaResp, depth)
		})
		return dst
	}
	if s, ok := t.RawGetString("set").(*lua.LTable); ok {
		n := 0
		s.ForEach(func(_, _ lua.LValue) { n++ })
		if resp == 3 {
			dst = protocol.AppendSet(dst, n)
		} else {
			dst = protocol.AppendArray(dst, n)
		}
		s.ForEach(func(k, _ lua.LValue) { dst = appendLua(dst, L, k, resp, luaResp, depth) })
		return dst
	}
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	dst = protocol.AppendArray(dst, n)
	for i := 1; i <= n; i++ {
		dst = appendLua(dst, L, t.RawGetInt(i), resp, luaResp, depth)
	}
	return dst
}

// smallInts are the Lua numbers smallIntMin… as interface values made
// once: an LNumber made into an LValue is otherwise an allocation.
var smallInts = func() (t [1024]lua.LValue) {
	for i := range t {
		t[i] = lua.LNumber(i + smallIntMin)
	}
	return t
}()

const smallIntMin = -16

// number is n as a Lua value, without an allocation for small n.
func number(n int64) lua.LValue {
	if i := n - smallIntMin; i >= 0 && i < int64(len(smallInts)) {
		return smallInts[i]
	}
	return lua.LNumber(n)
}

// parseReply converts one RESP reply at the start of b to a Lua value and
// returns it with the bytes it used. b is a reply the server wrote, so a
// malformed one is a bug: it converts to nil.
func parseReply(L *lua.LState, b []byte, depth int) (lua.LValue, int) {
	if len(b) < 3 || depth > maxReplyDepth {
		return lua.LNil, len(b)
	}
	end := indexCRLF(b)
	if end < 0 {
		return lua.LNil, len(b)
	}
	line, next := b[1:end], end+2
	switch b[0] {
	case ':':
		n, _ := protocol.ParseInt(line)
		return number(n), next
	case '$', '=':
		n64, _ := protocol.ParseInt(line)
		if n64 < 0 {
			return lua.LFalse, next
		}
		if n64 > int64(len(b)-next-2) {
			return lua.LNil, len(b)
		}
		n := int(n64)
		body := b[next : next+n]
		if b[0] == '=' && n >= 4 {
			vt := L.CreateTable(0, 2)
			vt.RawSetString("format", lua.LString(body[:3]))
			vt.RawSetString("string", lua.LString(body[4:]))
			t := L.CreateTable(0, 1)
			t.RawSetString("verbatim_string", vt)
			return t, next + n + 2
		}
		return lua.LString(body), next + n + 2
	case '+':
		return field(L, "ok", lua.LString(line)), next
	case '-':
		return field(L, "err", lua.LString(line)), next
	case '*', '~', '%', '>':
		return parseAggregate(L, b[0], line, b, next, depth)
	case '_':
		return lua.LNil, next
	case '#':
		return lua.LBool(len(line) > 0 && line[0] == 't'), next
	case ',':
		f, _ := protocol.ParseFloat(line)
		return field(L, "double", lua.LNumber(f)), next
	case '(':
		return field(L, "big_number", lua.LString(line)), next
	}
	return lua.LNil, len(b)
}

// parseAggregate converts an array, set, map or push whose header line is
// line and whose items start at b[next:].
func parseAggregate(L *lua.LState, kind byte, line, b []byte, next, depth int) (lua.LValue, int) {
	n, _ := strconv.Atoi(string(line))
	if n < 0 {
		return lua.LFalse, next
	}
	switch kind {
	case '%':
		m := L.CreateTable(0, n)
		for i := 0; i < n && next < len(b); i++ {
			k, used := parseReply(L, b[next:], depth+1)
			next += used
			v, used := parseReply(L, b[next:], depth+1)
			next += used
			if k != lua.LNil {
				m.RawSet(k, v)
			}
		}
		return field(L, "map", m), next
	case '~':
		s := L.CreateTable(0, n)
		for i := 0; i < n && next < len(b); i++ {
			k, used := parseReply(L, b[next:], depth+1)
			next += used
			if k != lua.LNil {
				s.RawSet(k, lua.LTrue)
			}
		}
		return field(L, "set", s), next
	}
	t := L.CreateTable(n, 0)
	for i := 1; i <= n && next < len(b); i++ {
		v, used := parseReply(L, b[next:], depth+1)
		next += used
		t.RawSetInt(i, v)
	}
	return t, next
}

// field is the table {name=v}.
func field(L *lua.LState, name string, v lua.LValue) *lua.LTable {
	t := L.CreateTable(0, 1)
	t.RawSetString(name, v)
	return t
}

func indexCRLF(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}
