package server

// updateListening tells the store whether anything reacts to its
// ChangeWrite notes: a WATCHed key, a blocked client, keyspace
// notifications turned on, or an effect sink. While nothing does, a write
// costs no change record (store.SetObserveWrites). Each consumer calls it
// after it starts or stops (the registries when their count leaves or
// reaches 0), and before it relies on notes; the calls are serialized, so
// the last one reads every count as it is.
func (s *Server) updateListening() {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	flags := notifyClass(s.notifyFlags.Load())
	on := s.watch.Active() || s.blocks.n.Load() > 0 ||
		flags&(notifyKeyspace|notifyKeyevent) != 0 || s.sink.Load() != nil
	s.store.SetObserveWrites(on)
}
