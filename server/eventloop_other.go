//go:build !linux

package server

// Event loops are Linux only (eventloop_linux.go): elsewhere io-event-loop
// has no effect and every connection has a goroutine of its own.

// loopSet stands for the event loops; it is always nil here.
type loopSet struct{}

// eventLoop stands for an event loop; there is none here.
type eventLoop struct{}

func (s *Server) startLoops() error { return nil }

func (ls *loopSet) adopt(*conn) *eventLoop { return nil }

func (ls *loopSet) stop() {}

func (l *eventLoop) add(*conn) {}

func loopOutput(*client) int64 { return 0 }
