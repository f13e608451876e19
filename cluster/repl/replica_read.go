package repl

import (
	"sync"
	"sync/atomic"
)

// A replica reads its primary's frames on one goroutine and applies them
// on another (the session's): reading and parsing were a quarter of a
// link's time, and a link applies on one goroutine, which bounds the
// write rate a hot primary sustains (docs/performance.md "Replicas cut
// for a moment's lag"). The reader hands over frames in batches, each
// read into an arena of its own. A batch ends where the next frame is not
// yet buffered whole, so the session never waits on frames the reader
// holds (the primary may wait for the acknowledgement of what it holds:
// SnapshotWindow). The reader stays at most aheadBytes ahead of what the
// session has handled: beyond that it reads nothing more, so a large
// frame (a snapshot's 512 MiB value) is never followed by another in
// memory, as before. Handled batches come back to the reader with their
// arenas: with fewer kept than can be in flight (8 of up to 32, with a
// megabyte ahead), a join allocated an arena for most batches and took
// 60 % longer on a 2-core machine (docs/performance.md, "Stop 47").
const (
	batchFrames = 256       // frames a batch holds at most
	batchBytes  = 64 << 10  // bytes from which a batch is handed over
	aheadBytes  = 256 << 10 // bytes read and not yet handled, past which the reader waits
)

// frameBatch is frames read in order, and the arena they were read into.
type frameBatch struct {
	frames [][][]byte
	pool   arena
	bytes  int   // what the frames hold
	err    error // the read after the frames failed: the last batch
}

// readAhead reads a connection's frames ahead of the session that handles
// them. Its goroutine is the session's: started by start, ended by stop.
type readAhead struct {
	fr    *frameReader
	full  chan *frameBatch // read, in order
	free  chan *frameBatch // handled, for reuse
	freed chan struct{}    // a batch was handled (ahead shrank)
	quit  chan struct{}    // stop
	ahead atomic.Int64     // bytes sent on full and not yet handled
	kept  []*frameBatch    // handled, holding an open unit's records (session goroutine)
	wg    sync.WaitGroup
}

// newReadAhead returns a reader of fr's frames. Batches of a few frames
// each (frames trickling in) may fill full before aheadBytes is reached:
// that bounds the reader too. free keeps as many batches as can be in
// flight.
func newReadAhead(fr *frameReader) *readAhead {
	return &readAhead{fr: fr, full: make(chan *frameBatch, 16), free: make(chan *frameBatch, 16),
		freed: make(chan struct{}, 1), quit: make(chan struct{})}
}

// start runs the reader until a read fails or stop.
func (ra *readAhead) start() {
	ra.wg.Add(1)
	go func() {
		defer ra.wg.Done()
		ra.run()
	}()
}

// stop ends the reader: the connection must be closed first, or the
// reader may wait for a read that never ends.
func (ra *readAhead) stop() {
	close(ra.quit)
	ra.wg.Wait()
}

func (ra *readAhead) run() {
	b := ra.take()
	for {
		args := ra.fr.readBuffered()
		if args == nil {
			if len(b.frames) > 0 { // the next frame is not here whole: the session gets what is
				if !ra.send(b) {
					return
				}
				b = ra.take()
			}
			if !ra.wait() {
				return
			}
			var err error
			if args, err = ra.fr.read(); err != nil {
				b.err = err
				ra.send(b)
				return
			}
		}
		b.frames = append(b.frames, args)
		for _, a := range args {
			b.bytes += len(a)
		}
		if len(b.frames) >= batchFrames || b.bytes >= batchBytes {
			if !ra.send(b) {
				return
			}
			b = ra.take()
		}
	}
}

// take returns an empty batch whose arena the reader reads into.
func (ra *readAhead) take() *frameBatch {
	var b *frameBatch
	select {
	case b = <-ra.free:
	default:
		b = &frameBatch{}
	}
	ra.fr.pool, b.pool = b.pool, arena{}
	return b
}

// send hands b, with the arena its frames were read into, to the session;
// false once stopped.
func (ra *readAhead) send(b *frameBatch) bool {
	b.pool, ra.fr.pool = ra.fr.pool, arena{}
	ra.ahead.Add(int64(b.bytes))
	select {
	case ra.full <- b:
		return true
	case <-ra.quit:
		return false
	}
}

// wait returns at once while the reader is at most aheadBytes ahead of
// the session, and otherwise once it is at most half that (so that it
// wakes once per aheadBytes/2 handled, not once per batch); false once
// stopped.
func (ra *readAhead) wait() bool {
	if ra.ahead.Load() <= aheadBytes {
		return true
	}
	for ra.ahead.Load() > aheadBytes/2 {
		select {
		case <-ra.freed:
		case <-ra.quit:
			return false
		}
	}
	return true
}

// next returns the next batch; the last one carries the read's error.
func (ra *readAhead) next() *frameBatch { return <-ra.full }

// handled says the session has handled b's frames: the reader may read
// that much further. With keep (a unit is still open, and its records
// may lie in b and the batches kept before it), b's memory stays; without,
// b and the batches kept are given back for reuse, and nothing of their
// frames may be used after. Session goroutine only.
func (ra *readAhead) handled(b *frameBatch, keep bool) {
	ra.ahead.Add(-int64(b.bytes))
	b.bytes = 0
	select {
	case ra.freed <- struct{}{}:
	default:
	}
	ra.kept = append(ra.kept, b)
	if keep {
		return
	}
	for i, k := range ra.kept {
		clear(k.frames)
		k.frames = k.frames[:0]
		k.pool.reset()
		ra.kept[i] = nil
		select {
		case ra.free <- k:
		default:
		}
	}
	ra.kept = ra.kept[:0]
}
