package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/rdb"
)

// applier is one Replica's repl.Applier: it runs each effect as a command
// on an internal client (the effects are commands), restores snapshot keys
// from their DUMP payloads and flushes slots. A unit (one command, one
// EXEC) is applied holding the shard locks of all its keys at once, as
// EXEC runs on the primary, so READONLY readers never see part of it.
// Called from the Replica's one goroutine only.
type applier struct {
	s     *Server
	c     *client
	steps []applyStep // the unit being applied; reused
	keys  [][]byte    // its keys; reused
}

// applyStep is one effect of a unit, resolved: a command with the
// arguments this node follows, or a slot flush (flush >= 0).
type applyStep struct {
	db    int
	cmd   *command
	args  [][]byte
	flush int
}

func newApplier(s *Server) *applier {
	c := &client{s: s, id: s.clients.nextID.Add(1), addr: "replication", authed: true, born: time.Now()}
	c.Conn = applyConn{}
	c.ReplApply = true
	c.Init(s.store, env{s}, c)
	return &applier{s: s, c: c}
}

// Apply runs the unit's effects in order under one Tx that covers them
// all. A command that fails or panics is an error: the Replica then asks
// for a new snapshot of the slot.
func (a *applier) Apply(unit []repl.Record) (err error) {
	c := a.c
	defer func() {
		p := recover()
		c.ReleaseHeld() // commits what was applied: a snapshot of the slot follows the error
		if p != nil {
			err = fmt.Errorf("server: replicated command panicked: %v", p)
		}
		clear(a.steps)
		clear(a.keys)
		a.steps, a.keys = a.steps[:0], a.keys[:0]
	}()
	all, err := a.resolve(unit)
	if err != nil || len(a.steps) == 0 {
		return err
	}
	if all {
		c.Hold(a.s.store.LockApplyAll())
	} else {
		c.Hold(a.s.store.LockApply(a.keys...))
	}
	c.HoldExec(c.Held())
	for i := range a.steps {
		if err := a.run(&a.steps[i]); err != nil {
			return err
		}
	}
	return nil
}

// resolve fills a.steps and a.keys from the unit's effects of slots this
// node follows, and reports whether the unit needs every shard (a slot
// flush, or a command over the whole keyspace).
func (a *applier) resolve(unit []repl.Record) (all bool, err error) {
	for i := range unit {
		r := &unit[i]
		if !a.s.store.ReplicaSlot(r.Slot) { // no longer followed here (table changed)
			continue
		}
		args := r.Args
		if len(args) == 0 || r.DB < 0 || r.DB >= a.s.store.Databases() {
			return false, fmt.Errorf("server: bad replicated effect")
		}
		if string(args[0]) == effFlushSlot {
			if len(args) != 2 || string(args[1]) != strconv.Itoa(r.Slot) {
				return false, fmt.Errorf("server: bad replicated slot flush")
			}
			a.steps = append(a.steps, applyStep{db: r.DB, args: args, flush: r.Slot})
			all = true
			continue
		}
		cmd := a.s.cmds.lookup(args[0])
		if cmd != nil && cmd.subs != nil && len(args) > 1 {
			cmd = cmd.lookupSub(args[1])
		}
		if cmd == nil || !cmd.arityOK(len(args)) {
			return false, fmt.Errorf("server: unknown replicated command %q", args[0])
		}
		if args = a.followedKeys(cmd, args); len(args) <= cmd.first { // none of its keys is followed here
			continue
		}
		a.steps = append(a.steps, applyStep{db: r.DB, cmd: cmd, args: args, flush: -1})
		if cmd.keyspace {
			all = true
		}
		for key := range cmd.keys(args) {
			a.keys = append(a.keys, key)
		}
	}
	return all, nil
}

// run executes one step with the unit's Tx held.
func (a *applier) run(st *applyStep) error {
	c := a.c
	if st.flush >= 0 {
		c.Held().FlushSlot(st.flush)
		c.Held().PropagateSlot(st.db, st.flush, st.args...) // keeps this copy's slot sequence in step
		return nil
	}
	c.Selected.Store(int32(st.db))
	c.Failed = false
	st.cmd.fn(&c.Ctx, st.args)
	if c.Failed {
		return fmt.Errorf("server: replicated %s failed", st.cmd.fullName)
	}
	return nil
}

// followedKeys drops, from an effect whose keys run to the end of its
// arguments in steps (MSET k v k v …, DEL k k …), the keys of slots this
// node does not follow: a primary's multi-key effect is stamped with its
// first key's slot, but its keys may belong to other slots of that primary,
// replicated elsewhere.
func (a *applier) followedKeys(cmd *command, args [][]byte) [][]byte {
	if cmd.flags&flagMovableKeys != 0 || cmd.first <= 0 || cmd.last != -1 || cmd.step <= 0 || cmd.first >= len(args) {
		return args
	}
	st := a.s.store
	all := true
	for i := cmd.first; i < len(args); i += cmd.step {
		if !st.ReplicaSlot(store.KeySlot(args[i])) {
			all = false
			break
		}
	}
	if all {
		return args
	}
	out := append([][]byte(nil), args[:cmd.first]...)
	for i := cmd.first; i+cmd.step <= len(args); i += cmd.step {
		if st.ReplicaSlot(store.KeySlot(args[i])) {
			out = append(out, args[i:i+cmd.step]...)
		}
	}
	return out
}

// FlushSlot drops every key of slot before its snapshot. Until the
// snapshot is loaded the slot is not served to READONLY readers, who would
// see part of it (and so part of a unit): they get MOVED to the primary.
func (a *applier) FlushSlot(slot int) error {
	if rs := a.s.repl.Load(); rs != nil {
		rs.loading[slot].Store(true)
	}
	a.s.store.FlushSlot(slot)
	return nil
}

// replicaReadable reports whether a READONLY read of slot may be served
// from this node's copy: the slot is followed here and not loading a
// snapshot.
func (s *Server) replicaReadable(slot int) bool {
	if !s.store.ReplicaSlot(slot) {
		return false
	}
	rs := s.repl.Load()
	return rs == nil || !rs.loading[slot].Load()
}

// Restore loads one snapshot key.
func (a *applier) Restore(slot, db int, key, payload []byte, pexpireAt int64) error {
	if db < 0 || db >= a.s.store.Databases() || store.KeySlot(key) != slot {
		return fmt.Errorf("server: snapshot key %q not of slot %d", key, slot)
	}
	if !a.s.store.ReplicaSlot(slot) { // no longer followed here (table changed)
		return nil
	}
	v, err := rdb.DecodeSnapshot(payload)
	if err != nil {
		return err
	}
	tx := a.s.store.LockApply(key)
	rdb.Restore(tx, db, key, v, pexpireAt)
	tx.Changed(db, key, 0, "")
	tx.Unlock()
	return nil
}

// SnapshotLoaded notes the end of a slot's full sync.
func (a *applier) SnapshotLoaded(slot int, seq uint64) error {
	if rs := a.s.repl.Load(); rs != nil {
		rs.loading[slot].Store(false)
	}
	return nil
}

// replDial connects a Replica to a primary's RESP port, authenticating
// first when requirepass is set; REPLSYNC follows on the connection.
func (s *Server) replDial(ctx context.Context, addr string) (net.Conn, error) {
	rs := s.repl.Load()
	if rs != nil && rs.dialFault.Load() {
		return nil, errors.New("server: replication dial refused (injected fault)")
	}
	var setup [][]string
	if pass := s.password(); pass != "" {
		setup = [][]string{{"AUTH", pass}}
	}
	c, err := protocol.DialSetup(addr, 5*time.Second, setup)
	if err == nil && rs != nil {
		if wrap := rs.dialWrap.Load(); wrap != nil {
			c = (*wrap)(c)
		}
	}
	return c, err
}

// applyConn is the internal applier client's connection: replies are
// dropped, errors mark the command failed (client.err sets c.Failed).
type applyConn struct{}

func (applyConn) RemoteAddr() string             { return "replication" }
func (applyConn) Close() error                   { return nil }
func (applyConn) WriteError(string)              {}
func (applyConn) WriteString(string)             {}
func (applyConn) WriteBulk([]byte)               {}
func (applyConn) WriteBulkString(string)         {}
func (applyConn) WriteInt(int)                   {}
func (applyConn) WriteInt64(int64)               {}
func (applyConn) WriteUint64(uint64)             {}
func (applyConn) WriteArray(int)                 {}
func (applyConn) WriteNull()                     {}
func (applyConn) WriteRaw([]byte)                {}
func (applyConn) WriteAny(any)                   {}
func (applyConn) Context() any                   { return nil }
func (applyConn) SetContext(any)                 {}
func (applyConn) SetReadBuffer(int)              {}
func (applyConn) Detach() redcon.DetachedConn    { return nil }
func (applyConn) ReadPipeline() []redcon.Command { return nil }
func (applyConn) PeekPipeline() []redcon.Command { return nil }
func (applyConn) NetConn() net.Conn              { return nil }
func (applyConn) WriteBulkFrom(int64, io.Reader) {}
