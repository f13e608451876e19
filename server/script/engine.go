package script

import (
	"crypto/sha1"
	"encoding/hex"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Host runs the commands of a script (redis.call, redis.pcall). The
// Engine calls it on the goroutine that called Run.
type Host interface {
	// Call runs args as a command for the running script and returns its
	// reply in RESP version resp (2 or 3). A command the script may not
	// run is refused with an error reply ("-ERR …\r\n") without running.
	// The reply is read before the next Call.
	Call(run *Run, args [][]byte, resp int) []byte
	// Log writes a line of redis.log at level (LogDebug … LogWarning).
	Log(level int, msg string)
}

// Log levels of redis.log, as Redis numbers them.
const (
	LogDebug = iota
	LogVerbose
	LogNotice
	LogWarning
)

// Config configures an Engine. The zero value works.
type Config struct {
	// BusyThreshold returns how long a script runs before other clients
	// are answered BUSY and SCRIPT KILL may stop it (busy-reply-threshold,
	// Redis's default 5 s). It is read while scripts run; nil: 5 s.
	BusyThreshold func() time.Duration
	// MaxMemory is how many bytes the Go heap may grow during one run
	// before the run is stopped with an error. 0: 512 MiB.
	MaxMemory uint64
	// Version is redis.REDIS_VERSION ("7.0.15"), VersionNum
	// redis.REDIS_VERSION_NUM (0x07000f).
	Version    string
	VersionNum int
	// Log writes redis.log lines that no run's Host takes (library code
	// logging while FUNCTION LOAD registers it); nil drops them.
	Log func(level int, msg string)
}

// Engine holds compiled scripts and interpreter states. Safe for
// concurrent use; Close stops its watcher goroutine.
type Engine struct {
	cfg Config

	mu      sync.Mutex         // protects the fields up to idle
	scripts map[string]*Script // EVAL's cache by lower-case SHA1 hex
	free    []*state           // idle interpreter states
	running []*Run             // runs in progress; Run.idx is the index
	gen     uint64             // bumped by Flush: states drop their compiled functions
	libs    *Libraries         // FUNCTION libraries (functions.go), replaced whole; nil: none
	started bool               // a run started since the watcher's last tick
	idle    bool               // the watcher waits on wake for a run to start

	last   atomic.Pointer[Script] // the script Lookup found last (EVALSHA mostly runs one script again); nil after Flush
	busy   atomic.Int32           // runs past the busy threshold
	active atomic.Int32           // runs in progress
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

// Script is a compiled EVAL script.
type Script struct {
	SHA   string // lower-case hex SHA1 of Body
	Body  []byte
	Flags Flags // from the shebang line; FlagCompat without one
	// Wide is set by the server once a run had to start again with every
	// shard locked (it touched keys it did not declare): later runs lock
	// every shard from the start.
	Wide  atomic.Bool
	proto *lua.FunctionProto
}

// New returns an Engine and starts its watcher goroutine.
func New(cfg Config) *Engine {
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = 512 << 20
	}
	if cfg.Version == "" {
		cfg.Version, cfg.VersionNum = "7.0.15", 0x07000f
	}
	e := &Engine{cfg: cfg, scripts: map[string]*Script{}, idle: true,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go e.watch()
	return e
}

// Close stops the watcher goroutine and drops the idle states.
func (e *Engine) Close() {
	select {
	case <-e.stop:
		return
	default:
	}
	close(e.stop)
	<-e.done
	e.mu.Lock()
	for _, st := range e.free {
		st.L.Close()
	}
	e.free = nil
	e.mu.Unlock()
}

// SHA1Hex is the lower-case hex SHA1 of b (redis.sha1hex, script names).
func SHA1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// Load compiles body and caches it under its SHA1 (EVAL, SCRIPT LOAD). A
// script already cached is not compiled again. The error is Redis's reply
// text ("Error compiling script (new function): …", shebang errors).
func (e *Engine) Load(body []byte) (*Script, error) {
	sha := SHA1Hex(body)
	e.mu.Lock()
	sc := e.scripts[sha]
	e.mu.Unlock()
	if sc != nil {
		return sc, nil
	}
	flags, code, err := parseShebang(body)
	if err != nil {
		return nil, err
	}
	proto, err := compile(code, "user_script")
	if err != nil {
		return nil, &Error{Msg: "ERR Error compiling script (new function): " + err.Error()}
	}
	sc = &Script{SHA: sha, Body: append([]byte(nil), body...), Flags: flags, proto: proto}
	e.mu.Lock()
	if old := e.scripts[sha]; old != nil {
		sc = old
	} else {
		e.scripts[sha] = sc
	}
	e.mu.Unlock()
	return sc, nil
}

// Lookup returns the cached script of sha (any case), or nil.
func (e *Engine) Lookup(sha []byte) *Script {
	if len(sha) != 40 {
		return nil
	}
	var buf [40]byte
	for i, ch := range sha {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	if sc := e.last.Load(); sc != nil && sc.SHA == string(buf[:]) {
		return sc
	}
	e.mu.Lock()
	sc := e.scripts[string(buf[:])]
	if sc != nil {
		e.last.Store(sc)
	}
	e.mu.Unlock()
	return sc
}

// Flush empties the script cache (SCRIPT FLUSH).
func (e *Engine) Flush() {
	e.mu.Lock()
	e.scripts = map[string]*Script{}
	e.last.Store(nil)
	e.gen++
	e.mu.Unlock()
}

// Stats returns the number of cached scripts and the bytes of their
// bodies (INFO memory's number_of_cached_scripts, used_memory_scripts_eval).
func (e *Engine) Stats() (n int, bytes int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, sc := range e.scripts {
		bytes += int64(len(sc.Body))
	}
	return len(e.scripts), bytes
}

// Error is a script's error reply: Msg is the reply text without '-'.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// getState borrows an idle state or makes one (FUNCTION LOAD's checks;
// runs take theirs with acquire).
func (e *Engine) getState() *state {
	e.mu.Lock()
	gen, libs := e.gen, e.libs
	st := e.popFreeLocked()
	e.mu.Unlock()
	if st == nil {
		st = newState(e)
	}
	st.sync(gen, libs)
	return st
}

// popFreeLocked takes an idle state from the pool, or returns nil.
func (e *Engine) popFreeLocked() *state {
	n := len(e.free)
	if n == 0 {
		return nil
	}
	st := e.free[n-1]
	e.free[n-1] = nil
	e.free = e.free[:n-1]
	return st
}

// maxIdleStates bounds the pool.
const maxIdleStates = 16

// putState returns a state to the pool.
func (e *Engine) putState(st *state) {
	st.reset()
	e.mu.Lock()
	st = e.pushFreeLocked(st)
	e.mu.Unlock()
	if st != nil {
		st.L.Close()
	}
}

// pushFreeLocked pools st and returns nil, or returns st when the pool
// is full (the caller closes it outside the lock).
func (e *Engine) pushFreeLocked(st *state) *state {
	if len(e.free) < maxIdleStates {
		e.free = append(e.free, st)
		return nil
	}
	return st
}

// clockBase is the origin of mono.
var clockBase = time.Now()

// mono is the monotonic clock (one clock read; time.Now takes two).
func mono() time.Duration { return time.Since(clockBase) }

// acquire borrows a state for r and registers r as running on it, in
// one lock section when a pooled state is up to date.
func (e *Engine) acquire(r *Run) *state {
	r.start = mono()
	r.busy, r.heap0 = false, 0
	r.dirty.Store(false)
	r.why.Store(0)
	e.mu.Lock()
	st := e.popFreeLocked()
	if st == nil || st.gen != e.gen || st.libs != e.libs { // make or update it outside the lock
		gen, libs := e.gen, e.libs
		e.mu.Unlock()
		if st == nil {
			st = newState(e)
		}
		st.sync(gen, libs)
		e.mu.Lock()
	}
	if st.ctx.stopped.Load() { // the last run on it was stopped
		st.ctx = newRunCtx()
	}
	r.ctx = st.ctx
	r.idx = len(e.running)
	e.running = append(e.running, r)
	e.started = true
	if e.idle {
		e.idle = false
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	e.mu.Unlock()
	e.active.Add(1)
	select {
	case <-e.stop: // closing: the run ends at its first instruction
		r.stop(killShutdown)
	default:
	}
	return st
}

// release unregisters r and returns st to the pool.
func (e *Engine) release(st *state, r *Run) {
	st.reset()
	e.mu.Lock()
	last := len(e.running) - 1
	moved := e.running[last]
	e.running[r.idx], moved.idx = moved, r.idx
	e.running[last] = nil
	e.running = e.running[:last]
	if r.busy {
		e.busy.Add(-1)
	}
	st = e.pushFreeLocked(st)
	e.mu.Unlock()
	e.active.Add(-1)
	if st != nil {
		st.L.Close()
	}
}

// watchInterval is how often the watcher looks at the runs while scripts
// run.
const watchInterval = 5 * time.Millisecond

// watch is the Engine's goroutine: while scripts run it marks runs past
// the busy threshold and stops runs that grew the heap too much. It ticks
// while runs start or go on, and waits on wake once an interval passed
// without any (so a stream of short scripts costs it one tick per
// interval, not a wake-up per script).
func (e *Engine) watch() {
	defer close(e.done)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTimer(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			e.killAll(killShutdown)
			return
		case <-e.wake:
		}
		for more := true; more; {
			t.Reset(watchInterval)
			select {
			case <-e.stop:
				e.killAll(killShutdown)
				return
			case <-t.C:
			}
			metrics.Read(sample)
			more = e.tick(mono(), heapBytes(sample[0]))
		}
	}
}

func heapBytes(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}

// tick checks each run against the busy threshold and the memory limit.
// It reports whether the watcher should tick again: a run is in progress
// or one started since the last tick; when not, the watcher goes idle.
func (e *Engine) tick(now time.Duration, heap uint64) bool {
	limit := 5 * time.Second
	if e.cfg.BusyThreshold != nil {
		limit = e.cfg.BusyThreshold()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	more := e.started || len(e.running) > 0
	e.started, e.idle = false, !more
	for _, r := range e.running {
		if r.heap0 == 0 {
			r.heap0 = heap
		}
		if !r.busy && now-r.start >= limit {
			r.busy = true
			e.busy.Add(1)
		}
		if heap > r.heap0 && heap-r.heap0 > e.cfg.MaxMemory {
			r.stop(killMemory)
		}
	}
	return more
}

// SetMaxMemory changes Config.MaxMemory (tests use a small limit).
func (e *Engine) SetMaxMemory(n uint64) {
	e.mu.Lock()
	e.cfg.MaxMemory = n
	e.mu.Unlock()
}

// Running is the number of runs in progress.
func (e *Engine) Running() int { return int(e.active.Load()) }

// Busy reports whether a script has run past the busy threshold, and
// whether that script is a function (FCALL) rather than EVAL.
func (e *Engine) Busy() (busy, function bool) {
	if e.busy.Load() == 0 {
		return false, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.running {
		if r.busy {
			return true, r.Function
		}
	}
	return false, false
}

// KillResult is what Kill did.
type KillResult int

// Kill results, each a reply of SCRIPT KILL / FUNCTION KILL.
const (
	KillNotBusy    KillResult = iota // no script past the threshold
	KillOK                           // stopped
	KillUnkillable                   // the script has written
	KillWrongKind                    // an EVAL for FUNCTION KILL or a function for SCRIPT KILL
)

// Kill stops the runs past the busy threshold of the given kind (FUNCTION
// KILL: function, SCRIPT KILL: EVAL), as Redis's scriptKill.
func (e *Engine) Kill(function bool) KillResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	res := KillNotBusy
	for _, r := range e.running {
		if !r.busy {
			continue
		}
		switch {
		case r.dirty.Load():
			return KillUnkillable
		case r.Function != function:
			res = KillWrongKind
		default:
			r.stop(killUser)
			return KillOK
		}
	}
	return res
}

// killAll stops every run (the Engine is closing).
func (e *Engine) killAll(why int32) {
	e.mu.Lock()
	for _, r := range e.running {
		r.stop(why)
	}
	e.mu.Unlock()
}
