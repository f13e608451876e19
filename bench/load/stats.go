package load

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cached/cached/protocol"
)

// Latencies are recorded in nanoseconds, 3 significant digits, up to a
// minute (longer ones are clamped), as HdrHistogram is meant to be used.
const (
	histMax       = int64(time.Minute)
	histDigits    = 3
	intervalDigit = 2 // per-second histograms: 1% precision is plenty for a timeline
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, histDigits) }

// manyHistograms is the number of per-connection, per-operation histograms
// above which recorders drop to 2 significant digits (1% precision, 30 KB
// instead of 220 KB each) so thousands of connections stay affordable.
const manyHistograms = 512

// recorderDigits returns the histogram precision for a run's recorders.
func recorderDigits(cfg *Config) int {
	if cfg.Clients*len(cfg.Commands) > manyHistograms {
		return intervalDigit
	}
	return histDigits
}

var intervalPool = sync.Pool{New: func() any { return hdrhistogram.New(1, histMax, intervalDigit) }}

// Error kinds for failures without a reply (error replies are counted by
// their first word: "ERR", "MOVED", "WRONGTYPE", …).
const (
	KindTimeout  = "timeout"        // no reply within Config.Timeout
	KindReset    = "conn-reset"     // connection reset or closed by the peer
	KindRefused  = "conn-refused"   // dial failed
	KindProtocol = "protocol-error" // the reply was not valid RESP
	KindIO       = "io-error"       // any other I/O error
	KindRedirect = "redirect-loop"  // more than maxRedirects MOVED/ASK for one request
)

// errKind classifies an I/O error.
func errKind(err error) string {
	var ne net.Error
	var re protocol.ReplyError
	switch {
	case errors.As(err, &re): // a refused AUTH: "WRONGPASS", "ERR"…
		code, _, _ := strings.Cut(string(re), " ")
		return code
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return KindTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return KindReset
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, protocol.ErrProtocol), errors.Is(err, protocol.ErrReplyTooLarge):
		return KindProtocol
	}
	return KindIO
}

// live holds one worker's running totals, read by the progress display.
type live struct {
	ops, errors atomic.Int64
	_           [48]byte // keep workers' counters on separate cache lines
}

// opStats is one operation's measurements within one recorder.
type opStats struct {
	hist                        *hdrhistogram.Histogram
	count, errors, hits, misses int64
}

// interval is one recorder's measurements for one second of the timeline.
type interval struct {
	sec                       int
	ops, errors, hits, misses int64
	hist                      *hdrhistogram.Histogram
}

// recorder accumulates the measurements of one reading goroutine, so no two
// goroutines share a histogram or a lock. Not safe for concurrent use.
type recorder struct {
	start time.Time // measured phase start; earlier sends are warm-up
	cmds  []Command
	ops   []opStats
	errs  map[string]int64
	live  *live
	cur   interval
	out   chan<- interval // to the collector; nil to keep no timeline
}

func newRecorder(sh *shared, lv *live) *recorder {
	cmds := sh.cfg.Commands
	r := &recorder{start: sh.start, cmds: cmds, ops: make([]opStats, len(cmds)), errs: map[string]int64{}, live: lv, out: sh.out, cur: interval{sec: -1}}
	digits := recorderDigits(sh.cfg)
	for i := range r.ops {
		r.ops[i].hist = hdrhistogram.New(1, histMax, digits)
	}
	return r
}

// done records a reply to op sent (or due) at sent and read at now. It
// reports false for warm-up requests, which are not measured.
func (r *recorder) done(op int, sent, now time.Time, rep protocol.Reply) {
	r.live.ops.Add(1)
	if sent.Before(r.start) {
		return
	}
	lat := int64(now.Sub(sent))
	lat = min(max(lat, 1), histMax)
	s := &r.ops[op]
	s.count++
	_ = s.hist.RecordValue(lat)
	iv := r.tick(now)
	iv.ops++
	_ = iv.hist.RecordValue(lat)
	switch {
	case rep.IsError():
		s.errors++
		iv.errors++
		r.live.errors.Add(1)
		r.countErr(rep.ErrorCode())
	case !r.cmds[op].read:
	case rep.Kind == protocol.KindNil:
		s.misses++
		iv.misses++
	default:
		s.hits++
		iv.hits++
	}
}

// failed records a request that got no reply, with an error kind.
func (r *recorder) failed(op int, sent, now time.Time, kind string) {
	r.live.ops.Add(1)
	r.live.errors.Add(1)
	if sent.Before(r.start) {
		return
	}
	r.ops[op].count++
	r.ops[op].errors++
	r.tick(now).errors++
	r.errs[kind]++
}

// redirected counts a MOVED or ASK reply that was followed.
func (r *recorder) redirected(sent time.Time, code []byte) {
	if !sent.Before(r.start) {
		r.countErr(code)
	}
}

func (r *recorder) countErr(code []byte) {
	if n, ok := r.errs[string(code)]; ok {
		r.errs[string(code)] = n + 1
		return
	}
	r.errs[string(code)] = 1
}

// tick returns the interval for now, handing the previous one to the
// collector when the second changed.
func (r *recorder) tick(now time.Time) *interval {
	sec := int(now.Sub(r.start) / time.Second)
	if sec != r.cur.sec {
		r.flush()
		r.cur = interval{sec: sec, hist: intervalPool.Get().(*hdrhistogram.Histogram)}
	}
	return &r.cur
}

// flush hands the current interval to the collector.
func (r *recorder) flush() {
	if r.cur.hist == nil {
		return
	}
	if r.out != nil {
		r.out <- r.cur
	} else {
		r.cur.hist.Reset()
		intervalPool.Put(r.cur.hist)
	}
	r.cur = interval{sec: -1}
}

// Second is one second of the measured phase.
type Second struct {
	T int `json:"t"` // seconds since the measured phase began
	// Span is the part of this second inside the measured phase: 1, less
	// for the last one. Its rate is Ops/Span.
	Span   float64 `json:"span_s"`
	Ops    int64   `json:"ops"`
	Errors int64   `json:"errors"`
	Hits   int64   `json:"hits"`
	Misses int64   `json:"misses"`
	P50    float64 `json:"p50_us"`
	P99    float64 `json:"p99_us"`
	Max    float64 `json:"max_us"`
}

// secAgg is a second being merged from several recorders.
type secAgg struct {
	s    Second
	hist *hdrhistogram.Histogram // nil once finalised
}

// collector merges recorders' intervals into the timeline. Its run method
// is the only goroutine touching secs.
type collector struct {
	in   chan interval
	secs map[int]*secAgg
	last int // highest second seen
}

// finaliseLag is how many seconds back a second's histogram is kept open for
// late intervals (from connections blocked on a slow reply).
const finaliseLag = 5

func newCollector(workers int) *collector {
	return &collector{in: make(chan interval, 4*workers+16), secs: map[int]*secAgg{}, last: -1}
}

func (c *collector) add(iv interval) {
	a := c.secs[iv.sec]
	if a == nil {
		a = &secAgg{s: Second{T: iv.sec}, hist: hdrhistogram.New(1, histMax, intervalDigit)}
		c.secs[iv.sec] = a
	}
	a.s.Ops += iv.ops
	a.s.Errors += iv.errors
	a.s.Hits += iv.hits
	a.s.Misses += iv.misses
	if a.hist != nil {
		a.hist.Merge(iv.hist)
	} else if m := float64(iv.hist.Max()) / 1e3; m > a.s.Max {
		a.s.Max = m
	}
	iv.hist.Reset()
	intervalPool.Put(iv.hist)
	if iv.sec > c.last {
		c.last = iv.sec
		if old := c.secs[iv.sec-finaliseLag]; old != nil {
			old.finalise()
		}
	}
}

func (a *secAgg) finalise() {
	if a.hist == nil {
		return
	}
	a.s.P50 = float64(a.hist.ValueAtQuantile(50)) / 1e3
	a.s.P99 = float64(a.hist.ValueAtQuantile(99)) / 1e3
	a.s.Max = max(a.s.Max, float64(a.hist.Max())/1e3)
	a.hist = nil
}

// p99 returns the 99th percentile of second sec so far, or 0.
func (c *collector) p99(sec int) time.Duration {
	a := c.secs[sec]
	if a == nil {
		return 0
	}
	if a.hist == nil {
		return time.Duration(a.s.P99 * 1e3)
	}
	return time.Duration(a.hist.ValueAtQuantile(99))
}

// timeline finalises all seconds and returns them in order, with empty
// seconds filled in, covering a measured phase of length elapsed.
func (c *collector) timeline(elapsed time.Duration) []Second {
	n := max(c.last+1, int((elapsed+time.Second-1)/time.Second))
	out := make([]Second, 0, n)
	for i := 0; i < n; i++ {
		s := Second{T: i}
		if a := c.secs[i]; a != nil {
			a.finalise()
			s = a.s
		}
		s.Span = min(max((elapsed-time.Duration(i)*time.Second).Seconds(), 0.001), 1)
		out = append(out, s)
	}
	return out
}
