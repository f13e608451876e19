package server

import (
	"slices"
	"testing"

	"github.com/cached/cached/cluster"
)

// TestCarriedLive (issue 11): a copy reported live keeps its mark into the
// next table while it is held with the same primary (its link to a primary
// that crashed is down, and the coordinator may plan more tables before
// it sees the crash); a new primary, an incoming copy, a slot no longer
// held and a copy that was not live get no mark.
func TestCarriedLive(t *testing.T) {
	prev := []heldSlot{
		{slot: 1, primary: "a"},                 // live, same primary next: kept
		{slot: 2, primary: "a"},                 // live, new primary next
		{slot: 3, primary: "a"},                 // live, not held next
		{slot: 4, primary: "a"},                 // not live
		{slot: 5, primary: "a", incoming: true}, // incoming, live
		{slot: 6, primary: "b"},                 // live, retained next (same primary): kept
	}
	was := make([]bool, cluster.NumSlots)
	for _, s := range []int{1, 2, 3, 5, 6} {
		was[s] = true
	}
	now := []heldSlot{
		{slot: 1, primary: "a"},
		{slot: 2, primary: "c"},
		{slot: 4, primary: "a"},
		{slot: 5, primary: "a", incoming: true},
		{slot: 6, primary: "b"},
		{slot: 7, primary: "a"}, // newly held
	}
	got := carriedLive(prev, was, now)
	for s := range cluster.NumSlots {
		want := s == 1 || s == 6
		if got[s] != want {
			t.Errorf("slot %d: carried %v, want %v", s, got[s], want)
		}
	}
	if first := carriedLive(nil, nil, now); len(first) != cluster.NumSlots || first[1] {
		t.Error("the first table carried a mark")
	}
}

// TestAppendSlot: the holding report's ranges grow from ascending slots,
// a slot listed twice (held as incoming and retained) adding nothing, so
// the report stays sorted and disjoint (decodeRanges rejects anything
// else, and with it the whole report).
func TestAppendSlot(t *testing.T) {
	var rs []cluster.SlotRange
	for _, s := range []int{3, 4, 4, 5, 9, 9, 11} {
		rs = appendSlot(rs, s)
	}
	want := []cluster.SlotRange{{Start: 3, End: 5}, {Start: 9, End: 9}, {Start: 11, End: 11}}
	if !slices.Equal(rs, want) {
		t.Fatalf("ranges %v, want %v", rs, want)
	}
}
