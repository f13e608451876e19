package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ReplicaConfig configures a Replica. Zero fields take defaults.
type ReplicaConfig struct {
	// Addr is the primary's address, host:port.
	Addr string
	// Auth is the secret the primary expects (Config.Auth).
	Auth string
	// ID names this replica in the primary's stats and logs (a node ID).
	ID string
	// Slots are the slots to replicate from this primary.
	Slots []int
	// Dial opens a connection; nil uses net.Dialer with a 5 s timeout. The
	// connection carries REPLSYNC first, so a primary's client port works
	// when its server hands the connection to Primary.Handoff.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// AckInterval is the period of acknowledgements. Default 100 ms.
	AckInterval time.Duration
	// ReadTimeout ends a connection on which the primary sent nothing for
	// this long (it sends a heartbeat every Config.Heartbeat). Default 10 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds one write to the primary. Default 10 s.
	WriteTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between reconnects, which
	// doubles after every failed attempt (with ±25% jitter) and starts
	// again at BackoffMin after a successful handshake. Defaults 50 ms, 2 s.
	BackoffMin, BackoffMax time.Duration
	// MaxBulk bounds one argument or key payload. Default 512 MiB plus 16
	// bytes: the snapshot payload of a 512 MiB string (proto-max-bulk-len's
	// default, the largest a SETBIT makes) is its bytes after a tag byte,
	// and with a bound of exactly 512 MiB the replica refused it, reconnected
	// and had the primary send it again, forever.
	MaxBulk int64
	// MaxFrame bounds the bytes of one frame. Default 1 GiB.
	MaxFrame int
	// Pacer, if set, paces the loading of snapshots between slots
	// (pace.go); share one between the process's Replicas and its
	// Primary. Nil: no pacing.
	Pacer *Pacer
	// OnSeal, if set, is called after a SEAL frame was taken (Sealed
	// reports it), on the goroutine that reads the primary's frames: it
	// must return at once.
	OnSeal func(slot int)
	// Logger receives a line per sync, gap and disconnect; nil discards.
	Logger *slog.Logger
	// Resume, if set, gives for a slot of Slots a position this node
	// already holds (from Replica.Position of an earlier Replica, for
	// example one of a primary that failed over): the history ID, the last
	// sequence number applied, and ok. The first handshake presents it, so
	// a primary that continues that history resumes instead of sending a
	// snapshot.
	Resume func(slot int) (hist, seq uint64, ok bool)
}

func (c ReplicaConfig) withDefaults() ReplicaConfig {
	if c.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		c.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AckInterval, 100*time.Millisecond)
	def(&c.ReadTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.BackoffMin, 50*time.Millisecond)
	def(&c.BackoffMax, 2*time.Second)
	if c.MaxBulk <= 0 {
		c.MaxBulk = 512<<20 + 16
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 1 << 30
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Per-slot replica states.
const (
	slotOff     = iota // not replicated
	slotWaiting        // needs a snapshot, none begun
	slotLoading        // between SNAP and SNAPEND
	slotLive           // applying the stream
)

// Replica copies slots from one primary into an Applier: it dials, syncs,
// applies records in order, checks each slot's sequence, acknowledges, and
// reconnects with back-off. A node replicating slots of several primaries
// runs one Replica per primary. Methods are safe for concurrent use.
//
// A Replica owns one goroutine (connect, apply) and, while connected, one
// that sends acknowledgements; Close stops both.
type Replica struct {
	cfg    ReplicaConfig
	ap     Applier
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex // protects want, conn, inband, asked, lastAsk, outbox, resumeAt; slot state changes made while a FOLLOW may be pending
	want   []bool
	conn   net.Conn
	closed bool
	// inband is set while a session is past its handshake: SetSlots then
	// sends FOLLOW and UNFOLLOW on it instead of reconnecting.
	inband bool
	// asked holds the FOLLOWs sent and not yet answered (FOLLOWED), by
	// slot; lastAsk numbers them.
	asked   map[int]followAsk
	lastAsk uint64
	// outbox holds FOLLOW and UNFOLLOW frames for ackLoop to write (woken
	// by sendOut): SetSlots runs under its caller's locks and must not
	// wait on a primary that stopped reading.
	outbox  []byte
	sendOut chan struct{}
	// resumeAt holds, for slots SetSlots added, the positions
	// ReplicaConfig.Resume gave; the next session takes them (live from
	// there) before its handshake.
	resumeAt map[int]position

	applied []atomic.Uint64 // per slot: last seq handed to the Applier
	hist    []atomic.Uint64 // per slot: history ID that seq belongs to
	state   []atomic.Uint32 // per slot: slot* state
	sealed  []atomic.Uint64 // per slot: seq+1 of the primary's SEAL, 0 for none
	marked  []atomic.Uint64 // per slot: version of the last MARK for the current copy, 0 for none (mark.go)

	// Owned by the run goroutine.
	unit      []Record
	unitBytes int
	loadErr   []bool
	pendIdx   uint64
	pendMs    int64
	pid       uint64 // history ID of the current primary

	wmu sync.Mutex // serializes writes on the current connection
	w   connWriter

	ackIndex  atomic.Uint64
	ackMs     atomic.Int64
	snaps     atomic.Uint64 // SNAPEND frames processed on this connection
	connected atomic.Bool

	fullSyncs    atomic.Uint64
	partialSlots atomic.Uint64
	gaps         atomic.Uint64
	dups         atomic.Uint64
	reconnects   atomic.Uint64
	slotChanges  atomic.Uint64
}

// NewReplica starts replicating cfg.Slots from cfg.Addr into ap.
func NewReplica(cfg ReplicaConfig, ap Applier) (*Replica, error) {
	if cfg.Addr == "" || ap == nil {
		return nil, errors.New("repl: replica needs an address and an Applier")
	}
	cfg = cfg.withDefaults()
	r := &Replica{
		cfg:     cfg,
		ap:      ap,
		done:    make(chan struct{}),
		want:    make([]bool, NumSlots),
		applied: make([]atomic.Uint64, NumSlots),
		hist:    make([]atomic.Uint64, NumSlots),
		state:   make([]atomic.Uint32, NumSlots),
		sealed:  make([]atomic.Uint64, NumSlots),
		marked:  make([]atomic.Uint64, NumSlots),
		loadErr: make([]bool, NumSlots),
		sendOut: make(chan struct{}, 1),
	}
	for _, s := range cfg.Slots {
		if s < 0 || s >= NumSlots {
			return nil, fmt.Errorf("repl: slot %d out of range", s)
		}
		r.want[s] = true
		if cfg.Resume != nil {
			if hist, seq, ok := cfg.Resume(s); ok {
				r.hist[s].Store(hist)
				r.applied[s].Store(seq)
				r.state[s].Store(slotLive)
			}
		}
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r, nil
}

// position is a slot's place in a primary's stream: history ID and the
// last sequence number applied.
type position struct{ hist, seq uint64 }

// followAsk is a FOLLOW sent on the current connection: its number and
// the position it presented.
type followAsk struct {
	id  uint64
	pos position
}

// SetSlots replaces the set of slots replicated. A slot it adds is
// presented at the position ReplicaConfig.Resume gives for it, if any (a
// replica whose copy stands at the seal of the slot's previous primary),
// and gets a snapshot otherwise or when the primary's backlog cannot
// continue it. On a connected link the change is sent on the connection
// (FOLLOW, UNFOLLOW): the slots it keeps, and the snapshots under way,
// go on undisturbed, and a dropped slot's frames still in flight are not
// applied. Otherwise the next connection's handshake asks for the new set.
func (r *Replica) SetSlots(slots []int) {
	want := make([]bool, NumSlots)
	for _, s := range slots {
		if s >= 0 && s < NumSlots {
			want[s] = true
		}
	}
	r.mu.Lock()
	if r.inband && r.conn != nil {
		r.changeSlotsLocked(want)
		r.mu.Unlock()
		return
	}
	if r.cfg.Resume != nil {
		for s := range NumSlots {
			if !want[s] || r.want[s] {
				continue
			}
			if hist, seq, ok := r.cfg.Resume(s); ok {
				if r.resumeAt == nil {
					r.resumeAt = map[int]position{}
				}
				r.resumeAt[s] = position{hist, seq}
			}
		}
	}
	for s := range r.resumeAt {
		if !want[s] {
			delete(r.resumeAt, s)
		}
	}
	r.want = want
	if r.conn != nil {
		r.conn.Close()
	}
	r.mu.Unlock()
}

// Reconnect closes the current connection, if any: the replica dials
// again and its handshake continues every slot it can from the backlog
// (tests use it to put a fault injector on the link, or to cut it).
func (r *Replica) Reconnect() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		r.conn.Close()
	}
}

// changeSlotsLocked queues the difference between r.want and want for
// the current connection (ackLoop writes it) and makes want the set. A
// dropped slot is off at once (its frames still in flight are skipped);
// an added one stays off until the primary's FOLLOWED says whether it
// resumed or a snapshot follows, so frames of an earlier following of it
// are skipped too. If the connection ends first, or more than maxOutbox
// bytes wait (the primary stopped reading), the next handshake asks for
// want. r.mu must be held.
func (r *Replica) changeSlotsLocked(want []bool) {
	frames := r.outbox
	for s := range NumSlots {
		switch {
		case r.want[s] && !want[s]:
			r.state[s].Store(slotOff)
			delete(r.asked, s)
			frames = appendFrame(frames, fUnfollow, uint64(s))
		case want[s] && !r.want[s]:
			var p position
			if r.cfg.Resume != nil {
				if hist, seq, ok := r.cfg.Resume(s); ok {
					p = position{hist, seq}
				}
			}
			r.state[s].Store(slotOff)
			r.lastAsk++
			if r.asked == nil {
				r.asked = map[int]followAsk{}
			}
			r.asked[s] = followAsk{id: r.lastAsk, pos: p}
			frames = appendFrame(frames, fFollow, uint64(s), p.seq, p.hist, r.lastAsk)
		}
	}
	r.want = want
	if len(frames) == len(r.outbox) {
		return
	}
	r.slotChanges.Add(1)
	if len(frames) > maxOutbox {
		r.outbox = nil
		r.conn.Close()
		return
	}
	r.outbox = frames
	select {
	case r.sendOut <- struct{}{}:
	default:
	}
}

// maxOutbox bounds the FOLLOW and UNFOLLOW bytes waiting to be written
// (a FOLLOW of every slot is about 1 MiB).
const maxOutbox = 4 << 20

// writeOutbox writes the queued FOLLOW and UNFOLLOW frames.
func (r *Replica) writeOutbox() error {
	r.mu.Lock()
	out := r.outbox
	r.outbox = nil
	r.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.w.buf = append(r.w.buf, out...)
	return r.w.flush()
}

// handleFollowed takes FOLLOWED slot full id: the primary added the slot
// at the position its FOLLOW presented (full 0: it continues the stream
// from there) or will send a snapshot. An answer to an earlier FOLLOW of
// the slot, replaced since, is skipped.
func (r *Replica) handleFollowed(args [][]byte) error {
	s, ok := slotArg(args, 4)
	n, ok2 := uints(args[min(2, len(args)-1):])
	if !ok || !ok2 || len(r.unit) > 0 {
		return fmt.Errorf("%w: bad FOLLOWED", ErrFrame)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.asked[s]
	if !ok || a.id != n[1] {
		return nil
	}
	delete(r.asked, s)
	r.sealed[s].Store(0)
	r.marked[s].Store(0)
	if n[0] != 0 {
		r.state[s].Store(slotWaiting)
		return nil
	}
	r.hist[s].Store(r.pid)
	r.applied[s].Store(a.pos.seq)
	r.state[s].Store(slotLive)
	r.partialSlots.Add(1)
	return nil
}

// Applied returns the last sequence number of slot handed to the Applier
// and whether the slot is live (synced and following the stream).
func (r *Replica) Applied(slot int) (uint64, bool) {
	return r.applied[slot].Load(), r.state[slot].Load() == slotLive
}

// Position returns where this replica's copy of slot stands: the history
// ID of the primary stream it follows, the last sequence number applied,
// and whether the slot is live. A node promoted for the slot passes hist
// and seq to Primary.Adopt; a new Replica takes them through
// ReplicaConfig.Resume. Read it after Close for a stable answer.
func (r *Replica) Position(slot int) (hist, seq uint64, live bool) {
	return r.hist[slot].Load(), r.applied[slot].Load(), r.state[slot].Load() == slotLive
}

// Presented reports the position this replica presents for slot, or
// will at its next handshake, and has no answer to yet: the position
// ReplicaConfig.Resume gave (a copy that stands at the seal of the slot's
// previous primary). ok is false if it presents none, and once the
// primary answered (the slot is then live, or waits for a snapshot). Read
// it after Close for a stable answer.
func (r *Replica) Presented(slot int) (hist, seq uint64, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.resumeAt[slot]; ok {
		return p.hist, p.seq, true
	}
	if a, ok := r.asked[slot]; ok && (a.pos.hist != 0 || a.pos.seq != 0) {
		return a.pos.hist, a.pos.seq, true
	}
	return 0, 0, false
}

// Sealed reports whether the primary sealed slot (Primary.Seal: it gave
// the slot up) and the last sequence number of its stream. The copy is
// complete when Position's seq equals it.
func (r *Replica) Sealed(slot int) (seq uint64, ok bool) {
	v := r.sealed[slot].Load()
	return v - 1, v != 0
}

// Close stops the replica and waits for its goroutines.
func (r *Replica) Close() error {
	r.mu.Lock()
	r.closed = true
	if r.conn != nil {
		r.conn.Close()
	}
	r.mu.Unlock()
	r.cancel()
	<-r.done
	return nil
}

// run connects, syncs and applies until Close.
func (r *Replica) run() {
	defer close(r.done)
	backoff := r.cfg.BackoffMin
	for r.ctx.Err() == nil {
		conn, err := r.cfg.Dial(r.ctx, r.cfg.Addr)
		if err == nil {
			var synced bool
			synced, err = r.session(conn)
			conn.Close()
			r.connected.Store(false)
			if synced {
				backoff = r.cfg.BackoffMin
			}
		}
		if r.ctx.Err() != nil {
			return
		}
		r.reconnects.Add(1)
		r.cfg.Logger.Info("replication link down", "primary_addr", r.cfg.Addr, "err", err, "retry_in", backoff)
		d := time.Duration(float64(backoff) * (0.75 + 0.5*rand.Float64()))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, r.cfg.BackoffMax)
	}
}

// session runs one connection: handshake, then frames until an error.
// synced reports whether the handshake succeeded.
func (r *Replica) session(conn net.Conn) (synced bool, err error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false, ErrClosed
	}
	r.conn = conn
	want := r.want
	for s, p := range r.resumeAt { // slots SetSlots added, at the positions it was given
		r.hist[s].Store(p.hist)
		r.applied[s].Store(p.seq)
		r.state[s].Store(slotLive)
	}
	r.resumeAt = nil
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.conn, r.inband, r.outbox = nil, false, nil
		for s, a := range r.asked { // unanswered: the next handshake presents them
			if a.pos.hist != 0 || a.pos.seq != 0 {
				if r.resumeAt == nil {
					r.resumeAt = map[int]position{}
				}
				r.resumeAt[s] = a.pos
			}
		}
		r.asked = nil
		r.mu.Unlock()
	}()
	r.w = connWriter{conn: conn, timeout: r.cfg.WriteTimeout}
	r.unit, r.unitBytes, r.pendIdx = nil, 0, 0
	r.ackIndex.Store(0)
	r.snaps.Store(0)
	for s := range r.marked { // a mark holds for the connection it came on
		r.marked[s].Store(0)
	}
	if err := r.sendHandshake(want); err != nil {
		return false, err
	}
	fr := newFrameReader(conn, 1<<20+recFields, r.cfg.MaxBulk, r.cfg.MaxFrame, r.cfg.ReadTimeout)
	// Applier.Apply and Restore keep neither args nor payload: the arena
	// is reused once no unit holds its records.
	fr.pooled = []string{fRec, fKey}
	if err := r.readWelcome(fr, want); err != nil {
		return false, err
	}
	r.mu.Lock()
	r.inband = true // a SetSlots during the handshake closed conn: the next read fails
	r.mu.Unlock()
	r.connected.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go r.ackLoop(stop, &wg)
	defer func() {
		close(stop)
		conn.Close()
		wg.Wait()
	}()
	var slotStart time.Time // of the slot being loaded (Pacer)
	for {
		args, err := fr.read()
		if err != nil {
			return true, err
		}
		if string(args[0]) == fSnap {
			slotStart = r.cfg.Pacer.Start()
		}
		if err := r.handle(args); err != nil {
			return true, err
		}
		if len(r.unit) == 0 {
			fr.pool.reset()
		}
		if string(args[0]) == fSnapEnd && !slotStart.IsZero() { // between slots: no unit open, no lock held
			// The slot's time includes waits for the primary's bytes: a
			// load that waits on the network rests more than it needs.
			r.cfg.Pacer.DoneOr(slotStart, nil, r.ctx.Done()) // Close ends a rest
			slotStart = time.Time{}
		}
	}
}

// sendHandshake writes REPLSYNC auth id [slot seq hist]...: the position
// of each live slot, 0 0 (snapshot please) for the others.
func (r *Replica) sendHandshake(want []bool) error {
	args := [][]byte{[]byte(fSync), []byte(r.cfg.Auth), []byte(r.cfg.ID)}
	for s := range NumSlots {
		if !want[s] {
			r.state[s].Store(slotOff)
			continue
		}
		seq, hist := uint64(0), uint64(0)
		if r.state[s].Load() == slotLive {
			seq, hist = r.applied[s].Load(), r.hist[s].Load()
		} else {
			r.state[s].Store(slotWaiting)
		}
		args = append(args, appendUintText(nil, uint64(s)), appendUintText(nil, seq), appendUintText(nil, hist))
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.w.buf = appendCommand(r.w.buf, args)
	return r.w.flush()
}

// readWelcome reads the primary's answer to the handshake,
// OK primaryID resumed full [slot...] (the slots it will snapshot): the
// other slots asked for continue in the primary's history.
func (r *Replica) readWelcome(fr *frameReader, want []bool) error {
	args, err := fr.read()
	if err != nil {
		return err
	}
	if string(args[0]) == "ERR" && len(args) == 2 {
		return fmt.Errorf("repl: primary refused: %s", args[1])
	}
	if string(args[0]) != "OK" || len(args) < 4 {
		return fmt.Errorf("%w: unexpected handshake reply %q", ErrFrame, args[0])
	}
	n, ok := uints(args[1:])
	if !ok || uint64(len(n)) != 3+n[2] {
		return fmt.Errorf("%w: bad handshake reply", ErrFrame)
	}
	r.pid = n[0]
	for _, s := range n[3:] {
		if s >= NumSlots || !want[s] {
			return fmt.Errorf("%w: snapshot of slot %d not asked for", ErrFrame, s)
		}
		r.state[s].Store(slotWaiting)
	}
	for s := range NumSlots {
		if want[s] && r.state[s].Load() == slotLive {
			r.hist[s].Store(r.pid)
		}
	}
	r.partialSlots.Add(n[1])
	r.cfg.Logger.Info("replication sync", "primary_addr", r.cfg.Addr, "slots_resumed", n[1], "slots_full", n[2])
	return nil
}

// ackLoop acknowledges every AckInterval, and writes the slot changes
// SetSlots queued, until stop.
func (r *Replica) ackLoop(stop chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(r.cfg.AckInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := r.sendAck(); err != nil {
				r.w.conn.Close()
				return
			}
		case <-r.sendOut:
			if err := r.writeOutbox(); err != nil {
				r.w.conn.Close()
				return
			}
		}
	}
}

// sendAck writes ACK index ms snaps.
func (r *Replica) sendAck() error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.w.buf = appendFrame(r.w.buf, fAck, r.ackIndex.Load(), uint64(max(r.ackMs.Load(), 0)), r.snaps.Load())
	return r.w.flush()
}

// setStateUnlessOff moves slot s to state st and reports true, unless
// SetSlots turned it off (then false): under r.mu, which SetSlots holds.
func (r *Replica) setStateUnlessOff(s int, st uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state[s].Load() == slotOff {
		return false
	}
	r.state[s].Store(st)
	return true
}

// sendResync asks for a snapshot of slot s, unless SetSlots dropped it.
func (r *Replica) sendResync(s int) error {
	if !r.setStateUnlessOff(s, slotWaiting) {
		return nil
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.w.buf = appendFrame(r.w.buf, fResync, uint64(s))
	return r.w.flush()
}
