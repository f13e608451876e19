package load

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testConfig is a small, bounded workload against addr.
func testConfig(addr string) Config {
	cfg := DefaultConfig()
	cfg.Addrs = []string{addr}
	cfg.Clients = 4
	cfg.Pipeline = 8
	cfg.Keyspace = 1000
	cfg.Seed = 42
	cfg.Timeout = 5 * time.Second
	return cfg
}

func mustRun(t testing.TB, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// commandCalls reads INFO commandstats' calls=N for cmd.
func commandCalls(t *testing.T, addr, cmd string) int64 {
	t.Helper()
	info := do(t, addr, "INFO", "commandstats").String()
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			return n
		}
	}
	return 0
}

// TestRequestCountAndMix checks against redis-server that the request count
// is exact and that the server saw the mix bench reports.
func TestRequestCountAndMix(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) { testRequestCountAndMix(t, tg.start) })
	}
}

func testRequestCountAndMix(t *testing.T, start func(*testing.T) string) {
	for _, pipeline := range []int{1, 7} {
		addr := start(t)
		cfg := testConfig(addr)
		cfg.Pipeline = pipeline
		cfg.Requests = 2001
		cfg.Commands = append(RatioCommands(1, 3, 0), NewCommand(1, "INCR", "ctr:"+KeyPlaceholder))
		r := mustRun(t, cfg)
		if r.Total.Requests != 2001 || r.Total.Errors != 0 {
			t.Fatalf("pipeline %d: %d requests, %d errors; want 2001, 0 (errors %v)", pipeline, r.Total.Requests, r.Total.Errors, r.Errors)
		}
		for _, name := range []string{"SET", "GET", "INCR"} {
			o, _ := r.Op(name)
			if got := commandCalls(t, addr, strings.ToLower(name)); got != o.Requests {
				t.Errorf("pipeline %d: server saw %d %s, bench reports %d", pipeline, got, name, o.Requests)
			}
		}
		set, _ := r.Op("SET")
		get, _ := r.Op("GET")
		// Weights 1:3:1 → SET 20%, GET 60%; 2001 draws, allow ±5 points.
		if f := float64(set.Requests) / 2001; f < 0.15 || f > 0.25 {
			t.Errorf("SET share %.3f, want about 0.2", f)
		}
		if f := float64(get.Requests) / 2001; f < 0.55 || f > 0.65 {
			t.Errorf("GET share %.3f, want about 0.6", f)
		}
		if l := r.Total.Latency; !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
			t.Errorf("percentiles not ordered: %+v", l)
		}
	}
}

// TestHitRatioKnownAnswer preloads half of a key space and reads all of it
// sequentially: exactly half the GETs hit.
func TestHitRatioKnownAnswer(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) { testHitRatioKnownAnswer(t, tg.start(t)) })
	}
}

func testHitRatioKnownAnswer(t *testing.T, addr string) {
	cfg := testConfig(addr)
	cfg.Keyspace, cfg.Preload, cfg.Requests = 1000, true, 1
	cfg.Commands = RatioCommands(0, 1, 0)
	r := mustRun(t, cfg)
	if r.Preload == nil || r.Preload.Keys != 1000 || r.Preload.Errors != 0 {
		t.Fatalf("preload = %+v", r.Preload)
	}
	if n := do(t, addr, "DBSIZE").Int; n != 1000 {
		t.Fatalf("DBSIZE after preload = %d, want 1000", n)
	}
	cfg.Keyspace, cfg.Preload, cfg.Requests = 2000, false, 2000
	cfg.KeyDist = KeyDist{Kind: "sequential"}
	r = mustRun(t, cfg)
	get, _ := r.Op("GET")
	if get.Hits != 1000 || get.Misses != 1000 || get.HitRatio != 0.5 {
		t.Errorf("hits %d misses %d ratio %v; want 1000, 1000, 0.5", get.Hits, get.Misses, get.HitRatio)
	}
	var tlHits int64
	for _, s := range r.Timeline {
		tlHits += s.Hits
	}
	if tlHits != get.Hits {
		t.Errorf("timeline hits %d, total %d", tlHits, get.Hits)
	}
}

// TestCacheAside: with CacheAside every GET that misses is followed by a
// SET of its key (FILL), so a second pass over the same keys hits them all;
// the fills carry the TTL; without CacheAside nothing is written.
func TestCacheAside(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) { testCacheAside(t, tg.start(t)) })
	}
}

func testCacheAside(t *testing.T, addr string) {
	cfg := testConfig(addr)
	cfg.Keyspace, cfg.Requests = 500, 500
	cfg.Commands = RatioCommands(0, 1, 0)
	cfg.KeyDist = KeyDist{Kind: "sequential"}
	r := mustRun(t, cfg)
	if get, _ := r.Op("GET"); get.Misses != 500 {
		t.Fatalf("without cache-aside: %d misses of 500 GETs on an empty server", get.Misses)
	}
	if _, ok := r.Op("FILL"); ok {
		t.Fatal("a FILL operation without cache-aside")
	}
	if n := do(t, addr, "DBSIZE").Int; n != 0 {
		t.Fatalf("DBSIZE %d after GETs alone", n)
	}

	// One connection, so the sequential walk is its own: 500 GETs miss,
	// each batch of 8 misses is followed by their 8 FILLs, then the walk
	// starts again and 1000 GETs hit.
	cfg.CacheAside, cfg.TTL, cfg.Clients = true, time.Hour, 1
	cfg.Requests = 2000
	r = mustRun(t, cfg)
	get, _ := r.Op("GET")
	fill, ok := r.Op("FILL")
	if !ok || fill.Requests != 500 || fill.Errors != 0 {
		t.Fatalf("FILL %+v, want 500 requests", fill)
	}
	if get.Misses != 500 || get.Hits != 1000 {
		t.Fatalf("GET hits %d misses %d, want 1000 and 500", get.Hits, get.Misses)
	}
	if n := do(t, addr, "DBSIZE").Int; n != 500 {
		t.Fatalf("DBSIZE %d after 500 filled misses", n)
	}
	if ttl := do(t, addr, "TTL", "key:0").Int; ttl <= 0 || ttl > 3600 {
		t.Fatalf("a filled key's TTL = %d, want the run's 3600 s", ttl)
	}

	cfg.Rate = 1000
	if err := cfg.Validate(); err == nil {
		t.Fatal("cache-aside accepted in open loop")
	}
}

// TestTTLAndDataSize checks that writes carry the TTL and the value sizes.
func TestTTLAndDataSize(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) { testTTLAndDataSize(t, tg.start(t)) })
	}
}

func testTTLAndDataSize(t *testing.T, addr string) {
	cfg := testConfig(addr)
	cfg.Keyspace, cfg.Requests, cfg.DataMin, cfg.DataMax, cfg.TTL = 50, 400, 10, 20, time.Minute
	cfg.Commands = RatioCommands(1, 0, cfg.TTL)
	cfg.KeyDist = KeyDist{Kind: "sequential"}
	mustRun(t, cfg)
	for i := 0; i < 50; i += 7 {
		key := "key:" + strconv.Itoa(i)
		if ttl := do(t, addr, "TTL", key).Int; ttl <= 0 || ttl > 60 {
			t.Errorf("TTL %s = %d, want 1..60", key, ttl)
		}
		if n := do(t, addr, "STRLEN", key).Int; n < 10 || n > 20 {
			t.Errorf("STRLEN %s = %d, want 10..20", key, n)
		}
	}
}

// TestOpenLoopRate checks that open loop sends the scheduled number of
// requests: rate × duration, whatever the server's speed.
func TestOpenLoopRate(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) { testOpenLoopRate(t, tg.start(t)) })
	}
}

func testOpenLoopRate(t *testing.T, addr string) {
	cfg := testConfig(addr)
	cfg.Rate, cfg.Duration, cfg.Warmup = 2000, 500*time.Millisecond, 100*time.Millisecond
	r := mustRun(t, cfg)
	if r.Mode != "open-loop" {
		t.Errorf("mode %q", r.Mode)
	}
	// The schedule has exactly 1000 sends in the measured 500 ms.
	if r.Total.Requests < 990 || r.Total.Requests > 1010 {
		t.Errorf("sent %d requests, want 1000 (2000/s for 0.5 s)", r.Total.Requests)
	}
	if r.Total.Errors != 0 {
		t.Errorf("errors: %v", r.Errors)
	}
}

// TestOpenLoopNoCoordinatedOmission stalls a fake server once: in open loop,
// requests scheduled during the stall count their wait from their intended
// send time, so the worst latency covers the stall.
func TestOpenLoopNoCoordinatedOmission(t *testing.T) {
	var kv kvStore
	var served atomic.Int64
	stall := make(chan struct{})
	var once sync.Once
	f := startFake(t, func(_ *fakeConn, args [][]byte) []byte {
		if served.Add(1) == 100 {
			once.Do(func() {
				select {
				case <-stall:
				case <-time.After(300 * time.Millisecond): // the injected stall
				}
			})
		}
		return kv.do(args)
	})
	cfg := testConfig(f.addr())
	cfg.Clients, cfg.Rate, cfg.Duration = 1, 1000, 600*time.Millisecond
	r := mustRun(t, cfg)
	close(stall)
	if r.Total.Latency.Max < 200e3 {
		t.Errorf("max latency %.0f µs, want >= 200 ms after a 300 ms stall", r.Total.Latency.Max)
	}
	// Requests due during the stall all waited: the 99th percentile sees it.
	if r.Total.Latency.P99 < 50e3 {
		t.Errorf("p99 %.0f µs hides the stall", r.Total.Latency.P99)
	}
}

func TestErrorsByKind(t *testing.T) {
	t.Run("unreachable at start", func(t *testing.T) {
		cfg := testConfig("127.0.0.1:" + strconv.Itoa(freePort(t)))
		if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrUnreachable) {
			t.Errorf("Run against a closed port: err = %v, want ErrUnreachable", err)
		}
	})
	t.Run("refused mid-run", func(t *testing.T) {
		for _, rate := range []float64{0, 20000} {
			var kv kvStore
			var n atomic.Int64
			f := startFake(t, func(c *fakeConn, args [][]byte) []byte {
				if n.Add(1) == 50 {
					c.stop = true
					return nil
				}
				return kv.do(args)
			})
			cfg := testConfig(f.addr())
			cfg.Clients, cfg.Pipeline, cfg.Requests, cfg.Rate = 1, 1, 3000, rate
			r := mustRun(t, cfg)
			// At most 49 requests were answered (the fake drops replies it
			// had not flushed yet); the rest were in flight at the reset
			// (more of them in open loop) or met a closed port.
			refused, reset, errs := r.Errors[KindRefused], r.Errors[KindReset], r.Total.Errors
			if r.Total.Requests != 3000 || errs < 2951 || refused+reset != errs || refused < 1 || reset < 1 {
				t.Errorf("rate %v: %d requests, %d errors %v; want 3000, >= 2951 %s or %s", rate, r.Total.Requests, errs, r.Errors, KindRefused, KindReset)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := startFake(t, func(*fakeConn, [][]byte) []byte { return nil })
		cfg := testConfig(f.addr())
		cfg.Clients, cfg.Pipeline, cfg.Requests, cfg.Timeout = 1, 2, 2, 200*time.Millisecond
		r := mustRun(t, cfg)
		if r.Errors[KindTimeout] != 2 {
			t.Errorf("errors %v, want 2 %s", r.Errors, KindTimeout)
		}
	})
	t.Run("error replies", func(t *testing.T) {
		f := startFake(t, func(*fakeConn, [][]byte) []byte { return []byte("-WRONGTYPE no\r\n") })
		cfg := testConfig(f.addr())
		cfg.Requests = 40
		r := mustRun(t, cfg)
		if r.Errors["WRONGTYPE"] != 40 || r.Total.Errors != 40 {
			t.Errorf("errors %v", r.Errors)
		}
	})
}

// TestOutputsParse checks that the JSON round-trips and that the HTML is
// self-contained with well-formed inline SVG charts.
func TestOutputsParse(t *testing.T) {
	var kv kvStore
	f := startFake(t, func(_ *fakeConn, args [][]byte) []byte { return kv.do(args) })
	cfg := testConfig(f.addr())
	cfg.Requests = 3000
	r := mustRun(t, cfg)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	if back.Total.Requests != 3000 || len(back.Ops) != 2 || back.Total.Latency.P99 != r.Total.Latency.P99 || len(back.Timeline) == 0 {
		t.Errorf("JSON round trip lost data: %+v", back.Total)
	}
	var tbl bytes.Buffer
	if err := WriteTable(&tbl, r); err != nil || !strings.Contains(tbl.String(), "TOTAL") {
		t.Errorf("table: %v\n%s", err, tbl.String())
	}
	buf.Reset()
	if err := WriteHTML(&buf, r, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, buf.String(), 4)
}

// checkHTML asserts the report loads nothing external and holds at least
// minSVG charts that parse as XML.
func checkHTML(t *testing.T, page string, minSVG int) {
	t.Helper()
	for _, bad := range []string{"<script", "src=", "<link", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("HTML report contains %q", bad)
		}
	}
	n := 0
	for rest := page; ; n++ {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		if j < 0 {
			t.Fatal("unterminated <svg>")
		}
		svg := rest[i : i+j+len("</svg>")]
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			if _, err := d.Token(); err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("svg %d does not parse: %v", n, err)
				}
				break
			}
		}
		if !strings.Contains(svg, "<polyline") && !strings.Contains(svg, "no data") {
			t.Errorf("svg %d has no line", n)
		}
		rest = rest[i+j:]
	}
	if n < minSVG {
		t.Errorf("%d SVG charts, want at least %d", n, minSVG)
	}
}

// TestCompare runs two fake targets in alternating rounds.
func TestCompare(t *testing.T) {
	var kvA, kvB kvStore
	var order []string
	var mu sync.Mutex
	mark := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		if len(order) == 0 || order[len(order)-1] != name {
			order = append(order, name)
		}
	}
	a := startFake(t, func(_ *fakeConn, args [][]byte) []byte { mark("A"); return kvA.do(args) })
	b := startFake(t, func(_ *fakeConn, args [][]byte) []byte { mark("B"); return kvB.do(args) })
	cfg := testConfig("")
	cfg.Requests = 500
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Compare(ctx, cfg, a.addr(), b.addr(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ""); got != "ABABAB" {
		t.Errorf("rounds ran in order %q, want ABABAB", got)
	}
	if len(c.Ops) != 3 || c.Ops[2].Name != "TOTAL" || len(c.Ops[2].Throughput.Values) != 3 {
		t.Fatalf("ratios: %+v", c.Ops)
	}
	if s := c.Ops[2].Throughput; !(s.Min <= s.Median && s.Median <= s.Max && s.Min > 0) {
		t.Errorf("spread %+v", s)
	}
	if c.MergedA.Total.Requests != 1500 {
		t.Errorf("merged A has %d requests, want 1500", c.MergedA.Total.Requests)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, c); err != nil || !strings.Contains(buf.String(), "A/B") {
		t.Errorf("comparison table: %v", err)
	}
	buf.Reset()
	if err := WriteJSON(&buf, c); err != nil || !json.Valid(buf.Bytes()) {
		t.Errorf("comparison JSON: %v", err)
	}
	buf.Reset()
	if err := WriteHTML(&buf, c, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, buf.String(), 6)
}

// TestPassword authenticates every connection with AUTH.
func TestPassword(t *testing.T) {
	addr := startRedis(t, "--requirepass", "s3cret")
	cfg := testConfig(addr)
	cfg.Requests = 200
	r := mustRun(t, cfg)
	if r.Errors["NOAUTH"] != 200 {
		t.Errorf("without a password: errors %v, want 200 NOAUTH", r.Errors)
	}
	cfg.Password = "s3cret"
	r = mustRun(t, cfg)
	if r.Total.Errors != 0 || r.Total.Requests != 200 {
		t.Errorf("with the password: %d requests, errors %v", r.Total.Requests, r.Errors)
	}
	cfg.Password = "wrong"
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: err = %v, want ErrUnreachable with WRONGPASS", err)
	}
}

// TestReconnect drops the connection once, mid-run: every request the
// server did not answer counts as a conn-reset error and the run goes on
// over a new connection. The run ends when the second connection has served
// 50 commands, so the reconnect is part of every run; the checks are exact
// counts that hold however busy the machine is (closed loop has exactly one
// request in flight; open loop loses whatever it sent before its reader saw
// the close, which depends on scheduling, so only the sum is checked).
func TestReconnect(t *testing.T) {
	for _, rate := range []float64{0, 5000} {
		var kv kvStore
		var mu sync.Mutex // protects seen
		seen := map[*fakeConn]int{}
		var order []*fakeConn
		var handled atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		f := startFake(t, func(c *fakeConn, args [][]byte) []byte {
			handled.Add(1)
			mu.Lock()
			if _, ok := seen[c]; !ok {
				order = append(order, c)
			}
			seen[c]++
			n, first := seen[c], order[0] == c
			mu.Unlock()
			if first && n == 50 {
				c.close = true
				return nil
			}
			if !first && n == 50 {
				cancel()
			}
			return kv.do(args)
		})
		cfg := testConfig(f.addr())
		cfg.Clients, cfg.Pipeline, cfg.Duration, cfg.Rate = 1, 1, time.Minute, rate
		r, err := Run(ctx, cfg)
		deadline := ctx.Err() == context.DeadlineExceeded
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		conns, second := len(order), 0
		if conns > 1 {
			second = seen[order[1]]
		}
		mu.Unlock()
		if deadline || conns != 2 || second < 50 {
			t.Fatalf("rate %v: %d connections, %d commands on the second (deadline hit: %v); want 2, >= 50", rate, conns, second, deadline)
		}
		resets, ok := r.Errors[KindReset], r.Total.Requests-r.Total.Errors
		if ok != handled.Load()-1 || resets < 1 || r.Total.Errors != resets || len(r.Errors) != 1 {
			t.Errorf("rate %v: %d requests, %d answered, errors %v; want every request but the dropped one answered (%d) and the rest %s",
				rate, r.Total.Requests, ok, r.Errors, handled.Load()-1, KindReset)
		}
		if rate == 0 && resets != 1 {
			t.Errorf("closed loop: %d %s, want exactly the one request in flight", resets, KindReset)
		}
	}
}

// TestWarmupNotCounted checks that warm-up requests reach the server but
// not the results, and that the measured count stays exact.
func TestWarmupNotCounted(t *testing.T) {
	for _, rate := range []float64{0, 20000} {
		var kv kvStore
		var served atomic.Int64
		f := startFake(t, func(_ *fakeConn, args [][]byte) []byte { served.Add(1); return kv.do(args) })
		cfg := testConfig(f.addr())
		cfg.Warmup, cfg.Requests, cfg.Rate = 150*time.Millisecond, 1000, rate
		r := mustRun(t, cfg)
		if r.Total.Requests != 1000 {
			t.Errorf("rate %v: measured %d requests, want 1000", rate, r.Total.Requests)
		}
		if s := served.Load(); s <= 1000 {
			t.Errorf("rate %v: server served %d, want more than 1000 (warm-up)", rate, s)
		}
	}
}

// TestZipfReachesServer counts the keys a server receives under zipf:1:
// the hottest key gets its share 1/H(n) and the head dominates.
func TestZipfReachesServer(t *testing.T) {
	var mu sync.Mutex
	counts := map[string]int{}
	f := startFake(t, func(_ *fakeConn, args [][]byte) []byte {
		mu.Lock()
		counts[string(args[1])]++
		mu.Unlock()
		return []byte("$-1\r\n")
	})
	cfg := testConfig(f.addr())
	cfg.Keyspace, cfg.Requests, cfg.Commands = 100, 20000, RatioCommands(0, 1, 0)
	cfg.KeyDist = KeyDist{Kind: "zipf", Param: 1}
	r := mustRun(t, cfg)
	mu.Lock()
	defer mu.Unlock()
	want := zipfExpected(100, 1)
	for _, k := range []int{0, 1, 9} {
		got := float64(counts["key:"+strconv.Itoa(k)]) / 20000
		if got < 0.85*want[k] || got > 1.15*want[k] {
			t.Errorf("key:%d got %.3f of requests, want %.3f", k, got, want[k])
		}
	}
	if get, _ := r.Op("GET"); get.Misses != 20000 || get.HitRatio != 0 {
		t.Errorf("all-nil replies: misses %d, hit ratio %v", get.Misses, get.HitRatio)
	}
}

// TestCancel stops a long run through its context and gets the partial
// result.
func TestCancel(t *testing.T) {
	for _, rate := range []float64{0, 5000} {
		var kv kvStore
		f := startFake(t, func(_ *fakeConn, args [][]byte) []byte { return kv.do(args) })
		cfg := testConfig(f.addr())
		cfg.Duration, cfg.Rate = time.Hour, rate
		ctx, cancel := context.WithCancel(context.Background())
		var seen atomic.Int64
		cfg.Progress = func(p Progress) {
			if seen.Add(1) == 1 {
				cancel() // after the first progress report, about a second in
			}
		}
		r, err := Run(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if r.Total.Requests == 0 || r.Elapsed > 60 || seen.Load() < 1 {
			t.Errorf("rate %v: cancelled run: %d requests in %.1fs, %d progress calls", rate, r.Total.Requests, r.Elapsed, seen.Load())
		}
	}
}
