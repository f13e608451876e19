package script

import (
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

func init() {
	// Lua 5.0's implicit "arg" table of vararg functions costs a table per
	// script run (every chunk is vararg); Redis scripts use "..." instead.
	lua.CompatVarArg = false
}

// Interpreter limits: Lua 5.1's nesting of calls (LUAI_MAXCCALLS) and a
// bounded data stack, so deep recursion is an error, not a crash.
const (
	callStackSize   = 200
	registrySize    = 1024 * 4
	registryMaxSize = 1024 * 256
)

// Error texts of the sandbox, as Redis 7 words them.
const (
	errReadonly     = "Attempt to modify a readonly table"
	errNoGlobalFmt  = "Script attempted to access nonexistent global variable '%s'"
	errKilledByUser = "ERR Script killed by user with SCRIPT KILL..."
	errKilledFunc   = "ERR Script killed by user with FUNCTION KILL..."
	errKilledMemory = "ERR Script killed: it used more memory than the node allows for one script"
	errKilledStop   = "ERR Script killed: the server is shutting down"
)

// state is one interpreter with Redis's environment. It is used by one run
// at a time (the Engine's pool hands it out).
type state struct {
	e     *Engine
	L     *lua.LState
	G     *lua.LTable // the real globals: libraries, KEYS, ARGV
	env   *lua.LTable // the read-only view scripts see as their globals
	errFn *lua.LFunction
	ro    map[*lua.LTable]bool // read-only proxies (rawset/setmetatable refuse them)

	run    *Run    // the run in progress, nil between runs
	ctx    *runCtx // the runs' context: stopping a run cancels it, and the next run gets a new one
	resp   int     // redis.setresp's version for the running script
	raised string  // the last error text redis.call raised (raiseText)

	gen      uint64                    // Engine.gen the functions were made for
	fns      map[string]*lua.LFunction // compiled scripts made into functions, by SHA
	lastSC   *Script                   // the script function made last (a one-entry cache before fns)
	lastFn   *lua.LFunction
	libs     *Libraries                // the FUNCTION libraries loaded in this state
	fcall    map[string]*lua.LFunction // registered callbacks of libs, by name
	fcallFor map[string]*Function      // the Function each callback was registered as
	loading  *loadCtx                  // a library's registration in progress
	loadAPI  *lua.LTable               // what library code sees while it loads
	fenv     *lua.LTable               // the environment of library code and its functions
	fenvMeta *lua.LTable               // fenv's metatable: __index is loadAPI while loading, else G

	redisTable *lua.LTable // the redis library table itself (not its read-only view)
	keysT      *lua.LTable // KEYS and ARGV, refilled by every run (fillTable)
	argvT      *lua.LTable
	keysSet    bool   // the globals KEYS and ARGV are keysT and argvT (setKeysArgv)
	ends       []int  // redis.call argument ends scratch
	args       []byte // redis.call argument scratch
	argv       [][]byte
	chunk      []byte // argBytes's current chunk: bytes past len are not handed out yet
}

// compile parses and compiles code as chunk name.
func compile(code []byte, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(string(code)), name)
	if err != nil {
		return nil, compileError(err, name)
	}
	return lua.Compile(chunk, name)
}

// compileError rewrites gopher-lua's "name line:3(column:7) near 'x':
// syntax error" as Lua's "name:3: syntax error near 'x'".
func compileError(err error, name string) error {
	msg := strings.TrimSpace(err.Error())
	rest := strings.TrimPrefix(msg, name+" ")
	line := "1"
	if strings.HasPrefix(rest, "line:") {
		rest = rest[len("line:"):]
		if i := strings.IndexByte(rest, '('); i > 0 {
			line = rest[:i]
		}
		if i := strings.Index(rest, ") "); i >= 0 {
			rest = rest[i+2:]
		}
	} else if strings.HasPrefix(rest, "at EOF:") {
		rest = strings.TrimPrefix(rest, "at EOF:") + " near '<eof>'"
	}
	near := ""
	if strings.HasPrefix(rest, "near ") {
		if i := strings.Index(rest, ":"); i > 0 {
			near, rest = rest[:i], rest[i+1:]
		}
	}
	text := strings.Join(strings.Fields(rest), " ")
	if near != "" {
		text += " " + near
	}
	return &Error{Msg: name + ":" + line + ": " + text}
}

// newState makes an interpreter with Redis's libraries and sandbox.
func newState(e *Engine) *state {
	L := lua.NewState(lua.Options{SkipOpenLibs: true, CallStackSize: callStackSize,
		RegistrySize: registrySize, RegistryMaxSize: registryMaxSize})
	st := &state{e: e, L: L, ro: map[*lua.LTable]bool{}, fns: map[string]*lua.LFunction{}, ctx: newRunCtx()}
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{"", lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath}, {lua.CoroutineLibName, lua.OpenCoroutine}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	G := L.G.Global
	st.G = G
	for _, name := range []string{"dofile", "loadfile", "print", "getfenv", "setfenv", "module",
		"require", "newproxy", "_printregs"} {
		G.RawSetString(name, lua.LNil)
	}
	st.guardBase()
	G.RawSetString("tostring", L.NewFunction(luaToString(G.RawGetString("tostring").(*lua.LFunction))))
	st.redisTable = st.redisLib()
	G.RawSetString("redis", st.redisTable)
	G.RawSetString("cjson", cjsonLib(L))
	G.RawSetString("cmsgpack", cmsgpackLib(L))
	G.RawSetString("bit", bitLib(L))
	G.RawSetString("struct", structLib(L))
	stringRepGuard(L)
	for _, name := range []string{"string", "table", "math", "coroutine", "redis", "cjson", "cmsgpack", "bit", "struct"} {
		G.RawSetString(name, st.readonly(G.RawGetString(name).(*lua.LTable)))
	}
	st.env = st.globalsView()
	G.RawSetString("_G", st.env)
	st.errFn = L.NewFunction(st.onError)
	st.loadEnv()
	return st
}

// readonly returns a proxy of t that reads through to t and refuses
// writes with Redis's error.
func (st *state) readonly(t *lua.LTable) *lua.LTable {
	L := st.L
	p := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError(errReadonly)
		return 0
	}))
	mt.RawSetString("__metatable", L.NewTable()) // getmetatable gives {} as in Redis
	L.SetMetatable(p, mt)
	st.ro[p] = true
	return p
}

// globalsView is the table scripts run with as their globals: reads go to
// the real globals (a missing name is an error), writes are refused.
func (st *state) globalsView() *lua.LTable {
	L := st.L
	gm := L.NewTable()
	gm.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError(errNoGlobalFmt, L.ToStringMeta(L.Get(2)).String())
		return 0
	}))
	L.SetMetatable(st.G, gm)
	return st.readonly(st.G)
}

// guardBase wraps rawset and setmetatable so that they refuse the
// read-only tables, as Redis 7's read-only tables do.
func (st *state) guardBase() {
	G := st.G
	for _, name := range []string{"rawset", "setmetatable"} {
		orig := G.RawGetString(name).(*lua.LFunction)
		G.RawSetString(name, st.L.NewFunction(func(L *lua.LState) int {
			if t, ok := L.Get(1).(*lua.LTable); ok && st.ro[t] {
				L.Error(lua.LString(errReadonly), 0)
			}
			top := L.GetTop()
			L.Push(orig)
			for i := 1; i <= top; i++ {
				L.Push(L.Get(i))
			}
			L.Call(top, lua.MultRet)
			return L.GetTop() - top
		}))
	}
}

// luaToString is tostring with Lua 5.1's number format (%.14g).
func luaToString(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(formatNumber(float64(n))))
			return 1
		}
		L.Push(orig)
		L.Push(L.CheckAny(1))
		L.Call(1, 1)
		return 1
	}
}

// formatNumber is C's %.14g, as Lua 5.1 converts numbers to strings.
func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return string(appendG14(nil, f))
}

// stringRepGuard bounds string.rep so that one call cannot allocate
// without limit (the memory watch catches the rest).
func stringRepGuard(L *lua.LState) {
	strLib := L.G.Global.RawGetString("string").(*lua.LTable)
	orig := strLib.RawGetString("rep").(*lua.LFunction)
	strLib.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
		s := L.CheckString(1)
		n := L.CheckInt(2)
		if n > 0 && int64(len(s))*int64(n) > maxStringBytes {
			L.RaiseError("string.rep: result larger than %d bytes", maxStringBytes)
		}
		L.Push(orig)
		L.Push(lua.LString(s))
		L.Push(lua.LNumber(n))
		L.Call(2, 1)
		return 1
	}))
}

// maxStringBytes is the largest string string.rep may build (Redis's
// proto-max-bulk-len default).
const maxStringBytes = 512 << 20

// sync drops the compiled functions of an older cache generation and
// loads the current FUNCTION libraries.
func (st *state) sync(gen uint64, libs *Libraries) {
	if st.gen != gen {
		clear(st.fns)
		st.lastSC, st.lastFn = nil, nil
		st.gen = gen
	}
	if st.libs != libs {
		st.loadLibs(libs)
	}
}

// function returns sc as a function of this state.
func (st *state) function(sc *Script) *lua.LFunction {
	if st.lastSC == sc {
		return st.lastFn
	}
	fn := st.fns[sc.SHA]
	if fn == nil {
		fn = st.L.NewFunctionFromProto(sc.proto)
		fn.Env = st.env
		st.fns[sc.SHA] = fn
	}
	st.lastSC, st.lastFn = sc, fn
	return fn
}

// reset clears what a run left: anything rawset into the globals view,
// the stack. KEYS and ARGV stay for the next EVAL (setKeysArgv).
func (st *state) reset() {
	st.run, st.raised = nil, ""
	if k, _ := st.env.Next(lua.LNil); k != lua.LNil {
		var keys []lua.LValue
		st.env.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
		for _, k := range keys {
			st.env.RawSet(k, lua.LNil)
		}
	}
	st.L.SetTop(0)
}

// onError is the error handler of every run, as Redis's: an error that is
// not a table becomes {err='ERR <message>'}; the table gets the source and
// line of the Lua code that raised it.
func (st *state) onError(L *lua.LState) int {
	v := L.Get(1)
	if st.run != nil {
		if msg := killMessage(st.run); msg != "" {
			v = errTable(L, msg)
		}
	}
	tb, ok := v.(*lua.LTable)
	if s, isStr := v.(lua.LString); isStr && st.raised != "" && string(s) == st.raised {
		tb, ok = errTable(L, st.raised), true
	}
	if !ok {
		tb = errTable(L, "ERR "+L.ToStringMeta(v).String())
	}
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.What == "G" || dbg.CurrentLine < 0 {
			continue
		}
		tb.RawSetString("source", lua.LString("@"+dbg.Source))
		tb.RawSetString("line", lua.LNumber(dbg.CurrentLine))
		break
	}
	L.Push(tb)
	return 1
}

// errTable is Redis's error table {err=msg}.
func errTable(L *lua.LState, msg string) *lua.LTable {
	tb := L.CreateTable(0, 1)
	tb.RawSetString("err", lua.LString(msg))
	return tb
}

// killMessage is the error a stopped run ends with, "" if it was not
// stopped.
func killMessage(r *Run) string {
	switch r.why.Load() {
	case killUser:
		if r.Function {
			return errKilledFunc
		}
		return errKilledByUser
	case killMemory:
		return errKilledMemory
	case killShutdown:
		return errKilledStop
	}
	return ""
}
