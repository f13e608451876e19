package server

import (
	"sync/atomic"

	"github.com/cached/cached/cluster"
)

// prefRange is a run of slots with the same preference list (primary, then
// replicas), as CLUSTER SLOTS lists ranges.
type prefRange struct {
	cluster.SlotRange
	nodes []cluster.Member // primary first
}

// prefRangesCache holds the ranges of the last view asked for: clients
// read CLUSTER SLOTS after every MOVED, the table changes rarely.
type prefRangesCache struct {
	v      *clusterView
	ranges []prefRange
}

var lastPrefRanges atomic.Pointer[prefRangesCache]

// prefRanges returns v's slot ranges split wherever the primary or a
// replica changes.
func prefRanges(v *clusterView) []prefRange {
	if c := lastPrefRanges.Load(); c != nil && c.v == v {
		return c.ranges
	}
	var out []prefRange
	for s := range cluster.NumSlots {
		if v.t.Width() == 0 {
			break
		}
		if n := len(out); n > 0 && out[n-1].End == s-1 && samePreference(v.t, s-1, s) {
			out[n-1].End = s
			continue
		}
		out = append(out, prefRange{SlotRange: cluster.SlotRange{Start: s, End: s}, nodes: v.t.Preference(s)})
	}
	lastPrefRanges.Store(&prefRangesCache{v: v, ranges: out})
	return out
}

// samePreference reports whether slots a and b have the same preference
// list in t (compared by member index: no allocation per slot).
func samePreference(t *cluster.Table, a, b int) bool {
	for k := range t.Width() {
		if t.PreferenceIndex(a, k) != t.PreferenceIndex(b, k) {
			return false
		}
	}
	return true
}
