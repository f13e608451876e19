package repl

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Pacer's time: work advances it by hand, a rest by the
// time slept.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) pacer(work, rest time.Duration) *Pacer {
	p := NewPacer(work, rest)
	p.now = func() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
	p.sleep = func(d time.Duration, _, _ <-chan struct{}) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.sleeps = append(c.sleeps, d)
		c.t = c.t.Add(d)
	}
	return p
}

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestPacerRestsAfterEachWork: slots of 300 µs with work 1 ms and rest
// 1 ms rest once per four slots (1.2 ms of work), never inside a slot; the
// time between slots (the loop idle) is not work.
func TestPacerRestsAfterEachWork(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	p := c.pacer(time.Millisecond, time.Millisecond)
	for i := 1; i <= 12; i++ {
		s := p.Start()
		c.advance(300 * time.Microsecond)
		p.Done(s)
		if want := i / 4; len(c.sleeps) != want {
			t.Fatalf("after %d slots: %d rests, want %d", i, len(c.sleeps), want)
		}
		c.advance(5 * time.Millisecond) // idle: waiting for the network
	}
	for _, d := range c.sleeps {
		if d != time.Millisecond {
			t.Fatalf("rest %v, want 1ms", d)
		}
	}
	if p.worked != 12*300*time.Microsecond || p.rests != 3 {
		t.Fatalf("worked %v, %d rests", p.worked, p.rests)
	}
}

// TestPacerSharedRest: the work of two loops adds up, and a loop that
// ends a slot while the other's rest is under way rests until it ends.
func TestPacerSharedRest(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	p := c.pacer(time.Millisecond, 2*time.Millisecond)
	a, b := p.Start(), p.Start()
	c.advance(600 * time.Microsecond)
	p.Done(a) // 0.6 ms: no rest
	if len(c.sleeps) != 0 {
		t.Fatalf("rested after 0.6 ms of work")
	}
	// b worked the same 0.6 ms: 1.2 ms together, b rests 2 ms.
	p.Done(b)
	if len(c.sleeps) != 1 || c.sleeps[0] != 2*time.Millisecond {
		t.Fatalf("rests %v, want [2ms]", c.sleeps)
	}
	// A slot of a that ended 0.5 ms into a rest: it sleeps the 1.5 ms left,
	// and does not start a second rest.
	c.mu.Lock()
	c.t = c.t.Add(-1500 * time.Microsecond) // as if b's sleep had not passed yet
	c.mu.Unlock()
	s := c.t.Add(-100 * time.Microsecond)
	p.Done(s)
	if len(c.sleeps) != 2 || c.sleeps[1] != 1500*time.Microsecond || p.rests != 1 {
		t.Fatalf("rests %v (%d begun), want [2ms 1.5ms] (1)", c.sleeps, p.rests)
	}
}

// TestPacerPaysBackOversleep: a rest that slept 5 ms instead of 1 ms
// (a busy machine) is paid back: no rest begins while the time rested
// is not below the work done.
func TestPacerPaysBackOversleep(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	p := c.pacer(time.Millisecond, time.Millisecond)
	over := true
	p.sleep = func(d time.Duration, _, _ <-chan struct{}) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.sleeps = append(c.sleeps, d)
		if over {
			d, over = 5*time.Millisecond, false
		}
		c.t = c.t.Add(d)
	}
	var after []int // rests begun after each slot
	for range 12 {  // 12 ms of work in slots of 1 ms
		s := p.Start()
		c.advance(time.Millisecond)
		p.Done(s)
		after = append(after, len(c.sleeps))
	}
	// The first rest slept 5 ms: slots 2 to 5 (worked 2-5 ms, rested 5 ms)
	// rest no more; from slot 6 on, the work is ahead again and every
	// slot of 1 ms rests 1 ms.
	want := []int{1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8}
	if !slices.Equal(after, want) || p.rested != 12*time.Millisecond || p.worked != 12*time.Millisecond {
		t.Fatalf("rests after each slot %v, want %v; rested %v, worked %v", after, want, p.rested, p.worked)
	}
}

// TestPacerOff: a Pacer with no rest, and a nil one, never sleep.
func TestPacerOff(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	for _, p := range []*Pacer{c.pacer(time.Millisecond, 0), nil} {
		for range 10 {
			s := p.Start()
			c.advance(10 * time.Millisecond)
			p.Done(s)
		}
	}
	if len(c.sleeps) != 0 {
		t.Fatalf("%d rests with pacing off", len(c.sleeps))
	}
}

// TestPacedSync: a replica syncing 500 slots of 20 keys through a
// Pacer shared with its primary ends identical to it, and the Pacer
// counted the work of both ends and rested.
func TestPacedSync(t *testing.T) {
	pc := NewPacer(200*time.Microsecond, 100*time.Microsecond)
	h := newHarness(t, Config{Pacer: pc})
	slots := slotRange(0, 500)
	prefill(h.store, slots, 20)
	ap := newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: h.addr, ID: "r1", Slots: slots, AckInterval: 20 * time.Millisecond,
		Logger: testLogger(t), Pacer: pc}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "every slot live", func() bool { return r.Stats().SlotsLive == len(slots) })
	assertSame(t, h.store, ap, slots)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.rests == 0 || pc.worked == 0 {
		t.Fatalf("pacer: worked %v, %d rests", pc.worked, pc.rests)
	}
}

// TestPacerDuty: a loop that works without pause (slots of 250 µs) under
// a Pacer set to a share of the time works that share of it: the work
// over work plus rests is within a point of the share, for each share.
func TestPacerDuty(t *testing.T) {
	for _, share := range []int{10, 25, 50, 75, 90} {
		c := &fakeClock{t: time.Unix(0, 0)}
		p := c.pacer(DefaultSnapshotWork, 0)
		p.SetShare(share)
		if got := p.Share(); got != share {
			t.Errorf("share %d: Share() = %d", share, got)
		}
		begin := c.t
		for range 4000 { // 1 s of work
			s := p.Start()
			c.advance(250 * time.Microsecond)
			p.Done(s)
		}
		total := c.t.Sub(begin)
		duty := 100 * float64(p.worked) / float64(total)
		if duty < float64(share)-1 || duty > float64(share)+1 {
			t.Errorf("share %d: worked %v of %v (%.1f %%)", share, p.worked, total, duty)
		}
	}
}

// TestPacerSetShareLive: the share changes while a loop runs: off (100)
// never rests, 25 rests 3 ms after each 1 ms, and back to 100 stops at
// once; a rest under way ends as begun.
func TestPacerSetShareLive(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	p := c.pacer(time.Millisecond, 0)
	run := func(n int) {
		for range n {
			s := p.Start()
			c.advance(500 * time.Microsecond)
			p.Done(s)
		}
	}
	run(10)
	if len(c.sleeps) != 0 || p.Share() != 100 {
		t.Fatalf("off: %d rests, share %d", len(c.sleeps), p.Share())
	}
	p.SetShare(25)
	run(10) // 5 ms of work: 5 rests of 3 ms
	if len(c.sleeps) != 5 || c.sleeps[0] != 3*time.Millisecond {
		t.Fatalf("share 25: rests %v, want 5 of 3ms", c.sleeps)
	}
	p.SetShare(100)
	run(10)
	if len(c.sleeps) != 5 {
		t.Fatalf("off again: %d rests, want still 5", len(c.sleeps))
	}
}

// TestShareRest: the rest for a share, and its bounds.
func TestShareRest(t *testing.T) {
	for _, c := range []struct {
		percent int
		want    time.Duration
	}{{100, 0}, {150, 0}, {50, time.Millisecond}, {25, 3 * time.Millisecond}, {75, time.Millisecond / 3}, {1, 99 * time.Millisecond}, {0, 0}, {-5, 0}} {
		if got := ShareRest(time.Millisecond, c.percent); got != c.want {
			t.Errorf("ShareRest(1ms, %d) = %v, want %v", c.percent, got, c.want)
		}
	}
}

// TestPacerRestsOnlyWhileActive: with SetActivity, snapshot work rests
// while the client counter moves; once it has stood still for idleAfter,
// slots neither rest nor owe a rest, and the pace holds again within
// activityPoll of the next client command.
func TestPacerRestsOnlyWhileActive(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	p := c.pacer(time.Millisecond, time.Millisecond)
	var commands uint64
	p.SetActivity(func() uint64 { return commands }, 100*time.Millisecond)
	slot := func() {
		s := p.Start()
		c.advance(500 * time.Microsecond)
		p.Done(s)
	}
	for range 4 { // clients all along: a rest after every 2 slots
		commands++
		c.advance(activityPoll) // the loop waits for the network; Done polls the counter
		slot()
	}
	if p.rests != 2 {
		t.Fatalf("active: %d rests after 2 ms of work, want 2", p.rests)
	}
	c.advance(150 * time.Millisecond) // no command for longer than idleAfter
	for range 20 {
		slot()
	}
	if p.rests != 2 || p.idleWorked != 10*time.Millisecond {
		t.Fatalf("idle: %d rests (want still 2), %v worked unpaced (want 10ms)", p.rests, p.idleWorked)
	}
	commands++ // a client again: noticed at the next poll
	c.advance(activityPoll)
	for range 4 {
		slot()
	}
	// The idle slots owed nothing: exactly the 2 ms done since rest.
	if p.rests != 4 || p.idleWorked != 10*time.Millisecond {
		t.Fatalf("active again: %d rests (want 4), %v unpaced", p.rests, p.idleWorked)
	}
	if p.IdleWorked() != 10*time.Millisecond {
		t.Fatalf("IdleWorked() = %v", p.IdleWorked())
	}
}

// TestPacerPollDatesActivity: Done reads the counter only while snapshot
// work runs, so a change it first sees then counts as a command just now;
// Poll, called regularly, dates it when it happened, and a sync that
// starts after a quiet spell of idleAfter starts unpaced.
func TestPacerPollDatesActivity(t *testing.T) {
	for _, polled := range []bool{false, true} {
		c := &fakeClock{t: time.Unix(0, 0)}
		p := c.pacer(time.Millisecond, time.Millisecond)
		var commands uint64
		p.SetActivity(func() uint64 { return commands }, 100*time.Millisecond)
		commands += 1000 // a load, then quiet
		for range 15 {
			c.advance(activityPoll)
			if polled {
				p.Poll()
			}
		}
		for range 4 { // a sync of 2 ms of work
			s := p.Start()
			c.advance(500 * time.Microsecond)
			p.Done(s)
		}
		if want := map[bool]int{false: 2, true: 0}[polled]; p.rests != want {
			t.Errorf("polled %v: %d rests, want %d", polled, p.rests, want)
		}
	}
}
