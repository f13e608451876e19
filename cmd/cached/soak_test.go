package main

// TestBinaryClusterSoak: cluster events (join, graceful leave, kill -9 and
// restart under the same ID, freeze) in a random order chosen by a logged
// seed, under a read/write load whose every answer is judged by what
// docs/cluster.md and docs/replication.md promise for it.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBinaryClusterSoak starts 4 cached processes (cluster-replicas 1, or
// SOAK_REPLICAS), preloads keys with WAIT 1, runs a go-redis ClusterClient
// load (every fourth request of a key a SET followed by WAIT 1 on its
// connection, the others GETs) and performs SOAK_EVENTS events (default
// 12, the first four one of each kind in a random order) chosen with
// SOAK_SEED (default: the time; the seed is logged so that a failure can
// be replayed):
//
//   - join: a new node joins (at most 5 members);
//   - leave: SIGTERM to a node, which hands its slots over and exits (at
//     least 3 members stay);
//   - crash: SIGKILL to a node, restarted after 0.2-2 s at its old address
//     with the same cluster-node-id ("Restarts under an old ID");
//   - freeze: SIGSTOP to a node for 3-5 s, then SIGCONT.
//
// After an event the test usually waits until the cluster settles (every
// member ok at one table version, nothing staged, primaries balanced, every
// slot with a live replica that is not loading) and the load answered 1000
// more reads; one time in three (by the seed) it starts the next event
// within 0.7 s instead, so that events overlap. Two
// crashes or freezes never overlap: the second one waits until the cluster
// settled after the first, because the guarantees below are for a single
// failure (with one replica, a slot whose two holders both fail loses its
// keys: docs/cluster.md "Failover plans").
//
// Every answer is judged by soakKey.judge (which guarantee each check
// stands for is written there); at the end every key is read once more
// the same way, the members' CLUSTER SLOTS must agree (no slot with two
// primaries) and every process that should be alive is. On failure the
// node logs (loglevel notice) and the event log go to /tmp/soak-fail-*.log.
func TestBinaryClusterSoak(t *testing.T) {
	// Two violations it found (2026-12-06, runs of 30 events): keys of a
	// leaver's slots, acknowledged by WAIT, lost when their new primary
	// froze right after the flip before their new replica was live (fixed:
	// a slot flips only once its target replicas hold it, docs/cluster.md
	// "Graceful leave"); and SETs sent to a node while it was frozen,
	// answered OK when it thawed and then read back older: for a moment
	// after the thaw its state still said ok and its old table gave it
	// slots the others had taken over meanwhile, so it applied them and
	// then dropped them with those slots (fixed: State reports no-quorum
	// from the moment the stall is seen, docs/cluster.md "The window and
	// what can be lost"). With SOAK_REPLICAS=2 (stop 36): values older than
	// writes WAIT had acknowledged, read as hits; they came from a copy a
	// node had adopted out of sync after a leave whose new primary froze
	// and served later by a takeover without the leaver's seal, whose
	// copies were not live (now both start empty, docs/replication.md
	// "Promotion"); why the leave flipped those slots to a member whose
	// copy was not live is not explained (docs/cluster.md "Tests and
	// numbers"). Stop 38, seed 645 with 2 replicas: misses of keys WAIT
	// had acknowledged, after one table swapped slots between two
	// primaries and one of them froze before its seal: the replica of
	// both had taken the held slots off both links, so it was promoted
	// with no copy (fixed: TestHoldsOfASwap, server/repl.go
	// resumeOrHoldLocked).
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q", v)
		}
		seed = n
	}
	events := 12
	if v := os.Getenv("SOAK_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SOAK_EVENTS=%q", v)
		}
		events = n
	}
	replicas := 1
	if v := os.Getenv("SOAK_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 2 {
			t.Fatalf("SOAK_REPLICAS=%q (1 or 2: 3 members stay at least)", v)
		}
		replicas = n
	}
	t.Logf("SOAK_SEED=%d SOAK_EVENTS=%d SOAK_REPLICAS=%d", seed, events, replicas)
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+time.Duration(events)*2*time.Minute)
	defer cancel()
	s := &soak{t: t, rng: rand.New(rand.NewPCG(seed, 0)), seed: seed, replicas: replicas, ids: map[*hoProc]string{},
		h: &hoCluster{t: t, ctx: ctx, bin: bin}}
	t.Cleanup(s.keepLogs)

	const nodes, keys, workers = 4, 3000, 4
	for range nodes {
		s.join()
	}
	s.settle()
	var addrs []string
	for _, p := range s.h.procs {
		addrs = append(addrs, p.addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 8})
	defer cc.Close()
	cc.OnNewNode(func(rdb *redis.Client) { rdb.AddHook(nodeHook{addr: rdb.Options().Addr}) }) // which node answered a bad read
	sk := &soakKeys{cc: cc, keys: make([]soakKey, keys)}
	s.keys = sk
	if err := sk.preload(ctx); err != nil {
		t.Fatalf("preload: %v", err)
	}
	load := &hoLoad{cc: cc, keys: keys, workers: workers}
	load.custom = func(ctx context.Context, gen, i int) {
		if (gen+i/workers)%4 == 0 {
			sk.write(ctx, gen, i)
		} else {
			sk.read(ctx, i)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); load.run(runCtx) }()
	defer func() { stop(); <-done }()
	s.loadRuns(1000)

	// The first four events are one of each kind (from 4 members any order
	// keeps 3 to 5), then any kind the member count allows.
	kinds := []string{"join", "leave", "crash", "freeze"}
	s.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	for e := range events {
		kind := ""
		if e < len(kinds) {
			kind = kinds[e]
		} else {
			kind = s.pick()
		}
		if (kind == "crash" || kind == "freeze") && s.failing {
			s.logf("before the %s: waiting for the cluster to settle after the last crash or freeze", kind)
			s.settle()
		}
		s.logf("event %d: %s (%d members; %s)", e+1, kind, len(s.h.procs), sk.summary())
		switch kind {
		case "join":
			s.join()
		case "leave":
			s.leave()
		case "crash":
			s.crash(ctx)
		case "freeze":
			s.freeze(ctx)
		}
		if e < events-1 && s.rng.IntN(3) == 0 {
			d := time.Duration(s.rng.IntN(700)) * time.Millisecond
			s.logf("the next event starts in %v, before the cluster settles", d)
			pause(ctx, d)
			continue
		}
		s.settle()
		s.loadRuns(1000)
	}
	s.settle()
	stop()
	<-done
	s.logf("load stopped: %s", sk.summary())

	// The final read of every key, judged as the load's reads are.
	epoch := sk.disrupt.Load()
	for i := range sk.keys {
		got, err := readBack(ctx, cc, hoKey(i))
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Errorf("final GET %s: %v", hoKey(i), err)
			continue
		}
		sk.check("final", i, got, err != nil, epoch)
	}
	s.agree()
	for _, p := range s.h.procs {
		select {
		case err := <-p.done:
			p.done <- err
			t.Errorf("%s (%s) exited: %v", p.addr, s.ids[p], err)
		default:
			if err := s.h.observer(p.addr).Ping(ctx).Err(); err != nil {
				t.Errorf("%s (%s) does not answer: %v", p.addr, s.ids[p], err)
			}
		}
	}
	bad, kinds2, first := sk.violations()
	if bad > 0 {
		t.Errorf("%d reads broke a guarantee (%v); first: %s", bad, kinds2, strings.Join(first, "; "))
	}
	t.Logf("%s; %d events, %d members at the end", sk.summary(), events, len(s.h.procs))
}

// soak is the cluster, its history and the random source of one run.
type soak struct {
	t    *testing.T
	h    *hoCluster
	rng  *rand.Rand
	seed uint64
	keys *soakKeys
	// replicas is every node's cluster-replicas (SOAK_REPLICAS).
	replicas int
	ids      map[*hoProc]string // cluster-node-id of every process started
	all      []*hoProc          // every process started, for the logs
	// leaving are the nodes sent SIGTERM whose exit was not seen yet.
	leaving []*hoProc
	// failing is set by a crash or freeze and cleared when the cluster
	// settled.
	failing bool
	mu      sync.Mutex // protects events
	events  []string
	nextID  int
}

func (s *soak) logf(format string, args ...any) {
	line := time.Now().UTC().Format("15:04:05.000 ") + fmt.Sprintf(format, args...)
	s.t.Log(line)
	s.mu.Lock()
	s.events = append(s.events, line)
	s.mu.Unlock()
}

// keepLogs writes, when the test failed, the event log and every node's
// log to /tmp/soak-fail-SEED-TIME.log.
func (s *soak) keepLogs() {
	if !s.t.Failed() {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SOAK_SEED=%d\n", s.seed)
	s.mu.Lock()
	for _, l := range s.events {
		b.WriteString(l + "\n")
	}
	s.mu.Unlock()
	for _, p := range s.all {
		fmt.Fprintf(&b, "\n==== %s id %s pid %d\n%s", p.addr, s.ids[p], p.cmd.Process.Pid, p.logs.String())
	}
	name := fmt.Sprintf("/tmp/soak-fail-%d-%d.log", s.seed, time.Now().Unix())
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		s.t.Logf("keeping the logs: %v", err)
		return
	}
	s.t.Logf("event and node logs: %s", name)
}

// pick chooses an event the member count allows.
func (s *soak) pick() string {
	kinds := []string{"crash", "freeze"}
	if len(s.h.procs) < 5 {
		kinds = append(kinds, "join")
	}
	if len(s.h.procs) > 3 {
		kinds = append(kinds, "leave")
	}
	return kinds[s.rng.IntN(len(kinds))]
}

// seeds returns the gossip addresses of the members but skip.
func (s *soak) seeds(skip *hoProc) string {
	var out []string
	for _, p := range s.h.procs {
		if p != skip {
			out = append(out, p.gossip)
		}
	}
	return strings.Join(out, ",")
}

// nodeArgs are the directives of a node with cluster-node-id id: notice
// logs (kept on failure) and a hand-over timeout long enough that a leave
// on the busy machine stays graceful (a timed-out hand-over is a crash for
// the slots it abandons: docs/cluster.md "Graceful leave").
func (s *soak) nodeArgs(id string) []string {
	return []string{"--cluster-node-id", id, "--loglevel", "notice", "--cluster-shutdown-handoff-timeout", "60000",
		"--cluster-replicas", strconv.Itoa(s.replicas)}
}

func (s *soak) join() {
	s.nextID++
	id := fmt.Sprintf("%016x%024x", s.rng.Uint64(), s.nextID)
	p := s.h.start(s.seeds(nil), s.nodeArgs(id)...)
	s.ids[p], s.all = id, append(s.all, p)
	s.logf("joined %s (%s, pid %d)", p.addr, id, p.cmd.Process.Pid)
}

func (s *soak) leave() {
	i := s.rng.IntN(len(s.h.procs))
	p := s.h.procs[i]
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	s.h.procs = slices.Delete(s.h.procs, i, i+1)
	s.leaving = append(s.leaving, p)
	s.logf("SIGTERM to %s (%s)", p.addr, s.ids[p])
}

// crash kills a node with SIGKILL and starts it again after 0.2-2 s at its
// old address with its node ID (seeds: the other members).
func (s *soak) crash(ctx context.Context) {
	i := s.rng.IntN(len(s.h.procs))
	p := s.h.procs[i]
	delay := 200*time.Millisecond + time.Duration(s.rng.IntN(1800))*time.Millisecond
	s.failing = true
	s.keys.disrupt.Add(1) // before the signal: a read or write sent from now on may meet the crash
	if err := p.cmd.Process.Kill(); err != nil {
		s.t.Fatal(err)
	}
	_ = waitExit(p, time.Minute) // "signal: killed"
	s.keys.disrupt.Add(1)        // dead: what is sent from now on never reached it
	s.logf("SIGKILL to %s (%s); restart in %v", p.addr, s.ids[p], delay)
	s.h.procs = slices.Delete(s.h.procs, i, i+1)
	pause(ctx, delay)
	_, port, _ := strings.Cut(p.addr, ":")
	_, gport, _ := strings.Cut(p.gossip, ":")
	np := s.h.startAt(port, gport, s.seeds(nil), s.nodeArgs(s.ids[p])...)
	s.ids[np], s.all = s.ids[p], append(s.all, np)
	s.logf("restarted %s (%s, pid %d)", np.addr, s.ids[np], np.cmd.Process.Pid)
}

// freeze stops a node with SIGSTOP for 3-5 s, then continues it.
func (s *soak) freeze(ctx context.Context) {
	p := s.h.procs[s.rng.IntN(len(s.h.procs))]
	d := 3*time.Second + time.Duration(s.rng.IntN(2000))*time.Millisecond
	s.failing = true
	s.keys.disrupt.Add(1) // as for a crash: sent from now on, it may meet the freeze
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
	// Stopped: what is sent from now on waits for the thaw, and a node
	// that thawed must refuse it or keep it. A write sent between the
	// two marks may have run just before the stop (a SET answered when
	// the node thawed, lost with the slots the others took over meanwhile,
	// is then what the freeze may lose; seen once in 9 runs with 2
	// replicas when one mark came before the signal only).
	waitStopped(s.t, p.cmd.Process.Pid)
	s.keys.disrupt.Add(1)
	s.logf("SIGSTOP to %s (%s) for %v", p.addr, s.ids[p], d)
	pause(ctx, d)
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatal(err)
	}
	s.logf("SIGCONT to %s", p.addr)
}

// waitStopped polls /proc until process pid is stopped (state T), at
// most 10 s.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/stat", pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		// The state follows the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not stopped 10 s after SIGSTOP: %s", pid, b)
		}
		time.Sleep(time.Millisecond)
	}
}

// loadRuns waits until the load answered n more reads (at most 30 s: a
// cluster that answers none meanwhile is logged, not failed), so that
// every event meets requests however fast the cluster settles.
func (s *soak) loadRuns(n int64) {
	from, began := s.keys.reads.Load(), time.Now()
	for s.keys.reads.Load() < from+n {
		if time.Since(began) > 30*time.Second || s.h.ctx.Err() != nil {
			s.logf("the load answered only %d reads in %v", s.keys.reads.Load()-from, time.Since(began).Round(time.Millisecond))
			return
		}
		pause(s.h.ctx, 20*time.Millisecond)
	}
}

// pause waits d (an event's own duration, not a wait for the cluster) or
// until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// settle waits, polling, until the cluster has settled (see settled); the
// test fails after 3 minutes.
func (s *soak) settle() {
	s.t.Helper()
	began := time.Now()
	deadline := began.Add(3 * time.Minute)
	for !s.settled() {
		if time.Now().After(deadline) || s.h.ctx.Err() != nil {
			s.t.Fatalf("the cluster did not settle with %d members within %v: %s", len(s.h.procs), time.Since(began).Round(time.Second), s.state())
		}
		pause(s.h.ctx, 100*time.Millisecond)
	}
	s.failing = false
	ci, _ := s.h.observer(s.h.procs[0].addr).ClusterInfo(s.h.ctx).Result()
	_, version, _ := strings.Cut(ci, "cluster_current_epoch:")
	version, _, _ = strings.Cut(version, "\r\n")
	s.logf("settled with %d members at table version %s after %v", len(s.h.procs), version, time.Since(began).Round(time.Millisecond))
	s.agree()
}

// settled reports whether every leaver exited (with status 0: a graceful
// leave that handed its slots over), every member is ok at one table
// version with all members and nothing staged (hoCluster.balanced), the
// primaries are balanced to one slot, every slot lists a replica among the
// members, and no member's replica link is down or still loading a slot.
func (s *soak) settled() bool {
	for len(s.leaving) > 0 {
		p := s.leaving[0]
		select {
		case err := <-p.done:
			p.done <- err
			if err != nil {
				s.t.Errorf("leaver %s (%s) exited: %v", p.addr, s.ids[p], err)
			}
			// A node the cluster had not planned in yet (a leave right
			// after its join or restart) has nothing to hand over.
			if logs := p.logs.String(); !strings.Contains(logs, "slots handed over") &&
				!strings.Contains(logs, "leaving before being planned in: nothing to hand over") {
				s.t.Errorf("leaver %s did not log its hand-over: %s", p.addr, handoffLines(p.logs.String()))
			}
			s.logf("%s exited after its leave: %s", p.addr, handoffLines(p.logs.String()))
			s.leaving = s.leaving[1:]
		default:
			return false
		}
	}
	n := len(s.h.procs)
	if !s.h.balanced(n) {
		return false
	}
	//lint:ignore SA1019 cluster clients still read CLUSTER SLOTS
	ranges, err := s.h.observer(s.h.procs[0].addr).ClusterSlots(s.h.ctx).Result()
	if err != nil {
		return false
	}
	member := map[string]bool{}
	for _, p := range s.h.procs {
		member[p.addr] = true
	}
	if !replicatedBy(ranges, func(addr string) bool { return member[addr] }, s.replicas) {
		return false
	}
	owned := map[string]int{}
	for _, r := range ranges {
		owned[r.Nodes[0].Addr] += r.End - r.Start + 1
	}
	for _, p := range s.h.procs {
		if c := owned[p.addr]; c < 16384/n || c > 16384/n+1 {
			return false
		}
		text, err := s.h.observer(p.addr).Info(s.h.ctx, "replication").Result()
		if err != nil || strings.Contains(text, "link=down") || !allZero(text, "slots_syncing=") {
			return false
		}
	}
	return true
}

// allZero reports whether every "field=N" in text has N 0.
func allZero(text, field string) bool {
	for rest := text; ; {
		_, after, ok := strings.Cut(rest, field)
		if !ok {
			return true
		}
		if !strings.HasPrefix(after, "0,") && !strings.HasPrefix(after, "0\r") {
			return false
		}
		rest = after
	}
}

// state describes each member for a failure message.
func (s *soak) state() string {
	var b strings.Builder
	for _, p := range append(slices.Clone(s.h.procs), s.leaving...) {
		m := s.h.info(p.addr, "migration")
		ci, err := s.h.observer(p.addr).ClusterInfo(s.h.ctx).Result()
		fmt.Fprintf(&b, "\n%s (%s): staged %s, %v %q", p.addr, s.ids[p], m["migration_table_staged_slots"], err,
			strings.ReplaceAll(ci, "\r\n", " "))
	}
	return b.String()
}

// agree checks that every member's CLUSTER SLOTS is the same: no slot has
// two primaries, as two members routing by different tables would show
// (docs/cluster.md "Agreement": every node adopts the newest table).
func (s *soak) agree() {
	s.t.Helper()
	var first []redis.ClusterSlot
	for i, p := range s.h.procs {
		//lint:ignore SA1019 cluster clients still read CLUSTER SLOTS
		ranges, err := s.h.observer(p.addr).ClusterSlots(s.h.ctx).Result()
		if err != nil {
			s.t.Errorf("CLUSTER SLOTS on %s: %v", p.addr, err)
			continue
		}
		if i == 0 {
			first = ranges
			continue
		}
		if fmt.Sprint(slotOwners(ranges)) != fmt.Sprint(slotOwners(first)) {
			s.t.Errorf("%s and %s disagree on CLUSTER SLOTS:\n%v\n%v", s.h.procs[0].addr, p.addr, first, ranges)
		}
	}
}

// slotOwners lists each range's start, end and holders' addresses, in slot
// order.
func slotOwners(ranges []redis.ClusterSlot) []string {
	var out []string
	for _, r := range ranges {
		l := fmt.Sprintf("%d-%d", r.Start, r.End)
		for _, n := range r.Nodes {
			l += " " + n.Addr
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}
