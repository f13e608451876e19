package repl

import (
	"sync"
	"sync/atomic"
	"time"
)

// Pacing of snapshot work (docs/performance.md "Client p99 while slots
// move"). A link sending snapshots and a replica loading them never block
// while the data lasts: each keeps a CPU busy for the whole sync, and a
// node that joins loads from every primary at once. When all of a
// process's Ps run such loops, a client's request waits until the runtime
// notices its socket (sysmon polls the network every 10 ms when no P is
// idle) and a P is free; when all of the machine's cores do, every
// process's requests wait for a core. Execution traces of a join (3 -> 4
// nodes, 300,000 keys) showed both: the new node's two Ps were held by
// snapshot loading for 0.4 s of the 1.2 s move, and the running time of
// the senders and loaders summed to about 4 CPUs on a 2-core machine,
// while requests spent no longer inside the server than before.
const (
	// DefaultSnapshotWork is how much snapshot work a Pacer lets through
	// before a rest.
	DefaultSnapshotWork = time.Millisecond
	// DefaultSnapshotRest is the rest after each DefaultSnapshotWork that
	// gives snapshot work half of the time (share 50, directive
	// "repl-snapshot-pace yes"): the snapshot work of a process then takes
	// at most about half of the time, and a P is free at least every
	// millisecond or so.
	DefaultSnapshotRest = time.Millisecond
)

// ShareRest returns the rest after each work that leaves snapshot work
// percent % of the time: work*(100-percent)/percent; 0 (never rest) for
// 100 or more, and for 0 or less (unset).
func ShareRest(work time.Duration, percent int) time.Duration {
	if percent >= 100 || percent <= 0 {
		return 0
	}
	return work * time.Duration(100-percent) / time.Duration(percent)
}

// A Pacer spreads the snapshot work of a process (the server gives one
// with the share of repl-snapshot-pace, 25 by default; docs/cluster.md
// "Pace and visibility"): each loop (a link
// sending slots, a replica loading them) reports the time each slot took
// (Start, Done), and once the loops together have worked the Pacer's work
// since the last rest, every loop rests until the Pacer's rest has passed,
// at its next slot boundary. Rests as slept are paid back: while the time
// rested exceeds the rest owed for the work done (work done times rest
// over work), no rest begins, so a busy machine that oversleeps slows a
// sync no more than the pace asks. A nil Pacer, or one whose rest is not
// positive, never rests; nor does one while the process serves no client
// (SetActivity). The rest can change while the Pacer is in use
// (SetRest, SetShare: CONFIG SET repl-snapshot-pace). Safe for concurrent
// use; share one between all the Primary's links and Replicas of a
// process (Config.Pacer, ReplicaConfig.Pacer).
type Pacer struct {
	work  time.Duration
	rest  atomic.Int64 // time.Duration; read without mu by Start and Done when off
	now   func() time.Time
	sleep func(d time.Duration, cut, stop <-chan struct{}) // returns early when cut receives or stop closes

	mu        sync.Mutex // protects the fields below
	busy      time.Duration
	restUntil time.Time
	worked    time.Duration // in all
	owed      time.Duration // in all: each slot's work times rest/work at the time
	rested    time.Duration // in all, as slept by the loops that began the rests
	rests     int           // rests begun (tests)

	// Activity (SetActivity): while the counter has not moved for
	// idleAfter, the process serves no client and snapshot work runs
	// unpaced.
	count      func() uint64
	idleAfter  time.Duration
	polled     time.Time // when count was last read
	lastCount  uint64
	lastActive time.Time     // when count was last seen to move
	idleWorked time.Duration // in all, done unpaced while idle
}

// activityPoll is how often Done (and Poll) read the activity counter at
// most: a client that starts sending while a sync runs unpaced meets
// unpaced work for about this long.
const activityPoll = 10 * time.Millisecond

// SetActivity makes the Pacer rest only while the process serves clients:
// count returns a number that changes with every client command (the
// server's: the data commands it ran or forwarded, Server.dataActivity),
// and once it has not changed for
// idleAfter, snapshot work neither rests nor owes a rest for what it does
// until it changes again; then the pace holds from the next slot. Pacing
// exists for the clients' latency; with none to serve, a move runs at full
// speed (docs/cluster.md "Pace and visibility"). Call it before the
// Pacer is used; a nil count paces always.
func (p *Pacer) SetActivity(count func() uint64, idleAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count, p.idleAfter = count, idleAfter
	if count != nil {
		// Idle until the counter moves: a node that starts (or joins) has
		// no clients yet.
		p.lastCount, p.lastActive, p.polled = count(), time.Time{}, p.now()
	}
}

// Poll reads the activity counter (SetActivity) if it was not read within
// activityPoll. Done reads it only while snapshot work runs; a caller that
// polls regularly (the server's cron) dates a client's last command to
// within its period, so that a move starting after a quiet spell starts
// unpaced. A nil Pacer does nothing.
func (p *Pacer) Poll() { p.Idle() }

// Idle reports whether the Pacer's snapshot work runs unpaced now because
// the process served no client command for idleAfter (SetActivity); false
// without SetActivity, and for a nil Pacer.
func (p *Pacer) Idle() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idleLocked(p.now())
}

// idleLocked reports whether the process has served no client command
// for idleAfter at now (never without SetActivity). p.mu must be held.
func (p *Pacer) idleLocked(now time.Time) bool {
	if p.count == nil {
		return false
	}
	if now.Sub(p.polled) >= activityPoll {
		p.polled = now
		if c := p.count(); c != p.lastCount {
			p.lastCount, p.lastActive = c, now
		}
	}
	return now.Sub(p.lastActive) >= p.idleAfter
}

// IdleWorked returns how much snapshot work ran unpaced because the
// process served no client (SetActivity), in all.
func (p *Pacer) IdleWorked() time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idleWorked
}

// NewPacer returns a Pacer that rests rest after each work of snapshot
// work, summed over its loops.
func NewPacer(work, rest time.Duration) *Pacer {
	p := &Pacer{work: work, now: time.Now, sleep: sleepCut}
	p.rest.Store(int64(rest))
	return p
}

// SetRest changes the rest after each work (0: never rest); loops
// resting already finish their rest.
func (p *Pacer) SetRest(rest time.Duration) { p.rest.Store(int64(rest)) }

// SetShare sets the rest so that snapshot work takes percent % of the
// time (ShareRest); 100 turns pacing off.
func (p *Pacer) SetShare(percent int) { p.SetRest(ShareRest(p.work, percent)) }

// Share returns the percentage of the time the Pacer leaves snapshot
// work: 100 when it never rests; nil Pacer: 100.
func (p *Pacer) Share() int {
	if p == nil {
		return 100
	}
	rest := time.Duration(p.rest.Load())
	if rest <= 0 || p.work <= 0 {
		return 100
	}
	return int((100*p.work + (p.work+rest)/2) / (p.work + rest))
}

// Start returns the start of a slot's work, for Done.
func (p *Pacer) Start() time.Time {
	if p == nil || p.rest.Load() <= 0 {
		return time.Time{}
	}
	return p.now()
}

// sleepCut sleeps for d, or until cut receives or stop closes.
func sleepCut(d time.Duration, cut, stop <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-cut:
	case <-stop:
	}
}

// Done counts the slot's work begun at t and, if a rest is due or under
// way, sleeps until it ends. Call it where the loop holds no lock and
// owes no one a reply.
func (p *Pacer) Done(t time.Time) { p.DoneOr(t, nil, nil) }

// DoneOr is Done whose rest ends early when cut receives (a loop that
// something waits on stops resting for it: a seal queued behind a link's
// rest) or stop closes (the loop is closing). The rest is counted as
// slept only for as long as it lasted, so the work still owes the rest it
// skipped.
func (p *Pacer) DoneOr(t time.Time, cut, stop <-chan struct{}) {
	if p == nil || t.IsZero() {
		return
	}
	rest := time.Duration(p.rest.Load())
	if rest <= 0 {
		return
	}
	now := p.now()
	p.mu.Lock()
	d := now.Sub(t)
	p.worked += d
	if p.idleLocked(now) {
		// No client to keep fast: no rest now, none owed for this work,
		// and a rest under way ends for this loop.
		p.idleWorked += d
		p.mu.Unlock()
		return
	}
	p.busy += d
	if p.work > 0 {
		p.owed += time.Duration(float64(d) * float64(rest) / float64(p.work))
	}
	began := false
	if p.busy >= p.work && !now.Before(p.restUntil) {
		p.busy = 0
		if p.rested < p.owed { // else an oversleep is still being paid back
			p.restUntil = now.Add(rest)
			p.rests++
			began = true
		}
	}
	until := p.restUntil
	p.mu.Unlock()
	w := until.Sub(now)
	if w <= 0 {
		return
	}
	p.sleep(w, cut, stop)
	if began {
		slept := p.now().Sub(now)
		p.mu.Lock()
		p.rested += slept
		p.mu.Unlock()
	}
}
