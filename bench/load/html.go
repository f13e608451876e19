package load

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// series is one line of a chart.
type series struct {
	name string
	x, y []float64
}

// chart renders series as an inline SVG line chart. xTicks maps x positions
// to labels; without them the x axis gets five numeric ticks.
type chart struct {
	title, xLabel, yLabel string
	lines                 []series
	xTicks                map[float64]string
	logY                  bool // logarithmic y axis (latencies span decades)
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

const (
	chartW, chartH = 720, 300
	padL, padR     = 70, 150
	padT, padB     = 30, 45
)

// svg returns the chart as an <svg> element.
func (c chart) svg() template.HTML {
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range c.lines {
		for i := range s.x {
			minX, maxX = math.Min(minX, s.x[i]), math.Max(maxX, s.x[i])
			maxY = math.Max(maxY, s.y[i])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, padL, html.EscapeString(c.title))
	if math.IsInf(minX, 0) {
		b.WriteString(`<text x="200" y="150">no data</text></svg>`)
		return template.HTML(b.String())
	}
	if maxX == minX {
		maxX = minX + 1
	}
	if maxY == 0 {
		maxY = 1
	}
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(x float64) float64 { return padL + (x-minX)/(maxX-minX)*pw }
	yTicks, py := c.yScale(maxY, ph)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, padL, padT, pw, ph)
	for _, y := range yTicks {
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, padL+pw, py(y), py(y), padL-5, py(y)+4, num(y))
	}
	ticks := c.xTicks
	if ticks == nil {
		ticks = map[float64]string{}
		step := (maxX - minX) / 4
		if maxX-minX >= 1 {
			step = math.Ceil(step)
		}
		for x := minX; x <= maxX+step/1e6; x += step {
			ticks[x] = num(x)
		}
	}
	for _, x := range slices.Sorted(maps.Keys(ticks)) {
		label := ticks[x]
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, px(x), padT+int(ph)+15, html.EscapeString(label))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`, padL+pw/2, chartH-8, html.EscapeString(c.xLabel))
	fmt.Fprintf(&b, `<text x="14" y="%.0f" transform="rotate(-90 14 %.0f)" text-anchor="middle">%s</text>`, padT+ph/2, padT+ph/2, html.EscapeString(c.yLabel))
	for i, s := range c.lines {
		col := palette[i%len(palette)]
		b.WriteString(`<polyline fill="none" stroke-width="1.8" stroke="` + col + `" points="`)
		for j := range s.x {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(s.x[j]), py(s.y[j]))
		}
		b.WriteString(`"/>`)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="12" height="3" fill="%s"/><text x="%.0f" y="%d">%s</text>`,
			padL+pw+10, padT+8+16*i, col, padL+pw+26, padT+12+16*i, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// yScale returns the y axis ticks and the value-to-pixel mapping: linear
// from 0, or logarithmic over whole decades.
func (c chart) yScale(maxY, ph float64) ([]float64, func(float64) float64) {
	if !c.logY {
		maxY = niceCeil(maxY)
		ticks := []float64{0, maxY / 4, maxY / 2, 3 * maxY / 4, maxY}
		return ticks, func(y float64) float64 { return padT + ph - y/maxY*ph }
	}
	minY := maxY
	for _, s := range c.lines {
		for _, y := range s.y {
			if y > 0 {
				minY = math.Min(minY, y)
			}
		}
	}
	lo, hi := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	if hi <= lo {
		hi = lo + 1
	}
	var ticks []float64
	for e := lo; e <= hi; e++ {
		ticks = append(ticks, math.Pow(10, e))
	}
	return ticks, func(y float64) float64 {
		l := lo
		if y > 0 {
			l = math.Max(math.Log10(y), lo)
		}
		return padT + ph - (l-lo)/(hi-lo)*ph
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}

// ninesTicks label the latency distribution's x axis (number of nines).
var ninesTicks = map[float64]string{0: "0%", 1: "90%", 2: "99%", 3: "99.9%", 4: "99.99%", 5: "99.999%"}

func spectrumSeries(name string, l Latency) series {
	s := series{name: name}
	for _, p := range l.Spectrum {
		s.x = append(s.x, -math.Log10(1-p.Percentile/100+1e-12))
		s.y = append(s.y, p.Micros/1e3)
	}
	return s
}

// timeSeries extracts one per-second quantity; ok reports whether any
// second had data for it.
func timeSeries(name string, tl []Second, f func(Second) (float64, bool)) (series, bool) {
	s := series{name: name}
	for _, sec := range tl {
		if v, ok := f(sec); ok {
			s.x, s.y = append(s.x, float64(sec.T)), append(s.y, v)
		}
	}
	return s, len(s.x) > 0
}

// htmlSection is one target's part of a report.
type htmlSection struct {
	Title  string
	R      *Result
	Charts []template.HTML
}

func sectionFor(title string, r *Result) htmlSection {
	sec := htmlSection{Title: title, R: r}
	dist := chart{title: "Latency by percentile", xLabel: "percentile", yLabel: "latency (ms, log scale)", xTicks: ninesTicks, logY: true}
	for _, o := range append(append([]OpResult{}, r.Ops...), r.Total) {
		if o.Requests > 0 {
			dist.lines = append(dist.lines, spectrumSeries(o.Name, o.Latency))
		}
	}
	sec.Charts = append(sec.Charts, dist.svg())
	sec.Charts = append(sec.Charts, timelineCharts(r.Timeline, "")...)
	return sec
}

// opsRate is a second's throughput; seconds cut short by the end of the
// run (under half a second) are left out, their rate is noise.
func opsRate(s Second) (float64, bool) {
	if s.Span < 0.5 {
		return 0, false
	}
	return float64(s.Ops) / s.Span, true
}

// timelineCharts renders throughput, p99 and hit ratio over time.
func timelineCharts(tl []Second, name string) []template.HTML {
	tp, _ := timeSeries(name+" ops/s", tl, opsRate)
	p99, _ := timeSeries(name+" p99", tl, func(s Second) (float64, bool) { return s.P99 / 1e3, s.Ops > 0 })
	out := []template.HTML{
		chart{title: "Throughput over time", xLabel: "second", yLabel: "ops/s", lines: []series{tp}}.svg(),
		chart{title: "p99 latency over time", xLabel: "second", yLabel: "p99 (ms)", lines: []series{p99}}.svg(),
	}
	hr, ok := timeSeries(name+" hit %", tl, func(s Second) (float64, bool) {
		return 100 * float64(s.Hits) / float64(max(s.Hits+s.Misses, 1)), s.Hits+s.Misses > 0
	})
	if ok {
		out = append(out, chart{title: "GET hit ratio over time", xLabel: "second", yLabel: "hit ratio (%)", lines: []series{hr}}.svg())
	}
	return out
}

// compareCharts overlays A and B.
func compareCharts(c *Comparison) []template.HTML {
	dist := chart{title: "Latency by percentile (all rounds, all ops)", xLabel: "percentile", yLabel: "latency (ms, log scale)", xTicks: ninesTicks, logY: true,
		lines: []series{spectrumSeries("A", c.MergedA.Total.Latency), spectrumSeries("B", c.MergedB.Total.Latency)}}
	tpA, _ := timeSeries("A", c.MergedA.Timeline, opsRate)
	tpB, _ := timeSeries("B", c.MergedB.Timeline, opsRate)
	tput := chart{title: "Throughput per second (rounds back to back)", xLabel: "second", yLabel: "ops/s", lines: []series{tpA, tpB}}
	return []template.HTML{dist.svg(), tput.svg()}
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":    func(us float64) string { return fmt.Sprintf("%.3f", us/1e3) },
	"ratio": ratioText,
	"f0":    func(v float64) string { return fmt.Sprintf("%.0f", v) },
	"all":   func(r *Result) []OpResult { return append(append([]OpResult{}, r.Ops...), r.Total) },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>bench report</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}
svg{display:block;margin:1em 0}</style></head><body>
<h1>bench report</h1><p>generated {{.When}}</p>
{{with .Cmp}}<h2>A/B ratios over {{len .Rounds}} rounds</h2>
<p>A = {{.A}}, B = {{.B}}. Median [min–max] of per-round ratios; ops/s above 1 and latency below 1 favour A.</p>
<table><tr><th>op</th><th>ops/s A/B</th><th>p50 A/B</th><th>p99 A/B</th><th>hit ratio A</th><th>hit ratio B</th></tr>
{{range .Ops}}<tr><td>{{.Name}}</td><td>{{.Throughput}}</td><td>{{.P50}}</td><td>{{.P99}}</td><td>{{ratio .HitRatioA}}</td><td>{{ratio .HitRatioB}}</td></tr>{{end}}</table>
{{end}}{{range .CmpCharts}}{{.}}{{end}}
{{range .Sections}}<h2>{{.Title}}</h2>{{with .R}}
<p>{{.Target}} — {{.Mode}}, {{.Clients}} clients, pipeline {{.Pipeline}}{{if .Rate}}, rate {{f0 .Rate}}/s{{end}}, {{.Keyspace}} keys {{.KeyDist}}, values {{.DataSize}} B, {{printf "%.2f" .Elapsed}} s measured.</p>
{{with .Preload}}<p>Preload: {{.Keys}} keys in {{printf "%.2f" .Seconds}} s ({{.Errors}} errors).</p>{{end}}
<table><tr><th>op</th><th>requests</th><th>ops/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>errors</th><th>hit ratio</th></tr>
{{range all .}}<tr><td>{{.Name}}</td><td>{{.Requests}}</td><td>{{f0 .OpsPerSec}}</td><td>{{ms .Latency.P50}}</td><td>{{ms .Latency.P90}}</td><td>{{ms .Latency.P99}}</td><td>{{ms .Latency.P999}}</td><td>{{ms .Latency.Max}}</td><td>{{.Errors}}</td><td>{{ratio .HitRatio}}</td></tr>{{end}}</table>
{{if .Errors}}<p>Errors by kind: {{range $k, $v := .Errors}}{{$k}}={{$v}} {{end}}</p>{{end}}{{end}}
{{range .Charts}}{{.}}{{end}}{{end}}
</body></html>
`))

// WriteHTML writes a self-contained report for a *Result or a *Comparison:
// tables plus inline SVG charts of the latency distribution, throughput, p99
// and hit ratio over time. It loads nothing from the network.
func WriteHTML(w io.Writer, v any, now time.Time) error {
	data := struct {
		When      string
		Cmp       *Comparison
		CmpCharts []template.HTML
		Sections  []htmlSection
	}{When: now.UTC().Format(time.RFC3339)}
	switch x := v.(type) {
	case *Result:
		data.Sections = []htmlSection{sectionFor("Results", x)}
	case *Comparison:
		data.Cmp = x
		data.CmpCharts = compareCharts(x)
		data.Sections = []htmlSection{sectionFor("A: "+x.A, x.MergedA), sectionFor("B: "+x.B, x.MergedB)}
	default:
		return fmt.Errorf("%w: WriteHTML takes a *Result or a *Comparison, not %T", ErrConfig, v)
	}
	return reportTmpl.Execute(w, data)
}
