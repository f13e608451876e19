package load

import (
	"maps"
	"math"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what one run measured. Latencies are in microseconds.
type Result struct {
	Target   string  `json:"target"`
	Mode     string  `json:"mode"` // "closed-loop" or "open-loop"
	Clients  int     `json:"clients"`
	Pipeline int     `json:"pipeline"`
	Rate     float64 `json:"rate,omitempty"` // open loop: ops/s asked for
	Keyspace uint64  `json:"keyspace"`
	KeyDist  string  `json:"key_dist"`
	DataSize string  `json:"data_size"`
	// Elapsed is the measured phase's length in seconds, from its start to
	// the last reply.
	Elapsed float64    `json:"elapsed_s"`
	Ops     []OpResult `json:"ops"`
	Total   OpResult   `json:"total"`
	// Errors counts error replies by their first word ("ERR", "MOVED",
	// "OOM"…) and failures without a reply by kind ("timeout",
	// "conn-reset"…). Followed MOVED/ASK redirections are listed here too,
	// though the requests they redirected succeeded.
	Errors map[string]int64 `json:"errors"`
	// Redirects is the number of requests that reached their key's node by
	// following MOVED or ASK; Refreshes the number of slot maps loaded.
	Redirects int64 `json:"redirects_followed,omitempty"`
	Refreshes int64 `json:"slot_map_loads,omitempty"`
	// Timeline is the measured phase second by second.
	Timeline []Second `json:"timeline"`
	// Preload describes the fill phase, if any.
	Preload *Preload `json:"preload,omitempty"`

	hists []*hdrhistogram.Histogram // per op, then the total; for merging and plots
}

// OpResult is one operation's measurements (or the total's).
type OpResult struct {
	Name      string  `json:"name"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// Hits and Misses count non-nil and nil replies to reads (GET, HGET…);
	// HitRatio is Hits/(Hits+Misses), or -1 when there were no reads.
	Hits     int64   `json:"hits"`
	Misses   int64   `json:"misses"`
	HitRatio float64 `json:"hit_ratio"`
	Latency  Latency `json:"latency_us"`
}

// Latency summarises a latency histogram, in microseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
	// Spectrum is the latency at percentiles from 0 to 99.999, for plots.
	Spectrum []Point `json:"spectrum"`
}

// Point is the latency (µs) at a percentile.
type Point struct {
	Percentile float64 `json:"percentile"`
	Micros     float64 `json:"us"`
}

// Preload describes the fill phase.
type Preload struct {
	Keys      int64   `json:"keys"`
	Errors    int64   `json:"errors"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
}

// spectrumPercentiles are the points of the latency distribution plot:
// evenly spaced on the "number of nines" axis HdrHistogram plots use.
var spectrumPercentiles = func() []float64 {
	var ps []float64
	for nines := 0.0; nines <= 5.0001; nines += 0.125 {
		ps = append(ps, 100*(1-math.Pow(10, -nines)))
	}
	return ps
}()

func us(ns int64) float64 { return float64(ns) / 1e3 }

func summarise(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	l := Latency{
		Mean: h.Mean() / 1e3, P50: us(h.ValueAtQuantile(50)), P90: us(h.ValueAtQuantile(90)),
		P99: us(h.ValueAtQuantile(99)), P999: us(h.ValueAtQuantile(99.9)), Max: us(h.Max()),
	}
	for _, p := range spectrumPercentiles {
		l.Spectrum = append(l.Spectrum, Point{Percentile: p, Micros: us(h.ValueAtQuantile(p))})
	}
	return l
}

func hitRatio(hits, misses int64) float64 {
	if hits+misses == 0 {
		return -1
	}
	return float64(hits) / float64(hits+misses)
}

// buildResult merges the recorders of a phase.
func buildResult(cfg *Config, recs []*recorder, elapsed time.Duration) *Result {
	r := &Result{Errors: map[string]int64{}, Elapsed: elapsed.Seconds()}
	n := len(cfg.Commands)
	r.hists = make([]*hdrhistogram.Histogram, n+1)
	for i := range r.hists {
		r.hists[i] = newHist()
	}
	r.Ops = make([]OpResult, n)
	for i, c := range cfg.Commands {
		r.Ops[i].Name = c.Name
	}
	for _, rec := range recs {
		for i := range rec.ops {
			s, o := &rec.ops[i], &r.Ops[i]
			o.Requests += s.count
			o.Errors += s.errors
			o.Hits += s.hits
			o.Misses += s.misses
			r.hists[i].Merge(s.hist)
		}
		for k, v := range rec.errs {
			r.Errors[k] += v
		}
	}
	r.Total.Name = "TOTAL"
	for i := range r.Ops {
		r.hists[n].Merge(r.hists[i])
		o := &r.Ops[i]
		r.Total.Requests += o.Requests
		r.Total.Errors += o.Errors
		r.Total.Hits += o.Hits
		r.Total.Misses += o.Misses
	}
	r.finish()
	return r
}

// finish derives rates, ratios and percentiles from counts and histograms.
func (r *Result) finish() {
	for i := range r.Ops {
		r.Ops[i].finish(r.hists[i], r.Elapsed)
	}
	r.Total.finish(r.hists[len(r.Ops)], r.Elapsed)
}

func (o *OpResult) finish(h *hdrhistogram.Histogram, elapsed float64) {
	if elapsed > 0 {
		o.OpsPerSec = float64(o.Requests) / elapsed
	}
	o.HitRatio = hitRatio(o.Hits, o.Misses)
	o.Latency = summarise(h)
}

// Op returns the named operation's result, or false.
func (r *Result) Op(name string) (OpResult, bool) {
	for _, o := range r.Ops {
		if o.Name == name {
			return o, true
		}
	}
	return OpResult{}, false
}

// ErrorKinds returns the error kinds in a stable order.
func (r *Result) ErrorKinds() []string { return slices.Sorted(maps.Keys(r.Errors)) }

// mergeResults sums results of the same workload (compare rounds): counts,
// errors and histograms add up, elapsed times add up.
func mergeResults(rs []*Result) *Result {
	if len(rs) == 0 {
		return nil
	}
	m := *rs[0]
	m.Errors = maps.Clone(rs[0].Errors)
	m.Timeline = slices.Clone(rs[0].Timeline)
	m.Ops = slices.Clone(rs[0].Ops)
	m.hists = make([]*hdrhistogram.Histogram, len(rs[0].hists))
	for i, h := range rs[0].hists {
		m.hists[i] = hdrhistogram.Import(h.Export())
	}
	for _, r := range rs[1:] {
		m.Elapsed += r.Elapsed
		for i := range m.Ops {
			addCounts(&m.Ops[i], &r.Ops[i])
		}
		addCounts(&m.Total, &r.Total)
		for k, v := range r.Errors {
			m.Errors[k] += v
		}
		for i, h := range r.hists {
			m.hists[i].Merge(h)
		}
		off := len(m.Timeline)
		for _, sec := range r.Timeline {
			sec.T += off
			m.Timeline = append(m.Timeline, sec)
		}
	}
	m.finish()
	return &m
}

func addCounts(a, b *OpResult) {
	a.Requests += b.Requests
	a.Errors += b.Errors
	a.Hits += b.Hits
	a.Misses += b.Misses
}
