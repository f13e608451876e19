package latency

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// HistoryLen is how many per-second samples an event keeps (Redis's
// LATENCY_TS_LEN).
const HistoryLen = 160

// Sample is one second of an event's history: the highest latency recorded
// in that second.
type Sample struct {
	At time.Time // the second the sample belongs to
	Ms int64
}

// event is one event's history: a ring of samples, one per second, and the
// all-time maximum.
type event struct {
	ring [HistoryLen]Sample
	next int // ring index of the next sample
	n    int
	max  int64
}

func (e *event) add(now time.Time, ms int64) {
	sec := now.Truncate(time.Second)
	if e.n > 0 {
		last := &e.ring[(e.next+HistoryLen-1)%HistoryLen]
		if last.At.Equal(sec) {
			last.Ms = max(last.Ms, ms)
			e.max = max(e.max, ms)
			return
		}
	}
	e.ring[e.next] = Sample{At: sec, Ms: ms}
	e.next = (e.next + 1) % HistoryLen
	e.n = min(e.n+1, HistoryLen)
	e.max = max(e.max, ms)
}

// samples returns the history oldest first.
func (e *event) samples() []Sample {
	out := make([]Sample, 0, e.n)
	for i := 0; i < e.n; i++ {
		out = append(out, e.ring[(e.next-e.n+i+2*HistoryLen)%HistoryLen])
	}
	return out
}

// Monitor is Redis's latency monitor: operations slower than a threshold
// (latency-monitor-threshold, ms) are recorded under an event name (the
// server's "command" and "fast-command"). The threshold is read on the
// request path with one atomic load; events are rare and locked.
type Monitor struct {
	threshold atomic.Int64 // ms; 0 disables
	mu        sync.Mutex   // protects events
	events    map[string]*event
}

// SetThreshold sets the threshold in ms; 0 turns the monitor off.
func (m *Monitor) SetThreshold(ms int64) { m.threshold.Store(ms) }

// Observe records under name an operation that took d if the monitor is on
// and d reaches the threshold.
func (m *Monitor) Observe(name string, d time.Duration) {
	th := m.threshold.Load()
	if th <= 0 || d.Milliseconds() < th {
		return
	}
	m.observeAt(name, time.Now(), d.Milliseconds())
}

func (m *Monitor) observeAt(name string, now time.Time, ms int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = map[string]*event{}
	}
	e := m.events[name]
	if e == nil {
		e = &event{}
		m.events[name] = e
	}
	e.add(now, ms)
}

// Latest is LATENCY LATEST's row of one event.
type Latest struct {
	Name        string
	At          int64 // unix seconds of the latest sample
	Latest, Max int64 // ms
}

// Latest returns every event's latest sample and maximum, by name.
func (m *Monitor) Latest() []Latest {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := make([]Latest, 0, len(m.events))
	for name, e := range m.events {
		last := e.ring[(e.next+HistoryLen-1)%HistoryLen]
		rows = append(rows, Latest{Name: name, At: last.At.Unix(), Latest: last.Ms, Max: e.max})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

// History returns an event's samples, oldest first (none for an unknown
// event).
func (m *Monitor) History(name string) []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.events[name]; e != nil {
		return e.samples()
	}
	return nil
}

// Reset forgets the named events, or every event if names is empty, and
// returns how many it forgot.
func (m *Monitor) Reset(names ...string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(names) == 0 {
		n := len(m.events)
		m.events = nil
		return n
	}
	n := 0
	for _, name := range names {
		if _, ok := m.events[name]; ok {
			delete(m.events, name)
			n++
		}
	}
	return n
}
