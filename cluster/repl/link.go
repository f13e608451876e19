package repl

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

// notLive marks a slot whose acknowledgements do not count for Wait (its
// snapshot has not been sent yet).
const notLive = ^uint64(0)

// link is the primary's side of one replica connection. Its sender
// goroutine streams records and snapshots; its reader goroutine takes
// acknowledgements and resync requests.
type link struct {
	p    *Primary
	conn net.Conn
	wake chan struct{} // a record was appended or a request arrived
	seal chan struct{} // a slot was sealed: ends the sender's snapshot rest (Pacer.DoneOr)
	done chan struct{} // closed by stop
	once sync.Once

	// Owned by the sender goroutine; slots changes only under mu (FOLLOW,
	// UNFOLLOW), so others read it under mu.
	w        connWriter
	slots    []bool           // slots the replica asked for
	seen     []uint64         // per slot: seq of the last record the cursor passed (any slot)
	deferred []follow         // FOLLOWs waiting for the node to own their slot (awaitResumable's in-place twin)
	pending  []bool           // slots waiting for their snapshot
	sent     []uint64         // per slot: last seq sent (or covered by a snapshot)
	queue    []int            // slots to snapshot, in order
	unowned  []ownWaiter      // queued slots the node does not own yet (requeueOwned)
	cursor   uint64           // backlog offset of the next record to look at
	hold     uint64           // cursor, as the backlog sees it: under p.mu; noHold before the handshake
	curIndex uint64           // index of the last record looked at
	curMs    int64            // its append time
	lastSent uint64           // index the replica was last told about
	openUnit bool             // a record with "more" was sent, its unit not ended
	inUnit   bool             // the last record looked at has "more": its unit goes on
	batch    []byte           // records copied out of the backlog
	loans    []loan           // the current snapshot's lent values, not sent yet (loan.go)
	sealGen  uint64           // Primary.sealGen when the seals were last looked at
	sealWait map[int]sealMark // seals of the replica's slots not sent yet
	sealSent map[int]uint64   // per sealed slot: seq+1 of the SEAL sent
	mk       linkMarks        // the MARKs to send and sent (mark.go)
	win      snapWindow       // snapshot bytes the replica has not loaded yet

	mu       sync.Mutex // protects the fields below
	id       string     // replica's ID from the handshake
	ready    bool       // handshake done
	liveSnap []uint64   // per slot: snapshots the replica must have loaded for acks to count; notLive
	snapsOut uint64     // SNAPEND frames sent
	ackIndex uint64
	ackMs    int64
	ackSnaps uint64
	ackAt    time.Time
	reqs     []int    // slots the replica asked to resync
	changes  []follow // FOLLOW and UNFOLLOW requests, in order
	getack   bool
	snapLeft int // slots waiting for a snapshot

	snapBytes atomic.Uint64
	snapKeys  atomic.Uint64
	snapDone  atomic.Uint64

	nslots int     // slots the replica asked for; set by the handshake, under mu
	sync   syncRun // the snapshots under way, for the log line at their end; sender goroutine only
}

// syncRun marks where a run of snapshots began (snapLeft went above 0):
// its end is logged with the slots, keys and bytes sent and the time taken.
type syncRun struct {
	on                bool
	start             time.Time
	slots, keys, byts uint64
}

// syncBegin starts a run of snapshots if none is under way. Sender
// goroutine only.
func (l *link) syncBegin() {
	if !l.sync.on {
		l.sync = syncRun{on: true, start: l.p.now(), slots: l.snapDone.Load(), keys: l.snapKeys.Load(), byts: l.snapBytes.Load()}
	}
}

// syncEnd logs the end of the run of snapshots once none is left.
func (l *link) syncEnd(left int) {
	if !l.sync.on || left > 0 {
		return
	}
	l.sync.on = false
	l.p.cfg.Logger.Info("replica sync done", "replica", l.replicaID(), "addr", l.conn.RemoteAddr().String(),
		"slots", l.snapDone.Load()-l.sync.slots, "keys", l.snapKeys.Load()-l.sync.keys,
		"bytes", l.snapBytes.Load()-l.sync.byts, "duration", l.p.now().Sub(l.sync.start))
}

func newLink(p *Primary, c net.Conn) *link {
	return &link{
		p:        p,
		conn:     c,
		wake:     make(chan struct{}, 1),
		seal:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		w:        connWriter{conn: c, timeout: p.cfg.WriteTimeout, held: &p.snapHeld},
		slots:    make([]bool, NumSlots),
		pending:  make([]bool, NumSlots),
		sent:     make([]uint64, NumSlots),
		seen:     make([]uint64, NumSlots),
		liveSnap: make([]uint64, NumSlots),
		hold:     noHold,
	}
}

// stop ends the link (first caller's reason wins) and closes its connection.
func (l *link) stop(err error) {
	l.once.Do(func() {
		close(l.done)
		l.conn.Close()
		if err != nil && !errors.Is(err, ErrClosed) {
			l.p.cfg.Logger.Info("replica link ended", "replica", l.replicaID(), "addr", l.conn.RemoteAddr().String(), "err", err)
		}
	})
}

func (l *link) replicaID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id
}

func (l *link) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run serves the link until it ends. args is the handshake if the caller
// read it already.
func (l *link) run(args [][]byte) {
	defer l.p.wg.Done()
	defer l.p.remove(l)
	defer l.stop(nil)
	fr := newFrameReader(l.conn, 3*NumSlots+3, 1<<10, 2<<20, l.p.cfg.ReadTimeout)
	if args == nil {
		var err error
		if args, err = fr.read(); err != nil {
			l.stop(fmt.Errorf("handshake: %w", err))
			return
		}
	}
	if err := l.handshake(args); err != nil {
		l.w.buf = protocol.AppendArray(l.w.buf, 2)
		l.w.buf = protocol.AppendBulkString(l.w.buf, "ERR")
		l.w.buf = protocol.AppendBulkString(l.w.buf, err.Error())
		_ = l.w.flush()
		l.stop(err)
		return
	}
	l.p.wg.Add(1)
	go l.readAcks(fr)
	err := l.send()
	l.w.forget() // gathered, never to be written
	l.stop(err)
}

// send is the sender goroutine's loop.
func (l *link) send() error {
	hb := time.NewTicker(l.p.cfg.Heartbeat)
	defer hb.Stop()
	for {
		getack, err := l.takeRequests()
		if err != nil {
			return err
		}
		if err := l.requeueOwned(); err != nil {
			return err
		}
		moved, err := l.catchUp()
		if err != nil {
			return err
		}
		if err := l.sendSeals(); err != nil {
			return err
		}
		if err := l.sendMarks(); err != nil {
			return err
		}
		if getack {
			// After the catch-up, so the answer covers what was appended
			// before Wait asked.
			l.w.buf = appendFrame(l.w.buf, fGetAck)
			if err := l.w.flush(); err != nil {
				return err
			}
		}
		if len(l.queue) > 0 {
			if !l.windowFull() {
				t := l.p.cfg.Pacer.Start()
				if err := l.snapshotNext(); err != nil {
					return err
				}
				// Between slots: no shard lock held. A seal ends the rest:
				// the slot's next primary holds its clients until the
				// seal arrives.
				l.p.cfg.Pacer.DoneOr(t, l.seal, l.done)
				continue
			}
			if err := l.askLoaded(); err != nil { // and wait for the ACK below
				return err
			}
		}
		if moved {
			continue
		}
		var retry <-chan time.Time
		if len(l.deferred) > 0 || len(l.unowned) > 0 {
			retry = time.After(followPoll) // an unstopped timer is collected (Go 1.23)
		}
		select {
		case <-l.done:
			return nil
		case <-l.wake:
		case <-retry:
		case <-hb.C:
			l.w.buf = appendFrame(l.w.buf, fPos, l.curIndex, uint64(max(l.curMs, 0)))
			l.lastSent = l.curIndex
			if err := l.w.flush(); err != nil {
				return err
			}
		}
	}
}

// takeRequests queues the snapshots replicas asked for, applies the slot
// changes they sent, and reports whether an acknowledgement was asked
// for. It runs between units.
func (l *link) takeRequests() (bool, error) {
	l.mu.Lock()
	reqs, getack, changes := l.reqs, l.getack, l.changes
	l.reqs, l.getack, l.changes = nil, false, nil
	l.mu.Unlock()
	for _, s := range reqs {
		if l.slots[s] && !l.pending[s] { // not for a slot dropped since (UNFOLLOW)
			l.markPending(s)
		}
	}
	if len(changes) > 0 || len(l.deferred) > 0 {
		if l.applyChanges(changes) {
			return getack, l.w.flush() // the FOLLOWED answers
		}
	}
	return getack, nil
}

// markPending queues a snapshot of slot s.
func (l *link) markPending(s int) {
	l.pending[s] = true
	l.queue = append(l.queue, s)
	l.syncBegin()
	l.mu.Lock()
	l.liveSnap[s] = notLive
	l.snapLeft++
	l.mu.Unlock()
}

// catchUp sends the records appended up to now and reports whether it
// looked at any.
func (l *link) catchUp() (bool, error) {
	l.p.mu.Lock()
	target := l.p.bl.end
	l.p.mu.Unlock()
	return l.catchUpTo(target)
}

// catchUpTo sends the records up to backlog offset target, and the rest
// of the unit it ends in.
func (l *link) catchUpTo(target uint64) (bool, error) {
	moved := false
	// A pass ends at a unit boundary (Append adds a unit under one lock),
	// so SNAP and POS frames never fall inside a unit.
	for l.cursor < target || l.inUnit {
		l.p.mu.Lock()
		b, next, ok := l.p.bl.copyOut(l.batch[:0], l.cursor, l.p.cfg.BatchBytes)
		if ok {
			l.hold = next
			l.p.bl.trim() // what only this link still needed goes now, not at the next write
		}
		l.p.mu.Unlock()
		if !ok {
			l.p.cuts.Add(1)
			return moved, ErrBehind
		}
		l.batch, l.cursor, moved = b, next, true
		l.process(b)
		if len(l.w.buf) >= l.p.cfg.BatchBytes {
			if err := l.w.flush(); err != nil {
				return moved, err
			}
		}
		select {
		case <-l.done:
			return moved, ErrClosed
		default:
		}
	}
	if cap(l.batch) > 4*l.p.cfg.BatchBytes {
		l.batch = nil
	}
	if !moved {
		return false, nil // finished slot snapshots may wait in the buffer (snapshotNext)
	}
	if l.curIndex > l.lastSent {
		l.w.buf = appendFrame(l.w.buf, fPos, l.curIndex, uint64(max(l.curMs, 0)))
		l.lastSent = l.curIndex
	}
	return moved, l.w.flush()
}

// sendSeals sends SEAL slot seq for every sealed slot of the replica that
// has been sent everything up to the seal (not while its snapshot is
// pending), once per seal. It looks at the Primary's seals only when they
// changed. Called between units.
func (l *link) sendSeals() error {
	select {
	case <-l.seal: // seals made from here on cut the next rest again
	default:
	}
	l.p.mu.Lock()
	if l.p.sealGen != l.sealGen {
		l.sealGen = l.p.sealGen
		clear(l.sealWait)
		for s, m := range l.p.seals {
			if l.slots[s] && l.sealSent[s] != m.seq+1 {
				if l.sealWait == nil {
					l.sealWait = make(map[int]sealMark)
				}
				l.sealWait[s] = m
			}
		}
	}
	l.p.mu.Unlock()
	n := 0
	for s, m := range l.sealWait {
		if l.pending[s] || l.cursor < m.at || l.sent[s] < m.seq {
			continue
		}
		if l.sealSent == nil {
			l.sealSent = make(map[int]uint64)
		}
		l.w.buf = appendFrame(l.w.buf, fSeal, uint64(s), m.seq)
		l.sealSent[s] = m.seq + 1
		delete(l.sealWait, s)
		n++
	}
	if n == 0 {
		return nil
	}
	return l.w.flush()
}

// process filters copied records into the write buffer.
func (l *link) process(b []byte) {
	var h hdr
	for off := 0; off < len(b); {
		h.get(b[off:])
		frame := b[off+hdrSize : off+hdrSize+h.size]
		off += hdrSize + h.size
		l.curIndex, l.curMs = h.index, h.ms
		more := h.flags&flagMore != 0
		l.inUnit = more
		s := h.slot
		l.seen[s] = h.seq
		keep := l.slots[s] && !l.pending[s] && h.seq > l.sent[s]
		if keep && h.seq != l.sent[s]+1 {
			// The backlog lost part of the slot's history: heal by snapshot.
			l.markPending(s)
			keep = false
		}
		if keep {
			l.w.buf = append(l.w.buf, frame...)
			l.sent[s] = h.seq
			l.lastSent = h.index
			l.openUnit = more
		} else if !more && l.openUnit {
			l.w.buf = appendFrame(l.w.buf, fUnitEnd)
			l.openUnit = false
		}
	}
}

// snapshotNext sends the snapshot of the next queued slot.
func (l *link) snapshotNext() error {
	s := l.queue[0]
	l.queue = l.queue[1:]
	if !l.pending[s] {
		if len(l.queue) == 0 {
			return l.flushLimited() // the finished slots gathered before it
		}
		return nil
	}
	if l.notOwned(s) {
		// Waits beside the queue (requeueOwned), not here: a seal, a
		// mark or an UNFOLLOW of this very slot (the node gave it away
		// and the replica follows it elsewhere now) must not queue behind it.
		l.unowned = append(l.unowned, ownWaiter{slot: s, until: l.p.now().Add(OwnWait)})
		if len(l.queue) == 0 {
			return l.flushLimited()
		}
		return nil
	}
	l.w.buf = appendFrame(l.w.buf, fSnap, uint64(s))
	seq, err := l.p.snap.Snapshot(s, func(db int, key, head, body []byte, pexpireAt int64, release func()) error {
		// emit runs under the store's lock of the slot's shard. A lent
		// body (a large value) is not touched here: its frame leaves
		// after Snapshot returns and the lock is released (sendLoans).
		// What the slot's other keys gathered is written before this key
		// is added, not after, so the last key of a slot leaves after
		// the lock is released too.
		l.snapKeys.Add(1)
		l.win.sent += uint64(len(key)+len(head)+len(body)) + keyFrameOverhead
		if release != nil {
			l.loans = append(l.loans, newLoan(s, db, key, head, body, pexpireAt, release))
			return nil
		}
		if l.p.snapHeld.Load() >= int64(l.p.cfg.SnapshotBuffer) {
			// Every link's snapshots together hold the buffer's worth:
			// write under the Snapshotter's locks rather than hold more.
			if err := l.flushLimited(); err != nil {
				return err
			}
		}
		l.w.grow(len(key) + len(head) + len(body) + 96) // 96: the frame's headers at most
		n := len(l.w.buf)
		l.w.buf = appendKey(l.w.buf, s, db, key, head, body, pexpireAt)
		l.w.note(len(l.w.buf) - n)
		return nil
	})
	if err == nil {
		err = l.sendLoans()
	}
	l.dropLoans()
	if err != nil {
		// The slots finished before this one still reach the replica (it
		// resumes them after the reconnect); this one stays unloaded there.
		_ = l.flushLimited()
		return fmt.Errorf("repl: snapshot of slot %d: %w", s, err)
	}
	l.pending[s] = false
	l.sent[s] = seq
	l.w.buf = appendFrame(l.w.buf, fSnapEnd, uint64(s), seq, l.curIndex)
	l.lastSent = l.curIndex
	// Counted before the SNAPEND leaves, so no one sees the replica hold
	// the slot before the counters say it was sent. Acknowledgements
	// count for the slot only once the replica has processed this SNAPEND.
	l.mu.Lock()
	l.snapsOut++
	if l.liveSnap[s] == notLive {
		l.liveSnap[s] = l.snapsOut
		l.mk.fresh = append(l.mk.fresh, s) // a MARK may follow its SNAPEND (mark.go)
	}
	l.snapLeft--
	left := l.snapLeft
	l.win.marks = append(l.win.marks, snapMark{n: l.snapsOut, at: l.win.sent})
	l.mu.Unlock()
	l.snapDone.Add(1)
	l.p.fullSyncs.Add(1)
	// Small slots (most are empty when a cluster forms) share one write:
	// a write per slot made a sync of thousands of empty slots take seconds.
	if len(l.w.buf) >= snapshotBatch || len(l.queue) == 0 {
		err = l.flushLimited()
	}
	l.syncEnd(left)
	if err == nil && len(l.queue) > 0 && l.inFlight() >= uint64(l.p.cfg.SnapshotWindow)/2 {
		// Half the window in flight: ask early, so that the answer
		// arrives before the window fills.
		err = l.askLoaded()
	}
	return err
}

// ownWaiter is a queued snapshot of a slot the node does not own (Owner),
// waiting up to until for it.
type ownWaiter struct {
	slot  int
	until time.Time
}

// requeueOwned puts the snapshots waiting for their slot back at the
// queue's head once the node owns the slot, and fails the link (the
// replica asks again after a reconnect) for a slot still not owned after
// OwnWait. UNFOLLOW drops a slot's wait (unfollow).
func (l *link) requeueOwned() error {
	if len(l.unowned) == 0 {
		return nil
	}
	now := l.p.now()
	var back []int
	keep := l.unowned[:0]
	for _, w := range l.unowned {
		switch {
		case !l.notOwned(w.slot):
			back = append(back, w.slot)
		case now.After(w.until):
			_ = l.flushLimited()
			return fmt.Errorf("repl: snapshot of slot %d: %w", w.slot, ErrNotOwner)
		default:
			keep = append(keep, w)
		}
	}
	l.unowned = keep
	if back != nil {
		l.queue = append(back, l.queue...)
	}
	return nil
}

// askLoaded asks the replica, once per answer, to acknowledge what it
// has loaded (GETACK; it answers after the frames sent before), and
// writes out the snapshot bytes still buffered.
func (l *link) askLoaded() error {
	if l.win.asked {
		return nil
	}
	l.w.buf = appendFrame(l.w.buf, fGetAck)
	l.win.asked = true
	return l.flushLimited()
}

// keyFrameOverhead is about the bytes a KEY frame adds to its key and
// value (the window counts them).
const keyFrameOverhead = 32

// snapWindow follows the snapshot bytes a link sent that its replica has
// not loaded yet (Config.SnapshotWindow). Sender goroutine only, except
// marks, which is appended to under link.mu.
type snapWindow struct {
	sent  uint64     // snapshot bytes sent on this connection (keys and values, about)
	acked uint64     // sent when the last SNAPEND the replica acknowledged left
	marks []snapMark // SNAPEND frames sent and not acknowledged yet, in order
	asked bool       // a GETACK for the window is on its way
}

// snapMark is the count of SNAPEND frames and the snapshot bytes sent up
// to one of them.
type snapMark struct{ n, at uint64 }

// inFlight returns the snapshot bytes the replica has not acknowledged
// loading: those of the slots whose SNAPEND it has not acknowledged, and
// of the slot being sent.
func (l *link) inFlight() uint64 {
	l.mu.Lock()
	acked := l.ackSnaps
	i := 0
	for i < len(l.win.marks) && l.win.marks[i].n <= acked {
		l.win.acked = l.win.marks[i].at
		i++
	}
	if i > 0 {
		l.win.marks = append(l.win.marks[:0], l.win.marks[i:]...)
		l.win.asked = false // answered, or a periodic ACK came first
	}
	l.mu.Unlock()
	return l.win.sent - l.win.acked
}

// windowFull reports whether the link must wait for the replica to load
// what it was sent before it sends another slot's snapshot. An ACK that
// moves the replica's count of loaded snapshots wakes the link.
func (l *link) windowFull() bool {
	return l.inFlight() >= uint64(l.p.cfg.SnapshotWindow)
}

// snapshotBatch is how many bytes of finished slot snapshots a link
// gathers before it writes them.
const snapshotBatch = 64 << 10

// flushLimited writes the buffered snapshot bytes within the rate limit,
// a piece at a time, each within the write timeout: a slot gathered whole
// (Config.SnapshotBuffer) may take a slow replica longer than one write
// may wait. Gathered and until written, they count in
// Primary.SnapshotHeld, which bounds what all links gather together.
func (l *link) flushLimited() error {
	// Held from here: what emit gathered counts already (noted), the
	// rest of the buffers (other frames) now; writePieces lets go of each
	// piece written, and of the rest of its buffer on an error.
	l.w.forget()
	total := l.w.size()
	l.p.snapHeld.Add(int64(total))
	begun := 0
	err := l.w.drain(func(b []byte) error {
		begun += len(b)
		return l.writePieces(b, &l.p.snapHeld)
	})
	if err != nil {
		l.p.snapHeld.Add(-int64(total - begun)) // the buffers not begun
	}
	return err
}

// readAcks is the reader goroutine: ACK index ms snaps, RESYNC slot.
func (l *link) readAcks(fr *frameReader) {
	defer l.p.wg.Done()
	for {
		args, err := fr.read()
		if err != nil {
			l.stop(err)
			return
		}
		if err := l.handleFrame(args); err != nil {
			l.stop(err)
			return
		}
	}
}

func (l *link) handleFrame(args [][]byte) error {
	switch {
	case string(args[0]) == fAck && len(args) == 4:
		var nums [3]uint64
		n, ok := appendUints(nums[:0], args[1:])
		if !ok {
			return fmt.Errorf("%w: bad ACK", ErrFrame)
		}
		l.mu.Lock()
		l.ackIndex = max(l.ackIndex, n[0])
		l.ackMs = int64(n[1])
		loaded := n[2] > l.ackSnaps && len(l.win.marks) > 0
		l.ackSnaps = max(l.ackSnaps, n[2])
		l.ackAt = l.p.now()
		l.mu.Unlock()
		l.p.ackChanged()
		if loaded {
			l.poke() // the snapshot window may have room again
		}
	case string(args[0]) == fResync && len(args) == 2:
		s, ok := parseSlot(args[1])
		if !ok {
			return fmt.Errorf("%w: bad RESYNC", ErrFrame)
		}
		l.mu.Lock()
		if !l.slots[s] { // dropped (UNFOLLOW) after the replica asked: nothing to send
			l.mu.Unlock()
			return nil
		}
		l.liveSnap[s] = notLive
		l.reqs = append(l.reqs, s)
		if len(l.reqs) > NumSlots {
			l.mu.Unlock()
			return fmt.Errorf("%w: too many RESYNC requests", ErrFrame)
		}
		l.mu.Unlock()
		l.poke()
	case string(args[0]) == fFollow && len(args) == 5, string(args[0]) == fUnfollow && len(args) == 2:
		return l.queueChange(args)
	default:
		return fmt.Errorf("%w: unexpected %q from replica", ErrFrame, args[0])
	}
	return nil
}

// requestAck asks the replica to acknowledge at once.
func (l *link) requestAck() {
	l.mu.Lock()
	l.getack = true
	l.mu.Unlock()
	l.poke()
}

// acked reports whether the replica acknowledged everything tok names.
func (l *link) acked(tok Token) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackedLocked(tok)
}

// ackedAs is acked for the replica named id only: false for another one.
func (l *link) ackedAs(id string, tok Token) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id == id && l.ackedLocked(tok)
}

// ackedLocked is acked; l.mu must be held.
func (l *link) ackedLocked(tok Token) bool {
	if !l.ready || l.ackIndex < tok.Index {
		return false
	}
	for _, s := range tok.Slots() {
		if !l.slots[s] || l.liveSnap[s] == notLive || l.ackSnaps < l.liveSnap[s] {
			return false
		}
	}
	return true
}
