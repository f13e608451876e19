package server

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cached/cached/cluster"
)

// viewBenchViews returns the view of each member of a table of five
// members with one replica per slot (as after a fifth node joined four).
func viewBenchViews(tb testing.TB) []*clusterView {
	tb.Helper()
	ms := make([]cluster.Member, 5)
	for i := range ms {
		ms[i] = cluster.Member{ID: fmt.Sprintf("%040x", i+1), Host: "127.0.0.1", Port: 7000 + i}
	}
	t := cluster.BuildTable(ms, 1, 2)
	out := make([]*clusterView, len(ms))
	for i, m := range ms {
		out[i] = newClusterView(t, m.ID)
	}
	return out
}

// BenchmarkApplyViewSlots is the per-table work of a node applying a table
// of five members: which slots it owns and follows (viewSlots, in
// switchView) and which it holds as replica (heldSlots).
func BenchmarkApplyViewSlots(b *testing.B) {
	v := viewBenchViews(b)[0]
	b.ReportAllocs()
	for b.Loop() {
		viewSlots(v)
		heldSlots(v)
	}
}

// TestViewSlotsMatchHolders checks viewSlots and heldSlots, for every
// member of a five-member table and for a node the table does not list,
// against the table's Holders, and bounds their allocations: they ran
// one or two per slot (29,500 a table) when they built each slot's list.
func TestViewSlotsMatchHolders(t *testing.T) {
	views := viewBenchViews(t)
	views = append(views, newClusterView(views[0].t, fmt.Sprintf("%040x", 99)))
	for _, v := range views {
		self := v.t.Member(v.self).ID
		owned, follow, members := viewSlots(v)
		held := heldSlots(v)
		wantFollow := map[string][]int{}
		var wantHeld []int
		for s := range cluster.NumSlots {
			h := v.t.Holders(s)
			isSelf := func(m cluster.Member) bool { return v.self >= 0 && m.ID == self }
			if owned[s] != isSelf(h[0]) {
				t.Fatalf("node %d slot %d: owned %v, holders %v", v.self, s, owned[s], h)
			}
			if !isSelf(h[0]) && slices.ContainsFunc(h[1:], isSelf) {
				wantFollow[h[0].ID] = append(wantFollow[h[0].ID], s)
				wantHeld = append(wantHeld, s)
				if members[h[0].ID] != h[0] {
					t.Fatalf("node %d: member %q is %+v, want %+v", v.self, h[0].ID, members[h[0].ID], h[0])
				}
			}
		}
		if !maps.EqualFunc(follow, wantFollow, slices.Equal) || len(members) != len(wantFollow) {
			t.Fatalf("node %d: follows %d primaries, want %d", v.self, len(follow), len(wantFollow))
		}
		var gotHeld []int
		for _, h := range held {
			gotHeld = append(gotHeld, h.slot)
			if h.primary != v.t.Owner(h.slot).ID || h.incoming {
				t.Fatalf("node %d: held %+v", v.self, h)
			}
		}
		if !slices.Equal(gotHeld, wantHeld) {
			t.Fatalf("node %d: holds %d slots, want %d", v.self, len(gotHeld), len(wantHeld))
		}
		if v.self >= 0 && len(wantHeld) == 0 {
			t.Fatalf("node %d replicates nothing", v.self)
		}
	}
	if a := testing.AllocsPerRun(3, func() { viewSlots(views[0]); heldSlots(views[0]) }); a > 100 {
		t.Errorf("viewSlots and heldSlots: %v allocations per table, want at most 100", a)
	}
}
