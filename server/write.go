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
			s.watch.Touch(ch.DB, ch.Key, false)
			s.signalReady(ch.DB, ch.Key)
			if ch.Event != "" {
				s.keyspaceEvent(ch.DB, notifyClass(ch.Class), ch.Event, ch.Key)
			}
		case store.ChangeExpired:
			s.watch.Touch(ch.DB, ch.Key, true)
			s.signalReady(ch.DB, ch.Key)
			s.keyspaceEvent(ch.DB, notifyExpired, "expired", ch.Key)
		case store.ChangeEvicted:
			s.watch.Touch(ch.DB, ch.Key, true)
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
	o.s.watch.TouchIn(db, other, exists)
}
