package server

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/script"
	"github.com/cached/cached/store"
)

// Errors a script's redis.call gets for a command it may not run, as
// Redis 7.0 words them ("-CODE msg": the code is kept).
const (
	errScriptUnknownCmd = "-ERR Unknown Redis command called from script"
	errScriptArity      = "-ERR Wrong number of args calling Redis command from script"
	errScriptNoScript   = "-ERR This Redis command is not allowed from script"
	errScriptWriteRO    = "-ERR Write commands are not allowed from read-only scripts."
	errScriptNonLocal   = "-ERR Script attempted to access a non local key in a cluster node script"
	errScriptCrossSlot  = "-ERR Script attempted to access keys that do not hash to the same slot"
	errScriptKeyHeld    = "-ERR Script attempted to access a key held by another client after writing; declare the keys it uses"
	errScriptStopped    = "-ERR Script killed"
)

// scriptCall is one script or function to run for a client.
type scriptCall struct {
	sc       *script.Script // EVAL; nil for FCALL
	fn       *script.Function
	keys     [][]byte
	args     [][]byte
	argv     [][]byte // the whole command, for MONITOR
	ro       bool     // EVAL_RO, FCALL_RO
	name     string   // the SHA or the function's name, for error texts
	flags    script.Flags
	function bool
	declared bool // the held Tx was locked for keys (or every shard) by runScript
}

// runScript runs a script for c (see scripting.go for how it holds the
// store) and writes its reply.
func (s *Server) runScript(c *client, sc scriptCall) {
	if sc.flags&script.FlagCompat == 0 {
		if msg := s.scriptRefusal(c, sc); msg != "" {
			c.Err(msg)
			return
		}
	}
	if s.monitors.count.Load() > 0 { // before the script's commands, as Redis 7 shows it
		s.feedMonitorsArgs(c, sc.argv)
	}
	h := s.scriptHosts.Get().(*scriptHost)
	defer s.scriptHosts.Put(h)
	wide := sc.flags&script.FlagAllowCrossSlot != 0 || sc.sc != nil && sc.sc.Wide.Load() ||
		sc.fn != nil && sc.fn.Wide.Load()
	for {
		sc.declared = !c.Holding()
		if sc.declared {
			if wide {
				c.Hold(s.store.LockAll())
			} else { // at the command's time, as a command locks (kernel.Ctx.Lock)
				c.Hold(s.store.LockAt(c.Now(), sc.keys...))
			}
		}
		reply, err, restart := h.exec(c, sc)
		if !restart {
			if err != nil {
				c.Err(err.Msg)
			} else {
				c.Raw(reply)
			}
			return
		}
		// It touched a key it could not lock in order before writing
		// anything: run it again from the start with every shard locked.
		if sc.sc != nil {
			sc.sc.Wide.Store(true)
		} else if sc.fn != nil {
			sc.fn.Wide.Store(true)
		}
		c.ReleaseHeld()
		wide = true
	}
}

// scriptRefusal applies the flags of a script with a shebang (or of a
// function) before it runs, as Redis's scriptPrepareForRun: no-cluster,
// and allow-oom (writes under maxmemory).
func (s *Server) scriptRefusal(c *client, sc scriptCall) string {
	if sc.flags&script.FlagNoCluster != 0 && s.cl != nil {
		return errNoCluster
	}
	if sc.flags&(script.FlagNoWrites|script.FlagAllowOOM) == 0 && !sc.ro && s.maxMemory.Load() > 0 {
		if s.store.FreeMemory() != nil {
			return protocol.ErrOOM
		}
	}
	return ""
}

// scriptHost is the Host of one run: the internal client redis.call runs
// commands on, sharing the calling client's held Tx. Pooled
// (Server.scriptHosts); used by one run at a time.
type scriptHost struct {
	s       *Server
	c       *client // the calling client
	ic      *client // the internal client
	conn    *scriptConn
	call    scriptCall
	keys    [][]byte   // cover's scratch: the keys of a command
	cmds    [4]cmdName // the commands looked up last, by name as called
	cmdNext int        // the entry of cmds to replace next
	slot    int        // the slot of the keys used so far (cluster), -1 none
	// declSlot is the slot of every key the script declared, -1 unknown:
	// cluster routing found it (and admitted the script to it) before the
	// run, so commands on declared keys need not hash them again.
	declSlot int
	oom      bool        // over maxmemory when the script started
	restart  bool        // the run must start again with every shard locked
	cur      *script.Run // the run in progress
	runBuf   script.Run
}

func newScriptHost(s *Server) *scriptHost {
	conn := &scriptConn{}
	ic := &client{s: s, id: s.clients.nextID.Add(1), addr: "?:0", authed: true, born: time.Now()}
	ic.Conn = conn
	ic.Init(s.store, env{s}, ic)
	return &scriptHost{s: s, ic: ic, conn: conn}
}

// exec runs one script with c's held Tx. restart is set when it must run
// again with every shard locked (nothing was written).
func (h *scriptHost) exec(c *client, sc scriptCall) (reply []byte, err *script.Error, restart bool) {
	s := h.s
	h.c, h.call, h.restart = c, sc, false
	h.slot, h.declSlot = -1, -1
	if len(sc.keys) > 0 && s.cl != nil { // only clusterRefusal reads them
		if c.Admitted != 0 && !c.InExecTx() { // routing hashed this command's keys: all in that slot
			h.declSlot = c.Admitted - 1
			h.slot = h.declSlot
		} else {
			h.slot = protocol.KeySlot(sc.keys[0])
		}
	}
	h.oom = s.maxMemory.Load() > 0 && s.store.FreeMemory() != nil
	ic := h.ic
	ic.Selected.Store(c.Selected.Load())
	ic.HoldExec(c.Held())
	ic.wrote = c.wrote
	ic.CmdMs = c.CmdMs // the script's commands share its time (Redis freezes it for a script)
	run := &h.runBuf   // reused: the engine resets what it owns
	*run = script.Run{Host: h, Keys: sc.keys, Args: sc.args, Resp: c.RESPVersion(), Function: sc.function, Name: sc.name}
	h.cur = run
	buf := c.Scratch[:0]
	if sc.fn != nil {
		buf, err = s.scripts.Call(buf, sc.fn, run)
	} else {
		buf, err = s.scripts.Eval(buf, sc.sc, run)
	}
	c.Scratch = buf[:0]
	c.wrote = ic.wrote
	ic.CmdMs = 0
	ic.Unhold()
	h.cur, h.c = nil, nil
	return buf, err, h.restart
}

// Call runs one command of the script (redis.call, redis.pcall).
func (h *scriptHost) Call(run *script.Run, args [][]byte, resp int) []byte {
	s, ic := h.s, h.ic
	if run.Stopped() {
		return []byte(errScriptStopped + "\r\n")
	}
	cmd := h.lookup(args[0])
	if cmd != nil && cmd.subs != nil && len(args) >= 2 { // a bare container fails its arity
		cmd = cmd.lookupSub(args[1])
	}
	if msg := h.refusal(cmd, args); msg != "" {
		return []byte(msg + "\r\n")
	}
	if !h.cover(cmd, args) {
		if h.restart {
			return []byte(errScriptStopped + "\r\n")
		}
		return []byte(errScriptKeyHeld + "\r\n")
	}
	if cmd.flags&(flagWrite|flagMayReplicate) != 0 && !run.Dirty() {
		run.MarkDirty()
	}
	if ic.RESP3.Load() != (resp == 3) {
		ic.RESP3.Store(resp == 3)
	}
	h.conn.buf = h.conn.buf[:0]
	s.call(ic, cmd, args, store.Mono())
	return h.conn.buf
}

// cmdName is a command and the name a script called it by.
type cmdName struct {
	name string
	cmd  *command
}

// lookup finds the command name calls: scripts call a few commands again
// and again, by the same name, so the host remembers the last four.
func (h *scriptHost) lookup(name []byte) *command {
	for i := range h.cmds {
		if e := &h.cmds[i]; e.cmd != nil && e.name == string(name) {
			return e.cmd
		}
	}
	cmd := h.s.cmds.lookup(name)
	if cmd != nil {
		h.cmds[h.cmdNext] = cmdName{name: string(name), cmd: cmd}
		h.cmdNext = (h.cmdNext + 1) % len(h.cmds)
	}
	return cmd
}

// refusal is the error of a command the script may not run, or "".
func (h *scriptHost) refusal(cmd *command, args [][]byte) string {
	switch {
	case cmd == nil:
		return errScriptUnknownCmd
	case !cmd.arityOK(len(args)):
		return errScriptArity
	case cmd.flags&flagNoScript != 0:
		return errScriptNoScript
	case cmd.flags&(flagWrite|flagMayReplicate) != 0 && (h.call.ro || h.call.flags&script.FlagNoWrites != 0):
		return errScriptWriteRO
	case cmd.flags&flagDenyOOM != 0 && h.oom && !h.cur.Dirty() && h.call.flags&script.FlagAllowOOM == 0:
		return "-" + protocol.ErrOOM
	}
	return h.clusterRefusal(cmd, args)
}

// clusterRefusal keeps a script's keys on this node and, unless it may
// cross slots, in one slot.
func (h *scriptHost) clusterRefusal(cmd *command, args [][]byte) string {
	cs := h.s.cl
	if cs == nil {
		return ""
	}
	h.ic.clu.slotOf.args = nil // set below for this command
	slot, n, cross := -1, 0, false
	if h.declSlot >= 0 {
		if keys := h.commandKeys(cmd, args); len(keys) > 0 && h.declaredKeys(keys) {
			slot, n = h.declSlot, len(keys) // keys routing hashed already
		}
	}
	if n == 0 {
		slot, n, cross = cs.commandSlot(cmd, args)
	}
	if n == 0 {
		return ""
	}
	v := cs.view.Load()
	if cross || v == nil {
		return errScriptNonLocal
	}
	h.ic.routed(cmd, args, slot, n) // for noteWrite
	if owner := v.t.OwnerIndex(slot); owner != v.self && owner >= 0 {
		return errScriptNonLocal
	}
	if h.call.flags&(script.FlagAllowCrossSlot|script.FlagCompat) == 0 { // as Redis 7.0: scripts without a shebang may cross slots
		if h.slot == -1 {
			h.slot = slot
		} else if h.slot != slot {
			return errScriptCrossSlot
		}
	}
	return ""
}

// cover makes sure the script's Tx holds the keys of cmd (every shard for
// a command that walks the keyspace). When it cannot without waiting out
// of lock order it retries for a while if the script has written (or
// runs inside EXEC), else asks for a restart with every shard locked.
func (h *scriptHost) cover(cmd *command, args [][]byte) bool {
	tx := h.ic.Held()
	all := cmd.keyspace
	var keys [][]byte
	if !all {
		keys = h.commandKeys(cmd, args)
		if len(keys) == 0 || h.declaredKeys(keys) || tx.Covers(keys...) {
			return true
		}
	} else if tx.All() {
		return true
	}
	if tx.Extend(all, keys...) {
		return true
	}
	if !h.cur.Dirty() && !h.c.InExecTx() {
		h.restart = true
		h.cur.Stop()
		return false
	}
	return extendWaiting(tx, all, keys)
}

// commandKeys returns the keys of cmd in args, in h.keys (reused: no
// allocation for commands with a fixed key range, as keyPositions reads
// it).
func (h *scriptHost) commandKeys(cmd *command, args [][]byte) [][]byte {
	keys := h.keys[:0]
	switch {
	case cmd.flags&flagMovableKeys != 0:
		for _, p := range cmd.keyPositions(args) {
			keys = append(keys, args[p])
		}
	case cmd.first > 0 && cmd.first < len(args):
		last := cmd.last
		if last < 0 {
			last += len(args)
		}
		last = min(last, len(args)-1)
		for i := cmd.first; i <= last; i += max(cmd.step, 1) {
			keys = append(keys, args[i])
		}
	}
	h.keys = keys
	return keys
}

// declaredKeys reports whether every key is one the script declared and
// runScript locked (or every shard is locked): the held Tx covers them
// without hashing them again.
func (h *scriptHost) declaredKeys(keys [][]byte) bool {
	if !h.call.declared {
		return false
	}
	for _, k := range keys {
		found := false
		for _, d := range h.call.keys {
			if string(k) == string(d) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// extendWaiting retries Extend for up to a second.
func extendWaiting(tx *store.Tx, all bool, keys [][]byte) bool {
	deadline := time.Now().Add(time.Second)
	for d := 50 * time.Microsecond; time.Now().Before(deadline); d = min(2*d, 10*time.Millisecond) {
		time.Sleep(d)
		if tx.Extend(all, keys...) {
			return true
		}
	}
	return false
}

// Log writes a redis.log line at the matching level.
func (h *scriptHost) Log(level int, msg string) { h.s.scriptLog(level, msg) }

// scriptLog writes a redis.log line at the matching level.
func (s *Server) scriptLog(level int, msg string) {
	switch level {
	case script.LogDebug:
		s.log.Debug(msg, "source", "script")
	case script.LogVerbose:
		s.log.Log(context.Background(), slogLevel("verbose"), msg, "source", "script")
	case script.LogNotice:
		s.log.Info(msg, "source", "script")
	default:
		s.log.Warn(msg, "source", "script")
	}
}

// KnownCommand reports whether name is a command (redis.acl_check_cmd).
func (h *scriptHost) KnownCommand(name []byte) bool { return h.s.cmds.lookup(name) != nil }

// scriptConn is the internal client's connection: replies are appended to
// buf, which redis.call converts to Lua.
type scriptConn struct{ buf []byte }

func (sc *scriptConn) RemoteAddr() string             { return "lua" }
func (sc *scriptConn) Close() error                   { return nil }
func (sc *scriptConn) WriteError(msg string)          { sc.buf = redcon.AppendError(sc.buf, msg) }
func (sc *scriptConn) WriteString(str string)         { sc.buf = redcon.AppendString(sc.buf, str) }
func (sc *scriptConn) WriteBulk(b []byte)             { sc.buf = redcon.AppendBulk(sc.buf, b) }
func (sc *scriptConn) WriteBulkString(s string)       { sc.buf = redcon.AppendBulkString(sc.buf, s) }
func (sc *scriptConn) WriteInt(n int)                 { sc.buf = redcon.AppendInt(sc.buf, int64(n)) }
func (sc *scriptConn) WriteInt64(n int64)             { sc.buf = redcon.AppendInt(sc.buf, n) }
func (sc *scriptConn) WriteUint64(n uint64)           { sc.buf = redcon.AppendUint(sc.buf, n) }
func (sc *scriptConn) WriteArray(n int)               { sc.buf = redcon.AppendArray(sc.buf, n) }
func (sc *scriptConn) WriteNull()                     { sc.buf = redcon.AppendNull(sc.buf) }
func (sc *scriptConn) WriteRaw(b []byte)              { sc.buf = append(sc.buf, b...) }
func (sc *scriptConn) WriteAny(v any)                 { sc.buf = redcon.AppendAny(sc.buf, v) }
func (sc *scriptConn) Context() any                   { return nil }
func (sc *scriptConn) SetContext(any)                 {}
func (sc *scriptConn) SetReadBuffer(int)              {}
func (sc *scriptConn) Detach() redcon.DetachedConn    { return nil }
func (sc *scriptConn) ReadPipeline() []redcon.Command { return nil }
func (sc *scriptConn) PeekPipeline() []redcon.Command { return nil }
func (sc *scriptConn) NetConn() net.Conn              { return nil }
func (sc *scriptConn) WriteBulkFrom(n int64, r io.Reader) {
	sc.buf = redcon.AppendBulk(sc.buf, readN(r, n))
}

func readN(r io.Reader, n int64) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, n))
	return b
}
