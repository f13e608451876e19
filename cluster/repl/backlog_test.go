package repl

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

func setRec(slot int, seq uint64, key, val string) *Record {
	return &Record{Slot: slot, Seq: seq, Args: [][]byte{[]byte("SET"), []byte(key), []byte(val)}}
}

// TestBacklogWrapsAndCopiesWholeRecords: records written across the ring's
// end come back whole and in order, as the frames a replica parses.
func TestBacklogWrapsAndCopiesWholeRecords(t *testing.T) {
	b := newBacklog(1000)
	seq := map[int]uint64{}
	for i := range 200 {
		s := i % 3
		seq[s]++
		b.append(setRec(s, seq[s], fmt.Sprint("key", i), strings.Repeat("x", i%17)), false, int64(i))
	}
	if b.used() > 1000 {
		t.Fatalf("used %d > 1000", b.used())
	}
	out, next, ok := b.copyOut(nil, b.start, 1<<20)
	if !ok || next != b.end {
		t.Fatalf("copyOut ok=%v next=%d end=%d", ok, next, b.end)
	}
	var h hdr
	wantIdx := b.firstIndex
	for off := 0; off < len(out); {
		h.get(out[off:])
		frame := out[off+hdrSize : off+hdrSize+h.size]
		off += hdrSize + h.size
		if h.index != wantIdx {
			t.Fatalf("index %d, want %d", h.index, wantIdx)
		}
		wantIdx++
		c, _ := net.Pipe()
		fr := newFrameReader(c, 100, 1<<20, 1<<20, 0)
		fr.r = protocol.NewReader(strings.NewReader(string(frame)))
		args, err := fr.read()
		if err != nil || string(args[0]) != fRec || string(args[recFields+1]) != fmt.Sprint("key", h.index-1) {
			t.Fatalf("record %d decodes to %q, %v", h.index, args, err)
		}
	}
	if wantIdx != b.lastIndex+1 {
		t.Fatalf("copied up to %d, last is %d", wantIdx-1, b.lastIndex)
	}
	if _, _, ok := b.copyOut(nil, b.start-1, 1<<20); ok {
		t.Fatal("copyOut before the start succeeded")
	}
}

// TestBacklogCover: the resume bound of a slot rises as its records are
// evicted; other slots are unaffected; seq 0 resumes while the ring holds
// the slot's first record, or the slot has none.
func TestBacklogCover(t *testing.T) {
	b := newBacklog(2000)
	if b.canResume(1, 1) {
		t.Fatal("empty backlog resumes seq 1")
	}
	if !b.canResume(1, 0) {
		t.Fatal("a slot never written does not resume at seq 0")
	}
	b.append(setRec(1, 1, "a", "1"), false, 0)
	b.append(setRec(2, 1, "b", "1"), false, 0)
	b.append(setRec(1, 2, "a", "2"), false, 0)
	for _, c := range []struct {
		slot int
		seq  uint64
		want bool
	}{{1, 0, true}, {1, 1, true}, {1, 2, true}, {1, 3, false}, {2, 1, true}, {3, 1, false}} {
		if got := b.canResume(c.slot, c.seq); got != c.want {
			t.Errorf("canResume(%d, %d) = %v, want %v", c.slot, c.seq, got, c.want)
		}
	}
	// Flood slot 3 until slot 1's and 2's records are gone.
	for i := uint64(1); b.firstIndex <= 3; i++ {
		b.append(setRec(3, i, "c", strings.Repeat("z", 50)), false, 0)
	}
	if b.canResume(1, 0) || b.canResume(1, 1) || !b.canResume(1, 2) || !b.canResume(2, 1) {
		t.Errorf("after eviction: canResume(1,0)=%v (1,1)=%v (want false) (1,2)=%v (2,1)=%v (want true)",
			b.canResume(1, 0), b.canResume(1, 1), b.canResume(1, 2), b.canResume(2, 1))
	}
	// A record larger than the ring empties it: only the newest positions resume.
	b.append(setRec(2, 2, "huge", strings.Repeat("h", 3000)), false, 0)
	if b.used() != 0 || b.canResume(2, 1) || !b.canResume(2, 2) || b.canResume(3, 1) {
		t.Errorf("after a huge record: used %d, canResume(2,1)=%v (2,2)=%v (3,1)=%v", b.used(), b.canResume(2, 1), b.canResume(2, 2), b.canResume(3, 1))
	}
	if _, _, ok := b.copyOut(nil, 0, 100); ok {
		t.Error("copyOut of an offset the huge record skipped succeeded")
	}
}

// TestLimiterRate: the limiter's delays add up to bytes/rate.
func TestLimiterRate(t *testing.T) {
	l := newLimiter(1000)
	now := time.Unix(0, 0)
	var total time.Duration
	for range 10 {
		d := l.delay(500, now)
		total += d
		now = now.Add(d)
	}
	// 5000 bytes at 1000 B/s with a 1000-byte initial bucket: 4 s.
	if total < 3900*time.Millisecond || total > 4100*time.Millisecond {
		t.Errorf("total delay %v, want 4s", total)
	}
	if d := newLimiter(0).delay(1<<30, now); d != 0 {
		t.Errorf("unlimited delay %v", d)
	}
}

// BenchmarkAppend is the cost of one SET record in the store's write path
// (encode into the ring, evicting as it goes), no replica connected. In
// "sealed", the Primary sealed the other half of the slots first, as a
// node that gave slots away (a join, a rebalance) keeps them sealed.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{32, 256} {
		for _, sealed := range []bool{false, true} {
			name := fmt.Sprint("val", size)
			if sealed {
				name += "/sealed"
			}
			b.Run(name, func(b *testing.B) {
				p, err := NewPrimary(Config{BacklogSize: 16 << 20}, newFakeStore())
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				mask := NumSlots - 1
				if sealed {
					given := make([]int, 0, NumSlots/2)
					for s := NumSlots / 2; s < NumSlots; s++ {
						given = append(given, s)
					}
					p.Seal(given...)
					mask = NumSlots/2 - 1
				}
				unit := []Record{*setRec(0, 0, "key:000000000001", strings.Repeat("v", size))}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					unit[0].Slot = i & mask
					unit[0].Seq = uint64(i/(mask+1)) + 1
					p.Append(unit)
				}
			})
		}
	}
}

// BenchmarkAppendParallel appends from GOMAXPROCS goroutines, each its own
// slots, as shard-locked writers do.
func BenchmarkAppendParallel(b *testing.B) {
	p, err := NewPrimary(Config{BacklogSize: 16 << 20}, newFakeStore())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		slot := int(next.Add(1)) % NumSlots
		unit := []Record{*setRec(slot, 0, "key:000000000001", strings.Repeat("v", 32))}
		for pb.Next() {
			unit[0].Seq++
			p.Append(unit)
		}
	})
}

// countingApplier counts what it is given and keeps nothing.
type countingApplier struct {
	keys, bytes, loaded atomic.Int64
}

func (a *countingApplier) Apply([]Record) error { return nil }
func (a *countingApplier) FlushSlot(int) error  { return nil }
func (a *countingApplier) Restore(_, _ int, key, payload []byte, _ int64) error {
	a.keys.Add(1)
	a.bytes.Add(int64(len(key) + len(payload)))
	return nil
}
func (a *countingApplier) SnapshotLoaded(int, uint64) error { a.loaded.Add(1); return nil }

// BenchmarkSnapshot is a full sync of 64 slots × 2,000 keys (100-byte
// values) over loopback TCP into a replica that counts what it gets.
func BenchmarkSnapshot(b *testing.B) {
	const slots, perSlot = 64, 2000
	st := newFakeStore()
	p, err := NewPrimary(Config{}, st)
	if err != nil {
		b.Fatal(err)
	}
	st.hook = p.Append
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(ln)
	val := strings.Repeat("v", 100)
	for s := range slots {
		for k := range perSlot {
			st.set(s, fmt.Sprintf("key:%d:%08d", s, k), val)
		}
	}
	var keys, bytes int64
	b.ResetTimer()
	for b.Loop() {
		ap := &countingApplier{}
		r, err := NewReplica(ReplicaConfig{Addr: ln.Addr().String(), Slots: slotRange(0, slots)}, ap)
		if err != nil {
			b.Fatal(err)
		}
		for ap.loaded.Load() < slots {
			time.Sleep(100 * time.Microsecond)
		}
		r.Close()
		keys += ap.keys.Load()
		bytes += ap.bytes.Load()
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(keys)/sec, "keys/s")
	b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
}

// TestCatchUpEndsAtUnitBoundary: a catch-up pass whose last batch ends
// inside a unit sends the rest of the unit before anything else, so no
// heartbeat or snapshot frame falls inside it.
func TestCatchUpEndsAtUnitBoundary(t *testing.T) {
	p, err := NewPrimary(Config{BatchBytes: 1}, newFakeStore())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, b := net.Pipe()
	defer b.Close()
	got := make(chan [][]byte, 16)
	go func() {
		defer close(got)
		fr := newFrameReader(b, 100, 1<<10, 1<<20, 0)
		for {
			args, err := fr.read()
			if err != nil {
				return
			}
			got <- args
		}
	}()
	l := newLink(p, a)
	l.slots[1], l.slots[2] = true, true
	p.Append([]Record{*setRec(1, 1, "a", "1")})
	p.mu.Lock()
	target := p.bl.end // the pass was asked to go this far ...
	p.mu.Unlock()
	p.Append([]Record{*setRec(1, 2, "b", "2"), *setRec(2, 1, "c", "3"), *setRec(3, 1, "d", "4")}) // ... but a unit follows
	// The three records of the second unit have the same size: make a
	// batch take two records, so the first batch crosses target inside
	// the second unit.
	p.mu.Lock()
	rec := (p.bl.end - target) / 3
	p.mu.Unlock()
	p.cfg.BatchBytes = int(target + rec)
	if _, err := l.catchUpTo(target); err != nil {
		t.Fatal(err)
	}
	a.Close()
	var names []string
	for f := range got {
		if string(f[0]) == fRec {
			names = append(names, fmt.Sprintf("REC %s/%s more=%s", f[3], f[4], f[6]))
		} else {
			names = append(names, string(f[0]))
		}
	}
	want := []string{"REC 1/1 more=0", "REC 1/2 more=1", "REC 2/1 more=1", "UEND", "POS"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("frames %v, want %v (the whole second unit, closed by UEND, then the position)", names, want)
	}
}

// TestBacklogKeepsWhatAReplicaWasNotSent: past its size the backlog keeps
// the records from the lowest offset a connected replica still needs, up
// to the hard limit (then the oldest go, and a replica past them is no
// longer waited for) or over the soft limit for softMs; without a replica
// it keeps its size.
func TestBacklogKeepsWhatAReplicaWasNotSent(t *testing.T) {
	b := newBacklog(1000)
	hold := noHold
	b.hold = func(from uint64) uint64 {
		if hold >= from {
			return hold
		}
		return noHold
	}
	b.setLimits(5000, -1, 0)
	seq := uint64(0)
	add := func(ms int64) {
		seq++
		b.append(setRec(1, seq, "key", strings.Repeat("v", 60)), false, ms)
	}
	for b.used() < 900 {
		add(0)
	}
	hold = b.start // a replica that was sent nothing yet
	for b.used() < 3000 {
		add(0)
	}
	if _, _, ok := b.copyOut(nil, hold, 1<<20); !ok || b.start != hold {
		t.Fatalf("the replica's records went (start %d, hold %d) at %d bytes kept", b.start, hold, b.used())
	}
	hold = b.end // it caught up: back to the size
	add(0)
	if b.used() > 1000 {
		t.Fatalf("kept %d bytes once the replica caught up, want <= 1000", b.used())
	}
	hold = b.start
	for range 200 { // far past the hard limit
		add(0)
	}
	if _, _, ok := b.copyOut(nil, hold, 1<<20); ok || b.used() > 1000 {
		t.Fatalf("past the hard limit: replica's records kept %v, %d bytes kept; want them gone, back to <= 1000", ok, b.used())
	}

	b.setLimits(-1, 2000, 50*time.Millisecond)
	hold = b.end
	for b.used() < 2500 {
		add(10)
	}
	add(59) // over soft for 49 ms: kept
	if b.start > hold {
		t.Fatalf("over the soft limit for 49 ms of 50: the replica's records went")
	}
	add(60)
	if b.start <= hold || b.used() > 1000 {
		t.Fatalf("over the soft limit for 50 ms: start %d, hold %d, %d bytes kept; want them gone", b.start, hold, b.used())
	}

	// A record larger than the size is kept for a replica waiting for it.
	hold = b.end
	add(61)
	b.append(setRec(2, 1, "huge", strings.Repeat("h", 1500)), false, 61)
	if _, _, ok := b.copyOut(nil, hold, 1<<20); !ok || b.used() < 1500 {
		t.Fatalf("a large record a replica waits for: copyOut ok=%v, %d bytes kept", ok, b.used())
	}
}

// TestBriefStallKeepsTheLink: a replica that stops reading while far more
// than the backlog's size is written, but less than the buffer limit, is
// not cut: once it reads again it continues from the records kept for it,
// with no snapshot. Until stop 39 any replica more than BacklogSize behind
// was cut and snapshotted, and a steady write load did that over and over.
func TestBriefStallKeepsTheLink(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 64 << 10})
	slots := slotRange(0, 16)
	prefill(h.store, slots, 2)
	ap := newFakeApplier()
	d := &dialer{}
	r := h.replica("r1", slots, ap, d)
	waitFor(t, "initial sync", func() bool { return caughtUp(h.store, r, slots) })
	st0, rst0 := h.p.Stats(), r.Stats()
	d.setStall(true)
	val := strings.Repeat("v", 500)
	for i := range 40000 { // about 22 MB of records: more than the sockets' buffers hold
		h.store.set(slots[i%len(slots)], fmt.Sprintf("k%d", i%300), val)
	}
	if st := h.p.Stats(); st.BacklogUsed <= uint64(st.BacklogSize) || len(st.Links) != 1 {
		t.Fatalf("while stalled: %d bytes kept (size %d), %d links; want more than the size kept for the one link",
			st.BacklogUsed, st.BacklogSize, len(st.Links))
	}
	d.setStall(false)
	waitFor(t, "caught up", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	st, rst := h.p.Stats(), r.Stats()
	if st.BehindCuts != st0.BehindCuts || st.FullSyncs != st0.FullSyncs || rst.FullSyncs != rst0.FullSyncs {
		t.Errorf("cuts %d → %d, snapshots sent %d → %d, loaded %d → %d; want none",
			st0.BehindCuts, st.BehindCuts, st0.FullSyncs, st.FullSyncs, rst0.FullSyncs, rst.FullSyncs)
	}
	if st.BacklogUsed > uint64(st.BacklogSize) {
		t.Errorf("%d bytes kept once the link caught up, over the size %d", st.BacklogUsed, st.BacklogSize)
	}
}
