package server

// client-output-buffer-limit (the directive: config/outbuf.go): how much
// output a detached client (session.go) may have queued before it is closed.

import "github.com/cached/cached/server/config"

// outputClass indexes a client class: see config.OutputClass.
type outputClass = config.OutputClass

const (
	classNormal = config.ClassNormal
	classPubSub = config.ClassPubSub
)

// outputLimit returns a class's current limit (safe from any goroutine).
func (s *Server) outputLimit(class outputClass) config.OutputBufferLimit {
	if l := s.outLimits.Load(); l != nil {
		return *l.At(class)
	}
	return config.OutputBufferLimit{}
}
