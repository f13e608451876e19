package script

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Run is one execution of a script or function. The caller fills the
// exported fields; the Engine owns the rest. A Run may be used again for
// another execution once the last one returned.
type Run struct {
	Host     Host
	Keys     [][]byte
	Args     [][]byte
	Resp     int    // the calling client's protocol, 2 or 3
	Function bool   // FCALL: FUNCTION KILL stops it, not SCRIPT KILL
	Name     string // the script's SHA or the function's name, for error texts

	start time.Duration // mono() when it started
	ctx   *runCtx       // the state's context: stop cancels it
	idx   int           // index in Engine.running; guarded by Engine.mu
	busy  bool          // past the busy threshold; guarded by Engine.mu
	heap0 uint64        // heap size seen at the run's first watch; guarded by Engine.mu
	dirty atomic.Bool
	why   atomic.Int32
}

// Why a run was stopped (Run.why).
const (
	killUser int32 = iota + 1
	killShutdown
	killMemory
	killRestart
)

// MarkDirty notes that the run has changed data (SCRIPT KILL then answers
// UNKILLABLE). The Host calls it before running a write.
func (r *Run) MarkDirty() { r.dirty.Store(true) }

// Dirty reports whether MarkDirty was called.
func (r *Run) Dirty() bool { return r.dirty.Load() }

// Stopped reports whether the run was stopped (SCRIPT KILL, memory,
// shutdown): the Host refuses further commands then.
func (r *Run) Stopped() bool { return r.why.Load() != 0 }

// Stop ends the run at its next instruction without an error of its own:
// the Host uses it when the run must start again (Restarted).
func (r *Run) Stop() { r.stop(killRestart) }

func (r *Run) stop(why int32) {
	r.why.CompareAndSwap(0, why)
	r.ctx.stop()
}

// runCtx is the context a state runs scripts with. gopher-lua checks Done
// before every instruction, so Done is a field read. Stopping it is final:
// the state's next run gets a new one.
type runCtx struct {
	done    chan struct{}
	stopped atomic.Bool
}

func newRunCtx() *runCtx { return &runCtx{done: make(chan struct{})} }

// stop cancels c (once; later calls do nothing).
func (c *runCtx) stop() {
	if c.stopped.CompareAndSwap(false, true) { // before close: Err is set once Done is closed
		close(c.done)
	}
}

func (c *runCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *runCtx) Done() <-chan struct{}       { return c.done }
func (c *runCtx) Value(any) any               { return nil }

func (c *runCtx) Err() error {
	if c.stopped.Load() {
		return context.Canceled
	}
	return nil
}

// Eval runs sc with r and returns its reply as RESP bytes appended to dst,
// or the error reply of a script that failed.
func (e *Engine) Eval(dst []byte, sc *Script, r *Run) ([]byte, *Error) {
	st := e.acquire(r)
	defer e.release(st, r)
	return st.exec(dst, st.function(sc), r)
}

// exec runs fn on st with r's keys and arguments; r is registered as
// running (acquire).
func (st *state) exec(dst []byte, fn *lua.LFunction, r *Run) ([]byte, *Error) {
	L := st.L
	st.run, st.resp = r, 2
	nargs := 0
	L.Push(fn)
	if r.Function { // a function gets them as arguments; KEYS and ARGV are not set
		st.clearKeysArgv()
		L.Push(stringsTable(L, r.Keys))
		L.Push(stringsTable(L, r.Args))
		nargs = 2
	} else {
		st.setKeysArgv(r.Keys, r.Args)
	}
	L.SetContext(st.ctx)
	defer L.RemoveContext()
	if err := L.PCall(nargs, 1, st.errFn); err != nil {
		return dst, st.runError(err)
	}
	ret := L.Get(-1)
	L.Pop(1)
	return appendLua(dst, L, ret, r.Resp, st.resp, 0), nil
}

// setKeysArgv sets the globals KEYS and ARGV of an EVAL run. The tables
// stay in the globals between runs (clearKeysArgv takes them out for a
// function), so a run that can reuse them changes no global.
func (st *state) setKeysArgv(keys, args [][]byte) {
	keysT := fillTable(st.L, st.keysT, keys)
	argvT := fillTable(st.L, st.argvT, args)
	if !st.keysSet || keysT != st.keysT || argvT != st.argvT {
		st.G.RawSetString("KEYS", keysT)
		st.G.RawSetString("ARGV", argvT)
		st.keysT, st.argvT, st.keysSet = keysT, argvT, true
	}
}

// clearKeysArgv takes KEYS and ARGV out of the globals (functions do not
// see them).
func (st *state) clearKeysArgv() {
	if st.keysSet {
		st.G.RawSetString("KEYS", lua.LNil)
		st.G.RawSetString("ARGV", lua.LNil)
		st.keysSet = false
	}
}

// fillTable reuses t (made by an earlier run of the state) as the array
// of bs, clearing what the earlier run left past it; nil t, or one given
// a metatable or a hash part, is replaced by a new table. An element
// equal to the earlier run's is kept (no new string).
func fillTable(L *lua.LState, t *lua.LTable, bs [][]byte) *lua.LTable {
	if t == nil || t.Metatable != lua.LNil || hasHashPart(t) {
		return stringsTable(L, bs)
	}
	n := t.Len()
	for i, b := range bs {
		if old, ok := t.RawGetInt(i + 1).(lua.LString); ok && string(old) == string(b) {
			continue
		}
		t.RawSetInt(i+1, lua.LString(b))
	}
	for i := len(bs) + 1; i <= n; i++ {
		t.RawSetInt(i, lua.LNil)
	}
	return t
}

// hasHashPart reports whether t has a key that is not in its array part.
func hasHashPart(t *lua.LTable) bool {
	var after lua.LValue = lua.LNil // Next(nil) gives the first key
	if n := t.Len(); n > 0 {
		after = number(int64(n)) // the array part's last key
	}
	k, _ := t.Next(after)
	return k != lua.LNil
}

// stringsTable is a Lua array of bs.
func stringsTable(L *lua.LState, bs [][]byte) *lua.LTable {
	t := L.CreateTable(len(bs), 0)
	for _, b := range bs {
		t.Append(lua.LString(b))
	}
	return t
}

// runError is the error reply of a failed run, as Redis's
// luaCallFunction words it.
func (st *state) runError(err error) *Error {
	r := st.run
	var v lua.LValue = lua.LString(err.Error())
	if ae, ok := err.(*lua.ApiError); ok && ae.Object != nil {
		v = ae.Object
	}
	if msg := killMessage(r); msg != "" && !isErrTable(v) {
		v = errTable(st.L, msg)
	}
	tb, ok := v.(*lua.LTable)
	if !ok {
		msg := v.String()
		if len(msg) > 100 {
			msg = msg[:100]
		}
		return &Error{Msg: oneLine("ERR Error running script " + r.Name + ", " + msg)}
	}
	msg := lua.LVAsString(tb.RawGetString("err"))
	src, line := tb.RawGetString("source"), tb.RawGetString("line")
	if src != lua.LNil && line != lua.LNil {
		msg += " script: " + r.Name + ", on " + lua.LVAsString(src) + ":" + lineText(line) + "."
	}
	return &Error{Msg: oneLine(msg)}
}

func isErrTable(v lua.LValue) bool {
	tb, ok := v.(*lua.LTable)
	return ok && tb.RawGetString("err") != lua.LNil
}

func lineText(v lua.LValue) string {
	if n, ok := v.(lua.LNumber); ok {
		return strconv.FormatInt(int64(n), 10)
	}
	return lua.LVAsString(v)
}

// oneLine replaces the line breaks of an error text by spaces (a RESP
// error is one line).
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, s)
	}
	return s
}
