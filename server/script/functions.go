package script

import (
	"sync/atomic"

	lua "github.com/yuin/gopher-lua"
)

// Library is a FUNCTION library: its code and the functions it registers.
// The Engine's set of libraries is replaced whole on every change.
type Library struct {
	Name string
}

// Function is one registered function of a library.
type Function struct {
	Name  string
	Flags Flags
	// Wide: as Script.Wide.
	Wide atomic.Bool
}

// Call runs function f with r (FCALL).
func (e *Engine) Call(dst []byte, f *Function, r *Run) ([]byte, *Error) {
	st := e.getState()
	defer e.putState(st)
	fn := st.fcall[f.Name]
	if fn == nil {
		return dst, &Error{Msg: "ERR Function not found"}
	}
	return st.exec(dst, fn, r)
}

// loadLibs makes libs' functions available in st.
func (st *state) loadLibs(libs *Library) {
	st.libs = libs
	st.fcall = map[string]*lua.LFunction{}
}
