package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrUnreachable is returned by Run when a target cannot be dialled (or
// refuses AUTH) before the run starts.
var ErrUnreachable = errors.New("load: target unreachable")

// Progress is a snapshot of a running phase, handed to Config.Progress.
type Progress struct {
	Phase     string        // "preload", "warmup" or "run"
	Elapsed   time.Duration // since the phase began (warm-up included)
	Left      time.Duration // until the planned end; 0 with a request count
	Done      int64         // requests completed so far (warm-up included)
	Requests  int64         // requests asked for, or 0 with a duration
	OpsPerSec float64       // over the last second
	P99       time.Duration // of the last complete second
	Errors    int64         // so far
}

// Run validates cfg, loads the slot map in cluster mode, pre-loads the key
// space if asked, then runs the workload and returns its measurements. It
// stops early, with the partial result, when ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	topo := newTopology(&cfg)
	if cfg.Cluster {
		if err := topo.load(); err != nil {
			return nil, err
		}
	} else if err := reachable(&cfg); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	if cfg.Cluster {
		bg.Go(func() { topo.refresher(ctx) })
	}
	var pre *Preload
	if cfg.Preload {
		pre = preload(ctx, &cfg, topo)
	}
	res := runPhase(ctx, &cfg, topo, "run")
	res.Preload = pre
	res.Refreshes = topo.refreshes.Load()
	return res, nil
}

// reachable dials (and authenticates to) every address once, so that a
// target that is down fails the run at once instead of every request.
func reachable(cfg *Config) error {
	for _, a := range cfg.Addrs {
		c, err := dial(cfg, a)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrUnreachable, a, err)
		}
		c.Close()
	}
	return nil
}

// preload writes every key once with SET (and the TTL), split evenly over
// the clients, sequentially, pipelined.
func preload(ctx context.Context, cfg *Config, topo *topology) *Preload {
	pc := *cfg
	pc.Commands = []Command{NewCommand(1, append([]string{"SET", KeyPlaceholder, DataPlaceholder}, ttlArgs(cfg.TTL)...)...)}
	pc.KeyDist = KeyDist{Kind: "sequential"}
	pc.Requests = int64(cfg.Keyspace)
	pc.Warmup, pc.Rate, pc.CacheAside = 0, 0, false
	pc.Pipeline = max(cfg.Pipeline, 32)
	r := runPhase(ctx, &pc, topo, "preload")
	return &Preload{Keys: r.Total.Requests, Errors: r.Total.Errors, Seconds: r.Elapsed, OpsPerSec: r.Total.OpsPerSec}
}

// randomData returns n printable bytes for values.
func randomData(seed uint64, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

// share returns worker i's part of total split over n workers.
func share(total int64, i, n int) int64 {
	return total*int64(i+1)/int64(n) - total*int64(i)/int64(n)
}

// runPhase runs one phase (the workload, or the preload) to its end.
func runPhase(ctx context.Context, cfg *Config, topo *topology, phase string) *Result {
	origin := time.Now()
	sh := &shared{cfg: cfg, origin: origin, start: origin.Add(cfg.Warmup), topo: topo}
	sh.stop.Store(ctx.Err() != nil)
	if cfg.Requests <= 0 {
		sh.end = sh.start.Add(cfg.Duration)
	}
	sh.data = randomData(cfg.Seed, cfg.DataMax+4096)
	sh.mix = newMix(cfg.Commands)
	col := newCollector(cfg.Clients)
	sh.out = col.in
	lives := make([]live, cfg.Clients)
	workers := make([]*worker, cfg.Clients)
	var wg sync.WaitGroup
	for i := range workers {
		quota := int64(-1)
		if cfg.Requests > 0 {
			quota = share(cfg.Requests, i, cfg.Clients)
		}
		w := newWorker(i, sh, quota, &lives[i])
		workers[i] = w
		wg.Go(func() {
			if cfg.Rate > 0 {
				w.runOpen()
			} else {
				w.runClosed()
			}
			w.rec.flush()
		})
	}
	colDone := make(chan struct{})
	go func() {
		defer close(colDone)
		col.run(ctx, sh, lives, phase)
	}()
	wg.Wait()
	finish := time.Now()
	close(col.in)
	<-colDone
	var recs []*recorder
	for _, w := range workers {
		recs = append(recs, w.recs...)
	}
	elapsed := max(finish.Sub(sh.start), 0)
	res := buildResult(cfg, recs, elapsed)
	res.Timeline = col.timeline(elapsed)
	res.Redirects = sh.redir.Load()
	res.describe(cfg)
	return res
}

// run merges intervals until in is closed, calls cfg.Progress every second
// and raises sh.stop when ctx ends.
func (c *collector) run(ctx context.Context, sh *shared, lives []live, phase string) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	done := ctx.Done()
	var lastOps int64
	lastT := sh.origin
	for {
		select {
		case iv, ok := <-c.in:
			if !ok {
				return
			}
			c.add(iv)
		case <-done:
			sh.stop.Store(true)
			done = nil
		case now := <-tick.C:
			if sh.cfg.Progress == nil {
				continue
			}
			p := Progress{Phase: phase, Elapsed: now.Sub(sh.origin), Requests: sh.cfg.Requests}
			if now.Before(sh.start) {
				p.Phase = "warmup"
			}
			for i := range lives {
				p.Done += lives[i].ops.Load()
				p.Errors += lives[i].errors.Load()
			}
			if !sh.end.IsZero() {
				p.Left = max(sh.end.Sub(now), 0)
			}
			p.OpsPerSec = float64(p.Done-lastOps) / now.Sub(lastT).Seconds()
			p.P99 = c.p99(int(now.Sub(sh.start)/time.Second) - 1)
			lastOps, lastT = p.Done, now
			sh.cfg.Progress(p)
		}
	}
}

// describe copies the workload's description into the result.
func (r *Result) describe(cfg *Config) {
	r.Target = strings.Join(cfg.Addrs, ",")
	r.Mode = "closed-loop"
	if cfg.Rate > 0 {
		r.Mode, r.Rate = "open-loop", cfg.Rate
	}
	r.Clients, r.Pipeline = cfg.Clients, cfg.Pipeline
	r.Keyspace, r.KeyDist = cfg.Keyspace, cfg.KeyDist.String()
	r.DataSize = strconv.Itoa(cfg.DataMin)
	if cfg.DataMax != cfg.DataMin {
		r.DataSize += "-" + strconv.Itoa(cfg.DataMax)
	}
}
