package script

// FUNCTION libraries, as Redis 7.0's function_lua.c: a library's code
// starts with "#!lua name=<lib>" and, when loaded, registers its
// functions with redis.register_function; the load sees only a small
// redis table (register_function, log, the LOG_ and version constants).
// The registered callbacks are closures of the state the code ran in, so
// every pooled state runs the code of the current libraries once
// (state.loadLibs) before it runs a function.

import (
	"context"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// loadTimeout bounds the run of a library's code (Redis's
// LOAD_TIMEOUT_MS).
const loadTimeout = 500 * time.Millisecond

// Library is a FUNCTION library. Immutable once loaded.
type Library struct {
	Name  string
	Code  []byte
	Funcs []*Function // in registration order
	proto *lua.FunctionProto
}

// Function is one registered function of a library.
type Function struct {
	Name        string
	Description string
	HasDesc     bool
	Flags       Flags
	Lib         *Library
	// Wide: as Script.Wide.
	Wide atomic.Bool
}

// Libraries is the set of loaded libraries; the Engine replaces it whole.
type Libraries struct {
	libs  map[string]*Library
	funcs map[string]*Function
}

func (ls *Libraries) clone() *Libraries {
	out := &Libraries{libs: map[string]*Library{}, funcs: map[string]*Function{}}
	if ls != nil {
		for k, v := range ls.libs {
			out.libs[k] = v
		}
		for k, v := range ls.funcs {
			out.funcs[k] = v
		}
	}
	return out
}

func (ls *Libraries) add(lib *Library) {
	ls.libs[lib.Name] = lib
	for _, f := range lib.Funcs {
		ls.funcs[f.Name] = f
	}
}

func (ls *Libraries) remove(name string) {
	if lib := ls.libs[name]; lib != nil {
		for _, f := range lib.Funcs {
			delete(ls.funcs, f.Name)
		}
		delete(ls.libs, name)
	}
}

// validName reports whether s is a valid library or function name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

const errBadName = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

// parseLibraryMeta reads a library's "#!lua name=<lib>" line.
func parseLibraryMeta(code []byte) (name string, body []byte, err *Error) {
	if !strings.HasPrefix(string(code), "#!") {
		return "", nil, &Error{Msg: "ERR Missing library metadata"}
	}
	nl := strings.IndexByte(string(code), '\n')
	if nl < 0 {
		nl = len(code)
	}
	parts := strings.Split(string(code[2:nl]), " ")
	if parts[0] != "lua" {
		return "", nil, &Error{Msg: "ERR Engine '" + parts[0] + "' not found"}
	}
	found := false
	for _, p := range parts[1:] {
		if p == "" {
			continue
		}
		v, ok := strings.CutPrefix(p, "name=")
		if !ok {
			return "", nil, &Error{Msg: "ERR Invalid metadata value given: " + p}
		}
		name, found = v, true
	}
	if !found {
		return "", nil, &Error{Msg: "ERR Library name was not given"}
	}
	if !validName(name) {
		return "", nil, &Error{Msg: errBadName}
	}
	return name, code[nl:], nil
}

// LoadLibrary compiles and registers a library (FUNCTION LOAD), replacing
// one of the same name only if replace is set. It returns the library's
// name.
func (e *Engine) LoadLibrary(code []byte, replace bool) (string, *Error) {
	lib, err := e.compileLibrary(code)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.installLocked([]*Library{lib}, replace, "'"); err != nil {
		return "", err
	}
	return lib.Name, nil
}

// compileLibrary compiles code and runs its registration in a state.
func (e *Engine) compileLibrary(code []byte) (*Library, *Error) {
	name, body, err := parseLibraryMeta(code)
	if err != nil {
		return nil, err
	}
	proto, cerr := compile(body, "user_function")
	if cerr != nil {
		return nil, &Error{Msg: "ERR Error compiling function: " + cerr.Error()}
	}
	lib := &Library{Name: name, Code: append([]byte(nil), code...), proto: proto}
	st := e.getState()
	defer e.putState(st)
	if _, err := st.register(lib, true); err != nil {
		return nil, err
	}
	return lib, nil
}

// installLocked adds libs to the loaded set, checking names; quote is
// put around a library's name in the error (FUNCTION LOAD quotes it,
// FUNCTION RESTORE does not, as in Redis 7.0).
func (e *Engine) installLocked(libs []*Library, replace bool, quote string) *Error {
	next := e.libs.clone()
	for _, lib := range libs {
		if next.libs[lib.Name] != nil {
			if !replace {
				return &Error{Msg: "ERR Library " + quote + lib.Name + quote + " already exists"}
			}
			next.remove(lib.Name)
		}
		for _, f := range lib.Funcs {
			if next.funcs[f.Name] != nil {
				return &Error{Msg: "ERR Function " + f.Name + " already exists"}
			}
		}
		next.add(lib)
	}
	e.libs = next
	return nil
}

// Function returns the loaded function name, or nil.
func (e *Engine) Function(name []byte) *Function {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.libs == nil {
		return nil
	}
	return e.libs.funcs[string(name)]
}

// DeleteLibrary removes a library (FUNCTION DELETE); false if none.
func (e *Engine) DeleteLibrary(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.libs == nil || e.libs.libs[name] == nil {
		return false
	}
	next := e.libs.clone()
	next.remove(name)
	e.libs = next
	return true
}

// FlushLibraries removes every library (FUNCTION FLUSH).
func (e *Engine) FlushLibraries() {
	e.mu.Lock()
	e.libs = nil
	e.mu.Unlock()
}

// ListLibraries returns the loaded libraries by name.
func (e *Engine) ListLibraries() []*Library {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Library
	if e.libs != nil {
		for _, lib := range e.libs.libs {
			out = append(out, lib)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RestoreLibraries loads the libraries of codes (FUNCTION RESTORE): with
// flush the loaded ones are dropped first, with replace a library of the
// same name is replaced, else one is an error. All or nothing.
func (e *Engine) RestoreLibraries(codes [][]byte, flush, replace bool) *Error {
	var libs []*Library
	for _, code := range codes {
		lib, err := e.compileLibrary(code)
		if err != nil {
			return err
		}
		libs = append(libs, lib)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.libs
	if flush {
		e.libs = nil
	}
	if err := e.installLocked(libs, replace, ""); err != nil {
		e.libs = old
		return err
	}
	return nil
}

// Call runs function f with r (FCALL): f's callback gets KEYS and ARGV as
// its two arguments.
func (e *Engine) Call(dst []byte, f *Function, r *Run) ([]byte, *Error) {
	st := e.acquire(r)
	defer e.release(st, r)
	fn := st.fcall[f.Name]
	if fn == nil || st.fcallFor[f.Name] != f {
		return dst, &Error{Msg: "ERR Function not found"}
	}
	return st.exec(dst, fn, r)
}

// loadLibs runs the code of libs in st so their callbacks exist here.
func (st *state) loadLibs(libs *Libraries) {
	st.libs = libs
	st.fcall = map[string]*lua.LFunction{}
	st.fcallFor = map[string]*Function{}
	if libs == nil {
		return
	}
	for _, lib := range libs.libs {
		fns, err := st.register(lib, false)
		if err != nil {
			continue // it registered when loaded; a failure now leaves its functions out
		}
		for i, f := range lib.Funcs {
			st.fcall[f.Name] = fns[i]
			st.fcallFor[f.Name] = f
		}
	}
}

// register runs lib's code with the load environment and returns the
// callbacks it registered, in order. With first set it also records the
// functions in lib.Funcs.
func (st *state) register(lib *Library, first bool) ([]*lua.LFunction, *Error) {
	L := st.L
	fn := L.NewFunctionFromProto(lib.proto)
	fn.Env = st.fenv
	st.loading = &loadCtx{lib: lib, first: first}
	st.fenvMeta.RawSetString("__index", st.loadAPI)
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	L.SetContext(ctx)
	L.Push(fn)
	err := L.PCall(0, 0, st.errFn)
	L.RemoveContext()
	timedOut := ctx.Err() == context.DeadlineExceeded
	cancel()
	st.fenvMeta.RawSetString("__index", st.G)
	lc := st.loading
	st.loading = nil
	L.SetTop(0)
	if err != nil {
		msg := err.Error()
		if ae, ok := err.(*lua.ApiError); ok {
			if tb, isTable := ae.Object.(*lua.LTable); isTable {
				msg = lua.LVAsString(tb.RawGetString("err"))
			}
		}
		if timedOut {
			msg = "FUNCTION LOAD timeout"
		}
		return nil, &Error{Msg: "ERR Error registering functions: " + oneLine(msg)}
	}
	if len(lc.fns) == 0 {
		return nil, &Error{Msg: "ERR No functions registered"}
	}
	return lc.fns, nil
}

// loadCtx is the state of a library's registration.
type loadCtx struct {
	lib   *Library
	first bool
	names map[string]bool
	fns   []*lua.LFunction
}

// loadEnv builds the environment library code runs in while loading,
// and the functions' environment (its __index switches to the globals
// once loaded).
func (st *state) loadEnv() {
	L := st.L
	raiser := L.NewTable()
	raiser.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError(errNoGlobalFmt, L.ToStringMeta(L.Get(2)).String())
		return 0
	}))
	rt := L.NewTable()
	rt.RawSetString("register_function", L.NewFunction(st.registerFunction))
	rt.RawSetString("log", L.NewFunction(st.log))
	for _, name := range []string{"LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"} {
		rt.RawSetString(name, st.redisTable.RawGetString(name))
	}
	L.SetMetatable(rt, raiser)
	api := L.NewTable()
	api.RawSetString("redis", st.readonly(rt))
	L.SetMetatable(api, raiser)
	st.loadAPI = api
	st.fenv = st.readonly(L.NewTable())
	st.fenvMeta = st.fenv.Metatable.(*lua.LTable) // the real one: GetMetatable gives __metatable
	st.fenvMeta.RawSetString("__index", st.G)
}

// Errors of redis.register_function, as Redis 7.0 words them.
const (
	errRegArgs     = "wrong number of arguments to redis.register_function"
	errRegSingle   = "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."
	errRegCallback = "second argument to redis.register_function must be a function"
	errRegNoCb     = "redis.register_function must get a callback argument"
	errRegNoName   = "redis.register_function must get a function name argument"
	errRegUnknown  = "unknown argument given to redis.register_function"
	errRegFlags    = "flags argument to redis.register_function must be a table representing function flags"
	errRegFlag     = "unknown flag given"
	errRegExists   = "Function already exists in the library"
	errRegOutside  = "redis.register_function can only be called on FUNCTION LOAD command"
)

// registerFunction is redis.register_function(name, callback) or
// redis.register_function{function_name=, callback=, flags=, description=}.
func (st *state) registerFunction(L *lua.LState) int {
	lc := st.loading
	if lc == nil {
		st.raise(L, errRegOutside)
	}
	var name string
	var cb *lua.LFunction
	var flags Flags
	desc, hasDesc := "", false
	switch L.GetTop() {
	case 1:
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			st.raise(L, errRegSingle)
		}
		name, cb, flags, desc, hasDesc = st.namedArgs(L, t)
	case 2:
		name = lua.LVAsString(L.Get(1))
		f, ok := L.Get(2).(*lua.LFunction)
		if !ok {
			st.raise(L, errRegCallback)
		}
		cb = f
	default:
		st.raise(L, errRegArgs)
	}
	if !validName(name) {
		st.raise(L, errBadName[len("ERR "):])
	}
	if lc.names == nil {
		lc.names = map[string]bool{}
	}
	if lc.names[name] {
		st.raise(L, errRegExists)
	}
	lc.names[name] = true
	lc.fns = append(lc.fns, cb)
	if lc.first {
		lc.lib.Funcs = append(lc.lib.Funcs, &Function{Name: name, Description: desc, HasDesc: hasDesc,
			Flags: flags, Lib: lc.lib})
	}
	return 0
}

// namedArgs reads register_function's table form.
func (st *state) namedArgs(L *lua.LState, t *lua.LTable) (name string, cb *lua.LFunction, flags Flags, desc string, hasDesc bool) {
	var bad string
	t.ForEach(func(k, v lua.LValue) {
		if bad != "" {
			return
		}
		switch lua.LVAsString(k) {
		case "function_name":
			name = lua.LVAsString(v)
		case "callback":
			f, ok := v.(*lua.LFunction)
			if !ok {
				bad = errRegCallback
				return
			}
			cb = f
		case "description":
			desc, hasDesc = lua.LVAsString(v), true
		case "flags":
			ft, ok := v.(*lua.LTable)
			if !ok {
				bad = errRegFlags
				return
			}
			ft.ForEach(func(_, fv lua.LValue) {
				f, ok := ParseFlag(lua.LVAsString(fv))
				if !ok && bad == "" {
					bad = errRegFlag
				}
				flags |= f
			})
		default:
			bad = errRegUnknown
		}
	})
	switch {
	case bad != "":
		st.raise(L, bad)
	case name == "":
		st.raise(L, errRegNoName)
	case cb == nil:
		st.raise(L, errRegNoCb)
	}
	return name, cb, flags, desc, hasDesc
}

// LibraryStats counts the loaded libraries and functions (FUNCTION STATS).
func (e *Engine) LibraryStats() (libs, funcs int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.libs == nil {
		return 0, 0
	}
	return len(e.libs.libs), len(e.libs.funcs)
}

// RunningInfo describes the run in progress for FUNCTION STATS: its name
// and how long it has run; ok is false when none.
func (e *Engine) RunningInfo(function bool) (name string, d time.Duration, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.running {
		if r.Function == function {
			return r.Name, mono() - r.start, true
		}
	}
	return "", 0, false
}
