package scenario

import (
	"strings"
	"testing"
	"time"
)

// TestRunnerOutcomes pins what the runner reports for the scenarios it is
// built for, on cached and redis-server alike: a wake-up by a push from
// another connection, a timed wait, CLIENT UNBLOCK naming a connection,
// a message to a subscriber, a WATCHed key written by another connection.
func TestRunnerOutcomes(t *testing.T) {
	h := newTestHarness(t)
	sc := Script{Seed: 0, Conns: 3, Steps: []Step{
		{Conn: 0, Args: []string{"BLPOP", "q", "0"}},
		{Conn: 1, Args: []string{"RPUSH", "q", "x", "y"}},
		{Conn: 0, Args: []string{"BLPOP", "none", "0.01"}, Wait: 10 * time.Millisecond},
		{Conn: 0, Args: []string{"BZPOPMIN", "z", "0"}},
		{Conn: 1, Args: []string{"CLIENT", "UNBLOCK", "$conn:0", "ERROR"}},
		{Conn: 2, Args: []string{"SUBSCRIBE", "ch"}},
		{Conn: 1, Args: []string{"PUBLISH", "ch", "hi"}},
		{Conn: 0, Args: []string{"WATCH", "q"}},
		{Conn: 1, Args: []string{"LPUSH", "q", "z"}},
		{Conn: 0, Args: []string{"MULTI"}},
		{Conn: 0, Args: []string{"LLEN", "q"}},
		{Conn: 0, Args: []string{"EXEC"}},
	}}
	want := []string{
		"conn 0 blocked (BLPOP q 0)",
		`conn 0 woken (BLPOP q 0): ["q", "x"]; conn 1 reply: :2`,
		"conn 0 reply: (nil)",
		"conn 0 blocked (BZPOPMIN z 0)",
		"conn 0 woken (BZPOPMIN z 0): -UNBLOCKED client unblocked via CLIENT UNBLOCK; conn 1 reply: :1",
		`conn 2 reply: ["subscribe", "ch", :1]`,
		`conn 1 reply: :1; conn 2 messages: ["message", "ch", "hi"]`,
		"conn 0 reply: +OK",
		"conn 1 reply: :2",
		"conn 0 reply: +OK",
		"conn 0 reply: +QUEUED",
		"conn 0 reply: (nil)",
	}
	res, err := h.Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatalf("servers differ:\n%s", res.Report())
	}
	for i, w := range want {
		if got := res.Redis[i].String(); got != w {
			t.Errorf("step %d (%s): %s, want %s", i, sc.Steps[i], got, w)
		}
	}
}

// TestRunnerRedisAgainstItself: two redis-servers never differ, so the
// runner's lockstep and normalisation give no false differences.
func TestRunnerRedisAgainstItself(t *testing.T) {
	h, err := NewHarness("unix", startRedis(t), "unix", startRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	steps := 0
	for seed := uint64(1); seed <= 15; seed++ {
		res, err := h.RunRandom(seed, stepsPerScript)
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() {
			t.Fatalf("redis-server differs from itself:\n%s", res.Report())
		}
		steps += len(res.Redis)
	}
	if steps < 15*stepsPerScript {
		t.Fatalf("%d steps run, want at least %d", steps, 15*stepsPerScript)
	}
}

// TestRunnerFindsAndMinimises: against a redis-server that does not know
// LLEN, the fuzzer finds the difference and minimises its script to the one
// LLEN step.
func TestRunnerFindsAndMinimises(t *testing.T) {
	h, err := NewHarness("unix", startRedis(t), "unix", startRedis(t, "--rename-command", "LLEN", ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	for seed := uint64(1); seed <= 50; seed++ {
		res, err := h.RunRandom(seed, stepsPerScript)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Failed() {
			continue
		}
		_, redis, other := res.Divergence()
		if !strings.Contains(other, "unknown command 'LLEN'") || strings.Contains(redis, "unknown command") {
			t.Fatalf("difference not about LLEN:\n%s", res.Report())
		}
		fails := func(st []Step) bool {
			r, err := h.Run(res.Script.withSteps(st))
			return err == nil && r.Failed()
		}
		small := minimise(res.Script.Steps[:res.Diverge+1], fails, time.Minute)
		if len(small) != 1 || !strings.EqualFold(small[0].Args[0], "LLEN") {
			t.Fatalf("minimised to %v", small)
		}
		return
	}
	t.Fatal("50 scripts and no LLEN difference found")
}
