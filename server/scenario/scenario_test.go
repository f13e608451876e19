package scenario

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/server"
	"github.com/cached/cached/server/config"
)

// Campaign sizes. CI runs ciSeeds fixed seeds (about 20–40 s on a busy
// 2-core machine under -race); CACHED_SCENARIO_SECONDS runs random seeds for
// that long; CACHED_SCENARIO_SEED replays one seed.
const (
	ciSeeds        = 150
	stepsPerScript = 60
)

// startRedis starts redis-server 7 on a unix socket in a temporary
// directory (no TCP port to collide with) and returns the socket path; it
// is killed, by its PID, when the test ends.
func startRedis(t *testing.T, extra ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not installed: install Debian's redis-server (.ci/run does)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	args := append([]string{"--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--dir", dir, "--enable-debug-command", "yes"}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if nc, err := net.Dial("unix", sock); err == nil {
			_ = nc.Close()
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling for readiness, bounded by deadline
	}
}

// startCached starts an in-process cached node on a free port.
func startCached(t *testing.T) *server.Server {
	t.Helper()
	cfg := config.DefaultConfig()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.LogLevel = "warning"
	cfg.MetricsAddr = ""
	s, err := server.Start(cfg)
	if err != nil {
		t.Fatalf("start cached: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newTestHarness(t *testing.T) *Harness {
	t.Helper()
	sock := startRedis(t)
	s := startCached(t)
	h, err := NewHarness("unix", sock, "tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// campaign says which seeds to run: a fixed list, or random seeds until a
// time.
type campaign struct {
	seeds []uint64
	until time.Time
	r     *rand.Rand
}

func (c *campaign) next(i int) (uint64, bool) {
	if c.r != nil {
		return c.r.Uint64(), time.Now().Before(c.until)
	}
	if i < len(c.seeds) {
		return c.seeds[i], true
	}
	return 0, false
}

func planCampaign(t *testing.T) *campaign {
	t.Helper()
	noExclusions = os.Getenv("CACHED_SCENARIO_NO_EXCLUSIONS") == "1"
	if v := os.Getenv("CACHED_SCENARIO_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CACHED_SCENARIO_SEED=%q: %v", v, err)
		}
		return &campaign{seeds: []uint64{seed}}
	}
	if v := os.Getenv("CACHED_SCENARIO_SECONDS"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 {
			t.Fatalf("CACHED_SCENARIO_SECONDS=%q: want a positive number", v)
		}
		return &campaign{until: time.Now().Add(time.Duration(secs) * time.Second), r: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
	}
	c := &campaign{}
	for i := range ciSeeds {
		c.seeds = append(c.seeds, uint64(1000+i))
	}
	return c
}

// TestScenarioVsRedis runs random multi-connection scripts on cached and
// redis-server side by side; every difference not in exclude.go fails the
// test with its minimised script.
func TestScenarioVsRedis(t *testing.T) {
	h := newTestHarness(t)
	c := planCampaign(t)
	verbose, times := os.Getenv("CACHED_SCENARIO_VERBOSE") == "1", os.Getenv("CACHED_SCENARIO_TIMES") == "1"
	start := time.Now()
	tl := &tally{h: h, known: map[string]int{}, found: map[string]string{}, minimiseLeft: 3 * time.Minute}
	for i := 0; ; i++ {
		seed, ok := c.next(i)
		if !ok {
			break
		}
		t0 := time.Now()
		res, err := h.RunRandom(seed, stepsPerScript)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if times {
			t.Logf("seed %d: %d steps in %v, diverged: %v", seed, len(res.Redis), time.Since(t0), res.Failed())
		}
		if verbose {
			t.Log(res.Report())
		}
		tl.record(res)
	}
	t.Logf("%d scripts, %d steps in %v; known divergences tolerated: %v",
		tl.scripts, tl.steps, time.Since(start).Round(time.Second), tl.known)
	for _, sig := range tl.order {
		t.Errorf("divergence %s\n%s", sig, tl.found[sig])
	}
}

// tally counts a campaign's scripts and keeps one minimised report per kind
// of difference.
type tally struct {
	h              *Harness
	scripts, steps int
	known          map[string]int    // exclusion name -> times tolerated
	found          map[string]string // signature -> report
	order          []string
	minimiseLeft   time.Duration // for all differences together: the test stays bounded
}

func (tl *tally) record(res Result) {
	tl.scripts, tl.steps = tl.scripts+1, tl.steps+len(res.Redis)
	if !res.Failed() {
		return
	}
	if name, ok := tolerated(res); ok {
		tl.known[name]++
		return
	}
	sig := signature(res)
	if _, dup := tl.found[sig]; dup {
		return
	}
	t0 := time.Now()
	tl.found[sig] = tl.h.explain(res, min(90*time.Second, tl.minimiseLeft))
	tl.minimiseLeft -= time.Since(t0)
	tl.order = append(tl.order, sig)
}

// signature names a divergence by the command of the step where it shows,
// so that a long campaign reports each kind once.
func signature(r Result) string {
	s, _, _ := r.Divergence()
	if len(s.Args) == 0 {
		return "(empty)"
	}
	return strings.ToUpper(s.Args[0])
}

// explain minimises a failing result and renders it with its seed.
func (h *Harness) explain(res Result, budget time.Duration) string {
	steps := res.Script.Steps[:res.Diverge+1]
	fails := func(st []Step) bool {
		r, err := h.Run(res.Script.withSteps(st))
		if err != nil {
			return false
		}
		_, tol := tolerated(r)
		return r.Failed() && !tol
	}
	small := steps
	if budget > 0 {
		small = minimise(steps, fails, budget)
	}
	final, err := h.Run(res.Script.withSteps(small))
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (replay: CACHED_SCENARIO_SEED=%d go test -count=1 -run TestScenarioVsRedis ./server/scenario/)\n",
		res.Script.Seed, res.Script.Seed)
	fmt.Fprintf(&b, "minimised from %d to %d steps", len(steps), len(small))
	if err != nil || !final.Failed() {
		fmt.Fprintf(&b, " (the minimised script no longer fails: %v); the original:\n%s", err, res.Report())
		return b.String()
	}
	b.WriteString(":\n" + final.Report())
	return b.String()
}
