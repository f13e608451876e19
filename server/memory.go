package server

// overheadMemory returns the bytes the server uses outside the keys that
// count against maxmemory, as Redis counts them in used_memory: every
// client's query buffer, running command's arguments, queued MULTI commands
// and queued output (CLIENT LIST tot-mem), and the replication backlog as
// far as it is allocated, up to repl-backlog-size (replBuffer). The
// cron goroutine hands it to the store every 100 ms (Store.SetOverhead), so
// a burst of client buffers makes eviction free keys as in Redis. When the
// server owns the process (Config.ManageRuntime) the cron takes the larger of
// this and the live Go heap plus the store's off-heap bytes
// (store.OffHeapBytes) beyond the key accounting and the startup heap, and
// has the store count the slabs' freed items (Store.SetCountSlabFreed), so
// eviction answers to the memory the process really holds.
func (s *Server) overheadMemory() int64 {
	var n int64
	for _, c := range s.clients.list() {
		n += c.qbuf.Load() + c.argvMem.Load() + c.multiMem() + c.outputQueued()
	}
	_, backlog := s.replBuffer()
	return n + backlog
}

// usedMemory returns INFO's used_memory in two parts: the keys
// (used_memory_dataset) and the rest (used_memory_overhead), which is what
// counts against maxmemory beside the keys (Store.Overhead) and the
// replication buffer kept for lagging replicas: Redis counts that in
// used_memory but not for eviction (mem_not_counted_for_evict).
func (s *Server) usedMemory() (dataset, overhead int64) {
	held, backlog := s.replBuffer()
	return s.store.UsedMemory(), s.store.Overhead() + held - backlog
}

// replBuffer returns the bytes held for replicas, and of them the
// backlog's up to repl-backlog-size: the rest (what the backlog keeps for
// replicas that lag, and the snapshots being written to them) does not
// count against maxmemory, as Redis does not count its replicas' output
// buffers.
func (s *Server) replBuffer() (held, backlog int64) {
	rs := s.repl.Load()
	if rs == nil {
		return 0, 0
	}
	h, size := rs.p.Buffer()
	return int64(h) + rs.p.SnapshotHeld(), int64(min(h, size))
}
