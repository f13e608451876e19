package server

import (
	"strconv"
	"strings"

	"github.com/cached/cached/server/latency"
)

// latencyStatsInfo writes INFO's latencystats section body, as Redis 7:
// one line per command called, latency_percentiles_usec_<cmd>:p50=…,p99=…,p99.9=…
// (the percentiles of latency-tracking-info-percentiles; subcommands as
// container|sub), nothing while latency-tracking is off. info.go calls it
// under "# Latencystats".
func (s *Server) latencyStatsInfo(b *strings.Builder) {
	if !s.latTracking.Load() {
		return
	}
	ps := *s.latPercents.Load()
	line := func(c *command) {
		if c.latency.Total() == 0 {
			return
		}
		b.WriteString("latency_percentiles_usec_" + c.fullName + ":")
		appendPercentiles(b, &c.latency, ps)
		b.WriteString("\r\n")
	}
	for _, c := range s.cmds.sorted() {
		if c.subs == nil {
			line(c)
			continue
		}
		for _, sub := range sortedSubs(c) {
			line(sub)
		}
	}
}

func fmtMicros(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// appendPercentiles writes h's percentiles ps (in percent) as INFO
// latencystats does: p50=…,p99=…,p99.9=… in µs.
func appendPercentiles(b *strings.Builder, h *latency.Histogram, ps []float64) {
	appendQuantiles(b, ps, func(q float64) float64 {
		v, _ := h.PercentileMicros(q)
		return v
	})
}

// appendQuantiles writes percentiles ps (in percent) in appendPercentiles's
// format, each from micros, which returns quantile q (0-1) in µs.
func appendQuantiles(b *strings.Builder, ps []float64, micros func(q float64) float64) {
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("p" + strconv.FormatFloat(p, 'f', -1, 64) + "=" + fmtMicros(micros(p/100)))
	}
}
