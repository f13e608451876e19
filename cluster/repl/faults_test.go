package repl

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// smallBufListener shrinks the send buffer of accepted connections so a
// replica that stops reading blocks the primary's writes quickly.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestSlowReplicaNeverBlocksWriters: a replica that stops reading is cut
// while the writer goes on at full speed with the backlog bounded by the
// replica buffer limit; once it reads again it resyncs and ends identical.
func TestSlowReplicaNeverBlocksWriters(t *testing.T) {
	st := newFakeStore()
	const hard = 256 << 10
	p, err := NewPrimary(Config{BacklogSize: 64 << 10, BufferHard: hard, BufferSoft: -1, WriteTimeout: 100 * time.Millisecond}, st)
	if err != nil {
		t.Fatal(err)
	}
	st.hook = p.Append
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(smallBufListener{ln})
	slots := slotRange(0, 16)
	prefill(st, slots, 2)
	d := &dialer{}
	ap := newFakeApplier()
	cfg := ReplicaConfig{Addr: ln.Addr().String(), Slots: slots, Dial: d.dial, AckInterval: 20 * time.Millisecond,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond}
	r, err := NewReplica(cfg, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "initial sync", func() bool { return caughtUp(st, r, slots) })
	full0 := p.Stats().FullSyncs

	d.setStall(true)
	val := strings.Repeat("v", 500)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20000 {
			s := slots[i%len(slots)]
			st.set(s, fmt.Sprintf("k%d", i%300), val)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("writer blocked behind a stalled replica")
	}
	if s := p.Stats(); s.BacklogUsed > hard {
		t.Fatalf("backlog holds %d bytes, over the limit %d", s.BacklogUsed, hard)
	}
	waitFor(t, "stalled link cut", func() bool { return len(p.Stats().Links) == 0 })
	d.setStall(false)
	waitFor(t, "resynced", func() bool { return caughtUp(st, r, slots) })
	assertSame(t, st, ap, slots)
	if p.Stats().FullSyncs == full0 {
		t.Error("no snapshot after the backlog overflowed")
	}
}

// TestFaultsMidFrame: connections cut after a random number of bytes,
// mid-frame, under concurrent writes; the replica ends identical with no
// record applied twice or out of order.
func TestFaultsMidFrame(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 256 << 10})
	slots := slotRange(1000, 1200)
	prefill(h.store, slots, 3)
	d := cuttingDialer(1, 64<<10)
	ap := newFakeApplier()
	r := h.replica("r1", slots, ap, d)
	stop := make(chan struct{})
	wait := writers(h.store, slots, 3, stop)
	waitFor(t, "20 connections", func() bool { return d.dials.Load() >= 20 })
	d.stopCuts()
	close(stop)
	wait()
	waitFor(t, "caught up", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	if rs := r.Stats(); rs.Reconnects < 19 || rs.Duplicates != 0 {
		t.Errorf("replica stats %+v: want >= 19 reconnects, no duplicates", rs)
	}
	t.Logf("primary %+v", h.p.Stats())
}

// TestCloseStopsEverything: Close of the primary and the replicas leaves
// no goroutine behind, with links up and snapshots under way.
func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	st := newFakeStore()
	p, err := NewPrimary(Config{SnapshotRate: 64 << 10}, st)
	if err != nil {
		t.Fatal(err)
	}
	st.hook = p.Append
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(ln) }()
	prefill(st, slotRange(0, 50), 50)
	var rs []*Replica
	for i := range 3 {
		r, err := NewReplica(ReplicaConfig{Addr: ln.Addr().String(), ID: fmt.Sprint(i), Slots: slotRange(0, 50)}, newFakeApplier())
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	waitFor(t, "three links", func() bool { return len(p.Stats().Links) == 3 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrClosed) {
		t.Errorf("Serve = %v, want ErrClosed", err)
	}
	pc, other := net.Pipe()
	if err := p.ServeConn(pc); !errors.Is(err, ErrClosed) {
		t.Errorf("ServeConn after Close = %v, want ErrClosed", err)
	}
	if _, err := other.Write([]byte("x")); err == nil {
		t.Error("ServeConn after Close left the connection open")
	}
	for _, r := range rs {
		r.Close()
	}
	waitFor(t, "goroutines gone", func() bool { return runtime.NumGoroutine() <= before })
}

// TestAuthRefused: a replica with the wrong secret never syncs.
func TestAuthRefused(t *testing.T) {
	h := newHarness(t, Config{Auth: "sesame"})
	h.store.set(1, "k", "v")
	bad := h.replica("bad", []int{1}, newFakeApplier(), nil)
	good, err := NewReplica(ReplicaConfig{Addr: h.addr, Auth: "sesame", Slots: []int{1}}, newFakeApplier())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	waitFor(t, "good replica synced", func() bool { return caughtUp(h.store, good, []int{1}) })
	waitFor(t, "bad replica retried", func() bool { return bad.Stats().Reconnects >= 2 })
	if s := bad.Stats(); s.Connected || s.SlotsLive != 0 {
		t.Errorf("replica with a wrong secret: %+v", s)
	}
}

// TestHandoff: a server that read the REPLSYNC command itself hands the
// connection over.
func TestHandoff(t *testing.T) {
	st := newFakeStore()
	p, err := NewPrimary(Config{}, st)
	if err != nil {
		t.Fatal(err)
	}
	st.hook = p.Append
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errs := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errs <- err
			return
		}
		fr := newFrameReader(c, 1<<16, 1<<10, 1<<20, 0)
		args, err := fr.read()
		if err == nil && fr.r.Buffered() != 0 {
			err = errors.New("replica sent more than the handshake")
		}
		if err == nil {
			err = p.Handoff(c, args)
		}
		errs <- err
	}()
	st.set(3, "a", "1")
	ap := newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: ln.Addr().String(), Slots: []int{3}}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	st.set(3, "b", "2")
	waitFor(t, "synced", func() bool { return caughtUp(st, r, []int{3}) })
	assertSame(t, st, ap, []int{3})
}

// scriptedPrimary accepts one replica and lets the test speak the protocol.
type scriptedPrimary struct {
	ln   net.Listener
	conn net.Conn
	fr   *frameReader
}

func (s *scriptedPrimary) send(t *testing.T, frames ...[]byte) {
	t.Helper()
	var b []byte
	for _, f := range frames {
		b = append(b, f...)
	}
	if _, err := s.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// expect reads frames, skipping ACKs, until one named name.
func (s *scriptedPrimary) expect(t *testing.T, name string) [][]byte {
	t.Helper()
	for {
		args, err := s.fr.read()
		if err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		if string(args[0]) == name {
			return args
		}
		if string(args[0]) != fAck {
			t.Fatalf("got %q, want %s", args[0], name)
		}
	}
}

func rec(idx uint64, slot int, seq uint64, more bool, args ...string) []byte {
	r := Record{Slot: slot, Seq: seq}
	for _, a := range args {
		r.Args = append(r.Args, []byte(a))
	}
	return appendRecord(nil, idx, 0, &r, more)
}

// TestReplicaDetectsGap: the replica sees a hole in a slot's sequence, asks
// for that slot again (RESYNC) and applies the new snapshot; duplicates are
// skipped; a unit with an open end is applied at UEND.
func TestReplicaDetectsGap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := newFakeApplier()
	ap.keepUnits = true
	r, err := NewReplica(ReplicaConfig{Addr: ln.Addr().String(), Slots: []int{3, 4}, AckInterval: time.Hour}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	sp := &scriptedPrimary{ln: ln, conn: c, fr: newFrameReader(c, 1<<16, 1<<10, 1<<20, 0)}
	hs := sp.expect(t, fSync)
	if got := string(joinArgs(hs[3:])); got != "3 0 0 4 0 0" {
		t.Fatalf("handshake slots %q, want \"3 0 0 4 0 0\"", got)
	}
	sp.send(t, appendFrame(nil, "OK", 77, 0, 2, 3, 4),
		appendFrame(nil, fSnap, 3), appendKey(nil, 3, 0, []byte("a"), nil, []byte("1"), 0), appendFrame(nil, fSnapEnd, 3, 5, 0),
		appendFrame(nil, fSnap, 4), appendFrame(nil, fSnapEnd, 4, 0, 0),
		rec(1, 3, 6, false, "SET", "b", "2"),
		rec(2, 3, 6, false, "SET", "b", "dup"),
		rec(3, 3, 8, true, "SET", "c", "3"), // gap: 7 is missing
		rec(4, 4, 1, true, "SET", "d", "4"),
		appendFrame(nil, fUnitEnd))
	got := sp.expect(t, fResync)
	if string(got[1]) != "3" {
		t.Fatalf("RESYNC %q, want slot 3", got[1])
	}
	sp.send(t, appendFrame(nil, fSnap, 3), appendKey(nil, 3, 0, []byte("z"), nil, []byte("9"), 1234), appendFrame(nil, fSnapEnd, 3, 8, 4),
		rec(5, 3, 9, false, "SET", "e", "5"), appendFrame(nil, fGetAck))
	ack := sp.expect(t, fAck)
	if string(ack[1]) != "5" || string(ack[3]) != "3" {
		t.Fatalf("ACK %q, want index 5 after 3 snapshots", joinArgs(ack[1:]))
	}
	seq, keys := ap.state(3)
	if seq != 9 || len(keys) != 2 || keys["z"] != (fval{"9", 1234}) || keys["e"].v != "5" {
		t.Fatalf("slot 3 at %d with %v", seq, keys)
	}
	if hist, _, live := r.Position(3); hist != 77 || !live {
		t.Errorf("Position(3) history %d live %v, want 77 true", hist, live)
	}
	if s := r.Stats(); s.Gaps != 1 || s.Duplicates != 1 || s.FullSyncs != 3 {
		t.Errorf("stats %+v: want 1 gap, 1 duplicate, 3 snapshots", s)
	}
	if bad := ap.violations(); len(bad) > 0 {
		t.Error(bad)
	}
	ap.mu.Lock()
	defer ap.mu.Unlock()
	if len(ap.units) != 3 || len(ap.units[1]) != 1 || ap.units[1][0].Slot != 4 {
		t.Errorf("units %v: want [b] [d] [e], the gap record dropped from its unit", ap.units)
	}
}

func joinArgs(a [][]byte) []byte {
	var b []byte
	for i, x := range a {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, x...)
	}
	return b
}

// TestReplicaRejectsBadFrames: frames that break the protocol end the
// connection instead of reaching the Applier, and the replica reconnects.
func TestReplicaRejectsBadFrames(t *testing.T) {
	bad := [][]byte{
		[]byte("+hello\r\n"),
		appendFrame(nil, "NOPE"),
		appendFrame(nil, fRec, 1, 2),
		appendFrame(nil, fSnap, NumSlots),
		protocol.AppendArray(nil, 1<<30),
		appendFrame(nil, fPos, 1),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: ln.Addr().String(), Slots: []int{1}, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, b := range bad {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		sp := &scriptedPrimary{ln: ln, conn: c, fr: newFrameReader(c, 1<<16, 1<<10, 1<<20, 0)}
		sp.expect(t, fSync)
		sp.send(t, appendFrame(nil, "OK", 77, 0, 1, 1), b)
		if _, err := sp.fr.read(); err == nil {
			// An ACK may come first; the connection must still end.
			for err == nil {
				_, err = sp.fr.read()
			}
		}
		c.Close()
		if s := r.Stats(); s.SlotsLive != 0 {
			t.Fatalf("frame %d: slot went live", i)
		}
	}
}

// TestSnapshotWalkEndsWithoutReader: a Snapshotter that calls emit with
// its slot's lock held (as the server's store does) finishes its walk of a
// slot larger than the socket buffers while the replica reads nothing:
// the link gathers the slot (Config.SnapshotBuffer) and writes it after
// Snapshot returned, so writers of the slot wait for the walk, not for the
// replica. Before, emit wrote every 4 MiB from inside the walk, and the
// slot stayed locked until the write timed out.
func TestSnapshotWalkEndsWithoutReader(t *testing.T) {
	h := newHarness(t, Config{WriteTimeout: time.Minute})
	h.store.emitLocked = true
	const keys = 24_000
	val := strings.Repeat("v", 1000) // 24 MB in all
	for i := range keys {
		h.store.set(3, fmt.Sprint("k", i), val)
	}
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(appendCommand(nil, [][]byte{[]byte(fSync), nil, []byte("still"), []byte("3"), []byte("0"), []byte("0")})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the walk to end", func() bool {
		ls := h.p.Stats().Links
		return len(ls) == 1 && ls[0].SnapKeys == keys
	})
	done := make(chan struct{})
	go func() { h.store.set(3, "after", "1"); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a write of the slot waits while the replica reads nothing")
	}
	if held := h.p.SnapshotHeld(); held < 20<<20 {
		t.Errorf("SnapshotHeld %d while the link writes a 24 MB slot", held)
	}
	c.Close()
	waitFor(t, "the cut link to let its snapshot go", func() bool { return h.p.SnapshotHeld() == 0 })
}

// TestSnapshotHeldBounded: what the links gather together stays within
// Config.SnapshotBuffer; past it a link writes from inside the walk, as
// every link did past 4 MiB before. Two replicas that do not read ask
// for one 12 MB slot each, with a buffer of 8 MiB: the walks stop (each
// store lock held while its link waits on the network, the fallback),
// what is held stays under the buffer plus a key or two, and when the
// links end it is let go.
func TestSnapshotHeldBounded(t *testing.T) {
	const buffer = 8 << 20
	h := newHarness(t, Config{WriteTimeout: time.Minute, SnapshotBuffer: buffer})
	h.store.emitLocked = true
	const keys = 12_000
	val := strings.Repeat("v", 1000)
	for i := range keys {
		h.store.set(3, fmt.Sprint("k", i), val)
		h.store.set(4, fmt.Sprint("k", i), val)
	}
	var conns []net.Conn
	for i, id := range []string{"still-1", "still-2"} {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		if _, err := c.Write(appendCommand(nil, [][]byte{[]byte(fSync), nil, []byte(id), []byte(fmt.Sprint(3 + i)), []byte("0"), []byte("0")})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both walks to start", func() bool {
		ls := h.p.Stats().Links
		return len(ls) == 2 && ls[0].SnapKeys > 0 && ls[1].SnapKeys > 0
	})
	for range 50 {
		if held := h.p.SnapshotHeld(); held > buffer+4<<10 {
			t.Fatalf("SnapshotHeld %d, over the buffer of %d", held, buffer)
		}
		time.Sleep(2 * time.Millisecond) // samples while the walks wait
	}
	for _, l := range h.p.Stats().Links {
		if l.SnapKeys == keys {
			t.Errorf("link %s emitted the whole slot: nothing bounded it", l.ID)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "the cut links to let their snapshots go", func() bool { return h.p.SnapshotHeld() == 0 })
}

// TestSnapshotHeldReturnsToZero: snapshot bytes count in SnapshotHeld only
// until they are written, whichever write takes them: small slots' frames
// leave with the stream's records as often as on their own.
func TestSnapshotHeldReturnsToZero(t *testing.T) {
	h := newHarness(t, Config{})
	slots := []int{1, 2, 3, 4, 5}
	for _, s := range slots {
		for i := range 20 {
			h.store.set(s, fmt.Sprint("k", i), "v")
		}
	}
	ap := newFakeApplier()
	r := h.replica("r1", slots, ap, nil)
	waitFor(t, "the sync", func() bool { return caughtUp(h.store, r, slots) })
	for i := range 50 {
		h.store.set(slots[i%len(slots)], "after", fmt.Sprint(i))
	}
	waitFor(t, "the records", func() bool { return caughtUp(h.store, r, slots) })
	waitFor(t, "nothing held", func() bool { return h.p.SnapshotHeld() == 0 })
	assertSame(t, h.store, ap, slots)
}
