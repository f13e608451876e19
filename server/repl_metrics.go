package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// replCollector reports replication at scrape time (cluster mode with
// cluster-replicas > 0; nothing otherwise): per replica link its lag and
// snapshot progress, per primary followed its slots and counters, and the
// node's backlog and sync counters. Names and labels: docs/replication.md.
type replCollector struct {
	s *Server

	offset, backlog                       *prometheus.Desc
	lagRecords, lagSeconds, ackAge        *prometheus.Desc
	syncSlots, syncBytes, syncKeys        *prometheus.Desc
	fullSyncs, partialSyncs, partialSlots *prometheus.Desc
	behindCuts                            *prometheus.Desc
	followSlots, followOffset             *prometheus.Desc
	followSnapshots, followGaps, followUp *prometheus.Desc
}

func newReplCollector(s *Server) *replCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cached_repl_"+name, help, labels, nil)
	}
	return &replCollector{s: s,
		offset:       d("offset", "Index of the newest replication record this node appended (offsets count records)."),
		backlog:      d("backlog_bytes", "Replication backlog: configured size, bytes of records kept (over the size while a replica lags) and bytes of memory held.", "kind"),
		lagRecords:   d("replica_lag_records", "Records appended after the replica's acknowledged index.", "replica"),
		lagSeconds:   d("replica_lag_seconds", "Append time of the newest record minus that of the replica's acknowledged one (ms resolution).", "replica"),
		ackAge:       d("replica_ack_age_seconds", "Time since the replica's last acknowledgement.", "replica"),
		syncSlots:    d("replica_sync_slots", "Snapshot progress of the link: slots left (waiting or being sent) and done.", "replica", "state"),
		syncBytes:    d("replica_sync_bytes_sent", "Snapshot bytes written to the replica on this link (bytes left are unknown until a slot is read).", "replica"),
		syncKeys:     d("replica_sync_keys_sent", "Snapshot keys written to the replica on this link.", "replica"),
		fullSyncs:    d("full_sync_slots_total", "Slots sent to replicas as snapshots (full syncs)."),
		partialSyncs: d("partial_syncs_total", "Replica handshakes that continued at least one slot from the backlog."),
		partialSlots: d("partial_sync_slots_total", "Slots continued from the backlog at replica handshakes."),
		behindCuts:   d("behind_cuts_total", "Replica links cut because the replica fell behind past the replica buffer limit (client-output-buffer-limit replica)."),
		followSlots:  d("follow_slots", "Slots this node replicates from a primary, by state: live or syncing.", "primary", "state"),
		followOffset: d("follow_offset", "The primary's record index this node applied.", "primary"),
		followSnapshots: d("follow_snapshots_loaded_total", "Slot snapshots this node loaded from the primary.",
			"primary"),
		followGaps: d("follow_gaps_total", "Sequence gaps seen in the primary's stream (each heals by a snapshot).", "primary"),
		followUp:   d("follow_link_up", "1 while the link to the primary is up.", "primary"),
	}
}

// Describe sends every descriptor.
func (c *replCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.offset, c.backlog, c.lagRecords, c.lagSeconds, c.ackAge,
		c.syncSlots, c.syncBytes, c.syncKeys, c.fullSyncs, c.partialSyncs, c.partialSlots, c.behindCuts,
		c.followSlots, c.followOffset, c.followSnapshots, c.followGaps, c.followUp} {
		ch <- d
	}
}

// Collect reads the Primary's and the Replicas' numbers.
func (c *replCollector) Collect(ch chan<- prometheus.Metric) {
	rs := c.s.repl.Load()
	if rs == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ps := rs.p.Stats()
	gauge(c.offset, float64(ps.LastIndex))
	gauge(c.backlog, float64(ps.BacklogSize), "size")
	gauge(c.backlog, float64(ps.BacklogUsed), "used")
	gauge(c.backlog, float64(ps.BacklogHeld), "held")
	counter(c.fullSyncs, ps.FullSyncs)
	counter(c.partialSyncs, ps.PartialSyncs)
	counter(c.partialSlots, ps.PartialSlots)
	counter(c.behindCuts, ps.BehindCuts)
	seen := map[string]bool{} // a replica that reconnects may briefly have two links
	for _, l := range ps.Links {
		if l.ID == "" || seen[l.ID] {
			continue
		}
		seen[l.ID] = true
		gauge(c.lagRecords, float64(l.LagRecords), l.ID)
		gauge(c.lagSeconds, float64(l.LagMs)/1000, l.ID)
		gauge(c.ackAge, l.AckAge.Seconds(), l.ID)
		gauge(c.syncSlots, float64(l.SnapSlotsLeft), l.ID, "left")
		gauge(c.syncSlots, float64(l.SnapSlotsDone), l.ID, "done")
		gauge(c.syncBytes, float64(l.SnapBytes), l.ID)
		gauge(c.syncKeys, float64(l.SnapKeys), l.ID)
	}
	for _, f := range rs.follows() {
		gauge(c.followSlots, float64(f.st.SlotsLive), f.id, "live")
		gauge(c.followSlots, float64(f.st.SlotsSyncing), f.id, "syncing")
		gauge(c.followOffset, float64(f.st.AckIndex), f.id)
		counter(c.followSnapshots, f.st.FullSyncs, f.id)
		counter(c.followGaps, f.st.Gaps, f.id)
		up := 0.0
		if f.st.Connected {
			up = 1
		}
		gauge(c.followUp, up, f.id)
	}
}
