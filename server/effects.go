package server

// EffectFunc receives one write effect: a deterministic command that
// reproduces, on another node, what a command changed in database db. It runs
// on the writing client's goroutine after the command and must not block.
type EffectFunc func(db int, cmd [][]byte)

// SetEffectHook installs fn as the receiver of every write effect (the
// replication stream attaches here). Set it before clients connect; nil
// (the default) turns effect recording off, so writes pay nothing for it.
func (s *Server) SetEffectHook(fn EffectFunc) { s.onEffect = fn }

// propagate records a write effect of the running command. Handlers call it
// once per change, with arguments that already carry absolute times (PXAT),
// final values (INCRBYFLOAT's result) and no reply-only options (SET's GET).
func (c *client) propagate(args ...[]byte) {
	if c.s.onEffect == nil {
		return
	}
	c.fx.Add(args...)
}

func (s *Server) publishEffects(c *client) {
	db := int(c.db.Load())
	for i := 0; i < c.fx.Len(); i++ {
		s.onEffect(db, c.fx.At(i))
	}
	c.fx.Reset()
}
