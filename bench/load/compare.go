package load

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// Comparison is the same workload run against two targets in alternating
// rounds (A B A B …), so slow drift of the machine hits both alike.
type Comparison struct {
	A       string      `json:"a"`
	B       string      `json:"b"`
	Rounds  []RoundPair `json:"rounds"`
	Ops     []OpRatio   `json:"ratios"` // per operation, then TOTAL
	MergedA *Result     `json:"merged_a"`
	MergedB *Result     `json:"merged_b"`
}

// RoundPair is one round's results.
type RoundPair struct {
	A *Result `json:"a"`
	B *Result `json:"b"`
}

// OpRatio is one operation's A/B ratios over the rounds: throughput (above 1
// means A is faster) and latency percentiles (below 1 means A is faster).
type OpRatio struct {
	Name       string `json:"name"`
	Throughput Spread `json:"ops_per_sec"`
	P50        Spread `json:"p50"`
	P99        Spread `json:"p99"`
	// HitRatioA and HitRatioB are the merged hit ratios (-1 without reads).
	HitRatioA float64 `json:"hit_ratio_a"`
	HitRatioB float64 `json:"hit_ratio_b"`
}

// Spread is a ratio's median and range over the rounds.
type Spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

func newSpread(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: med, Min: s[0], Max: s[len(s)-1], Values: v}
}

// Compare runs cfg against addrA and addrB, alternating, rounds times each.
// The pre-load, if asked, runs in the first round only.
func Compare(ctx context.Context, cfg Config, addrA, addrB string, rounds int) (*Comparison, error) {
	if rounds < 1 {
		return nil, fmt.Errorf("%w: rounds must be positive", ErrConfig)
	}
	c := &Comparison{A: addrA, B: addrB}
	for i := 0; i < rounds && ctx.Err() == nil; i++ {
		var pair RoundPair
		for _, t := range []struct {
			name, addr string
			dst        **Result
		}{{"A", addrA, &pair.A}, {"B", addrB, &pair.B}} {
			rc := cfg
			rc.Addrs = []string{t.addr}
			rc.Preload = cfg.Preload && i == 0
			if show := cfg.Progress; show != nil {
				label := fmt.Sprintf("%s %d/%d ", t.name, i+1, rounds)
				rc.Progress = func(p Progress) { p.Phase = label + p.Phase; show(p) }
			}
			r, err := Run(ctx, rc)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", i+1, t.addr, err)
			}
			*t.dst = r
		}
		c.Rounds = append(c.Rounds, pair)
	}
	c.ratios()
	return c, nil
}

// ratios fills Ops and the merged results from Rounds.
func (c *Comparison) ratios() {
	if len(c.Rounds) == 0 {
		return
	}
	var as, bs []*Result
	for _, p := range c.Rounds {
		as, bs = append(as, p.A), append(bs, p.B)
	}
	c.MergedA, c.MergedB = mergeResults(as), mergeResults(bs)
	get := func(r *Result, i int) OpResult {
		if i < len(r.Ops) {
			return r.Ops[i]
		}
		return r.Total
	}
	for i := 0; i <= len(c.Rounds[0].A.Ops); i++ {
		var tp, p50, p99 []float64
		for _, p := range c.Rounds {
			a, b := get(p.A, i), get(p.B, i)
			tp = append(tp, div(a.OpsPerSec, b.OpsPerSec))
			p50 = append(p50, div(a.Latency.P50, b.Latency.P50))
			p99 = append(p99, div(a.Latency.P99, b.Latency.P99))
		}
		c.Ops = append(c.Ops, OpRatio{Name: get(c.Rounds[0].A, i).Name, Throughput: newSpread(tp), P50: newSpread(p50), P99: newSpread(p99),
			HitRatioA: get(c.MergedA, i).HitRatio, HitRatioB: get(c.MergedB, i).HitRatio})
	}
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteComparison prints both targets' merged tables and the ratio table.
func WriteComparison(w io.Writer, c *Comparison) error {
	fmt.Fprintf(w, "A = %s\n", c.A)
	if err := WriteTable(w, c.MergedA); err != nil {
		return err
	}
	fmt.Fprintf(w, "B = %s\n", c.B)
	if err := WriteTable(w, c.MergedB); err != nil {
		return err
	}
	fmt.Fprintf(w, "A/B over %d rounds (median [min–max]); ops/s > 1 and latency < 1 favour A\n", len(c.Rounds))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "op\tops/s A/B\tp50 A/B\tp99 A/B\thit ratio A | B")
	for _, o := range c.Ops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s | %s\n", o.Name, o.Throughput, o.P50, o.P99, ratioText(o.HitRatioA), ratioText(o.HitRatioB))
	}
	return tw.Flush()
}

// String formats the spread as "median [min–max]".
func (s Spread) String() string { return fmt.Sprintf("%.2f [%.2f–%.2f]", s.Median, s.Min, s.Max) }
