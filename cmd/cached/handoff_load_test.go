package main

// The load TestBinaryClusterHandoff runs while nodes join and leave: a
// go-redis ClusterClient reading and writing a key set whose last
// acknowledged values it knows, each request's tries by node, and the
// machine's CPU busy share.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// hoLoad is the key-set load: each worker owns the keys i%workers == w and
// knows their last acknowledged values.
type hoLoad struct {
	cc      *redis.ClusterClient
	keys    int
	workers int
	every   time.Duration // open loop: a worker's requests are due this far apart (0: closed loop)
	want    []string
	// cut is the value of a SET the end of the run cut off: the server may
	// or may not have applied it, so verify accepts it too.
	cut []string
	// custom, if set, runs each request instead of op (soak_test.go's
	// writes with WAIT and its own checks); want, cut and the latencies
	// are then unused.
	custom func(ctx context.Context, gen, i int)

	reads, writes, misses, wrong, errs atomic.Int64
	mu                                 sync.Mutex // protects lat, redirected, slow, byNode, last and firstErr
	lat                                []time.Duration
	redirected                         []time.Duration            // the latencies of requests a node answered MOVED, ASK or TRYAGAIN
	slow                               []string                   // the first requests of 1 s or more: key, start, tries
	byNode                             map[string][]time.Duration // each node's tries' times
	last                               []hoTry                    // each request's last node and the request's time
	firstErr                           string
}

// nodeHook notes each try (node, command, answer, time) of a request whose
// context carries a tryLog: the window then says how many requests a node
// answered MOVED, ASK or TRYAGAIN (go-redis retries them elsewhere or
// later), which nodes the tail's requests went to, and the slowest
// requests' tries.
type nodeHook struct{ addr string }

// hoTry is one try of a request: the node asked, its answer and how long
// it took.
type hoTry struct {
	addr, cmd, answer string
	took              time.Duration
}

func (t hoTry) String() string {
	return fmt.Sprintf("%s %s %q %v", t.addr, t.cmd, t.answer, t.took.Round(time.Millisecond))
}

// redirect reports whether the node sent the request elsewhere or later.
func (t hoTry) redirect() bool {
	return strings.HasPrefix(t.answer, "MOVED ") || strings.HasPrefix(t.answer, "ASK ") || strings.HasPrefix(t.answer, "TRYAGAIN")
}

// tryLog is a request's tries, written only by the goroutine that sends
// the request (go-redis calls the hooks on it); tryLogKey is its context key.
type (
	tryLogKey struct{}
	tryLog    []hoTry
)

func (nodeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (nodeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h nodeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		began := time.Now()
		err := next(ctx, cmd)
		if tl, ok := ctx.Value(tryLogKey{}).(*tryLog); ok {
			answer := "ok"
			if err != nil {
				answer = err.Error()
			}
			*tl = append(*tl, hoTry{addr: h.addr, cmd: cmd.Name(), answer: answer, took: time.Since(began)})
		}
		return err
	}
}

func hoKey(i int) string { return "ho:" + strconv.Itoa(i) }

func (l *hoLoad) preload(ctx context.Context) error {
	const batch = 1000
	for start := 0; start < l.keys; start += batch {
		p := l.cc.Pipeline()
		for i := start; i < min(start+batch, l.keys); i++ {
			l.want[i] = fmt.Sprintf("v0-%d-%032d", i, i)
			p.Set(ctx, hoKey(i), l.want[i], 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (l *hoLoad) run(ctx context.Context) {
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Add(1)
		go func() { defer wg.Done(); l.worker(ctx, w) }()
	}
	wg.Wait()
}

// openInflight is how many of one worker's open-loop requests may be in
// flight at once: a request that comes due while the ones before it are
// still out is sent anyway, as requests from many independent clients
// would be, instead of waiting its turn (which would measure the worker's
// own queue, not the servers).
const openInflight = 32

func (l *hoLoad) worker(ctx context.Context, w int) {
	due := time.Now()
	var inflight sync.WaitGroup
	slots := make(chan struct{}, openInflight)
	defer inflight.Wait()
	for gen := 1; ctx.Err() == nil; gen++ {
		for i := w; i < l.keys && ctx.Err() == nil; i += l.workers {
			if l.every == 0 {
				l.op(ctx, gen, i, time.Now())
				continue
			}
			due = due.Add(l.every)
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			inflight.Add(1)
			go func(start time.Time) { // latency counts from when the request was due
				defer func() { <-slots; inflight.Done() }()
				l.op(ctx, gen, i, start)
			}(due)
		}
		inflight.Wait() // the next pass touches the same keys: one request per key at a time
	}
}

// op sends request i of pass gen (every fourth op of a key writes it, the
// others read and check it) and records its latency from start.
func (l *hoLoad) op(ctx context.Context, gen, i int, start time.Time) {
	if l.custom != nil {
		l.custom(ctx, gen, i)
		return
	}
	var tries tryLog
	ctx = context.WithValue(ctx, tryLogKey{}, &tries)
	if (gen+i/l.workers)%4 == 0 {
		v := fmt.Sprintf("v%d-%d-%032d", gen, i, i)
		err := l.cc.Set(ctx, hoKey(i), v, 0).Err()
		if ctx.Err() != nil {
			l.cut[i] = v
			return
		}
		l.writes.Add(1)
		l.want[i] = v
		if err != nil {
			l.noteErr(err)
			l.want[i] = ""
		}
	} else {
		got, err := l.cc.Get(ctx, hoKey(i)).Result()
		if ctx.Err() != nil {
			return
		}
		l.reads.Add(1)
		switch {
		case errors.Is(err, redis.Nil):
			l.misses.Add(1)
		case err != nil:
			l.noteErr(err)
		case l.want[i] != "" && got != l.want[i]:
			l.wrong.Add(1)
		}
	}
	took := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lat) >= 1<<22 {
		return
	}
	l.lat = append(l.lat, took)
	if slices.ContainsFunc(tries, hoTry.redirect) {
		l.redirected = append(l.redirected, took)
	}
	for _, t := range tries {
		l.byNode[t.addr] = append(l.byNode[t.addr], t.took)
	}
	if n := len(tries); n > 0 {
		l.last = append(l.last, hoTry{addr: tries[n-1].addr, took: took})
	}
	if took >= time.Second && len(l.slow) < 8 {
		l.slow = append(l.slow, fmt.Sprintf("%s at %s took %v: %v", hoKey(i), start.UTC().Format("15:04:05.000"),
			took.Round(time.Millisecond), tries))
	}
}

func (l *hoLoad) noteErr(err error) {
	l.errs.Add(1)
	l.mu.Lock()
	if l.firstErr == "" {
		l.firstErr = err.Error()
	}
	l.mu.Unlock()
}

// p99 returns the 99th percentile latency since the last call (of p99 or
// window).
func (l *hoLoad) p99() time.Duration {
	p, _, _, _ := l.window()
	return p
}

// window returns the 99th percentile and the largest latency since the
// last call, how many requests took 100 ms or more (a stall of the workers,
// all four waiting on one slow node, shows in those while it leaves few
// requests in the p99), and what the redirected requests were.
func (l *hoLoad) window() (p99, most time.Duration, stalls int, redirects string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lat) == 0 {
		return 0, 0, 0, ""
	}
	slices.Sort(l.lat)
	p99, most = l.lat[len(l.lat)*99/100], l.lat[len(l.lat)-1]
	i, _ := slices.BinarySearch(l.lat, 100*time.Millisecond)
	stalls = len(l.lat) - i
	tail := 0 // redirected requests at or above the p99
	for _, d := range l.redirected {
		if d >= p99 {
			tail++
		}
	}
	redirects = fmt.Sprintf("%d of %d requests redirected (MOVED, ASK or TRYAGAIN), %d of the %d at or above the p99; tries by node (count, p99):",
		len(l.redirected), len(l.lat), tail, len(l.lat)-len(l.lat)*99/100)
	tailBy := map[string]int{} // the requests at or above the p99 by the node that answered last
	for _, t := range l.last {
		if t.took >= p99 {
			tailBy[t.addr]++
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(l.byNode)) {
		d := l.byNode[addr]
		slices.Sort(d)
		redirects += fmt.Sprintf(" %s %d %v (%d of the tail)", addr, len(d), d[len(d)*99/100].Round(10*time.Microsecond), tailBy[addr])
	}
	l.lat, l.redirected, l.last = l.lat[:0], l.redirected[:0], l.last[:0]
	clear(l.byNode)
	return p99.Round(10 * time.Microsecond), most.Round(100 * time.Microsecond), stalls, redirects
}

func (l *hoLoad) summary() string {
	return fmt.Sprintf("reads %d writes %d misses %d wrong %d errors %d (first: %q)", l.reads.Load(), l.writes.Load(),
		l.misses.Load(), l.wrong.Load(), l.errs.Load(), l.firstErr)
}

// verify reads every key once: missing keys and keys whose value is not
// the last acknowledged one. A batch whose pipeline dialled a node that
// has exited (the client's slot map was loaded before the table that
// moved a slot away from it, and go-redis does not reload the map on a
// refused dial in a pipeline: docs/cluster.md "Graceful leave") is told
// to stale (the first GET that failed), and read again once after the
// client reloaded its map.
func (l *hoLoad) verify(ctx context.Context, stale func(err error)) (missing, wrong int, err error) {
	const batch = 1000
	for start := 0; start < l.keys; start += batch {
		m, w, err := l.verifyBatch(ctx, start, min(start+batch, l.keys))
		if errors.Is(err, syscall.ECONNREFUSED) {
			stale(err)
			l.cc.ReloadState(ctx)
			m, w, err = l.verifyBatch(ctx, start, min(start+batch, l.keys))
		}
		missing, wrong = missing+m, wrong+w
		if err != nil {
			return missing, wrong, err
		}
	}
	return missing, wrong, nil
}

// verifyBatch reads keys start..end-1 in one pipeline.
func (l *hoLoad) verifyBatch(ctx context.Context, start, end int) (missing, wrong int, err error) {
	p := l.cc.Pipeline()
	var cmds []*redis.StringCmd
	for i := start; i < end; i++ {
		cmds = append(cmds, p.Get(ctx, hoKey(i)))
	}
	_, _ = p.Exec(ctx)
	for k, c := range cmds {
		got, e := c.Result()
		switch {
		case errors.Is(e, redis.Nil):
			missing++
		case e != nil:
			return missing, wrong, fmt.Errorf("GET %s: %w", hoKey(start+k), e)
		case l.want[start+k] != "" && got != l.want[start+k] && got != l.cut[start+k]:
			wrong++
		}
	}
	return missing, wrong, nil
}

// cpuBusy reads the machine's CPU time from /proc/stat: busy reports the
// share of all CPUs' time not idle (idle and iowait) since its last call,
// in percent, or -1 where /proc/stat cannot be read. The hand-off's p99
// during a move depends on whether the move's work finds the cores free.
type cpuBusy struct{ idle, total uint64 }

func newCPUBusy() *cpuBusy {
	c := &cpuBusy{}
	c.busy()
	return c
}

func (c *cpuBusy) busy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return -1
	}
	var idle, total uint64
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	di, dt := idle-c.idle, total-c.total
	c.idle, c.total = idle, total
	if dt == 0 {
		return -1
	}
	return 100 * float64(dt-di) / float64(dt)
}
