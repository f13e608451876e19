// Command tracewin reads Go execution traces of cached processes (written
// with CACHED_TRACE_DIR, cmd/cached/trace.go) and reports, for a wall-clock
// window (-from, -to; RFC 3339): per 100 ms bucket, each goroutine kind's
// running time; the stretches in which every P ran goroutines other than
// connections (-conn names the connections' start function), by holder;
// connections' waits for a P and for locks, by the goroutine that released
// them; the distribution of connections' network waits (on a client: its
// request latencies); and CPU samples by goroutine kind and stack.
//
//	go run . -conn serveConn -from T0 -to T1 cached-PID-2.trace
//
// It is its own module so that cached does not depend on
// golang.org/x/exp/trace. scripts/handoff-trace.sh drives it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

type gstate struct {
	cat   string
	state trace.GoState
	since trace.Time
	// current episode (conn goroutines): from network wakeup to next network wait
	inEp       bool
	epStart    trace.Time
	runnable   time.Duration
	running    time.Duration
	waiting    map[string]time.Duration
	syscall    time.Duration
	assist     time.Duration
	assistAt   trace.Time
	inAssist   bool
	stwDuring  time.Duration
	reason     string
	blockStack trace.Stack
}

type bucket struct {
	run          map[string]time.Duration
	connRunnWait time.Duration
	connSync     time.Duration
	stw          time.Duration
	assist       time.Duration
	slow         int
	eps          int
	gcs          int
}

var (
	fromWall  = flag.String("from", "", "window start, RFC3339Nano wall clock (default trace start)")
	toWall    = flag.String("to", "", "window end")
	bucketD   = flag.Duration("bucket", 200*time.Millisecond, "bucket")
	slowD     = flag.Duration("slow", 2*time.Millisecond, "slow episode")
	connFn    = flag.String("conn", "redcon.(*Server).serve.func", "start function substring of connection goroutines")
	topN      = flag.Int("top", 30, "sample keys to print")
	showWaits = flag.Bool("waits", false, "count the waits of non-connection goroutines by reason")
	procs     = flag.Int("procs", 2, "GOMAXPROCS of the traced process")
	verbose   = flag.Bool("v", false, "print slow episodes")
)

func main() {
	flag.Parse()
	for _, f := range flag.Args() {
		analyze(f)
	}
}

func analyze(name string) {
	f, err := os.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	gs := map[trace.GoID]*gstate{}
	var snapWall time.Time
	var snapTrace trace.Time
	haveSnap := false
	wall := func(t trace.Time) time.Time {
		return snapWall.Add(time.Duration(int64(t) - int64(snapTrace)))
	}
	buckets := map[int64]*bucket{}
	bk := func(t trace.Time) *bucket {
		if !haveSnap {
			return &bucket{run: map[string]time.Duration{}}
		}
		k := wall(t).UnixNano() / int64(*bucketD)
		b := buckets[k]
		if b == nil {
			b = &bucket{run: map[string]time.Duration{}}
			buckets[k] = b
		}
		return b
	}
	var stwStart trace.Time
	inSTW := false
	var slowEps []string
	var total struct {
		eps, slow                                   int
		runnable, running, sync, sys, assist, other time.Duration
		reasons                                     map[string]time.Duration
	}
	total.reasons = map[string]time.Duration{}
	var first, last trace.Time
	waitBy := map[string]time.Duration{}
	waitN := map[string]int{}
	var lo, hi time.Time
	if *fromWall != "" {
		lo, _ = time.Parse(time.RFC3339Nano, *fromWall)
	}
	if *toWall != "" {
		hi, _ = time.Parse(time.RFC3339Nano, *toWall)
	}
	inWin := func(t trace.Time) bool {
		if !haveSnap {
			return false
		}
		w := wall(t)
		return (lo.IsZero() || !w.Before(lo)) && (hi.IsZero() || !w.After(hi))
	}
	var winRunnable time.Duration
	bgRun := 0
	var satFrom trace.Time
	var satD []time.Duration
	bgSet := map[trace.GoID]*gstate{}
	bgWaits := map[string]int{}
	satCats := ""
	satBy := map[string]time.Duration{}
	var runnD, netD, otherD []time.Duration
	samples := 0
	catSamples := map[string]int{}
	sampleBy := map[string]int{}
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		switch ev.Kind() {
		case trace.EventStackSample:
			if !inWin(ev.Time()) {
				continue
			}
			cat := "?"
			if g := gs[ev.Goroutine()]; g != nil {
				cat = short(g.cat)
			}
			samples++
			catSamples[cat]++
			sampleBy[cat+" :: "+sampleKey(ev.Stack())]++
		case trace.EventSync:
			s := ev.Sync()
			if s.ClockSnapshot != nil && !haveSnap {
				snapWall, snapTrace, haveSnap = s.ClockSnapshot.Wall, s.ClockSnapshot.Trace, true
			}
		case trace.EventRangeBegin, trace.EventRangeActive:
			rg := ev.Range()
			if strings.HasPrefix(rg.Name, "stop-the-world") {
				stwStart, inSTW = ev.Time(), true
			}
			if rg.Name == "GC mark assist" {
				if g := gs[ev.Goroutine()]; g != nil {
					g.assistAt, g.inAssist = ev.Time(), true
				}
			}
			if rg.Name == "GC concurrent mark phase" && ev.Kind() == trace.EventRangeBegin {
				bk(ev.Time()).gcs++
			}
		case trace.EventRangeEnd:
			rg := ev.Range()
			if strings.HasPrefix(rg.Name, "stop-the-world") && inSTW {
				d := ev.Time().Sub(stwStart)
				bk(ev.Time()).stw += d
				inSTW = false
			}
			if rg.Name == "GC mark assist" {
				if g := gs[ev.Goroutine()]; g != nil && g.inAssist {
					d := ev.Time().Sub(g.assistAt)
					g.inAssist = false
					bk(ev.Time()).assist += d
					if g.inEp {
						g.assist += d
					}
				}
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			id := st.Resource.Goroutine()
			from, to := st.Goroutine()
			g := gs[id]
			if g == nil {
				g = &gstate{cat: "?", state: from, since: ev.Time()}
				gs[id] = g
			}
			if from == trace.GoNotExist || g.cat == "?" {
				if fr := topFunc(st.Stack); fr != "" {
					g.cat = fr
				}
			}
			d := ev.Time().Sub(g.since)
			b := bk(ev.Time())
			{
				was := bgRun >= *procs
				if to != trace.GoRunning {
					delete(bgSet, id)
				} else if !strings.Contains(g.cat, *connFn) && g.cat != "?" {
					bgSet[id] = g
				}
				bgRun = len(bgSet)
				now := bgRun >= *procs
				if !was && now {
					satFrom = ev.Time()
					var cs []string
					for _, x := range bgSet {
						cs = append(cs, short(x.cat))
					}
					sort.Strings(cs)
					satCats = strings.Join(cs, "+")
				} else if was && !now && inWin(ev.Time()) {
					sd := ev.Time().Sub(satFrom)
					satD = append(satD, sd)
					if sd >= time.Millisecond {
						satBy[satCats] += sd
					}
				}
			}
			isConn := strings.Contains(g.cat, *connFn)
			switch g.state {
			case trace.GoRunning:
				b.run[g.cat] += d
				if g.inEp {
					g.running += d
				}
			case trace.GoRunnable:
				if isConn && inWin(ev.Time()) {
					runnD = append(runnD, d)
				}
				if isConn {
					b.connRunnWait += d
					if inWin(ev.Time()) {
						winRunnable += d
					}
				}
				if g.inEp {
					g.runnable += d
				}
			case trace.GoSyscall:
				if g.inEp {
					g.syscall += d
				}
			case trace.GoWaiting:
				if isConn && inWin(ev.Time()) {
					if g.reason == "network" {
						netD = append(netD, d)
					} else {
						otherD = append(otherD, d)
					}
				}
				if g.inEp {
					g.waiting[g.lastReason()] += d
				}
				if isConn && g.lastReason() != "network" {
					b.connSync += d
				}
			}
			// episode boundaries
			if isConn {
				if to == trace.GoWaiting && st.Reason == "network" && g.inEp {
					ep := ev.Time().Sub(g.epStart)
					b.eps++
					total.eps++
					if ep >= *slowD && inWin(ev.Time()) {
						b.slow++
						total.slow++
						total.runnable += g.runnable
						total.running += g.running
						total.sys += g.syscall
						total.assist += g.assist
						var ws []string
						for k, v := range g.waiting {
							total.reasons[k] += v
							ws = append(ws, fmt.Sprintf("%s=%v", k, v.Round(time.Microsecond)))
						}
						sort.Strings(ws)
						if haveSnap {
							slowEps = append(slowEps, fmt.Sprintf("%s g%d ep=%v runnable=%v running=%v syscall=%v assist=%v wait[%s]",
								wall(g.epStart).Format("15:04:05.000"), id, ep.Round(time.Microsecond), g.runnable.Round(time.Microsecond),
								g.running.Round(time.Microsecond), g.syscall.Round(time.Microsecond), g.assist.Round(time.Microsecond), strings.Join(ws, " ")))
						}
					}
					g.inEp = false
				}
				if from == trace.GoWaiting && g.reason == "network" && !g.inEp {
					g.inEp, g.epStart = true, ev.Time()
					g.runnable, g.running, g.syscall, g.assist = 0, 0, 0, 0
					g.waiting = map[string]time.Duration{}
				}
			}
			if to == trace.GoWaiting && !isConn && inWin(ev.Time()) {
				bgWaits[short(g.cat)+" "+st.Reason]++
			}
			if to == trace.GoWaiting {
				g.reason = st.Reason
				g.blockStack = st.Stack
			}
			if from == trace.GoWaiting && isConn && g.reason != "network" && inWin(ev.Time()) {
				key := g.reason + " <- "
				if u := gs[ev.Goroutine()]; u != nil {
					key += short(u.cat)
				}
				key += " @ " + holderFrame(ev.Stack())
				waitBy[key] += d
				waitN[key]++
			}
			if *verbose && from == trace.GoWaiting && isConn && g.reason != "network" && d >= *slowD/2 && haveSnap {
				by := "?"
				if u := gs[ev.Goroutine()]; u != nil {
					by = short(u.cat)
				}
				fmt.Printf("BLOCK %s g%d %s %v by g%d %s\n%s  unblocker at:\n%s\n", wall(g.since).Format("15:04:05.000"), id, g.reason, d.Round(time.Microsecond), ev.Goroutine(), by, stackStr(g.blockStack), stackStr(ev.Stack()))
			}
			g.state, g.since = to, ev.Time()
		}
	}
	fmt.Printf("== %s: %v of trace, %d goroutines\n", name, last.Sub(first).Round(time.Millisecond), len(gs))
	var keys []int64
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		t := time.Unix(0, k*int64(*bucketD))
		if (!lo.IsZero() && t.Before(lo)) || (!hi.IsZero() && t.After(hi)) {
			continue
		}
		b := buckets[k]
		var cpu time.Duration
		type kv struct {
			k string
			v time.Duration
		}
		var cats []kv
		for c, v := range b.run {
			cpu += v
			cats = append(cats, kv{c, v})
		}
		sort.Slice(cats, func(i, j int) bool { return cats[i].v > cats[j].v })
		var top []string
		for i := 0; i < len(cats) && i < 4; i++ {
			top = append(top, fmt.Sprintf("%s=%v", short(cats[i].k), cats[i].v.Round(100*time.Microsecond)))
		}
		fmt.Printf("%s cpu=%5.1f%% connRunnableWait=%v connNonNetWait=%v stw=%v assist=%v gc=%d eps=%d slow=%d | %s\n",
			t.Format("15:04:05.000"), 100*float64(cpu)/float64(*bucketD), b.connRunnWait.Round(100*time.Microsecond),
			b.connSync.Round(100*time.Microsecond), b.stw.Round(10*time.Microsecond), b.assist.Round(10*time.Microsecond), b.gcs, b.eps, b.slow,
			strings.Join(top, " "))
	}
	fmt.Printf("slow episodes: %d of %d; summed runnable=%v running=%v syscall=%v assist=%v waits=%v\n", total.slow, total.eps,
		total.runnable.Round(time.Microsecond), total.running.Round(time.Microsecond), total.sys.Round(time.Microsecond), total.assist.Round(time.Microsecond), total.reasons)
	fmt.Printf("window: conn runnable wait %v; conn non-network waits by unblocker:\n", winRunnable.Round(time.Microsecond))
	type kv struct {
		k string
		v time.Duration
	}
	var ws []kv
	for k, v := range waitBy {
		ws = append(ws, kv{k, v})
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].v > ws[j].v })
	for _, w := range ws {
		if w.v >= 100*time.Microsecond {
			fmt.Printf("  %10v %5d  %s\n", w.v.Round(time.Microsecond), waitN[w.k], w.k)
		}
	}
	dist("all Ps held by non-conn goroutines", satD)
	for k, v := range satBy {
		fmt.Printf("    %v  %s\n", v.Round(100*time.Microsecond), k)
	}
	dist("conn runnable waits", runnD)
	dist("conn network waits", netD)
	dist("conn other waits", otherD)
	if *showWaits {
		fmt.Println("waits of other goroutines (goroutine reason):")
		printTop(bgWaits, 0, 20)
	}
	fmt.Printf("CPU samples in window: %d\n", samples)
	printTop(catSamples, samples, 12)
	printTop(sampleBy, samples, *topN)
	if *verbose {
		for _, s := range slowEps {
			fmt.Println(s)
		}
	}
}

func (g *gstate) lastReason() string { return g.reason }

func topFunc(s trace.Stack) string {
	var last string
	for f := range s.Frames() {
		last = f.Func
	}
	return last
}

func short(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func stackStr(s trace.Stack) string {
	var b strings.Builder
	n := 0
	for f := range s.Frames() {
		if n < 12 {
			fmt.Fprintf(&b, "    %s:%d\n", short(f.Func), f.Line)
		}
		n++
	}
	return b.String()
}

// holderFrame names the first frame of an unblocking stack that is not in
// sync or runtime or a lock helper.
func holderFrame(s trace.Stack) string {
	for f := range s.Frames() {
		n := short(f.Func)
		if strings.HasPrefix(n, "sync.") || strings.HasPrefix(n, "runtime.") || strings.Contains(n, "nlockShard") || strings.Contains(n, "Tx).Unlock") || strings.Contains(n, "Tx).Release") {
			continue
		}
		return n
	}
	return "?"
}

func printTop(m map[string]int, total, n int) {
	type kv struct {
		k string
		v int
	}
	var xs []kv
	for k, v := range m {
		xs = append(xs, kv{k, v})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].v > xs[j].v })
	for i := 0; i < len(xs) && i < n; i++ {
		if total == 0 {
			fmt.Printf("  %5d  %s\n", xs[i].v, xs[i].k)
			continue
		}
		fmt.Printf("  %5.1f%% %5d  %s\n", 100*float64(xs[i].v)/float64(total), xs[i].v, xs[i].k)
	}
}

var depth = flag.Int("depth", 3, "frames in a sample key")

func sampleKey(s trace.Stack) string {
	var fs []string
	for f := range s.Frames() {
		n := short(f.Func)
		if len(fs) == 0 && strings.HasPrefix(n, "runtime.") && !strings.HasPrefix(n, "runtime.gcDrain") && !strings.HasPrefix(n, "runtime.memmove") && !strings.HasPrefix(n, "runtime.mallocgc") {
			continue
		}
		fs = append(fs, n)
		if len(fs) >= *depth {
			break
		}
	}
	return strings.Join(fs, " < ")
}

func dist(what string, d []time.Duration) {
	if len(d) == 0 {
		fmt.Printf("%s: none\n", what)
		return
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	var sum time.Duration
	n1, n2, n4 := 0, 0, 0
	for _, x := range d {
		sum += x
		if x >= time.Millisecond {
			n1++
		}
		if x >= 2*time.Millisecond {
			n2++
		}
		if x >= 4*time.Millisecond {
			n4++
		}
	}
	fmt.Printf("%s: n=%d sum=%v p50=%v p99=%v max=%v >=1ms:%d >=2ms:%d >=4ms:%d\n", what, len(d), sum.Round(time.Microsecond),
		d[len(d)/2].Round(time.Microsecond), d[len(d)*99/100].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond), n1, n2, n4)
}
