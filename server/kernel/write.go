package kernel

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// Lock locks the shards of keys for the running command and returns the Tx
// to use; the handler unlocks it when done with it, but the locks and the
// change record stay with the client until the command ends (call), so
// notes made after the handler's Unlock join the same record. A command
// that locks again keys its held Tx covers gets the same Tx (a second look
// at the same key), and keys it does not cover end the held Tx first —
// except inside EXEC, whose Tx covers every key of its commands.
func (c *Ctx) Lock(keys ...[]byte) *store.Tx {
	if c.held != nil {
		if c.held.Covers(keys...) {
			return c.held.Nest()
		}
		if c.execHeld {
			panic("server: a command inside EXEC locked a key outside the transaction's keys")
		}
		c.ReleaseHeld()
	}
	if c.ReplApply {
		c.held = c.st.LockApply(keys...)
	} else {
		c.held = c.st.LockAt(c.Now(), keys...)
		c.CheckFence()
	}
	return c.held.Nest() // locked for exactly these keys
}

// Fenced is what CheckFence panics with: the running command was admitted
// to Slot as its primary and the node has fenced the slot since (it handed
// the slot over; store.FenceSlot). The server recovers it at the command
// boundary and answers MOVED; the command changed nothing, as the fence is
// checked when it first locks the slot.
type Fenced struct{ Slot int }

// CheckFence panics with Fenced if the running command was admitted to a
// slot (Admitted) that is fenced now. The caller holds the slot's shard
// lock (it locked the command's keys), so the answer holds until it
// releases it: a fence set later waits for that.
func (c *Ctx) CheckFence() {
	if c.Admitted != 0 && c.st.SlotFenced(c.Admitted-1) {
		panic(Fenced{Slot: c.Admitted - 1})
	}
}

// LockAll is lock for every shard (commands that walk or change the whole
// keyspace).
func (c *Ctx) LockAll() *store.Tx {
	if c.held != nil {
		if c.held.All() {
			return c.held.Nest()
		}
		if c.execHeld {
			panic("server: a whole-keyspace command inside EXEC without every shard locked")
		}
		c.ReleaseHeld()
	}
	c.held = c.st.LockAll()
	return c.held.Nest()
}

// ReleaseHeld commits and unlocks the client's held Tx, if any: at the end
// of every command (call), and after a recovered panic.
func (c *Ctx) ReleaseHeld() {
	if c.held == nil {
		return
	}
	tx := c.held
	c.held, c.execHeld = nil, false
	tx.Release()
}

// Notify notes that the running command changed key in the client's
// database (class and event as Redis's notifyKeyspaceEvent): WATCH, blocked
// clients and keyspace notifications react when the command commits.
// Handlers call it once per changed key, after the change, with the key
// locked (c.lock).
func (c *Ctx) Notify(class NotifyClass, event string, key []byte) {
	c.NotifyDB(c.DB(), class, event, key)
}

// NotifyDB is notify for a database given explicitly (MOVE, COPY … DB).
func (c *Ctx) NotifyDB(db int, class NotifyClass, event string, key []byte) {
	c.heldFor(key).Changed(db, key, uint16(class), event)
}

// Propagate records a write effect of the running command in the client's
// database: arguments that already carry absolute times (PXAT), final
// values (INCRBYFLOAT's result) and no reply-only options (SET's GET). Its
// first key must be locked (c.lock).
func (c *Ctx) Propagate(args ...[]byte) {
	c.heldFor(nil).Propagate(c.DB(), args...)
}

// PropagateAs is Propagate of args under the command name name
// (store.Tx.PropagateAs): MSETNX's effect is args as MSET.
func (c *Ctx) PropagateAs(name []byte, args [][]byte) {
	c.heldFor(nil).PropagateAs(c.DB(), name, args)
}

// PropagateKeyless records an effect that names no key (FLUSHDB, SWAPDB),
// under c.lockAll.
func (c *Ctx) PropagateKeyless(args ...[]byte) {
	c.heldFor(nil).PropagateKeyless(c.DB(), args...)
}

// Recording reports whether effects are recorded: a handler may skip
// building costly effect arguments when not.
func (c *Ctx) Recording() bool { return c.st.RecordsEffects() }

// heldFor returns the held Tx a note belongs to. A note without a held Tx
// is a bug in its command (the change was made outside a Tx).
func (c *Ctx) heldFor(key []byte) *store.Tx {
	if c.held == nil {
		panic("server: a change noted outside a locked Tx (key " + string(key) + ")")
	}
	return c.held
}

// GetString reads a string key as GET does: the store's lock-free-of-Tx fast
// path, or the held Tx inside EXEC.
func (c *Ctx) GetString(key, dst []byte) ([]byte, bool, error) {
	db := c.DB()
	if c.held == nil {
		v, ok, err := c.st.GetAt(c.Now(), db, key, dst)
		if err != store.ErrFenced {
			return v, ok, err
		}
		// A fenced slot: the Tx path checks whether this command may
		// still read it (Lock, CheckFence).
	}
	tx := c.Lock(key)
	defer tx.Unlock()
	return tx.GetString(db, key, dst)
}

// SetString is SET key value without options (args), noted and
// propagated as such: the store's fast path, or the held Tx inside EXEC.
func (c *Ctx) SetString(args [][]byte) {
	db := c.DB()
	if c.held == nil && c.st.SetAt(c.Now(), db, args[1], args[2], 0, uint16(NotifyString), "set", args...) {
		return
	}
	// Inside EXEC, or a fenced slot: the Tx path (Lock checks the fence).
	tx := c.Lock(args[1])
	tx.SetString(db, args[1], args[2], 0)
	c.Propagate(args...)
	c.Notify(NotifyString, "set", args[1])
	tx.Unlock()
}

// UpdateString is a write command's read-modify-write of the string key
// (store.Tx.UpdateString: INCR and its family): the store's fast path, or
// the held Tx inside EXEC. It notes event in class and propagates SET key
// val KEEPTTL. It replies WRONGTYPE itself for a key holding a collection;
// it reports whether fn wrote, and when fn declined the caller replies.
func (c *Ctx) UpdateString(key []byte, class NotifyClass, event string, fn store.StringUpdate) bool {
	db := c.DB()
	var wrote bool
	err := store.ErrFenced
	if c.held == nil && !c.ReplApply {
		wrote, err = c.st.UpdateStringAt(c.Now(), db, key, fn, uint16(class), event)
	}
	if err == store.ErrFenced {
		// Inside EXEC, or a fenced slot: the Tx path (Lock checks the fence).
		tx := c.Lock(key)
		wrote, err = tx.UpdateString(db, key, fn, uint16(class), event)
		tx.Unlock()
	}
	if err != nil {
		c.Err(protocol.ErrWrongType)
	}
	return wrote
}

// View returns a store.View for commands that walk the keyspace (KEYS,
// SCAN, RANDOMKEY): inside EXEC it reads under the transaction's locks
// (which are every shard's for such a command), otherwise it locks one
// shard at a time.
func (c *Ctx) View() store.View {
	if c.held != nil {
		if c.held.All() {
			return c.held.View()
		}
		if c.execHeld {
			panic("server: a whole-keyspace command inside EXEC without every shard locked")
		}
		c.ReleaseHeld()
	}
	return c.st.View()
}

// FreeMemory evicts down to maxmemory from a command (CONFIG SET
// maxmemory): inside EXEC from under the transaction's locks (every
// shard's, for such a command), so its evictions join the transaction.
func (c *Ctx) FreeMemory() error {
	if c.held != nil {
		if c.held.All() {
			return c.held.FreeMemory()
		}
		if c.execHeld {
			panic("server: eviction inside EXEC without every shard locked")
		}
		c.ReleaseHeld()
	}
	return c.st.FreeMemory()
}

// Now is the running command's time in Unix ms, read once when dispatch
// began it (all its TTLs are computed from it, as Redis's command time
// snapshot); outside a dispatched command (a blocked client served, the
// replication applier) the store's clock now.
func (c *Ctx) Now() int64 {
	if c.CmdMs != 0 {
		return c.CmdMs
	}
	return c.st.Now()
}
