package server

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

// pauseState is one CLIENT PAUSE in force. done is closed when it is lifted
// or replaced, so that waiting clients look again.
type pauseState struct {
	end  time.Time
	all  bool // ALL mode; otherwise WRITE mode
	done chan struct{}
}

// pauser holds the CLIENT PAUSE state. Dispatch reads it with one atomic
// load; PAUSE and UNPAUSE change it under mu.
type pauser struct {
	mu      sync.Mutex // serializes PAUSE/UNPAUSE
	state   atomic.Pointer[pauseState]
	waiting atomic.Int64 // clients held by a pause (INFO blocked_clients)
}

// pause starts or extends a pause: the later end and the stricter mode win,
// as in Redis.
func (p *pauser) pause(end time.Time, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := &pauseState{end: end, all: all, done: make(chan struct{})}
	if old := p.state.Load(); old != nil {
		if time.Now().Before(old.end) {
			next.all = next.all || old.all
			if old.end.After(next.end) {
				next.end = old.end
			}
		}
		close(old.done)
	}
	p.state.Store(next)
}

func (p *pauser) unpause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.state.Swap(nil); old != nil {
		close(old.done)
	}
}

// active reports whether a pause is in force, in either mode. The store
// evicts nothing and expires no key actively meanwhile (store.Config.Paused:
// both are writes), as Redis.
func (p *pauser) active() bool {
	st := p.state.Load()
	return st != nil && time.Now().Before(st.end)
}

// holds reports whether a pause in force applies to cmd: every command in
// ALL mode, writes (and commands that may replicate) in WRITE mode.
func (p *pauser) holds(cmd *command) bool {
	st := p.state.Load()
	if st == nil || !(st.all || cmd.flags&(flagWrite|flagMayReplicate) != 0) {
		return false
	}
	if time.Now().Before(st.end) {
		return true
	}
	p.state.CompareAndSwap(st, nil) // expired: spare later commands the clock read
	return false
}

// wait blocks the calling client's goroutine until no pause holds cmd, the
// server stops, or the client is killed.
func (s *Server) waitPause(c *client, cmd *command) {
	p := &s.pause
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	for p.holds(cmd) && !c.killed.Load() {
		st := p.state.Load()
		if st == nil {
			return
		}
		t := time.NewTimer(time.Until(st.end))
		select {
		case <-st.done:
		case <-t.C:
		case <-s.stop:
		}
		t.Stop()
		select {
		case <-s.stop:
			return
		default:
		}
	}
}

func clientPauseCommand(c *client, args [][]byte) {
	ms, ok := protocol.ParseInt(args[2])
	if !ok || ms < 0 {
		c.Err("ERR timeout is not an integer or out of range")
		return
	}
	all := true
	if len(args) == 4 {
		switch strings.ToUpper(string(args[3])) {
		case "ALL":
		case "WRITE":
			all = false
		default:
			c.Err(protocol.ErrSyntax)
			return
		}
	} else if len(args) > 4 {
		c.Err(protocol.ErrSyntax)
		return
	}
	c.s.pause.pause(time.Now().Add(time.Duration(ms)*time.Millisecond), all)
	c.OK()
}

func clientUnpauseCommand(c *client, args [][]byte) {
	c.s.pause.unpause()
	c.OK()
}
