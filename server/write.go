package server

// The write path. A command changes the store through a store.Tx it gets
// from c.lock (or c.lockAll), states each change with c.notify and each
// effect with c.propagate, and unlocks; everything it noted is committed
// when the command ends (call releases the client's held Tx), with the shard
// locks still held, to the store's Observer — the server's observer below —
// which feeds WATCH, blocked clients, keyspace notifications and the effect
// sink from that one record, in commit order. Expiries and evictions reach
// the same observer from the store. Nothing is published after the locks
// are gone.
//
// A command's Tx is held by the client (c.held) from its first c.lock until
// the command ends: the handler's own Unlock only ends its nested use, so
// notes made after it still join the same record. EXEC locks the keys of
// all its commands once and holds that Tx for all of them, so a transaction
// commits as one unit.

import (
	"github.com/cached/cached/store"
)

// EffectSink receives the write effects of every committed unit (a
// command, an EXEC, an expiry or eviction), in commit order per slot, with
// the shard locks of the unit held: it must not block and must not call
// the server. r and everything it holds are valid only during the call.
// Units that share no shard may be committed concurrently.
type EffectSink interface {
	CommitEffects(r *store.Record)
}

// SetEffectSink attaches the consumer of write effects (the replication
// stream); nil, the default, turns effect recording off, so writes pay
// nothing for it.
func (s *Server) SetEffectSink(sink EffectSink) {
	if sink == nil {
		s.store.SetRecordEffects(false)
		s.sink.Store(nil)
		s.updateListening()
		return
	}
	s.sink.Store(&sink)
	s.store.SetRecordEffects(true)
	s.updateListening()
}

// EffectFunc receives one write effect: a deterministic command that
// reproduces, on another node, what was changed in database db. cmd is
// valid only during the call. See EffectSink for when it runs.
type EffectFunc func(db int, cmd [][]byte)

// SetEffectHook is SetEffectSink for a function called once per effect.
func (s *Server) SetEffectHook(fn EffectFunc) {
	if fn == nil {
		s.SetEffectSink(nil)
		return
	}
	s.SetEffectSink(effectFuncSink(fn))
}

type effectFuncSink EffectFunc

func (f effectFuncSink) CommitEffects(r *store.Record) {
	for i := range r.NumEffects() {
		e := r.Effect(i)
		f(e.DB, e.Args)
	}
}

// observer is the store's Observer: it turns each committed record into
// WATCH invalidations, wake-ups of blocked clients, keyspace notifications
// and the effect sink's input. It runs with shard locks held.
type observer struct{ s *Server }

func (o observer) Commit(r *store.Record) {
	s := o.s
	for _, ch := range r.Changes() {
		switch ch.Kind {
		case store.ChangeWrite:
			s.touchWatched(ch.DB, ch.Key)
			s.signalReady(ch.DB, ch.Key)
			if ch.Event != "" {
				s.keyspaceEvent(ch.DB, notifyClass(ch.Class), ch.Event, ch.Key)
			}
		case store.ChangeExpired:
			s.touchWatched(ch.DB, ch.Key)
			s.signalReady(ch.DB, ch.Key)
			s.keyspaceEvent(ch.DB, notifyExpired, "expired", ch.Key)
		case store.ChangeEvicted:
			s.touchWatched(ch.DB, ch.Key)
			s.signalReady(ch.DB, ch.Key)
			s.keyspaceEvent(ch.DB, notifyEvicted, "evicted", ch.Key)
		case store.ChangeNew:
			s.keyspaceEvent(ch.DB, notifyNew, "new", ch.Key)
		case store.ChangeMiss:
			s.keyspaceEvent(ch.DB, notifyKeyMiss, "keymiss", ch.Key)
		case store.ChangeFlush:
			s.signalDB(ch.DB)
		}
	}
	if r.NumEffects() > 0 {
		if sink := s.sink.Load(); sink != nil {
			(*sink).CommitEffects(r)
		}
	}
}

// Flushing fails the transactions watching a key that FLUSHDB, FLUSHALL or
// SWAPDB is about to change, if the key exists (in db, or in other for
// SWAPDB), as Redis's touchAllWatchedKeysInDb.
func (o observer) Flushing(db, other int, exists func(db int, key []byte) bool) {
	o.s.touchWatchedIn(db, other, exists)
}

// lock locks the shards of keys for the running command and returns the Tx
// to use; the handler unlocks it when done with it, but the locks and the
// change record stay with the client until the command ends (call), so
// notes made after the handler's Unlock join the same record. A command
// that locks again keys its held Tx covers gets the same Tx (a second look
// at the same key), and keys it does not cover end the held Tx first —
// except inside EXEC, whose Tx covers every key of its commands.
func (c *client) lock(keys ...[]byte) *store.Tx {
	if c.held != nil {
		if c.held.Covers(keys...) {
			return c.held.Relock(keys...)
		}
		if c.execHeld {
			panic("server: a command inside EXEC locked a key outside the transaction's keys")
		}
		c.releaseHeld()
	}
	if c.replApply {
		c.held = c.s.store.LockApply(keys...)
	} else {
		c.held = c.s.store.LockAt(c.now(), keys...)
	}
	return c.held.Relock(keys...)
}

// lockAll is lock for every shard (commands that walk or change the whole
// keyspace).
func (c *client) lockAll() *store.Tx {
	if c.held != nil {
		if c.held.All() {
			return c.held.Relock()
		}
		if c.execHeld {
			panic("server: a whole-keyspace command inside EXEC without every shard locked")
		}
		c.releaseHeld()
	}
	c.held = c.s.store.LockAll()
	return c.held.Relock()
}

// releaseHeld commits and unlocks the client's held Tx, if any: at the end
// of every command (call), and after a recovered panic.
func (c *client) releaseHeld() {
	if c.held == nil {
		return
	}
	tx := c.held
	c.held, c.execHeld = nil, false
	tx.Release()
}

// notify notes that the running command changed key in the client's
// database (class and event as Redis's notifyKeyspaceEvent): WATCH, blocked
// clients and keyspace notifications react when the command commits.
// Handlers call it once per changed key, after the change, with the key
// locked (c.lock).
func (c *client) notify(class notifyClass, event string, key []byte) {
	c.notifyDB(int(c.db.Load()), class, event, key)
}

// notifyDB is notify for a database given explicitly (MOVE, COPY … DB).
func (c *client) notifyDB(db int, class notifyClass, event string, key []byte) {
	c.heldFor(key).Changed(db, key, uint16(class), event)
}

// propagate records a write effect of the running command in the client's
// database: arguments that already carry absolute times (PXAT), final
// values (INCRBYFLOAT's result) and no reply-only options (SET's GET). Its
// first key must be locked (c.lock).
func (c *client) propagate(args ...[]byte) {
	c.heldFor(nil).Propagate(int(c.db.Load()), args...)
}

// propagateKeyless records an effect that names no key (FLUSHDB, SWAPDB),
// under c.lockAll.
func (c *client) propagateKeyless(args ...[]byte) {
	c.heldFor(nil).PropagateKeyless(int(c.db.Load()), args...)
}

// recording reports whether effects are recorded: a handler may skip
// building costly effect arguments when not.
func (c *client) recording() bool { return c.s.store.RecordsEffects() }

// heldFor returns the held Tx a note belongs to. A note without a held Tx
// is a bug in its command (the change was made outside a Tx).
func (c *client) heldFor(key []byte) *store.Tx {
	if c.held == nil {
		panic("server: a change noted outside a locked Tx (key " + string(key) + ")")
	}
	return c.held
}

// getString reads a string key as GET does: the store's lock-free-of-Tx fast
// path, or the held Tx inside EXEC.
func (c *client) getString(key, dst []byte) ([]byte, bool, error) {
	db := int(c.db.Load())
	if c.held == nil {
		return c.s.store.GetAt(c.now(), db, key, dst)
	}
	tx := c.lock(key)
	defer tx.Unlock()
	return tx.GetString(db, key, dst)
}

// setString is SET key value without options (args), noted and
// propagated as such: the store's fast path, or the held Tx inside EXEC.
func (c *client) setString(args [][]byte) {
	db := int(c.db.Load())
	if c.held == nil {
		c.s.store.SetAt(c.now(), db, args[1], args[2], 0, uint16(notifyString), "set", args...)
		return
	}
	tx := c.lock(args[1])
	tx.SetString(db, args[1], args[2], 0)
	c.propagate(args...)
	c.notify(notifyString, "set", args[1])
	tx.Unlock()
}

// view returns a store.View for commands that walk the keyspace (KEYS,
// SCAN, RANDOMKEY): inside EXEC it reads under the transaction's locks
// (which are every shard's for such a command), otherwise it locks one
// shard at a time.
func (c *client) view() store.View {
	if c.held != nil {
		if c.held.All() {
			return c.held.View()
		}
		if c.execHeld {
			panic("server: a whole-keyspace command inside EXEC without every shard locked")
		}
		c.releaseHeld()
	}
	return c.s.store.View()
}

// freeMemory evicts down to maxmemory from a command (CONFIG SET
// maxmemory): inside EXEC from under the transaction's locks (every
// shard's, for such a command), so its evictions join the transaction.
func (c *client) freeMemory() error {
	if c.held != nil {
		if c.held.All() {
			return c.held.FreeMemory()
		}
		if c.execHeld {
			panic("server: eviction inside EXEC without every shard locked")
		}
		c.releaseHeld()
	}
	return c.s.store.FreeMemory()
}
