package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cached/cached/cluster"
)

// servedSlots counts the slots this node is primary of in the view.
func (v *clusterView) servedSlots() int {
	if v.self < 0 {
		return 0
	}
	n := 0
	for slot := 0; slot < cluster.NumSlots; slot++ {
		if v.t.OwnerIndex(slot) == v.self {
			n++
		}
	}
	return n
}

// clusterCollector reports cluster mode's state at scrape time: members,
// slots served by role, the slot table's version and readiness.
type clusterCollector struct {
	s                              *Server
	members, slots, version, ready *prometheus.Desc
}

func newClusterCollector(s *Server) *clusterCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cached_"+name, help, labels, nil)
	}
	return &clusterCollector{s: s,
		members: d("cluster_members", "Members in this node's slot table (cluster mode only)."),
		slots: d("cluster_slots_served", "Slots this node serves, by role: primary, or replica "+
			"(a copy it follows; READONLY reads).", "role"),
		version: d("cluster_table_version", "Version of the slot table this node routes by."),
		ready:   d("ready", "1 when /readyz answers ok: listening and, in cluster mode, joined and holding slots."),
	}
}

// Describe sends every descriptor.
func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.members
	ch <- c.slots
	ch <- c.version
	ch <- c.ready
}

// Collect reads the current view.
func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ready := 0.0
	if c.s.notReady() == "" {
		ready = 1
	}
	gauge(c.ready, ready)
	if c.s.cl == nil {
		return // no cluster: no members, no slots
	}
	members, primary, version := 0, 0, uint64(0)
	if v := c.s.cl.view.Load(); v != nil {
		members, primary, version = v.t.Len(), v.servedSlots(), v.t.Version()
	}
	gauge(c.members, float64(members))
	gauge(c.slots, float64(primary), "primary")
	replica := 0
	if rs := c.s.repl.Load(); rs != nil {
		_, replica = rs.slotCounts()
	}
	gauge(c.slots, float64(replica), "replica")
	gauge(c.version, float64(version))
}
