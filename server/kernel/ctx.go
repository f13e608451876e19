// Package kernel is what a command handler sees: the command context Ctx
// (the client's database, its reply stream, the write path into the store
// and the blocking hooks) and the declaration of a command, Spec, which
// each command family (stringcmd, keycmd, hashcmd, …) returns from its
// Commands function for the server's table.
//
// The server's connection state embeds a Ctx; what a Ctx needs from the
// server (error statistics, keyspace-miss events, blocking, limits) it asks
// through the Env interface the server implements.
package kernel

import (
	"sync/atomic"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/store"
)

// Ctx is what a command sees: the client's selected database, its reply
// stream, the write path into the store (Lock, Notify, Propagate …) and the
// blocking hooks. The server's connection state embeds one; a handler gets
// a pointer to it and must not keep it past the call. A Ctx is used by the
// goroutine that runs the client's commands; Selected and RESP3 may be
// read from others (CLIENT LIST).
type Ctx struct {
	Conn     redcon.Conn  // where replies go
	Selected atomic.Int32 // the SELECTed database
	RESP3    atomic.Bool  // HELLO 3 was negotiated
	Scratch  []byte       // reply encoding scratch; owner goroutine only
	Failed   bool         // the running command replied with an error; owner only
	// CmdMs is the running command's time in Unix ms, read once when the
	// server dispatched it (its TTLs are computed from it); 0 outside a
	// dispatched command. Owner only; see Now.
	CmdMs int64
	// ReplApply marks the replication applier's internal client: it locks
	// with store.LockApply. Set before the first command.
	ReplApply bool
	// Admitted is 1 + the slot the running command was admitted to as the
	// slot's primary by cluster routing, 0 for any other command. Once that
	// slot is fenced (the node handed it over after routing let the command
	// in), the command's first lock refuses it: see CheckFence. Owner only.
	Admitted int

	st       *store.Store
	env      Env
	owner    any
	held     *store.Tx // the running command's Tx (see Lock); owner only
	execHeld bool      // held is EXEC's Tx for all its commands; owner only
}

// FlushReplicated lets the server apply a FLUSHDB/FLUSHALL under tx its own way (replication); false: the command flushes and propagates as usual.
func (c *Ctx) FlushReplicated(tx *store.Tx) bool { return c.env.FlushReplicated(tx) }

// Env is what a Ctx needs from the server it runs in. The server
// implements it; every method runs on the command's goroutine.
type Env interface {
	// CountError counts an error reply by its code (INFO errorstats).
	CountError(code string)
	// KeyMiss publishes a keymiss keyspace event for key in db, if enabled.
	KeyMiss(db int, key []byte)
	// MaxBulkLen is proto-max-bulk-len: the largest string a command may build.
	MaxBulkLen() int64
	// BlockFor registers that the running blocking command (args) must
	// wait for its keys (see Ctx.BlockFor).
	BlockFor(c *Ctx, args [][]byte)
	// Rerunning reports whether the running command is a woken blocking
	// command's re-run.
	Rerunning(c *Ctx) bool
	// FlushReplicated lets the server apply a FLUSHDB/FLUSHALL under tx its own way (replication); false: the command flushes and propagates as usual.
	FlushReplicated(tx *store.Tx) bool
}

// Init sets what the Ctx works on: the store, the server's Env, and owner,
// the server's own value for this client (Owner returns it).
func (c *Ctx) Init(st *store.Store, env Env, owner any) {
	c.st, c.env, c.owner = st, env, owner
}

// Owner returns the value Init was given.
func (c *Ctx) Owner() any { return c.owner }

// Store returns the store the commands work on. Change data only through
// Lock and LockAll.
func (c *Ctx) Store() *store.Store { return c.st }

// DB returns the selected database.
func (c *Ctx) DB() int { return int(c.Selected.Load()) }

// MaxBulkLen is proto-max-bulk-len.
func (c *Ctx) MaxBulkLen() int64 { return c.env.MaxBulkLen() }

// KeyMiss reports a read of key that missed (keyspace notification class m)
// for reads that do not go through a Tx lookup (GET's fast path).
func (c *Ctx) KeyMiss(key []byte) { c.env.KeyMiss(c.DB(), key) }

// BlockFor tells the server that the running blocking command (args, whose
// timeout the handler has checked) found nothing to serve and must wait
// until one of its keys (Spec.Block's Keys) may serve it, or until the
// timeout passes (0: forever). The handler writes no reply then. When a
// key becomes ready, the command's BlockSpec.Serve runs for it; on
// timeout BlockSpec.TimedOut writes the reply. Inside MULTI/EXEC
// BlockSpec.NoWait replies at once, as Redis does.
func (c *Ctx) BlockFor(args [][]byte) { c.env.BlockFor(c, args) }

// Rerunning reports whether the running command is a woken blocking
// command's re-run: its handler then treats a key of another type as
// missing, so that a later key may serve it (as Redis 7.0).
func (c *Ctx) Rerunning() bool { return c.env.Rerunning(c) }

// HoldExec makes tx the Tx every command of an EXEC runs under (see Lock).
func (c *Ctx) HoldExec(tx *store.Tx) { c.held, c.execHeld = tx, true }

// Hold makes tx, which the server locked for the running command, the Tx
// its handler's Lock calls get (a script's keys); ReleaseHeld ends it. As
// Lock, it checks the fence of the slot the command was admitted to
// (CheckFence).
func (c *Ctx) Hold(tx *store.Tx) {
	c.held = tx
	c.CheckFence()
}

// Held returns the running command's Tx, or nil.
func (c *Ctx) Held() *store.Tx { return c.held }

// Unhold forgets the held Tx without releasing it: it belongs to another
// Ctx (a script's internal client runs under its caller's Tx).
func (c *Ctx) Unhold() { c.held, c.execHeld = nil, false }

// Holding reports whether the running command holds a Tx (see Lock): the
// server releases it when the command ends or panics.
func (c *Ctx) Holding() bool { return c.held != nil }

// InExecTx reports whether an EXEC's Tx is held.
func (c *Ctx) InExecTx() bool { return c.execHeld }
