package scenario

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Harness runs scripts on redis-server (the reference) and cached side by
// side and compares what they show after every step.
type Harness struct {
	redis, cached *target
	steps         int // steps run in the current script
}

// NewHarness connects to both servers (network "tcp" or "unix") and turns
// off their active expiry (DEBUG SET-ACTIVE-EXPIRE 0), so that keys expire
// only when touched. The caller must Close it.
func NewHarness(redisNet, redisAddr, cachedNet, cachedAddr string) (*Harness, error) {
	r, err := newTarget("redis", redisNet, redisAddr)
	if err != nil {
		return nil, err
	}
	c, err := newTarget("cached", cachedNet, cachedAddr)
	if err != nil {
		r.close()
		return nil, err
	}
	return &Harness{redis: r, cached: c}, nil
}

// Close closes every connection of the harness.
func (h *Harness) Close() {
	h.redis.close()
	h.cached.close()
}

// Result is what running a script showed.
type Result struct {
	Script  Script
	Redis   []outcome // per step run
	Cached  []outcome
	Diverge int // index of the first step whose outcomes differ; -1 if none
}

// Failed reports whether the servers differed.
func (r Result) Failed() bool { return r.Diverge >= 0 }

// Run runs sc on both servers until the end or the first step whose
// outcomes differ. The error is about the harness (a server that does not
// answer its control connection), not about a difference.
func (h *Harness) Run(sc Script) (Result, error) {
	steps := sc.Steps
	sc.Steps = nil
	return h.run(sc, func() []Step {
		s := steps
		steps = nil
		return s
	})
}

// RunRandom writes a script of about n steps from seed while running it:
// each fragment is written for the state the connections are in on
// redis-server (which command blocks, which connection is inside MULTI), so
// that the same seed gives the same script. The result holds the script
// run, which Run replays.
func (h *Harness) RunRandom(seed uint64, n int) (Result, error) {
	g := newGen(seed)
	sc := Script{Seed: seed, Conns: len(g.conns), RESP3: g.resp3}
	first := true
	return h.run(sc, func() []Step {
		if first {
			first = false
			if st := g.start(); len(st) > 0 {
				return st
			}
		}
		if len(h.redis.cs) == 0 || h.steps >= n {
			return nil
		}
		g.sync(h.redis.state())
		return g.fragment()
	})
}

// run runs the steps that more returns, until it returns none or a step's
// outcomes differ.
func (h *Harness) run(sc Script, more func() []Step) (Result, error) {
	res := Result{Script: sc, Diverge: -1}
	h.steps = 0
	err := errors.Join(h.redis.open(sc), h.cached.open(sc))
	for err == nil && res.Diverge < 0 {
		batch := more()
		if len(batch) == 0 {
			break
		}
		for _, s := range batch {
			i := len(res.Script.Steps)
			res.Script.Steps = append(res.Script.Steps, s)
			h.steps++
			ro := h.redis.step(i, s, nil)
			co := h.cached.step(i, s, ro)
			res.Redis, res.Cached = append(res.Redis, ro), append(res.Cached, co)
			if !slices.Equal(ro.keys(), co.keys()) {
				res.Diverge = i
				break
			}
		}
	}
	return res, errors.Join(err, h.redis.shut(), h.cached.shut())
}

// Report renders the steps run with both servers' outcomes, marking the
// first that differs.
func (r Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %d connections (RESP3: %v, the others RESP2), %d steps run:\n",
		r.Script.Seed, r.Script.Conns, r.Script.RESP3, len(r.Redis))
	for i := range r.Redis {
		s := r.Script.Steps[i]
		mark := "  "
		if i == r.Diverge {
			mark = "!!"
		}
		fmt.Fprintf(&b, "%s %3d %s\n", mark, i, s)
		ro, co := r.Redis[i].String(), r.Cached[i].String()
		if ro == co && i != r.Diverge {
			fmt.Fprintf(&b, "         both:   %s\n", ro)
			continue
		}
		fmt.Fprintf(&b, "         redis:  %s\n         cached: %s\n", ro, co)
	}
	return b.String()
}

// Divergence is the first step that differs, as one line, for exclusion
// matching and logs.
func (r Result) Divergence() (step Step, redis, cached string) {
	if r.Diverge < 0 {
		return Step{}, "", ""
	}
	return r.Script.Steps[r.Diverge], r.Redis[r.Diverge].String(), r.Cached[r.Diverge].String()
}

// involved returns the commands of the step that differs: its own and those
// of every event either server showed for it (woken commands, the commands
// an EXEC ran).
func (r Result) involved() [][]string {
	if r.Diverge < 0 {
		return nil
	}
	cmds := [][]string{r.Script.Steps[r.Diverge].Args}
	for _, o := range []outcome{r.Redis[r.Diverge], r.Cached[r.Diverge]} {
		for _, e := range o {
			if e.args != nil {
				cmds = append(cmds, e.args)
			}
			cmds = append(cmds, e.queue...)
		}
	}
	return cmds
}
