package repl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fval is a value with its expiry.
type fval struct {
	v   string
	exp int64
}

// fslot is one slot of a fake store.
type fslot struct {
	mu   sync.Mutex
	seq  uint64
	keys map[string]fval
}

// fakeStore is a primary's store over maps: every write bumps its slot's
// sequence number and calls hook with the locks held, as the real store
// does.
type fakeStore struct {
	slots []fslot
	hook  func([]Record) uint64
	// snapErr, when set, fails snapshots of the slot it returns true for.
	snapErr func(slot int) bool
	// lendOver, when positive, makes snapshots lend the bodies of values
	// longer than it (emit's release); lentOut counts those not released
	// yet and lentAll all lent.
	lendOver         int
	lentOut, lentAll atomic.Int64
	// emitLocked makes snapshots call emit with the slot's lock held, as
	// the server's store does, instead of copying the keys first.
	emitLocked bool
}

func newFakeStore() *fakeStore {
	f := &fakeStore{slots: make([]fslot, NumSlots)}
	for i := range f.slots {
		f.slots[i].keys = map[string]fval{}
	}
	return f
}

func (f *fakeStore) set(slot int, key, val string) uint64 {
	s := &f.slots[slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.keys[key] = fval{v: val}
	return f.hook([]Record{{Slot: slot, Seq: s.seq, Args: [][]byte{[]byte("SET"), []byte(key), []byte(val)}}})
}

func (f *fakeStore) del(slot int, key string) uint64 {
	s := &f.slots[slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	delete(s.keys, key)
	return f.hook([]Record{{Slot: slot, Seq: s.seq, Args: [][]byte{[]byte("DEL"), []byte(key)}}})
}

// setPair writes two keys of two slots as one unit.
func (f *fakeStore) setPair(s1, s2 int, key, val string) uint64 {
	a, b := &f.slots[min(s1, s2)], &f.slots[max(s1, s2)]
	a.mu.Lock()
	defer a.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	var unit []Record
	for _, s := range []int{s1, s2} {
		sl := &f.slots[s]
		sl.seq++
		sl.keys[key] = fval{v: val}
		unit = append(unit, Record{Slot: s, Seq: sl.seq, Args: [][]byte{[]byte("SET"), []byte(key), []byte(val)}})
	}
	return f.hook(unit)
}

// skipSeq makes slot's next record skip a sequence number (a lost effect).
func (f *fakeStore) skipSeq(slot int) {
	s := &f.slots[slot]
	s.mu.Lock()
	s.seq++
	s.mu.Unlock()
}

func (f *fakeStore) Snapshot(slot int, emit func(db int, key, head, body []byte, pexpireAt int64, release func()) error) (uint64, error) {
	if f.snapErr != nil && f.snapErr(slot) {
		return 0, errors.New("injected snapshot failure")
	}
	s := &f.slots[slot]
	s.mu.Lock()
	seq := s.seq
	keys := make([]string, 0, len(s.keys))
	vals := make(map[string]fval, len(s.keys))
	for k, v := range s.keys {
		keys = append(keys, k)
		vals[k] = v
	}
	if f.emitLocked {
		defer s.mu.Unlock()
	} else {
		s.mu.Unlock()
	}
	slices.Sort(keys)
	for _, k := range keys {
		var release func()
		if f.lendOver > 0 && len(vals[k].v) > f.lendOver {
			f.lentOut.Add(1)
			f.lentAll.Add(1)
			var once atomic.Bool
			release = func() {
				if !once.CompareAndSwap(false, true) {
					panic("repl test: a lent body released twice")
				}
				f.lentOut.Add(-1)
			}
		}
		if err := emit(0, []byte(k), nil, []byte(vals[k].v), vals[k].exp, release); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

func (f *fakeStore) seq(slot int) uint64 {
	s := &f.slots[slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

func (f *fakeStore) dump(slot int) map[string]fval {
	s := &f.slots[slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps(s.keys)
}

func maps(m map[string]fval) map[string]fval {
	out := make(map[string]fval, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fakeApplier is a replica's store over maps. It records every broken
// contract (a record out of sequence) instead of failing, so tests can
// assert there was none.
type fakeApplier struct {
	mu        sync.Mutex
	seq       []uint64
	loading   []bool
	keys      []map[string]fval
	units     [][]Record
	keepUnits bool
	bad       []string
	// failRestore, when set, fails Restore for the slot it returns true for.
	failRestore func(slot int) bool
}

func newFakeApplier() *fakeApplier {
	a := &fakeApplier{seq: make([]uint64, NumSlots), loading: make([]bool, NumSlots), keys: make([]map[string]fval, NumSlots)}
	for i := range a.keys {
		a.keys[i] = map[string]fval{}
	}
	return a
}

func (a *fakeApplier) Apply(unit []Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keepUnits { // Apply may not keep Args: a deep copy
		kept := make([]Record, len(unit))
		for i, r := range unit {
			kept[i] = r
			kept[i].Args = make([][]byte, len(r.Args))
			for j, a := range r.Args {
				kept[i].Args[j] = slices.Clone(a)
			}
		}
		a.units = append(a.units, kept)
	}
	for _, r := range unit {
		if a.loading[r.Slot] || r.Seq != a.seq[r.Slot]+1 {
			a.bad = append(a.bad, fmt.Sprintf("slot %d: record %d after %d (loading %v)", r.Slot, r.Seq, a.seq[r.Slot], a.loading[r.Slot]))
		}
		a.seq[r.Slot] = r.Seq
		switch string(r.Args[0]) {
		case "SET":
			a.keys[r.Slot][string(r.Args[1])] = fval{v: string(r.Args[2])}
		case "DEL":
			delete(a.keys[r.Slot], string(r.Args[1]))
		default:
			a.bad = append(a.bad, fmt.Sprintf("unknown command %q", r.Args[0]))
		}
	}
	return nil
}

func (a *fakeApplier) FlushSlot(slot int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[slot] = map[string]fval{}
	a.loading[slot] = true
	return nil
}

func (a *fakeApplier) Restore(slot, db int, key, payload []byte, pexpireAt int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failRestore != nil && a.failRestore(slot) {
		return errors.New("injected restore failure")
	}
	if !a.loading[slot] {
		a.bad = append(a.bad, fmt.Sprintf("slot %d: restore outside a snapshot", slot))
	}
	a.keys[slot][string(key)] = fval{v: string(payload), exp: pexpireAt}
	return nil
}

func (a *fakeApplier) SnapshotLoaded(slot int, seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loading[slot] = false
	a.seq[slot] = seq
	return nil
}

func (a *fakeApplier) state(slot int) (uint64, map[string]fval) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seq[slot], maps(a.keys[slot])
}

func (a *fakeApplier) violations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.bad)
}

// harness is a primary with a fake store serving on 127.0.0.1.
type harness struct {
	t     *testing.T
	store *fakeStore
	p     *Primary
	addr  string
	serve chan error
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, store: newFakeStore(), serve: make(chan error, 1)}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	p, err := NewPrimary(cfg, h.store)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	h.store.hook = p.Append
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go func() { h.serve <- p.Serve(ln) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-h.serve; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return h
}

// replica starts a Replica of slots into ap with a dialer d (nil: plain).
func (h *harness) replica(id string, slots []int, ap Applier, d *dialer) *Replica {
	h.t.Helper()
	cfg := ReplicaConfig{Addr: h.addr, ID: id, Slots: slots, AckInterval: 20 * time.Millisecond,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond, Logger: testLogger(h.t)}
	if d != nil {
		cfg.Dial = d.dial
	}
	r, err := NewReplica(cfg, ap)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { r.Close() })
	return r
}

// testLogger logs through t (at Info and above).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// caughtUp reports whether ap holds each slot at the store's sequence.
func caughtUp(st *fakeStore, r *Replica, slots []int) bool {
	for _, s := range slots {
		seq, live := r.Applied(s)
		if !live || seq != st.seq(s) {
			return false
		}
	}
	return true
}

// assertSame checks the replica's copy of every slot equals the primary's.
func assertSame(t *testing.T, st *fakeStore, ap *fakeApplier, slots []int) {
	t.Helper()
	for _, s := range slots {
		seq, keys := ap.state(s)
		want := st.dump(s)
		if seq != st.seq(s) {
			t.Errorf("slot %d: replica at seq %d, primary at %d", s, seq, st.seq(s))
		}
		if len(keys) != len(want) {
			t.Errorf("slot %d: replica has %d keys, primary %d", s, len(keys), len(want))
			continue
		}
		for k, v := range want {
			if keys[k] != v {
				t.Errorf("slot %d key %q: replica %+v, primary %+v", s, k, keys[k], v)
			}
		}
	}
	if bad := ap.violations(); len(bad) > 0 {
		t.Errorf("applier saw %d contract violations, first: %s", len(bad), bad[0])
	}
}

// dialer dials with injectable faults: it can refuse to connect, cut each
// connection after a byte budget read (mid-frame), stall reads, and kill
// the current connections.
type dialer struct {
	mu     sync.Mutex
	down   bool
	budget func() int64 // bytes a new connection may read before it is cut; nil: unlimited
	conns  []*faultConn
	stall  chan struct{} // non-nil: reads block until it is closed
	dials  atomic.Int64
}

// cuttingDialer returns a dialer whose connections are cut after a
// random number of bytes read, 1 to max (seeded by seed).
func cuttingDialer(seed uint64, max int64) *dialer {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var mu sync.Mutex
	return &dialer{budget: func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return 1 + rng.Int64N(max)
	}}
}

// stopCuts makes the connections dialled from now on uncut.
func (d *dialer) stopCuts() {
	d.mu.Lock()
	d.budget = nil
	d.mu.Unlock()
}

func (d *dialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	d.mu.Lock()
	down, budget := d.down, d.budget
	d.mu.Unlock()
	if down {
		return nil, errors.New("injected: network down")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	d.dials.Add(1)
	fc := &faultConn{Conn: c, d: d, left: -1, closed: make(chan struct{})}
	if budget != nil {
		fc.left = budget()
	}
	d.mu.Lock()
	d.conns = append(d.conns, fc)
	d.mu.Unlock()
	return fc, nil
}

// setDown refuses new connections and cuts the current ones.
func (d *dialer) setDown(down bool) {
	d.mu.Lock()
	d.down = down
	conns := d.conns
	if down {
		d.conns = nil
	}
	d.mu.Unlock()
	if down {
		for _, c := range conns {
			c.Close()
		}
	}
}

func (d *dialer) setStall(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if on && d.stall == nil {
		d.stall = make(chan struct{})
	}
	if !on && d.stall != nil {
		close(d.stall)
		d.stall = nil
	}
}

// faultConn is a net.Conn that closes itself after reading left bytes
// (left < 0: never) and whose reads can be stalled.
type faultConn struct {
	net.Conn
	d      *dialer
	mu     sync.Mutex
	left   int64
	once   sync.Once
	closed chan struct{}
}

func (c *faultConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *faultConn) Read(p []byte) (int, error) {
	if err := c.waitStall(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	left := c.left
	c.mu.Unlock()
	if left == 0 {
		c.Conn.Close()
		return 0, errors.New("injected: connection cut")
	}
	if left > 0 && int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	if left > 0 {
		c.mu.Lock()
		c.left -= int64(n)
		c.mu.Unlock()
	}
	// Bytes that arrive during a stall are held until it ends.
	if err := c.waitStall(); err != nil {
		return 0, err
	}
	return n, err
}

// waitStall blocks while reads are stalled.
func (c *faultConn) waitStall() error {
	c.d.mu.Lock()
	stall := c.d.stall
	c.d.mu.Unlock()
	if stall == nil {
		return nil
	}
	select {
	case <-stall:
		return nil
	case <-c.closed:
		return net.ErrClosed
	}
}
