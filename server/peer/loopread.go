package peer

import (
	"bytes"
	"time"

	"github.com/cached/cached/protocol"
)

// Reading replies on an event loop. A connection's replies are read by a
// goroutine of its own (readLoop), which every reply batch wakes; each
// then finishes its calls, whose Group resumes the client connection on
// its event loop, another wake-up. With Options.Watch (the server's event
// loops) the pool hands a duplicate of the socket to a loop instead
// (loopReader): the loop reads it when epoll says it has bytes, finishes
// the calls there, and a client connection of the same loop is served
// again in the same wake-up. The writer goroutine stays: it writes
// through the net.Conn as before.

// Watcher is what Options.Watch hands a loop for one connection: the
// methods of eventloop.Watcher, called on the loop's goroutine.
type Watcher interface {
	// Ready reads what the socket has, without waiting, and finishes the
	// calls whose replies are complete; done: the connection broke.
	Ready() (done bool)
	// Tick breaks the connection if it owes a reply and has read none for
	// replyWait (the goroutine reader's read deadline).
	Tick(now time.Time) (done bool)
	// Stopped fails the calls still queued, once, when the watching ends.
	Stopped()
}

// loopReader reads one connection's replies on an event loop (Watcher).
// Its fields are the loop's, but for the start (before Watch).
type loopReader struct {
	pc    *Conn
	ps    *Pool
	fd    int    // the loop's duplicate of the socket (it closes it)
	buf   []byte // bytes read, replies not yet taken from buf[r:w]
	r, w  int
	scan  replyScan
	batch []*Call // taken from pc.calls at once, as readLoop does
	next  int
	// Tick's stall check: replies read so far, their count at the tick
	// that saw progress last or first saw a reply owed, and that tick's
	// time (zero while nothing is owed).
	replies, seen uint64
	since         time.Time
}

// readChunk is the room a loopReader keeps for one read.
const readChunk = 32 << 10

// watchOnLoop hands pc's replies to an event loop (Options.Watch); false
// if it cannot (no loops, or the socket cannot be duplicated): then a
// goroutine reads them. Called before pc is used, with ps.wg counting it.
func (ps *Pool) watchOnLoop(pc *Conn) bool {
	if ps.opts.Watch == nil {
		return false
	}
	fd, err := dupSocket(pc.conn)
	if err != nil {
		return false
	}
	lr := &loopReader{pc: pc, ps: ps, fd: fd, buf: make([]byte, 2*readChunk)}
	pc.onLoop = true
	if err := ps.opts.Watch(fd, lr); err != nil {
		pc.onLoop = false
		closeFD(fd)
		return false
	}
	return true
}

// Ready reads once and finishes every call whose reply is complete.
func (lr *loopReader) Ready() (done bool) {
	pc := lr.pc
	if pc.broken.Load() {
		return true
	}
	if len(lr.buf)-lr.w < readChunk/2 { // make room: move what is left to the front, or grow
		if lr.r > 0 {
			lr.w = copy(lr.buf, lr.buf[lr.r:lr.w])
			lr.r = 0
		}
		if len(lr.buf)-lr.w < readChunk/2 {
			lr.buf = append(lr.buf[:lr.w], make([]byte, len(lr.buf))...)
			lr.buf = lr.buf[:cap(lr.buf)]
		}
	}
	n, err := readFD(lr.fd, lr.buf[lr.w:])
	switch {
	case err == errAgain:
		return false
	case err != nil || n == 0: // an error, or the peer closed
		return true
	}
	lr.w += n
	for {
		size, err := lr.scan.next(lr.buf[lr.r:lr.w])
		if err != nil {
			return true
		}
		if size == 0 {
			break
		}
		call := lr.nextCall()
		if call == nil { // a reply nobody asked for
			return true
		}
		if call != discard {
			call.Reply = append(call.Reply[:0], lr.buf[lr.r:lr.r+size]...)
			call.Err = nil
			call.finish()
		}
		lr.r += size
		lr.replies++
	}
	if lr.r == lr.w {
		lr.r, lr.w = 0, 0
		if len(lr.buf) > 8*readChunk {
			lr.buf = make([]byte, 2*readChunk) // do not keep a large reply's buffer
		}
	}
	return false
}

// nextCall takes the call the next reply is for, or nil if none is
// queued.
func (lr *loopReader) nextCall() *Call {
	if lr.next == len(lr.batch) {
		lr.batch, lr.next = lr.pc.takeQueued(lr.batch[:0]), 0
		if len(lr.batch) == 0 {
			return nil
		}
	}
	call := lr.batch[lr.next]
	lr.batch[lr.next] = nil
	lr.next++
	return call
}

// owes reports whether a reply is expected.
func (lr *loopReader) owes() bool {
	if lr.next < len(lr.batch) {
		return true
	}
	lr.pc.qmu.Lock()
	defer lr.pc.qmu.Unlock()
	return len(lr.pc.calls) > 0
}

// Tick breaks the connection once it owed a reply for replyWait without
// reading one.
func (lr *loopReader) Tick(now time.Time) (done bool) {
	if lr.pc.broken.Load() {
		return true
	}
	switch {
	case !lr.owes():
		lr.since = time.Time{}
	case lr.replies != lr.seen || lr.since.IsZero(): // progress, or the first tick that sees a reply owed
		lr.seen, lr.since = lr.replies, now
	default:
		return now.Sub(lr.since) >= replyWait
	}
	return false
}

// Stopped breaks the connection and fails every call still queued.
func (lr *loopReader) Stopped() {
	defer lr.ps.wg.Done()
	lr.pc.markBroken()
	lr.pc.failQueued(lr.batch[lr.next:])
	lr.batch, lr.next = nil, 0
}

// takeQueued returns the queued calls in buf's place without waiting
// (none: buf empty), as takeCalls does.
func (pc *Conn) takeQueued(buf []*Call) []*Call {
	pc.qmu.Lock()
	buf, pc.calls = pc.calls, buf[:0]
	pc.qmu.Unlock()
	if len(buf) > 0 {
		select {
		case pc.space <- struct{}{}:
		default:
		}
	}
	return buf
}

// failQueued fails, once the connection is broken, the calls taken and
// not yet answered (taken) and those still queued, with ErrBroken.
func (pc *Conn) failQueued(taken []*Call) {
	// A sender holds qmu from its check of broken to its queuing: once we
	// have qmu after broken was set, nothing more is queued.
	pc.qmu.Lock()
	rest := pc.calls
	pc.calls = nil
	pc.qmu.Unlock()
	for _, list := range [2][]*Call{taken, rest} {
		for i, call := range list {
			if call != nil && call != discard {
				call.Err = ErrBroken
				call.finish()
			}
			list[i] = nil
		}
	}
}

// replyScan finds where complete RESP replies end in a buffer that grows
// by reads, resuming where it stopped: ReadRaw's rules, over bytes in
// hand instead of a reader that waits.
type replyScan struct {
	pos     int // bytes of the current reply scanned: whole elements
	pending int // its elements still to scan (0: none begun)
}

// next returns the length of the complete reply that b starts with, or 0
// if b does not hold all of it yet: the next call, with b grown by what
// was read since, goes on from there.
func (s *replyScan) next(b []byte) (int, error) {
	if s.pending == 0 {
		s.pos, s.pending = 0, 1
	}
	for s.pending > 0 {
		i := bytes.IndexByte(b[s.pos:], '\n')
		if i < 0 {
			return 0, nil
		}
		line := b[s.pos : s.pos+i+1]
		end := s.pos + len(line)
		if len(line) < 3 || line[len(line)-2] != '\r' {
			return 0, protocol.ErrProtocol
		}
		n, ok := protocol.ParseInt(line[1 : len(line)-2])
		if !ok && line[0] != '+' && line[0] != '-' && line[0] != ',' && line[0] != '#' && line[0] != '(' && line[0] != '_' {
			return 0, protocol.ErrProtocol
		}
		if n > protocol.DefaultMaxBulk {
			return 0, protocol.ErrReplyTooLarge
		}
		switch line[0] {
		case '+', '-', ':', '_', ',', '#', '(':
		case '$', '!', '=':
			if n >= 0 {
				if end += int(n) + 2; end > len(b) {
					return 0, nil // the element's line is scanned again with its body
				}
			}
		case '*', '~', '>':
			s.pending += max(int(n), 0)
		case '%':
			s.pending += 2 * max(int(n), 0)
		case '|':
			s.pending += 2*max(int(n), 0) + 1
		default:
			return 0, protocol.ErrProtocol
		}
		s.pos = end
		s.pending--
	}
	n := s.pos
	s.pos = 0
	return n, nil
}
