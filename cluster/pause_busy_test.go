package cluster

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stampWithin bounds the wait for a state check's stamp after the test
// moved the node's clock: generous for a loaded machine, and no assertion
// depends on it (a stamp that does not come shows in the state).
const stampWithin = 3 * time.Second

// busyNode is a node of one on a clock the test moves by hand
// (Config.Clock), with a subscriber that blocks on tables of version
// blockFrom and later until released, as a slow subscriber (the server
// rebuilding routing and replication under -race) keeps the loop busy.
type busyNode struct {
	n       *Node
	now     atomic.Int64 // the node's clock
	log     *logRecorder
	from    atomic.Uint64 // blockFrom; 0: no blocking
	entered chan uint64   // a blocked subscriber call's table version
	release chan struct{} // closed to let blocked calls return
	once    sync.Once
	seen    atomic.Uint64 // version of the last table the subscriber got
}

func startBusyNode(t *testing.T, id string) *busyNode {
	t.Helper()
	b := &busyNode{log: &logRecorder{}, entered: make(chan uint64, 1), release: make(chan struct{})}
	b.n = startNode(t, Config{
		NodeID:       strings.Repeat(id, 40),
		AnnouncePort: 7100,
		NodeTimeout:  100 * time.Millisecond, // pauseAfter is minPauseAfter
		Clock:        b.now.Load,
		Logger:       slog.New(b.log),
	})
	t.Cleanup(b.unblock) // before Close (cleanups run last first): Close waits for the loop
	waitFor(t, convergeWithin, "the node turns ok", func() bool { return b.n.State() == StateOK })
	b.n.Subscribe(func(tab *Table) {
		if f := b.from.Load(); f > 0 && tab.Version() >= f {
			select {
			case b.entered <- tab.Version():
			default:
			}
			<-b.release
		}
		b.seen.Store(tab.Version())
	})
	return b
}

// unblock lets blocked subscriber calls return, and later ones not block.
func (b *busyNode) unblock() {
	b.from.Store(0)
	b.once.Do(func() { close(b.release) })
}

// deliver plans a new table (same rows, next version) and returns its
// version: the loop hands it to the subscriber.
func (b *busyNode) deliver(t *testing.T) uint64 {
	t.Helper()
	deadline := time.Now().Add(convergeWithin)
	for !b.n.plan(true) {
		if time.Now().After(deadline) {
			t.Fatalf("the node planned no new table within %v", convergeWithin)
		}
		time.Sleep(time.Millisecond)
	}
	return b.n.Table().Version()
}

// blockLoop makes the loop's next delivery block in the subscriber and
// waits until it does.
func (b *busyNode) blockLoop(t *testing.T) {
	t.Helper()
	b.from.Store(b.n.Table().Version() + 1) // the table deliver plans
	v := b.deliver(t)
	select {
	case got := <-b.entered:
		if got != v {
			t.Fatalf("the subscriber blocked on v%d, want v%d", got, v)
		}
	case <-time.After(convergeWithin):
		t.Fatalf("the subscriber did not get v%d within %v", v, convergeWithin)
	}
}

// advance moves the node's clock by d and waits (up to stampWithin) for a
// state check stamped at the new reading.
func (b *busyNode) advance(t *testing.T, d time.Duration) {
	t.Helper()
	now := b.now.Add(int64(d))
	deadline := time.Now().Add(stampWithin)
	for b.n.checked.Load() < now && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBusyLoopIsNoPause checks that a loop kept busy by a subscriber for
// longer than pauseAfter (by the node's clock) does not read as a pause:
// the node stays StateOK throughout, and when the subscriber returns it
// does not re-sync (issue #12: a slow subscriber made nodes flap).
func TestBusyLoopIsNoPause(t *testing.T) {
	b := startBusyNode(t, "4")
	n := b.n
	b.blockLoop(t)
	step := n.pauseAfter() / 4
	busy := time.Duration(0)
	for busy <= 3*n.pauseAfter()/2 {
		b.advance(t, step)
		busy += step
		if st := n.State(); st != StateOK {
			t.Fatalf("after %v (node clock) in a subscriber the node is %v, want ok: a busy loop is no pause", busy, st)
		}
	}
	b.unblock()
	// A further table shows the loop ran a whole round after the busy one,
	// its state check included.
	v := b.deliver(t)
	waitFor(t, convergeWithin, "the subscriber gets the next table", func() bool { return b.seen.Load() >= v })
	if n.resync.Load() || b.log.count("re-syncing") > 0 {
		t.Fatal("the node re-syncs after a busy loop, as after a pause")
	}
	if st := n.State(); st != StateOK {
		t.Fatalf("after the busy loop the node is %v, want ok", st)
	}
}

// TestPauseWhileLoopBusy checks that a real pause (the node's clock jumps
// past pauseAfter) still counts while the loop is busy in a subscriber:
// the node reports StateNoQuorum at once, stays so until it has noticed
// the pause and re-synced, and turns ok after that.
func TestPauseWhileLoopBusy(t *testing.T) {
	b := startBusyNode(t, "5")
	n := b.n
	b.blockLoop(t)
	b.advance(t, n.pauseAfter()/4) // busy, no pause
	if st := n.State(); st != StateOK {
		t.Fatalf("busy, before the pause, the node is %v, want ok", st)
	}
	b.now.Add(int64(n.pauseAfter() + healthEvery)) // the process was frozen
	if st := n.State(); st != StateNoQuorum {
		t.Fatalf("after a pause longer than pauseAfter the node is %v, want no-quorum", st)
	}
	b.unblock()
	waitFor(t, convergeWithin, "the node notices the pause", func() bool {
		st := n.State() // before the log: the warning precedes every way back to ok
		if b.log.count("re-syncing") > 0 {
			return true
		}
		if st != StateNoQuorum {
			t.Fatalf("after the pause, before it noticed it, the node is %v, want no-quorum", st)
		}
		return false
	})
	// Alone, the node is its own majority: the re-sync succeeds at once.
	waitFor(t, convergeWithin, "the node re-syncs and turns ok", func() bool { return n.State() == StateOK })
	if n.resync.Load() {
		t.Fatal("ok while still marked for a re-sync")
	}
}
