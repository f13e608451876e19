package latency

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// classicMin and classicMax are the classic buckets' bounds: 2^-20 s (≈0.95 µs)
// to 2^0 s, every 16th native bound, so the classic counts are exact sums
// of native buckets.
const (
	classicMin = -20
	classicMax = 0
)

// Metric builds the cached_command_duration_seconds sample of one
// command: a native histogram (schema 4, zero threshold 2^-24 s) that also
// carries classic buckets at powers of two of a second, as client_golang's
// own histograms do when both are configured. Scrapers that ask for the
// protobuf format get both; the text format shows the classic buckets. It
// returns nil for a command never observed.
func (l *Histogram) Metric(desc *prometheus.Desc, sum float64, cmd string) prometheus.Metric {
	cs, total := l.Counts()
	if total == 0 {
		return nil
	}
	pos := make(map[int]int64)
	for j := 1; j < len(cs)-1; j++ {
		if cs[j] > 0 {
			pos[minIndex+j] = int64(cs[j])
		}
	}
	if n := cs[len(cs)-1]; n > 0 { // beyond the last bound: one bucket further
		pos[maxIndex+1] = int64(n)
	}
	native, err := prometheus.NewConstNativeHistogram(desc, total, sum, pos, nil, cs[0],
		schema, boundSeconds(minIndex), time.Time{}, cmd)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	var classic []*dto.Bucket
	var cum uint64
	j := 0
	for p := classicMin; p <= classicMax; p++ {
		limit := (p * perOctave) - minIndex // slot of the bound 2^p s
		for ; j <= limit; j++ {
			cum += cs[j]
		}
		classic = append(classic, &dto.Bucket{CumulativeCount: new(cum), UpperBound: new(math.Exp2(float64(p)))})
	}
	return &dualHistogram{Metric: native, classic: classic}
}

// dualHistogram is a native histogram sample with classic buckets added.
type dualHistogram struct {
	prometheus.Metric
	classic []*dto.Bucket
}

// Write fills out with the native histogram, then the classic buckets.
func (d *dualHistogram) Write(out *dto.Metric) error {
	if err := d.Metric.Write(out); err != nil {
		return err
	}
	out.Histogram.Bucket = d.classic
	return nil
}
