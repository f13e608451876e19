package main

// TestBinaryClusterSoak: cluster events (join, graceful leave, kill -9 and
// restart under the same ID, freeze) in a random order chosen by a logged
// seed, under a read/write load whose every answer is judged by what
// docs/cluster.md and docs/replication.md promise for it.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
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
	// writes WAIT had acknowledged, read as hits from slots a node took
	// over out of sync after a leave whose new primary froze (fixed: such a
	// slot starts empty, docs/replication.md "Promotion"; that the writes
	// were lost at all is not explained).
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

// soakKeys is the load's key set: key i (hoKey) holds soakValue(gen, i)
// values, gen 0 from the preload, then increasing.
type soakKeys struct {
	cc *redis.ClusterClient
	// keys[i] is written by the worker that owns key i while the load runs
	// (hoLoad: i%workers), and by the test after it stopped.
	keys    []soakKey
	disrupt atomic.Int64 // marks of crash and freeze events: two each, before the signal and once it took effect

	reads, writes, acked, errs atomic.Int64
	mu                         sync.Mutex // protects bad and first
	bad                        map[string]int
	first                      []string
}

// soakKey is what the load knows of one key's writes.
type soakKey struct {
	ok      int    // gen of the last SET answered OK
	okEpoch int64  // disrupt when that SET was sent
	okBy    string // the node and time of that answer (for messages)
	floor   int    // gen of the last SET that WAIT 1 acknowledged
	later   []int  // gens sent after ok whose SET got no answer (applied or not)
	sent    []int  // every gen sent from floor on: the values the key may hold
}

func soakValue(gen, i int) string { return fmt.Sprintf("v%d-%d-%032d", gen, i, i) }

// soakGen returns the gen of a value of key i.
func soakGen(v string, i int) (int, bool) {
	g, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	n, err := strconv.Atoi(g)
	if err != nil || v != soakValue(n, i) {
		return 0, false
	}
	return n, true
}

// preload writes gen 0 of every key, in one pipeline per primary ending
// with WAIT 1: every key starts with a value WAIT acknowledged.
func (s *soakKeys) preload(ctx context.Context) error {
	byNode := map[*redis.Client][]int{}
	for i := range s.keys {
		c, err := s.cc.MasterForKey(ctx, hoKey(i))
		if err != nil {
			return err
		}
		byNode[c] = append(byNode[c], i)
	}
	for c, keys := range byNode {
		p := c.Pipeline()
		for _, i := range keys {
			p.Set(ctx, hoKey(i), soakValue(0, i), 0)
		}
		wait := p.Do(ctx, "WAIT", 1, 5000)
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
		if n, _ := wait.Int64(); n < 1 {
			return fmt.Errorf("WAIT 1 after the preload on %s answered %d", c.Options().Addr, n)
		}
	}
	for i := range s.keys {
		s.keys[i] = soakKey{sent: []int{0}}
	}
	return nil
}

// setResult is what a SET with WAIT 1 did.
type setResult int

const (
	setRefused setResult = iota // an error reply, or never sent: not applied
	setUnknown                  // no answer: applied or not
	setOK                       // applied; WAIT counted no replica
	setAcked                    // applied and WAIT 1 answered 1
)

// setWait sends SET key v and WAIT 1 1000 on one connection to the key's
// primary in the client's map; it returns that primary's address too.
func (s *soakKeys) setWait(ctx context.Context, key, v string) (setResult, string) {
	c, err := s.cc.MasterForKey(ctx, key)
	if err != nil {
		return setRefused, ""
	}
	addr := c.Options().Addr
	p := c.Pipeline()
	set := p.Set(ctx, key, v, 0)
	wait := p.Do(ctx, "WAIT", 1, 1000)
	_, _ = p.Exec(ctx)
	var reply redis.Error
	switch err := set.Err(); {
	case errors.As(err, &reply):
		return setRefused, addr
	case err != nil:
		return setUnknown, addr
	}
	if n, err := wait.Int64(); err == nil && n >= 1 {
		return setAcked, addr
	}
	return setOK, addr
}

func (s *soakKeys) write(ctx context.Context, gen, i int) {
	k := &s.keys[i]
	epoch := s.disrupt.Load()
	k.sent = append(k.sent, gen)
	r, addr := s.setWait(ctx, hoKey(i), soakValue(gen, i))
	if ctx.Err() != nil { // the end of the run cut it off
		k.later = append(k.later, gen)
		return
	}
	s.writes.Add(1)
	switch r {
	case setRefused:
		k.sent = k.sent[:len(k.sent)-1]
	case setUnknown:
		k.later = append(k.later, gen)
	case setOK:
		k.ok, k.okEpoch, k.later = gen, epoch, k.later[:0]
		k.okBy = addr + " at " + time.Now().UTC().Format("15:04:05.000")
	case setAcked:
		k.ok, k.okEpoch, k.later = gen, epoch, k.later[:0]
		k.okBy = addr + " at " + time.Now().UTC().Format("15:04:05.000") + " (acknowledged)"
		k.floor, k.sent = gen, append(k.sent[:0], gen)
		s.acked.Add(1)
	}
	if r == setRefused || r == setUnknown {
		s.errs.Add(1)
		s.cc.ReloadState(ctx)
		pause(ctx, 20*time.Millisecond)
	}
}

func (s *soakKeys) read(ctx context.Context, i int) {
	epoch := s.disrupt.Load()
	var tries tryLog
	got, err := s.cc.Get(context.WithValue(ctx, tryLogKey{}, &tries), hoKey(i)).Result()
	if ctx.Err() != nil {
		return
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		s.errs.Add(1) // CLUSTERDOWN, a timeout on a frozen node, a refused dial: no answer
		s.cc.ReloadState(ctx)
		pause(ctx, 20*time.Millisecond)
		return
	}
	s.reads.Add(1)
	s.check(fmt.Sprintf("read %v", tries), i, got, err != nil, epoch)
}

// check judges an answer for key i (miss: nil) to a GET sent when epoch
// crashes and freezes had begun, and records a violation.
func (s *soakKeys) check(what string, i int, got string, miss bool, epoch int64) {
	k := &s.keys[i]
	kind := k.judge(i, got, miss, epoch)
	if kind == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bad == nil {
		s.bad = map[string]int{}
	}
	s.bad[kind]++
	if len(s.first) < 10 {
		s.first = append(s.first, fmt.Sprintf("%s %s (slot %d) at %s: %s: got %q (miss %v); last OK gen %d (by %s, sent after disruption mark %d, now %d), WAIT-acknowledged gen %d, unanswered %v, sent %v",
			what, hoKey(i), protocol.KeySlot([]byte(hoKey(i))), time.Now().UTC().Format("15:04:05.000"), kind, got, miss, k.ok, k.okBy, k.okEpoch, epoch, k.floor, k.later, k.sent))
	}
}

// judge returns "" if got (or a miss) is an answer the docs allow for key
// i, read when epoch crashes and freezes had begun; else what is wrong.
func (k *soakKey) judge(i int, got string, miss bool, epoch int64) string {
	// Every key has a value WAIT 1 acknowledged (the preload) and nothing
	// deletes: a miss breaks both the graceful promise (docs/cluster.md
	// "Moving slots without a miss") and WAIT's (docs/replication.md
	// "WAIT": a write WAIT 1 acknowledged survives the primary's death).
	if miss {
		return "miss"
	}
	// A value of another key, or a gen never sent: no guarantee allows it.
	g, ok := soakGen(got, i)
	if !ok {
		return "never written"
	}
	if k.okEpoch == epoch {
		// No crash or freeze began since the last SET answered OK was sent:
		// joins and graceful leaves lose no acknowledged write and serve no
		// old value (docs/cluster.md "Moving slots without a miss", "The
		// flip", "Graceful leave"), and after a freeze the majority's
		// writes are kept, never a stale hit (docs/cluster.md "The window
		// and what can be lost"). So the answer is that value, or one of
		// the SETs sent after it that got no answer.
		if g == k.ok || slices.Contains(k.later, g) {
			return ""
		}
		return "not the last written value (no crash or freeze since it was written)"
	}
	// A crash or freeze began since that SET was sent: writes the dead or
	// frozen primary had not replicated may be lost (docs/cluster.md "The
	// window and what can be lost", docs/replication.md "WAIT"), but not
	// one WAIT 1 acknowledged, nor may an older value come back.
	if g < k.floor {
		return "older than the last value WAIT 1 acknowledged"
	}
	if !slices.Contains(k.sent, g) {
		return "never written"
	}
	return ""
}

// violations returns the count of bad answers, by kind, and the first ones.
func (s *soakKeys) violations() (int, map[string]int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.bad {
		n += c
	}
	return n, maps.Clone(s.bad), slices.Clone(s.first)
}

func (s *soakKeys) summary() string {
	n, _, _ := s.violations()
	return fmt.Sprintf("reads %d, writes %d (%d WAIT-acknowledged), errors %d, bad answers %d",
		s.reads.Load(), s.writes.Load(), s.acked.Load(), s.errs.Load(), n)
}

// TestSoakJudge checks the soak's verdicts on a key's answers.
func TestSoakJudge(t *testing.T) {
	v := func(gen int) string { return soakValue(gen, 7) }
	// Gen 4 acknowledged by WAIT, gen 8 answered OK (not counted by WAIT)
	// after 1 crash or freeze, gen 12 sent after it without an answer.
	k := soakKey{ok: 8, okEpoch: 1, floor: 4, later: []int{12}, sent: []int{4, 8, 12}}
	for _, c := range []struct {
		got   string
		miss  bool
		epoch int64
		want  string
	}{
		{v(8), false, 1, ""},
		{v(12), false, 1, ""},
		{v(4), false, 1, "not the last written value (no crash or freeze since it was written)"},
		{"", true, 1, "miss"},
		{v(16), false, 1, "not the last written value (no crash or freeze since it was written)"},
		{soakValue(8, 6), false, 1, "never written"},
		{"v8-7-garbage", false, 1, "never written"},
		{v(4), false, 2, ""}, // a crash since gen 8 was sent may lose it, not gen 4
		{v(8), false, 2, ""},
		{v(12), false, 2, ""},
		{v(0), false, 2, "older than the last value WAIT 1 acknowledged"},
		{v(6), false, 2, "never written"},
		{v(16), false, 2, "never written"},
		{"", true, 2, "miss"},
	} {
		if got := k.judge(7, c.got, c.miss, c.epoch); got != c.want {
			t.Errorf("judge(%q, miss %v, epoch %d) = %q, want %q", c.got, c.miss, c.epoch, got, c.want)
		}
	}
}
