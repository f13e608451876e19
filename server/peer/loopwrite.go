package peer

import "time"

// Writing from an event loop. Flush wakes the connection's writer
// goroutine, which writes what callers queued: one goroutine wake-up per
// flush. A loop whose connections queued requests calls FlushNow
// instead, once per wake-up (the server's Host.Idle): it writes them
// itself with one non-blocking write when nobody else is writing, and
// leaves only what the socket does not take (or a write in progress) to
// the writer. With the replies read on the loops too (loopReader), a
// forwarded pipeline then costs no goroutine wake-up on this node.

// FlushNow writes what Queue left buffered, from the caller (an event
// loop), without waiting: if the writer is writing, or the socket takes
// only part, the writer writes the rest. A failed write breaks the
// connection, which fails the calls in flight on it.
func (pc *Conn) FlushNow() {
	if !pc.wmu.TryLock() {
		pc.wake() // the writer is at it; it writes ours after
		return
	}
	pc.bmu.Lock()
	buf := pc.out
	pc.out = pc.wbuf[:0]
	pc.bmu.Unlock()
	if len(buf) == 0 {
		pc.wbuf = buf
		pc.wmu.Unlock()
		return
	}
	n, err := pc.wraw.write(pc.conn, buf)
	switch {
	case err == nil && n == len(buf):
		pc.lastUse.Store(time.Now().UnixNano())
		pc.keepBuf(buf)
	case err == nil || err == errAgain: // the socket is full: the rest goes first, by the writer
		pc.bmu.Lock()
		rest := make([]byte, 0, len(buf)-n+len(pc.out))
		pc.out = append(append(rest, buf[n:]...), pc.out...)
		pc.bmu.Unlock()
		pc.wake()
	default:
		pc.wmu.Unlock()
		pc.markBroken()
		return
	}
	pc.wmu.Unlock()
}
