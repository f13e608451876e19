package repl

import (
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

// A loan is one KEY frame whose payload body a Snapshotter lent (a large
// value the store shares copy-on-write; see Snapshotter): the frame up to
// the body, the body, and the frame after it. The link writes it after the
// snapshot's lock is released, straight from body, in pieces of at most
// loanPiece bytes, each within the rate limit and with its own write
// deadline, so no buffer holds a copy of the value and a replica that
// reads slowly but steadily is not cut by the deadline meant for one write.
type loan struct {
	head, tail []byte
	body       []byte
	release    func()
}

// loanPiece is the most bytes one write of a snapshot sends (writePieces):
// of a lent body, or of a slot gathered whole.
const loanPiece = 1 << 20

func newLoan(slot, db int, key, head, body []byte, pexpireAt int64, release func()) loan {
	h := protocol.AppendArray(make([]byte, 0, 64+len(key)+len(head)), 6)
	h = protocol.AppendBulkString(h, fKey)
	h = appendBulkUint(h, uint64(slot))
	h = appendBulkUint(h, uint64(db))
	h = protocol.AppendBulk(h, key)
	h = append(h, '$')
	h = appendUintText(h, uint64(len(head)+len(body)))
	h = append(append(h, '\r', '\n'), head...)
	t := appendBulkInt(append(make([]byte, 0, 32), '\r', '\n'), pexpireAt)
	return loan{head: h, tail: t, body: body, release: release}
}

// sendLoans writes the lent KEY frames of the current snapshot, each after
// what the write buffer holds, releasing each body once it is written.
// Sender goroutine only.
func (l *link) sendLoans() error {
	for k := range l.loans {
		ln := &l.loans[k]
		l.w.buf = append(l.w.buf, ln.head...)
		if err := l.flushLimited(); err != nil {
			return err
		}
		if err := l.writePieces(ln.body, nil); err != nil {
			return err
		}
		ln.release()
		ln.release = nil
		l.w.buf = append(l.w.buf, ln.tail...)
	}
	return nil
}

// dropLoans releases the bodies not sent and forgets the loans.
func (l *link) dropLoans() {
	for k := range l.loans {
		if r := l.loans[k].release; r != nil {
			r()
		}
	}
	clear(l.loans)
	l.loans = l.loans[:0]
}

// writePieces writes b loanPiece bytes at a time (writeLimited: each
// piece within the rate limit and its own write timeout). With held, each
// piece written is taken off it, and on an error all that is left.
func (l *link) writePieces(b []byte, held *atomic.Int64) error {
	for len(b) > 0 {
		n := min(len(b), loanPiece)
		if err := l.writeLimited(b[:n]); err != nil {
			if held != nil {
				held.Add(-int64(len(b)))
			}
			return err
		}
		if held != nil {
			held.Add(-int64(n))
		}
		b = b[n:]
	}
	return nil
}

// writeLimited writes p, unbuffered, within the rate limit and the write
// timeout.
func (l *link) writeLimited(p []byte) error {
	if !l.p.lim.wait(len(p), l.done) {
		return ErrClosed
	}
	l.snapBytes.Add(uint64(len(p)))
	if t := l.w.timeout; t > 0 {
		if err := l.conn.SetWriteDeadline(time.Now().Add(t)); err != nil {
			return err
		}
	}
	_, err := l.conn.Write(p)
	return err
}
