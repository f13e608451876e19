package server

import "github.com/prometheus/client_golang/prometheus"

// migrationCollector reports slot-move progress at scrape time (the numbers
// of INFO migration): staged slots in the table, this node's incoming and
// outgoing slots, slots flipped in and out, snapshot keys and bytes loaded,
// snapshot work run unpaced for want of clients, replica slots resumed at
// a seal or held for it, client commands held by hand-overs.
type migrationCollector struct {
	s                                   *Server
	staged, incoming, outgoing, flipped *prometheus.Desc
	loadedKeys, loadedBytes, unpaced    *prometheus.Desc
	sealResumes, holds, waits           *prometheus.Desc
}

func newMigrationCollector(s *Server) *migrationCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cached_migration_"+name, help, labels, nil)
	}
	return &migrationCollector{s: s,
		staged: d("table_staged_slots", "Slots the current slot table is moving (their new primary is syncing them)."),
		incoming: d("incoming_slots", "Slots being moved to this node, by state: syncing or live "+
			"(live slots flip to this node in the coordinator's next tables).", "state"),
		outgoing:    d("outgoing_slots", "Slots this node is primary of whose new primary is syncing them."),
		flipped:     d("slots_flipped_total", "Slots this node became (in) or stopped being (out) primary of.", "direction"),
		loadedKeys:  d("snapshot_keys_loaded_total", "Keys this node loaded from slot snapshots (replica or incoming)."),
		loadedBytes: d("snapshot_bytes_loaded_total", "Key and payload bytes this node loaded from slot snapshots."),
		unpaced: d("snapshot_unpaced_idle_seconds_total", "Snapshot work (sending and loading) this node ran unpaced "+
			"because it had served no client command for a second (repl-snapshot-pace applies while it serves clients)."),
		sealResumes: d("seal_resumes_total", "Replica slots whose primary changed while this node kept them and whose copy stood "+
			"at the old primary's seal: the new primary's link continues them without a snapshot."),
		holds: d("holds_total", "Replica slots kept on their old primary's link until its seal, by kind: all of them "+
			"(held), those on a link followed for nothing else (whole_link), those let go short of the seal (abandoned; "+
			"they load a snapshot).", "kind"),
		waits: d("command_wait_seconds", "Time client commands waited for a slot's hand-over instead of being redirected, by kind: "+
			"flip (the slot is being handed to this node and its old primary's seal has not arrived), owner_sealed (its owner "+
			"gave it up and this node has not applied that table yet), next_owner (staged to this node, which has not applied "+
			"the table its owner redirects by), fenced (admitted before this node handed the slot over).", "kind"),
	}
}

// Describe sends every descriptor.
func (c *migrationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.staged, c.incoming, c.outgoing, c.flipped, c.loadedKeys, c.loadedBytes, c.unpaced,
		c.sealResumes, c.holds, c.waits} {
		ch <- d
	}
}

// Collect reads the hand-off counters.
func (c *migrationCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.cl == nil {
		return
	}
	h := &c.s.handoff
	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	staged := 0
	if v := c.s.cl.view.Load(); v != nil {
		staged = v.t.Staged()
	}
	in, live := h.incoming.Load(), h.incomingLive.Load()
	metric(c.staged, prometheus.GaugeValue, float64(staged))
	metric(c.incoming, prometheus.GaugeValue, float64(in-live), "syncing")
	metric(c.incoming, prometheus.GaugeValue, float64(live), "live")
	metric(c.outgoing, prometheus.GaugeValue, float64(h.outgoing.Load()))
	metric(c.flipped, prometheus.CounterValue, float64(h.slotsIn.Load()), "in")
	metric(c.flipped, prometheus.CounterValue, float64(h.slotsOut.Load()), "out")
	metric(c.loadedKeys, prometheus.CounterValue, float64(h.keysLoaded.Load()))
	metric(c.loadedBytes, prometheus.CounterValue, float64(h.bytesLoaded.Load()))
	metric(c.sealResumes, prometheus.CounterValue, float64(h.sealResumes.Load()))
	metric(c.holds, prometheus.CounterValue, float64(h.holds.Load()), "held")
	metric(c.holds, prometheus.CounterValue, float64(h.holdsWholeLink.Load()), "whole_link")
	metric(c.holds, prometheus.CounterValue, float64(h.holdsAbandoned.Load()), "abandoned")
	for k := range numWaitKinds {
		sum := float64(h.waits.nanos[k].Load()) / 1e9
		m := h.waits.kind[k].Metric(c.waits, sum, waitKindNames[k])
		if m == nil { // none yet: an empty histogram, so that the series exist from the start
			m = prometheus.MustNewConstHistogram(c.waits, 0, 0, nil, waitKindNames[k])
		}
		ch <- m
	}
	if rs := c.s.repl.Load(); rs != nil {
		metric(c.unpaced, prometheus.CounterValue, rs.pacer.IdleWorked().Seconds())
	}
}
