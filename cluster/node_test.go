package cluster

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// Deadlines for gossip to reach a state; generous for -race on busy cores.
const (
	convergeWithin = 15 * time.Second
	detectWithin   = 25 * time.Second
)

func TestNewSingleNode(t *testing.T) {
	n := startNode(t, Config{AnnouncePort: 6380})
	tab := n.Table()
	if tab.Len() != 1 || tab.Version() != 1 {
		t.Fatalf("start table: %d members, version %d; want 1, 1", tab.Len(), tab.Version())
	}
	self := n.Self()
	if !ValidID(n.ID()) || self.ID != n.ID() || !self.Self || self.Addr() != "127.0.0.1:6380" {
		t.Fatalf("self = %+v", self)
	}
	if _, port, err := net.SplitHostPort(n.GossipAddr()); err != nil || port == "0" {
		t.Fatalf("gossip addr %q not resolved", n.GossipAddr())
	}
	if tab.Owner(0) != self || len(tab.Ranges(n.ID())) != 1 || n.KnownPeers() != 1 {
		t.Fatalf("single node should own every slot")
	}
	if ms := n.Members(); len(ms) != 1 || ms[0] != self {
		t.Fatalf("Members() = %+v", ms)
	}
}

func TestNewInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"short id", Config{NodeID: "abc"}},
		{"upper-case id", Config{NodeID: strings.Repeat("A", 40)}},
		{"secret size", Config{Secret: []byte("short")}},
		{"negative replicas", Config{Replicas: -1}},
		{"port", Config{BindPort: 70000}},
		{"announce port", Config{AnnouncePort: -1}},
		{"timing", Config{ProbeTimeout: -time.Second}},
		{"long host", Config{AnnounceHost: strings.Repeat("h", 300)}},
	} {
		if _, err := New(tc.cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New error %v, want ErrInvalidConfig", tc.name, err)
		}
	}
}

func TestMeta(t *testing.T) {
	id := RandomID()
	longest := encodeMeta(meta{ID: id, Host: strings.Repeat("h", 255), Port: 65535})
	if len(longest) > memberlist.MetaMaxSize {
		t.Fatalf("largest valid meta is %d bytes, over the %d limit", len(longest), memberlist.MetaMaxSize)
	}
	addr := net.ParseIP("10.1.2.3")
	for _, tc := range []struct {
		name   string
		node   memberlist.Node
		ok     bool
		wantAt string
	}{
		{"announced", memberlist.Node{Name: id, Addr: addr, Port: 7946, Meta: encodeMeta(meta{ID: id, Host: "h.example", Port: 6379})}, true, "h.example:6379"},
		{"host from gossip addr", memberlist.Node{Name: id, Addr: addr, Port: 7946, Meta: encodeMeta(meta{ID: id, Port: 6379})}, true, "10.1.2.3:6379"},
		{"name mismatch", memberlist.Node{Name: RandomID(), Addr: addr, Meta: encodeMeta(meta{ID: id})}, false, ""},
		{"bad id", memberlist.Node{Name: "x", Addr: addr, Meta: encodeMeta(meta{ID: "x"})}, false, ""},
		{"bad port", memberlist.Node{Name: id, Addr: addr, Meta: encodeMeta(meta{ID: id, Port: 70000})}, false, ""},
		{"not json", memberlist.Node{Name: id, Addr: addr, Meta: []byte("\x00\x01")}, false, ""},
		{"no meta", memberlist.Node{Name: id, Addr: addr}, false, ""},
	} {
		m, ok := memberOf(&tc.node)
		if ok != tc.ok || (ok && (m.Addr() != tc.wantAt || m.GossipAddr != "10.1.2.3:7946" || m.ID != id)) {
			t.Errorf("%s: memberOf = %+v, %v", tc.name, m, ok)
		}
	}
}

func TestLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := memberlistLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf("[WARN] memberlist: something odd")
	l.Printf("[DEBUG] memberlist: chatter")
	l.Printf("no prefix")
	out := buf.String()
	for _, want := range []string{"level=WARN msg=\"memberlist: something odd\"", "level=DEBUG msg=\"memberlist: chatter\"", "level=INFO msg=\"no prefix\""} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	if memberlistLogger(nil) != nil {
		t.Errorf("nil slog logger should give nil")
	}
}

func TestClusterConverges(t *testing.T) {
	for _, k := range []int{3, 5} {
		t.Run(strconv.Itoa(k), func(t *testing.T) {
			nodes := startCluster(t, k, Config{})
			waitConverged(t, nodes, "convergence")
			// Tables also travel by direct push (stage.go), so the table
			// can be ahead of memberlist's view: poll for the peers.
			waitFor(t, detectWithin, "every node knows every peer", func() bool {
				for _, n := range nodes {
					if n.KnownPeers() != k {
						return false
					}
				}
				return true
			})
			for _, n := range nodes {
				for _, m := range n.Table().Members() {
					if m.Self != (m.ID == n.ID()) {
						t.Errorf("%s: member %s has Self=%v", n.ID(), m.ID, m.Self)
					}
				}
			}
			// Every announced RESP address made it through the meta.
			for _, m := range nodes[0].Table().Members() {
				if m.Host != "127.0.0.1" || m.Port < 6000 {
					t.Errorf("member %s announced %s", m.ID, m.Addr())
				}
			}
		})
	}
}

func TestJoinAppearsEverywhere(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	waitConverged(t, nodes, "3-node convergence")
	before := nodes[1].Table().Version()
	late := startNode(t, Config{AnnouncePort: 7100})
	if c, err := late.Join([]string{nodes[2].GossipAddr()}); err != nil || c != 1 {
		t.Fatalf("Join = %d, %v", c, err)
	}
	nodes = append(nodes, late)
	waitConverged(t, nodes, "4-node convergence")
	if v := nodes[1].Table().Version(); v <= before {
		t.Errorf("version %d after a join, was %d", v, before)
	}
}

func TestJoinLoopRetriesUntilSeedIsUp(t *testing.T) {
	// Reserve a port for the seed, start the joiner first, the seed later.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logs := &logRecorder{}
	joiner := startNode(t, Config{Join: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(seedPort))}, Logger: slog.New(logs)})
	waitFor(t, convergeWithin, "two failed join attempts", func() bool { return logs.count("join failed") >= 2 })
	seed := startNode(t, Config{BindPort: seedPort})
	nodes := []*Node{seed, joiner}
	waitConverged(t, nodes, "convergence after retries")
	waitFor(t, convergeWithin, "join loop success logged", func() bool { return logs.count("cluster: joined") == 1 })
}

func TestCrashedNodeDisappears(t *testing.T) {
	nodes := startCluster(t, 4, Config{})
	waitConverged(t, nodes, "convergence")
	if err := nodes[3].crash(); err != nil {
		t.Fatal(err)
	}
	survivors := nodes[:3]
	waitFor(t, detectWithin, "crash detected by every survivor", func() bool { return converged(survivors) })
}

func TestRestartWithSameIDRejoins(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	waitConverged(t, nodes, "convergence")
	id := nodes[2].ID()
	if err := nodes[2].crash(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, detectWithin, "crash detected", func() bool { return converged(nodes[:2]) })
	again := startNode(t, Config{NodeID: id, AnnouncePort: 7200, Join: []string{nodes[0].GossipAddr()}})
	nodes = append(nodes[:2], again)
	waitConverged(t, nodes, "restarted node back everywhere")
	for _, n := range nodes {
		if m := n.Table().Member(n.Table().IndexOf(id)); m.Port != 7200 || m.GossipAddr != again.GossipAddr() {
			t.Errorf("%s sees the restarted node as %+v", n.ID(), m)
		}
	}
}

func TestGracefulLeaveDisappears(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	waitConverged(t, nodes, "convergence")
	if err := nodes[2].Leave(time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waitFor(t, convergeWithin, "leave seen by every survivor", func() bool { return converged(nodes[:2]) })
	if err := nodes[2].Close(); err != nil {
		t.Fatalf("Close after Leave: %v", err)
	}
	if err := nodes[2].Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("Leave after Close: %v, want ErrClosed", err)
	}
	if _, err := nodes[2].Join([]string{nodes[0].GossipAddr()}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Join after Close: %v, want ErrClosed", err)
	}
}

func TestEncryptedCluster(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	nodes := startCluster(t, 3, Config{Secret: secret})
	waitConverged(t, nodes, "encrypted convergence")
	for _, tc := range []struct {
		name   string
		secret []byte
	}{
		{"wrong secret", []byte("fedcba9876543210")},
		{"no secret", nil},
	} {
		intruder := startNode(t, Config{Secret: tc.secret})
		if _, err := intruder.Join([]string{nodes[0].GossipAddr()}); err == nil {
			t.Errorf("%s: Join succeeded", tc.name)
		}
		if intruder.Table().Len() != 1 || intruder.KnownPeers() != 1 {
			t.Errorf("%s: intruder sees %d members", tc.name, intruder.Table().Len())
		}
		if !converged(nodes) {
			t.Errorf("%s: cluster changed after a rejected join", tc.name)
		}
	}
}

func TestSubscribeSerialAndOrdered(t *testing.T) {
	a := startNode(t, Config{})
	var running, overlap, calls atomic.Int32
	var last atomic.Uint64
	var decreasing atomic.Bool
	var members atomic.Int32
	a.Subscribe(func(tab *Table) {
		if running.Add(1) > 1 {
			overlap.Store(1)
		}
		// Equal versions may follow each other: two coordinators can plan
		// the same version, and the higher term, then the lower planner
		// ID wins (newer, wire.go).
		if tab.Version() < last.Load() {
			decreasing.Store(true)
		}
		last.Store(tab.Version())
		members.Store(int32(tab.Len()))
		calls.Add(1)
		running.Add(-1)
	})
	a.Subscribe(func(*Table) { calls.Add(1) })
	b := startNode(t, Config{Join: []string{a.GossipAddr()}})
	c := startNode(t, Config{Join: []string{a.GossipAddr()}})
	waitFor(t, convergeWithin, "subscriber sees 3 members", func() bool { return members.Load() == 3 })
	_ = b.Close()
	waitFor(t, convergeWithin, "subscriber sees the leave", func() bool { return members.Load() == 2 })
	_ = c
	if overlap.Load() != 0 || decreasing.Load() {
		t.Fatalf("subscriber calls overlapped (%d) or versions went down (%v)", overlap.Load(), decreasing.Load())
	}
	if calls.Load() < 4 {
		t.Fatalf("only %d subscriber calls for two subscribers and several changes", calls.Load())
	}
}

func TestForget(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	waitConverged(t, nodes, "convergence")
	a, b, gone := nodes[0], nodes[1], nodes[2].ID()
	for _, tc := range []struct {
		id   string
		want error
	}{{a.ID(), ErrForgetSelf}, {RandomID(), ErrUnknownNode}} {
		if err := a.Forget(tc.id); !errors.Is(err, tc.want) {
			t.Fatalf("Forget(%s) = %v, want %v", tc.id, err, tc.want)
		}
	}
	a.setBan(time.Hour)
	b.setBan(time.Hour)
	v := a.Table().Version()
	if err := a.Forget(gone); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	// The forgetting node plans a table without the member at once.
	if tab := a.Table(); tab.IndexOf(gone) >= 0 || tab.Version() <= v || tab.Planner() != a.ID() {
		t.Fatalf("after Forget: %d members, version %d (was %d), planner %s", tab.Len(), tab.Version(), v, tab.Planner())
	}
	if err := b.Forget(gone); err != nil && !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("Forget on b: %v", err)
	}
	// Forgotten by every other node, it stays out of their agreed table
	// although it is alive and keeps gossiping (its own tables are ignored).
	survivors := nodes[:2]
	waitConverged(t, survivors, "survivors agree without the forgotten node")
	if err := a.Forget(gone); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("second Forget = %v, want ErrUnknownNode", err)
	}
	// Gossip about the forgotten node (a join or an update with new meta)
	// must not bring it back during the ban.
	host, port, _ := net.SplitHostPort(nodes[2].GossipAddr())
	p, _ := strconv.Atoi(port)
	a.memberUp(&memberlist.Node{Name: gone, Addr: net.ParseIP(host), Port: uint16(p), Meta: encodeMeta(meta{ID: gone, Port: 9999})})
	// A table planned by the forgotten node (it still sees everyone and may
	// be its own coordinator) is ignored, however new.
	before := a.Table().Version()
	theirs := Plan(a.Table(), []Member{a.Self(), b.Self(), nodes[2].Self()}, 0, before+100)
	theirs.planner = gone
	a.receive(encodeTable(theirs))
	if a.Table().Version() != before || a.Table().IndexOf(gone) >= 0 || a.KnownPeers() != 3 {
		t.Fatalf("forgotten node back during its ban:%s", views(nodes))
	}
	// Bans that end let the still-alive node back in.
	for _, n := range survivors {
		n.setBan(200 * time.Millisecond)
		n.mu.Lock()
		n.banned[gone] = time.Now().Add(200 * time.Millisecond)
		n.mu.Unlock()
		n.wake()
	}
	waitConverged(t, nodes, "forgotten node back after its ban")
}

// settledGoroutines waits until the goroutine count has not changed for
// 200 ms (goroutines of earlier tests winding down) and returns it.
func settledGoroutines(t *testing.T) int {
	t.Helper()
	last, since := runtime.NumGoroutine(), time.Now()
	waitFor(t, 10*time.Second, "goroutine count settles", func() bool {
		if n := runtime.NumGoroutine(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= 200*time.Millisecond
	})
	return last
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	base := settledGoroutines(t)
	var nodes []*Node
	for i := range 3 {
		cfg := Config{BindAddr: "127.0.0.1"}
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.Subscribe(func(*Table) {})
		n.setBan(time.Hour)
		nodes = append(nodes, n)
	}
	waitConverged(t, nodes, "convergence")
	_ = nodes[0].Forget(nodes[1].ID()) // a running ban timer too
	// A node whose join loop never succeeds.
	dead, err := New(Config{BindAddr: "127.0.0.1", Join: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	nodes = append(nodes, dead)
	for _, n := range nodes {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	waitFor(t, 10*time.Second, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= base })
}

// TestPeersReported: a node counts the table as applied everywhere only
// once every other member has reported holding for its version (or later).
func TestPeersReported(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	waitConverged(t, nodes, "convergence")
	v := nodes[0].Table().Version()
	if nodes[0].PeersReported() {
		t.Fatal("peers reported before any of them called ReportHeld")
	}
	nodes[1].ReportHeld(v-1, nil, nil)
	nodes[2].ReportHeld(v, nil, nil)
	waitFor(t, convergeWithin, "node 2's report seen by node 0", func() bool {
		nodes[0].mu.Lock()
		defer nodes[0].mu.Unlock()
		return nodes[0].reports[nodes[2].ID()].version == v && nodes[0].reports[nodes[1].ID()].version == v-1
	})
	if nodes[0].PeersReported() {
		t.Fatalf("peers reported with node 1 on version %d of %d", v-1, v)
	}
	nodes[1].ReportHeld(v+1, nil, nil) // a later table counts too
	waitFor(t, convergeWithin, "every peer's report seen by node 0", nodes[0].PeersReported)
	if nodes[1].PeersReported() { // its own report does not count for it
		t.Fatal("node 1: peers reported before node 0 called ReportHeld")
	}
	nodes[0].ReportHeld(v, nil, nil)
	waitFor(t, convergeWithin, "node 0's report seen by node 1", nodes[1].PeersReported)
}

// TestReportFlushed: a holding report's flushed slots (copies dropped for
// a snapshot still loading) reach the other nodes through the gossip
// meta; a report too long for the meta sends the flushed ranges that fit
// in a third of it and the not-live ranges shortened to say more, the
// meta staying within memberlist's limit.
func TestReportFlushed(t *testing.T) {
	nodes := startCluster(t, 2, Config{})
	waitConverged(t, nodes, "convergence")
	v := nodes[0].Table().Version()
	notLive, flushed := []SlotRange{{100, 199}}, []SlotRange{{150, 160}, {170, 170}}
	nodes[1].ReportHeld(v, notLive, flushed)
	id := nodes[1].ID()
	waitFor(t, convergeWithin, "node 1's flushed slots seen by node 0", func() bool {
		nodes[0].mu.Lock()
		defer nodes[0].mu.Unlock()
		h := nodes[0].reports[id]
		return h.version == v && slices.Equal(h.notLive, notLive) && slices.Equal(h.flushed, flushed)
	})
	var many, manyFlushed []SlotRange
	for s := 0; s < NumSlots; s += 4 {
		many = append(many, SlotRange{s, s + 1})
		manyFlushed = append(manyFlushed, SlotRange{s, s})
	}
	nodes[1].ReportHeld(v, many, manyFlushed)
	nodes[1].mu.Lock()
	m, h := nodes[1].meta, nodes[1].reports[id]
	nodes[1].mu.Unlock()
	if n := len(encodeMeta(m)); n > memberlist.MetaMaxSize {
		t.Fatalf("meta of %d bytes, over memberlist's %d", n, memberlist.MetaMaxSize)
	}
	if len(h.flushed) == 0 || len(h.flushed) >= len(manyFlushed) || !slices.Equal(h.flushed, manyFlushed[:len(h.flushed)]) {
		t.Fatalf("flushed %d ranges of %d: want the first ones, as many as fit", len(h.flushed), len(manyFlushed))
	}
	if h.notLive[len(h.notLive)-1].End != NumSlots-1 {
		t.Fatalf("not-live ranges shortened to end at %d, want the last slot (saying more)", h.notLive[len(h.notLive)-1].End)
	}
}
