package repl

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Primary. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// BacklogSize is the ring of recent records in bytes (Redis's
	// repl-backlog-size). A replica that was away for longer than the ring
	// covers gets snapshots instead of the missed records. Each record
	// costs its REC frame plus 32 bytes. Default 1 MiB, as Redis.
	BacklogSize int
	// BufferHard, BufferSoft and BufferSoftFor bound the records kept
	// beyond BacklogSize because a connected replica has not been sent
	// them yet, as the replica class of Redis's client-output-buffer-limit
	// bounds a replica's output buffer: when the records kept exceed
	// BufferHard bytes, or stay over BufferSoft for BufferSoftFor, the
	// oldest go and the replicas that needed them are cut (and come back
	// through a sync). Without this a replica that fell 1 MiB behind for
	// a moment was cut at once, and under a steady write load the links
	// were cut and snapshotted over and over. A zero size takes the
	// default (256 MiB; 64 MiB for 60 s, as Redis); a negative size is no
	// limit; a BufferSoftFor of 0 cuts as soon as BufferSoft is passed.
	BufferHard, BufferSoft int64
	BufferSoftFor          time.Duration
	// SnapshotRate limits the bytes per second of snapshots, summed over
	// all links; 0 means no limit. Default 0.
	SnapshotRate int64
	// Auth is the secret replicas must present; empty accepts any.
	Auth string
	// WriteTimeout bounds one write to a replica; a replica that does not
	// read for this long is cut. Default 10 s.
	WriteTimeout time.Duration
	// ReadTimeout cuts a replica silent for this long (replicas
	// acknowledge every Replica AckInterval). Default 10 s.
	ReadTimeout time.Duration
	// Heartbeat is the interval of POS frames sent to an idle replica so
	// it can tell a silent primary from a dead one. Default 1 s.
	Heartbeat time.Duration
	// BatchBytes is how many bytes a link copies from the backlog under
	// the lock at a time, and the write size it aims for. Default 64 KiB.
	BatchBytes int
	// SnapshotBuffer is how many bytes of snapshots the links together
	// gather and write (SnapshotHeld) before emit writes to the network
	// itself: emit does not block while they hold less, so a store that
	// calls emit with locks held stalls writers only for a slot larger
	// than this (or while other links' snapshots hold it), and then for
	// as long as the replica takes to read the rest (up to WriteTimeout
	// per piece if it stops reading). What a link gathered is written
	// after Snapshot returns. Default 256 MiB, BufferHard's default.
	SnapshotBuffer int
	// SnapshotWindow bounds the snapshot bytes a link has sent that its
	// replica has not loaded yet (acknowledged SNAPEND frames): past it
	// the link sends no further slot's snapshot until the replica catches
	// up, while the live stream and SEAL frames go on. Records and seals
	// travel on the same connection behind the snapshot bytes in flight,
	// so the window bounds how long a hand-over's seal (and a live
	// slot's records) wait behind snapshots a slow or paced loader has
	// not read yet: without it, the socket buffers (megabytes) held
	// seconds of a paced join's snapshots ahead of the seals, and the
	// clients of the slots flipped to the new node waited for them
	// (docs/performance.md "The seal behind the snapshots"). A larger
	// window suits a long round trip (it caps a link's snapshot rate at
	// about the window per round trip). Default 64 KiB.
	SnapshotWindow int
	// Pacer, if set, paces the links' snapshots between slots (pace.go);
	// share it with the process's Replicas. Nil: no pacing.
	Pacer *Pacer
	// Logger receives a line for every sync and link end; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		BacklogSize:    1 << 20,
		BufferHard:     256 << 20,
		BufferSoft:     64 << 20,
		BufferSoftFor:  60 * time.Second,
		WriteTimeout:   10 * time.Second,
		ReadTimeout:    10 * time.Second,
		Heartbeat:      time.Second,
		BatchBytes:     64 << 10,
		SnapshotBuffer: 256 << 20,
		SnapshotWindow: 64 << 10,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BacklogSize <= 0 {
		c.BacklogSize = d.BacklogSize
	}
	if c.BufferHard == 0 {
		c.BufferHard = d.BufferHard
	}
	if c.BufferSoft == 0 {
		c.BufferSoft, c.BufferSoftFor = d.BufferSoft, d.BufferSoftFor
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = d.Heartbeat
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = d.BatchBytes
	}
	if c.SnapshotBuffer <= 0 {
		c.SnapshotBuffer = d.SnapshotBuffer
	}
	if c.SnapshotWindow <= 0 {
		c.SnapshotWindow = d.SnapshotWindow
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

func (c Config) validate() error {
	if c.BacklogSize < 16<<10 {
		return fmt.Errorf("repl: BacklogSize %d is below 16 KiB", c.BacklogSize)
	}
	if c.SnapshotRate < 0 {
		return fmt.Errorf("repl: SnapshotRate %d is negative", c.SnapshotRate)
	}
	return nil
}

// Primary streams the write effects of this node's slots to its replicas.
// The store calls Append for every committed unit; replicas connect through
// ServeConn, Handoff or Serve. All methods are safe for concurrent use.
//
// A Primary owns two goroutines per connected replica (a sender and an
// acknowledgement reader) and one per Serve call; Close stops them all.
type Primary struct {
	cfg  Config
	snap Snapshotter
	lim  *limiter
	now  func() time.Time

	id uint64 // history ID of the streams this Primary starts

	// born is when the Primary was made (with its monotonic reading) and
	// bornMs the same in Unix ms: Append stamps records with bornMs plus
	// the monotonic time since, one clock read instead of time.Now's two
	// (the stamps only measure replicas' lag against each other).
	born   time.Time
	bornMs int64

	mu       sync.Mutex // protects bl, links, lns, closed, prevHist, prevUpTo, seals, marks
	bl       *backlog
	prevHist []uint64         // per slot: history this node's copy continues (Adopt); nil until used
	prevUpTo []uint64         // per slot: the sequence number where it left that history
	seals    map[int]sealMark // slots this node gave up (Seal), until Adopt or a new record
	sealed   slotBits         // the keys of seals, for Append's per-record look without a map access
	sealGen  uint64           // grows with every Seal call
	marks    markWant         // the slots to mark for their incoming replica (SetMarks, mark.go)
	links    []*link
	lns      map[net.Listener]struct{}
	closed   bool

	ackMu sync.Mutex    // protects ackCh
	ackCh chan struct{} // closed and replaced when an acknowledgement arrives

	wg sync.WaitGroup // every goroutine of the Primary

	fullSyncs    atomic.Uint64 // slots sent as snapshots
	partialSlots atomic.Uint64 // slots continued from the backlog at a handshake or a FOLLOW
	partialConns atomic.Uint64 // handshakes that continued at least one slot
	cuts         atomic.Uint64 // links cut for falling behind the backlog
	links0       atomic.Uint64 // links accepted
	snapHeld     atomic.Int64  // snapshot bytes gathered in links' write buffers, being written (flushLimited)
}

// NewPrimary returns a Primary that takes snapshots from snap.
func NewPrimary(cfg Config, snap Snapshotter) (*Primary, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if snap == nil {
		return nil, errors.New("repl: nil Snapshotter")
	}
	p := &Primary{
		id:    newHistoryID(),
		cfg:   cfg,
		snap:  snap,
		lim:   newLimiter(cfg.SnapshotRate),
		now:   time.Now,
		bl:    newBacklog(cfg.BacklogSize),
		lns:   make(map[net.Listener]struct{}),
		ackCh: make(chan struct{}),
		born:  time.Now(),
	}
	p.bornMs = p.born.UnixMilli()
	p.bl.hold = p.holdFromLocked
	p.bl.setLimits(cfg.BufferHard, cfg.BufferSoft, cfg.BufferSoftFor)
	return p, nil
}

// SetBufferLimits changes Config's BufferHard, BufferSoft and
// BufferSoftFor (0 or negative: no limit), as CONFIG SET
// client-output-buffer-limit changes Redis's.
func (p *Primary) SetBufferLimits(hard, soft int64, softFor time.Duration) {
	p.mu.Lock()
	p.bl.setLimits(hard, soft, softFor)
	p.mu.Unlock()
}

// holdFromLocked returns the lowest backlog offset at or after from that
// a connected replica has not been sent yet, noHold if none. p.mu must
// be held.
func (p *Primary) holdFromLocked(from uint64) uint64 {
	h := noHold
	for _, l := range p.links {
		if l.hold >= from && l.hold < h {
			h = l.hold
		}
	}
	return h
}

// Append records one committed unit (one command, one EXEC, one expiry
// DEL) and returns the index of its last record, for Token. It copies the
// records, never blocks on replicas and is meant to be called with the
// store's locks held, so each slot's records arrive in sequence order.
// Records must have a slot in range; an empty unit returns the current
// index. A unit of several records reaches each replica whole (the records
// of its slots), applied by one Applier.Apply call.
func (p *Primary) Append(unit []Record) uint64 {
	ms := p.bornMs + time.Since(p.born).Milliseconds()
	p.mu.Lock()
	defer p.mu.Unlock()
	var idx uint64
	for i := range unit {
		if unit[i].Slot < 0 || unit[i].Slot >= NumSlots {
			panic(fmt.Sprintf("repl: record slot %d out of range", unit[i].Slot))
		}
		if p.sealed.has(unit[i].Slot) {
			p.unsealLocked(unit[i].Slot) // the stream of the slot goes on here after all
		}
		idx = p.bl.append(&unit[i], i < len(unit)-1, ms)
	}
	if len(unit) == 0 {
		return p.bl.lastIndex
	}
	for _, l := range p.links {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	return idx
}

// ID returns the history ID of the streams this Primary starts: a
// random number, new for every Primary, which replicas present back when
// they reconnect so that a stream is continued only by the history it
// belongs to (a restarted primary numbers its effects from 1 again).
func (p *Primary) ID() uint64 { return p.id }

// Adopt declares that this node's copy of slot is the history hist (the ID
// of the primary it was replicated from, see Replica.Position) up to
// sequence number seq, and that the store's next record of the slot has
// Seq seq+1. Call it when a replica is promoted for the slot, before the
// slot's first Append: other replicas of the old primary that hold exactly
// seq then continue from here without a snapshot; any other position
// (behind, ahead, or of another history) gets a snapshot.
func (p *Primary) Adopt(slot int, hist, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prevHist == nil {
		p.prevHist = make([]uint64, NumSlots)
		p.prevUpTo = make([]uint64, NumSlots)
	}
	p.prevHist[slot], p.prevUpTo[slot] = hist, seq
	p.bl.restart(slot, seq)
	p.unsealLocked(slot)
}

// unsealLocked ends slot's seal. p.mu must be held.
func (p *Primary) unsealLocked(slot int) {
	if _, ok := p.seals[slot]; ok {
		delete(p.seals, slot)
		p.sealed.set(slot, false)
		p.sealGen++
	}
}

// slotBits is a set of slots, one bit each.
type slotBits [NumSlots / 64]uint64

func (b *slotBits) has(s int) bool { return b[s>>6]&(1<<(s&63)) != 0 }

func (b *slotBits) set(s int, on bool) {
	if on {
		b[s>>6] |= 1 << (s & 63)
	} else {
		b[s>>6] &^= 1 << (s & 63)
	}
}

// sealMark is a sealed slot's last sequence number and the backlog offset
// after which nothing of the slot was appended.
type sealMark struct{ seq, at uint64 }

// Seal ends this node's stream of the slots, which it no longer is primary
// of (a graceful hand-over: the caller has stopped appending their
// records), and returns each slot's last sequence number. Every replica of
// a sealed slot receives SEAL slot seq once it was sent everything up to
// seq (Replica.Sealed), so the slot's next primary knows when its copy is
// complete. Adopt, or a new record of the slot, ends the seal.
func (p *Primary) Seal(slots ...int) []uint64 {
	out := make([]uint64, len(slots))
	p.mu.Lock()
	if p.seals == nil {
		p.seals = make(map[int]sealMark)
	}
	for i, s := range slots {
		m := sealMark{seq: p.bl.last[s], at: p.bl.end}
		p.seals[s] = m
		p.sealed.set(s, true)
		out[i] = m.seq
	}
	p.sealGen++
	for _, l := range p.links {
		select {
		case l.wake <- struct{}{}:
		default:
		}
		select {
		case l.seal <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
	return out
}

// canResumeLocked reports whether a replica at history hist, sequence seq
// of slot can continue from the backlog. p.mu must be held.
func (p *Primary) canResumeLocked(slot int, hist, seq uint64) bool {
	switch {
	case hist == p.id:
	case p.prevHist != nil && hist != 0 && hist == p.prevHist[slot] && seq <= p.prevUpTo[slot]:
	default:
		return false
	}
	return p.bl.canResume(slot, seq)
}

// newHistoryID returns a random non-zero ID.
func newHistoryID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

// LastIndex returns the index of the newest record appended (0: none).
func (p *Primary) LastIndex() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bl.lastIndex
}

// LowWater returns the lowest sequence number of slot a replica may have
// applied and still continue from the backlog, and false if no replica can
// (the backlog holds nothing of the slot's history it could start from).
func (p *Primary) LowWater(slot int) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.bl.cover[slot]
	return c, c != noCover
}

// Serve accepts replica connections on ln until ln fails or the Primary is
// closed; it closes ln when it returns.
func (p *Primary) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	p.lns[ln] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.lns, ln)
		p.mu.Unlock()
		ln.Close()
		p.wg.Done()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if p.isClosed() {
				return ErrClosed
			}
			return err
		}
		if err := p.ServeConn(c); err != nil {
			return err
		}
	}
}

// ServeConn serves one replica connection that has sent nothing yet: a
// goroutine owned by the Primary reads its REPLSYNC handshake and streams
// to it. It returns at once; the connection is closed when the link ends.
func (p *Primary) ServeConn(c net.Conn) error {
	return p.start(c, nil)
}

// Handoff serves a connection whose REPLSYNC handshake the caller already
// read (args is that command, args[0] being "REPLSYNC"), as a server does
// when a replica connects to its client port. Nothing may have been read
// from c past the handshake. It returns at once, as ServeConn.
func (p *Primary) Handoff(c net.Conn, args [][]byte) error {
	if args == nil {
		args = [][]byte{}
	}
	return p.start(c, args)
}

func (p *Primary) start(c net.Conn, args [][]byte) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return ErrClosed
	}
	l := newLink(p, c)
	p.links = append(p.links, l)
	p.wg.Add(1)
	p.mu.Unlock()
	p.links0.Add(1)
	go l.run(args)
	return nil
}

func (p *Primary) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// remove forgets a link that ended.
func (p *Primary) remove(l *link) {
	p.mu.Lock()
	if i := slices.Index(p.links, l); i >= 0 { // Append walks links per unit: a slice, not a map
		p.links = slices.Delete(p.links, i, i+1)
	}
	p.mu.Unlock()
	p.ackChanged()
}

// ackChanged wakes every Wait.
func (p *Primary) ackChanged() {
	p.ackMu.Lock()
	close(p.ackCh)
	p.ackCh = make(chan struct{})
	p.ackMu.Unlock()
}

func (p *Primary) ackWait() <-chan struct{} {
	p.ackMu.Lock()
	defer p.ackMu.Unlock()
	return p.ackCh
}

func (p *Primary) linkList() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.links)
}

// checkAuth compares a presented secret with the configured one.
func (p *Primary) checkAuth(got []byte) bool {
	if p.cfg.Auth == "" {
		return true
	}
	return subtle.ConstantTimeCompare(got, []byte(p.cfg.Auth)) == 1
}

// Close stops serving: it closes every replica connection and listener
// and waits for the Primary's goroutines. Append still works afterwards
// (it only fills the backlog).
func (p *Primary) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for ln := range p.lns {
		ln.Close()
	}
	ls := slices.Clone(p.links)
	p.mu.Unlock()
	for _, l := range ls {
		l.stop(ErrClosed)
	}
	p.wg.Wait()
	return nil
}

// Token is what one client has written, for Wait: the index of its last
// record and the set of slots it wrote. The zero Token has written nothing
// (Wait then counts connected replicas, as Redis's WAIT with no writes).
// Not safe for concurrent use: each client keeps its own.
type Token struct {
	// Index is the index of the client's last record (Append's result).
	Index uint64
	slots []int
	bits  []uint64 // bitmap of slots once there are more than smallToken
}

// smallToken is how many slots a Token lists before it keeps a bitmap.
const smallToken = 16

// Note records that the client wrote slot, up to record index idx.
func (t *Token) Note(slot int, idx uint64) {
	if idx > t.Index {
		t.Index = idx
	}
	if t.bits != nil {
		if t.bits[slot/64]&(1<<(slot%64)) == 0 {
			t.bits[slot/64] |= 1 << (slot % 64)
			t.slots = append(t.slots, slot)
		}
		return
	}
	for _, s := range t.slots {
		if s == slot {
			return
		}
	}
	t.slots = append(t.slots, slot)
	if len(t.slots) > smallToken {
		t.bits = make([]uint64, NumSlots/64)
		for _, s := range t.slots {
			t.bits[s/64] |= 1 << (s % 64)
		}
	}
}

// Slots returns the slots noted, in the order first noted. The slice
// belongs to t.
func (t *Token) Slots() []int { return t.slots }

// Acked returns how many connected replicas have acknowledged everything
// tok names: they hold every slot of tok and applied its records up to
// tok.Index.
func (p *Primary) Acked(tok Token) int {
	n := 0
	for _, l := range p.linkList() {
		if l.acked(tok) {
			n++
		}
	}
	return n
}

// AckedInOrder returns the length of the longest prefix of order (replica
// IDs, as their handshakes named them) whose every replica acknowledged
// everything tok names, as Acked counts one. A replica with no link, or
// one that has not acknowledged, ends the prefix: the replicas after it
// are not counted even if they acknowledged. Listing the replicas in the
// order they would be promoted makes the answer k mean that the write
// survives the loss of the primary and of the first k-1 replicas. It is
// 0 unless the replica named need acknowledged tok too ("" needs none): a
// staged slot's incoming member, which may take it over, holds every
// write WAIT counts.
func (p *Primary) AckedInOrder(tok Token, order []string, need string) int {
	ls := p.linkList()
	if need != "" && !slices.ContainsFunc(ls, func(l *link) bool { return l.ackedAs(need, tok) }) {
		return 0
	}
	n := 0
	for _, id := range order {
		if !slices.ContainsFunc(ls, func(l *link) bool { return l.ackedAs(id, tok) }) {
			break
		}
		n++
	}
	return n
}

// Wait blocks until n replicas acknowledged tok or ctx ends, and returns
// how many did, as Redis's WAIT: it asks every replica to acknowledge at
// once, returns as soon as n is reached, and returns the count reached at
// the deadline otherwise. n <= 0 returns at once.
func (p *Primary) Wait(ctx context.Context, tok Token, n int) int {
	return p.wait(ctx, n, func() int { return p.Acked(tok) })
}

// WaitInOrder is Wait counting as AckedInOrder: it blocks until the first
// n replicas of order (and need, if not "") acknowledged tok or ctx ends,
// and returns the length of the acknowledged prefix of order (0 while need
// has not).
func (p *Primary) WaitInOrder(ctx context.Context, tok Token, order []string, need string, n int) int {
	return p.wait(ctx, n, func() int { return p.AckedInOrder(tok, order, need) })
}

// wait is Wait with the count taken by acked.
func (p *Primary) wait(ctx context.Context, n int, acked func() int) int {
	asked := false
	for {
		ch := p.ackWait()
		got := acked()
		if got >= n {
			return got
		}
		if !asked {
			for _, l := range p.linkList() {
				l.requestAck()
			}
			asked = true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return acked()
		}
	}
}
