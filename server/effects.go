package server

import "github.com/cached/cached/store"

// EffectFunc receives one write effect: a deterministic command that
// reproduces, on another node, what a command changed in database db. It runs
// on the writing client's goroutine after the command, or on the store's
// expirer for expiry and eviction (DEL), so it must be safe for concurrent
// use and must not block. cmd is valid only during the call.
type EffectFunc func(db int, cmd [][]byte)

// SetEffectHook installs fn as the receiver of every write effect (the
// replication stream attaches here); nil, the default, turns effect
// recording off, so writes pay nothing for it.
func (s *Server) SetEffectHook(fn EffectFunc) {
	if fn == nil {
		s.onEffect.Store(nil)
		return
	}
	s.onEffect.Store(&fn)
}

// storeEvent turns the store's expiries and evictions into DEL effects and
// "expired" / "evicted" keyspace events, and key creations and read misses
// (reported only while the "n" / "m" classes are on) into "new" and
// "keymiss" events. It runs with a shard lock
// held.
func (s *Server) storeEvent(ev store.Event) {
	switch ev.Kind { // part of the running command: no effect of their own
	case store.EventNew:
		s.keyspaceEvent(ev.DB, notifyNew, "new", ev.Key)
		return
	case store.EventKeyMiss:
		s.keyspaceEvent(ev.DB, notifyKeyMiss, "keymiss", ev.Key)
		return
	}
	if fn := s.onEffect.Load(); fn != nil {
		(*fn)(ev.DB, [][]byte{[]byte("DEL"), ev.Key})
	}
	switch ev.Kind {
	case store.EventExpired:
		s.notifyDB(ev.DB, notifyExpired, "expired", ev.Key)
	case store.EventEvicted:
		s.notifyDB(ev.DB, notifyEvicted, "evicted", ev.Key)
	}
}

// propagate records a write effect of the running command. Handlers call it
// once per change, with arguments that already carry absolute times (PXAT),
// final values (INCRBYFLOAT's result) and no reply-only options (SET's GET).
func (c *client) propagate(args ...[]byte) {
	if c.s.onEffect.Load() == nil {
		return
	}
	c.fx.Add(args...)
}

func (s *Server) publishEffects(c *client) {
	db := int(c.db.Load())
	if fn := s.onEffect.Load(); fn != nil {
		for i := 0; i < c.fx.Len(); i++ {
			(*fn)(db, c.fx.At(i))
		}
	}
	c.fx.Reset()
}
