package load

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the summary table: one line per operation and a total,
// then the hit ratio and the errors by kind.
func WriteTable(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "target %s  %s  clients %d  pipeline %d", r.Target, r.Mode, r.Clients, r.Pipeline)
	if r.Rate > 0 {
		fmt.Fprintf(w, "  rate %.0f/s", r.Rate)
	}
	fmt.Fprintf(w, "  keys %d %s  data %s B  %.2fs\n", r.Keyspace, r.KeyDist, r.DataSize, r.Elapsed)
	if p := r.Preload; p != nil {
		fmt.Fprintf(w, "preload: %d keys in %.2fs (%.0f ops/s, %d errors)\n", p.Keys, p.Seconds, p.OpsPerSec, p.Errors)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\trequests\tops/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\thit ratio\t")
	for _, o := range append(append([]OpResult{}, r.Ops...), r.Total) {
		l := o.Latency
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%s\t\n",
			o.Name, o.Requests, o.OpsPerSec, l.P50/1e3, l.P90/1e3, l.P99/1e3, l.P999/1e3, l.Max/1e3, o.Errors, ratioText(o.HitRatio))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		var parts []string
		for _, k := range r.ErrorKinds() {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.Errors[k]))
		}
		fmt.Fprintf(w, "errors by kind: %s\n", strings.Join(parts, " "))
	}
	if r.Redirects > 0 || r.Refreshes > 0 {
		fmt.Fprintf(w, "cluster: %d redirects followed, %d slot map loads\n", r.Redirects, r.Refreshes)
	}
	_, err := fmt.Fprintln(w)
	return err
}

func ratioText(r float64) string {
	if r < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*r)
}

// WriteJSON writes v (a *Result or a *Comparison) as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ProgressLine formats p as the one-line live display.
func ProgressLine(p Progress) string {
	left := ""
	switch {
	case p.Left > 0:
		left = fmt.Sprintf("%s left", p.Left.Round(time.Second))
	case p.Requests > 0:
		left = fmt.Sprintf("%d/%d", p.Done, p.Requests)
	}
	p99 := "       -"
	if p.P99 > 0 {
		p99 = fmt.Sprintf("%8.3f", float64(p.P99)/1e6)
	}
	return fmt.Sprintf("%-7s %6.1fs  %10.0f ops/s  p99 %s ms  errors %d  %s",
		p.Phase, p.Elapsed.Seconds(), p.OpsPerSec, p99, p.Errors, left)
}
