package latency

import (
	"testing"
	"time"
)

func TestEventKeepsOneSamplePerSecond(t *testing.T) {
	var e event
	t0 := time.Unix(1000, 0)
	e.add(t0, 5)
	e.add(t0.Add(300*time.Millisecond), 9) // same second: the max stays
	e.add(t0.Add(2*time.Second), 3)
	got := e.samples()
	if len(got) != 2 || got[0].Ms != 9 || got[1].Ms != 3 || e.max != 9 {
		t.Fatalf("samples %v max %d", got, e.max)
	}
	for i := 0; i < 2*HistoryLen; i++ {
		e.add(t0.Add(time.Duration(10+i)*time.Second), int64(i))
	}
	got = e.samples()
	if len(got) != HistoryLen || got[len(got)-1].Ms != 2*HistoryLen-1 || got[0].Ms != HistoryLen {
		t.Fatalf("ring: %d samples, first %d, last %d", len(got), got[0].Ms, got[len(got)-1].Ms)
	}
}

func TestMonitorThresholdLatestReset(t *testing.T) {
	var m Monitor
	m.Observe("command", time.Second) // off: not recorded
	if len(m.Latest()) != 0 {
		t.Fatal("a monitor with no threshold recorded an event")
	}
	m.SetThreshold(10)
	m.Observe("command", 9*time.Millisecond) // under the threshold
	m.Observe("fast-command", 12*time.Millisecond)
	m.observeAt("command", time.Unix(2000, 0), 30)
	rows := m.Latest()
	if len(rows) != 2 || rows[0].Name != "command" || rows[0].At != 2000 || rows[0].Latest != 30 || rows[1].Name != "fast-command" || rows[1].Max != 12 {
		t.Fatalf("Latest %+v", rows)
	}
	if h := m.History("command"); len(h) != 1 || h[0].Ms != 30 {
		t.Fatalf("History %+v", h)
	}
	if n := m.Reset("command", "nosuch"); n != 1 || len(m.Latest()) != 1 {
		t.Fatalf("Reset of one event forgot %d, left %d", n, len(m.Latest()))
	}
	if n := m.Reset(); n != 1 || len(m.Latest()) != 0 {
		t.Fatalf("Reset of all forgot %d", n)
	}
}
