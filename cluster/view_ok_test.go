package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The invariant okTooEarly guards: when a node's state turns ok after
// another state, every subscriber has been given the table the node holds
// at that moment. okWatch checks each turn to ok as it happens. The loop
// stores ok in two places, and each test below makes a newer table arrive
// at the moment one of them would store ok for an older one.

// TestNoOKBeforeNewerTableDelivered covers the store after a delivery: a
// joining node (not-member) adopts the first table that lists it and
// computes ok for it; its first subscriber is held on that table while a
// newer one arrives. When the subscriber returns, the loop must not store
// ok for the table it just delivered: it comes round, delivers the newer
// table, and only then turns ok.
//
// Deterministic: the joiner is cut off from its seed until its
// subscribers are in place, the subscriber holds the loop for as long as
// the test needs, and the coordinator plans the newer table on the test's
// call; it plans nothing else (no staged moves, no member change).
func TestNoOKBeforeNewerTableDelivered(t *testing.T) {
	cn := &cutNet{}
	a := startOKNode(t, cn, "1", nil, nil)
	w := newOKWatch(true)
	c := startOKNode(t, cn, "2", a, w)

	var first *Table
	select {
	case first = <-w.entered:
	case <-time.After(convergeWithin):
		t.Fatalf("the joiner's subscriber got no table listing it within %v; views:%s", convergeWithin, views([]*Node{a, c}))
	}
	if st := c.State(); st == StateOK {
		t.Fatalf("the joiner is ok while its subscriber still holds v%d, the table that made it a member", first.Version())
	}
	// A newer table arrives while the loop is in the subscriber.
	newer := forcePlan(t, a)
	if newer <= first.Version() {
		t.Fatalf("the coordinator planned v%d after v%d", newer, first.Version())
	}
	waitFor(t, convergeWithin, "the joiner adopts the newer table", func() bool { return c.Table().Version() >= newer })
	if st := c.State(); st == StateOK {
		t.Fatalf("the joiner is ok while its subscriber still holds v%d", first.Version())
	}
	w.unblock()
	w.waitOK(t, c, newer)
	w.check(t, newer, 1)
}

// TestNoOKAfterResyncBeforeNewerTable covers the store for a table already
// delivered: a member re-syncing after a pause (no-quorum) is in its
// state check for the table it has delivered when the re-sync ends,
// bringing a newer table and clearing the mark, so the check computes ok
// for the old table. The loop must not store that ok: it comes round,
// delivers the newer table, and only then turns ok. In the product this
// is the re-sync ending between the loop's two reads (the table, then the
// re-sync mark).
//
// Deterministic: the node's clock (Config.Clock) is the test's, so the
// pause is one step of it; the node is cut off from its peer while it
// notices the pause, so its own re-sync cannot end early, and while the
// coordinator plans the newer table; and one reading of the clock, taken
// in the loop's state check (notePause, between the two reads), waits
// while the test heals the cut and lets the node re-sync. The cut lasts
// a few loop rounds, far shorter than the failure detection.
func TestNoOKAfterResyncBeforeNewerTable(t *testing.T) {
	cn := &cutNet{}
	a := startOKNode(t, cn, "1", nil, nil)
	w := newOKWatch(false)
	c := startOKNode(t, cn, "2", a, w)
	waitFor(t, convergeWithin, "the two agree", func() bool { return allOK([]*Node{a, c}) })
	before, turns := c.Table(), w.turns()

	cn.set(c.GossipAddr())
	w.clock.now.Add(int64(c.pauseAfter() + healthEvery)) // the process was frozen
	waitFor(t, convergeWithin, "the node notices the pause", func() bool {
		return c.resync.Load() && State(c.state.Load()) == StateNoQuorum
	})
	newer := forcePlan(t, a) // does not reach the node: it is cut off
	w.clock.arm()
	select {
	case <-w.clock.entered:
	case <-time.After(convergeWithin):
		t.Fatalf("the loop did not check the state within %v", convergeWithin)
	}
	if tab := c.Table(); tab != before {
		t.Fatalf("the cut-off node got v%d before its re-sync", tab.Version())
	}
	// The loop is in its check of the table it delivered; the re-sync runs.
	cn.set("")
	c.wakeJoin()
	waitFor(t, convergeWithin, "the node re-syncs", func() bool {
		return !c.resync.Load() && c.Table().Version() >= newer
	})
	if st := State(c.state.Load()); st != StateNoQuorum {
		t.Fatalf("the node's state is %v while its loop waits in a check, want no-quorum", st)
	}
	w.clock.unblock()
	w.waitOK(t, c, newer)
	w.check(t, newer, turns+1)
}

// okTiming is the failure detection of these tests' nodes: a two-member
// table needs both for the majority, and a flap a loaded -race run could
// cause would plan tables the tests do not expect.
func okTiming(cfg Config) Config {
	cfg.ProbeInterval, cfg.ProbeTimeout, cfg.NodeTimeout = time.Second, 800*time.Millisecond, 2*time.Second
	return cfg
}

// startOKNode starts node id… on cn. With seed set it joins seed, cut off
// until w's subscribers are registered, on w's clock and logger; without,
// it forms a cluster of one and waits until it is ok.
func startOKNode(t *testing.T, cn *cutNet, id string, seed *Node, w *okWatch) *Node {
	t.Helper()
	tr := newCutTransport(t, cn)
	cfg := okTiming(Config{NodeID: strings.Repeat(id, 40), AnnouncePort: 7300, Transport: tr})
	if seed == nil {
		n := startNode(t, cfg)
		waitFor(t, convergeWithin, "the first node turns ok", func() bool { return n.State() == StateOK })
		return n
	}
	cfg.AnnouncePort++
	cfg.Join = []string{seed.GossipAddr()}
	cfg.Clock, cfg.Logger = w.clock.read, slog.New(w)
	cn.set(tr.self) // the joiner reaches its seed only once its subscribers are in place
	n := startNode(t, cfg)
	t.Cleanup(w.unblock) // before Close (cleanups run last first): Close waits for the loop
	w.n.Store(n)
	n.Subscribe(func(tab *Table) {
		if w.hold && tab.IndexOf(n.ID()) >= 0 && w.held.CompareAndSwap(false, true) { // the first table listing the node
			w.entered <- tab
			<-w.release
		}
		w.got[0].Store(tab)
	})
	n.Subscribe(func(tab *Table) { w.got[1].Store(tab) })
	cn.set("")
	return n
}

// forcePlan makes n plan and adopt a new table (same rows, next version)
// and returns its version.
func forcePlan(t *testing.T, n *Node) uint64 {
	t.Helper()
	for deadline := time.Now().Add(convergeWithin); !n.plan(true); {
		if time.Now().After(deadline) {
			t.Fatalf("the node planned no new table within %v", convergeWithin)
		}
	}
	return n.Table().Version()
}

// okWatch is a node's two subscribers' record, its clock, and its log
// handler: at each "state changed" to ok it compares the node's table
// with the tables the subscribers last returned from. setState logs in
// the loop's goroutine, which also runs the subscribers, so the
// comparison sees them as of the change; only a table adopted between the
// change and the comparison could make it wrong, and the tests plan none
// then.
type okWatch struct {
	n       atomic.Pointer[Node]
	clock   *loopClock
	got     [2]atomic.Pointer[Table] // the last table each subscriber returned from
	hold    bool                     // the first subscriber holds the first table listing the node
	held    atomic.Bool              // it did
	entered chan *Table              // the table it holds
	release chan struct{}            // closed to let it return
	once    sync.Once

	mu  sync.Mutex // protects oks and bad
	oks []string   // each turn to ok: "v<held>: subscribers v<a> v<b>"
	bad []string   // the turns to ok with a subscriber behind the held table
}

func newOKWatch(hold bool) *okWatch {
	return &okWatch{clock: newLoopClock(), hold: hold, entered: make(chan *Table, 1), release: make(chan struct{})}
}

// unblock lets a held subscriber and a waiting clock reading go.
func (w *okWatch) unblock() {
	w.once.Do(func() { close(w.release) })
	w.clock.unblock()
}

// turns returns how many turns to ok the node made so far.
func (w *okWatch) turns() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.oks)
}

// waitOK waits until n is ok and its last subscriber has version v.
func (w *okWatch) waitOK(t *testing.T, n *Node, v uint64) {
	t.Helper()
	waitFor(t, convergeWithin, "the node turns ok", func() bool {
		g := w.got[1].Load()
		return n.State() == StateOK && g != nil && g.Version() >= v
	})
}

// check fails t if a turn to ok found a subscriber behind the node's
// table, or if the k-th turn to ok is not the one with version v
// delivered: the check must have run where it matters.
func (w *okWatch) check(t *testing.T, v uint64, k int) {
	t.Helper()
	w.mu.Lock()
	oks, bad := append([]string(nil), w.oks...), append([]string(nil), w.bad...)
	w.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("the state turned ok before every subscriber had the node's table:\n  %s\n(turns to ok: %q)",
			strings.Join(bad, "\n  "), oks)
	}
	if want := fmt.Sprintf("v%d: subscribers v%d v%d", v, v, v); len(oks) < k || oks[k-1] != want {
		t.Fatalf("turns to ok: %q; want turn %d to be %q", oks, k, want)
	}
}

func (w *okWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *okWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *okWatch) WithGroup(string) slog.Handler            { return w }

// Handle implements slog.Handler.
func (w *okWatch) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "cluster: state changed" {
		return nil
	}
	to := ""
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "to" {
			to = a.Value.String()
		}
		return true
	})
	if to != StateOK.String() {
		return nil
	}
	line, behind := "no node yet", true
	if n := w.n.Load(); n != nil {
		held := n.Table()
		line, behind = fmt.Sprintf("v%d: subscribers", held.Version()), false
		for i := range w.got {
			g := w.got[i].Load()
			if g == nil {
				line += " none"
				behind = true
				continue
			}
			line += fmt.Sprintf(" v%d", g.Version())
			behind = behind || g != held
		}
	}
	w.mu.Lock()
	w.oks = append(w.oks, line)
	if behind {
		w.bad = append(w.bad, line)
	}
	w.mu.Unlock()
	return nil
}

// loopClock is a node clock (Config.Clock) the test moves by hand. Armed,
// its next reading taken in the loop's state check (checkHealth, which
// has read the table it checks and not yet the re-sync mark) waits until
// unblock: the loop stalls there, as a descheduled goroutine would.
type loopClock struct {
	now     atomic.Int64
	armed   atomic.Bool
	entered chan struct{} // a reading waits
	release chan struct{} // closed by unblock
	once    sync.Once
}

func newLoopClock() *loopClock {
	return &loopClock{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (c *loopClock) arm()     { c.armed.Store(true) }
func (c *loopClock) unblock() { c.once.Do(func() { close(c.release) }) }

func (c *loopClock) read() int64 {
	if c.armed.Load() && inStateCheck() && c.armed.CompareAndSwap(true, false) {
		c.entered <- struct{}{}
		<-c.release
	}
	return c.now.Load()
}

// inStateCheck reports whether the caller runs in Node.checkHealth (its
// goroutine's stack says so; the loop's other clock reading, before it
// plans, and State's are not).
func inStateCheck() bool {
	buf := make([]byte, 16<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), ".(*Node).checkHealth(")
}
