package load

import (
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

// schedule gives one worker's intended send times in open loop: the run's
// rate is split evenly over the workers, whose sends are staggered by
// 1/rate so the server sees a steady stream.
type schedule struct {
	origin       time.Time
	phase, every float64 // nanoseconds
}

func newSchedule(origin time.Time, rate float64, worker, workers int) schedule {
	return schedule{origin: origin, phase: float64(worker) / rate * 1e9, every: float64(workers) / rate * 1e9}
}

// at returns the intended send time of the worker's k-th request.
func (s schedule) at(k int64) time.Time {
	return s.origin.Add(time.Duration(s.phase + float64(k)*s.every))
}

// openQueue is how many requests may wait for replies on one connection in
// open loop; beyond it the writer waits, and the wait shows in the latencies
// since they are measured from the intended send time.
const openQueue = 1 << 15

// openConn is a connection in open loop: the worker's goroutine writes, a
// reader goroutine (started by openConn, stopped by closing queue) reads.
type openConn struct {
	addr   string
	c      *protocol.Client
	queue  chan request  // requests written, in order; closed by the writer
	broken atomic.Bool   // set by either side after an I/O error
	done   chan struct{} // closed when the reader has exited
	rec    *recorder     // the reader's; read by the writer after done
	dirty  bool          // writer only: has unflushed requests
}

// runOpen is the open-loop worker: send each request at its scheduled time,
// whatever the replies, coalescing requests that are already due.
func (w *worker) runOpen() {
	sh := w.sh
	sch := newSchedule(sh.origin, sh.cfg.Rate, w.id, sh.cfg.Clients)
	conns := map[string]*openConn{}
	var dirty []*openConn
	defer func() {
		w.flushOpen(dirty)
		for _, oc := range conns {
			w.closeOpen(oc)
		}
	}()
	for k := int64(0); ; k++ {
		due := sch.at(k)
		measured := !due.Before(sh.start)
		if sh.stop.Load() || (measured && w.quota == 0) || (w.quota < 0 && !sh.end.IsZero() && !due.Before(sh.end)) {
			return
		}
		if d := time.Until(due); d > 0 {
			dirty = w.flushOpen(dirty)
			time.Sleep(d)
		}
		if measured && w.quota > 0 {
			w.quota--
		}
		rq := w.next()
		rq.sent, rq.measured = due, measured
		oc, err := routeConn(w, &rq, func(addr string) (*openConn, error) { return w.openConn(conns, addr) })
		if err != nil {
			w.rec.failed(int(rq.op), due, time.Now(), errKind(err))
			continue
		}
		sh.encode(&w.enc, oc.c.Writer, &rq)
		select {
		case oc.queue <- rq:
		default: // full: let the reader make progress before waiting
			oc.dirty = true
			dirty = w.flushOpen(append(dirty, oc))
			oc.queue <- rq
		}
		if !oc.dirty {
			oc.dirty = true
			dirty = append(dirty, oc)
		}
		if oc.c.Writer.Buffered() > 64<<10 || int(k)%sh.cfg.Pipeline == 0 || sch.at(k+1).After(time.Now()) {
			dirty = w.flushOpen(dirty)
		}
	}
}

// flushOpen writes out every dirty connection's requests.
func (w *worker) flushOpen(dirty []*openConn) []*openConn {
	for _, oc := range dirty {
		oc.dirty = false
		if err := oc.c.Writer.Flush(); err != nil && !oc.broken.Swap(true) {
			oc.c.Close() // the reader fails the queued requests
		}
	}
	return dirty[:0]
}

// openConn returns the open connection to addr, replacing a broken one.
func (w *worker) openConn(conns map[string]*openConn, addr string) (*openConn, error) {
	oc := conns[addr]
	if oc != nil && !oc.broken.Load() {
		return oc, nil
	}
	if oc != nil {
		if oc.dirty {
			w.flushOpen([]*openConn{oc})
		}
		w.closeOpen(oc)
		delete(conns, addr)
	}
	c, err := w.redial(addr)
	if err != nil {
		return nil, err
	}
	oc = &openConn{addr: addr, c: c, queue: make(chan request, openQueue), done: make(chan struct{})}
	oc.rec = newRecorder(w.sh, w.live)
	conns[addr] = oc
	go w.readLoop(oc)
	return oc, nil
}

// closeOpen stops oc's reader after it has read (or failed) every queued
// request, and keeps its recorder.
func (w *worker) closeOpen(oc *openConn) {
	close(oc.queue)
	<-oc.done
	oc.c.Close()
	w.recs = append(w.recs, oc.rec)
}

// readLoop reads replies in the order requests were queued and records
// their latency from the intended send time.
func (w *worker) readLoop(oc *openConn) {
	defer close(oc.done)
	sh, rec := w.sh, oc.rec
	enc := encoder{prefix: []byte(sh.cfg.KeyPrefix)}
	side := map[string]*protocol.Client{}
	defer func() {
		for _, c := range side {
			c.Close()
		}
		rec.flush()
	}()
	fail := ""
	var now time.Time
	reads := oc.c.Reader.Reads() - 1
	for rq := range oc.queue {
		if fail != "" {
			rec.failed(int(rq.op), rq.sent, time.Now(), fail)
			continue
		}
		if oc.c.Reader.Buffered() == 0 {
			_ = oc.c.Conn().SetReadDeadline(time.Now().Add(sh.cfg.Timeout))
		}
		rep, err := oc.c.Reader.ReadReply()
		if n := oc.c.Reader.Reads(); n != reads || err != nil { // replies parsed from buffered bytes arrived with them
			now, reads = time.Now(), n
		}
		if err != nil {
			fail = errKind(err)
			if sh.cfg.Cluster {
				sh.topo.wantRefresh() // the node may have left
			}
			if !oc.broken.Swap(true) {
				oc.c.Close()
			}
			rec.failed(int(rq.op), rq.sent, now, fail)
			continue
		}
		if sh.cfg.Cluster {
			if rd, ok := rep.Redirect(); ok {
				rec.redirected(rq.sent, rep.ErrorCode())
				follow(sh, &enc, side, rec, &rq, rd, oc.addr)
				continue
			}
		}
		rec.done(int(rq.op), rq.sent, now, rep)
	}
}
