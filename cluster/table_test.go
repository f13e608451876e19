package cluster

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// testMembers returns n members with IDs drawn from a seeded generator.
func testMembers(seed uint64, n int) []Member {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ms := make([]Member, n)
	for i := range ms {
		var b [20]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		ms[i] = Member{ID: hex.EncodeToString(b[:]), Host: "127.0.0.1", Port: 7000 + i, GossipAddr: fmt.Sprintf("127.0.0.1:%d", 8000+i)}
	}
	return ms
}

// sameAssignment reports whether two tables give every slot the same
// preference list of IDs (ignoring Self and versions). Members are sorted by
// ID, so equal ID lists and equal index arrays mean equal assignments.
func sameAssignment(a, b *Table) bool {
	if a.Len() != b.Len() || a.width != b.width || !slices.Equal(a.prefs, b.prefs) {
		return false
	}
	for i := range a.members {
		if a.members[i].ID != b.members[i].ID {
			return false
		}
	}
	return true
}

// ownerCounts returns how many slots each member is primary of, by ID.
func ownerCounts(t *Table) map[string]int {
	c := make(map[string]int, t.Len())
	for s := range NumSlots {
		c[t.Owner(s).ID]++
	}
	return c
}

func TestBuildTableDeterministicUnderPermutation(t *testing.T) {
	for _, tc := range []struct {
		n, replicas int
	}{{1, 0}, {3, 0}, {5, 1}, {10, 2}, {50, 0}, {50, 2}} {
		t.Run(fmt.Sprintf("n=%d/r=%d", tc.n, tc.replicas), func(t *testing.T) {
			ms := testMembers(uint64(tc.n*100+tc.replicas), tc.n)
			want := BuildTable(ms, tc.replicas, 7)
			r := rand.New(rand.NewPCG(1, 2))
			for range 5 {
				perm := slices.Clone(ms)
				r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
				perm = append(perm, perm[0]) // a duplicate changes nothing
				got := BuildTable(perm, tc.replicas, 7)
				if !slices.Equal(got.prefs, want.prefs) || !slices.Equal(got.members, want.members) {
					t.Fatalf("permuted member list gives a different table")
				}
			}
			if !sort.SliceIsSorted(want.Members(), func(i, j int) bool { return want.Members()[i].ID < want.Members()[j].ID }) {
				t.Fatalf("Members() not sorted by ID")
			}
		})
	}
}

func TestRanges(t *testing.T) {
	tab := BuildTable(testMembers(5, 5), 0, 1)
	covered := make([]int, NumSlots)
	for _, m := range tab.Members() {
		rs := tab.Ranges(m.ID)
		for i, r := range rs {
			if r.Start > r.End || (i > 0 && r.Start <= rs[i-1].End+1) {
				t.Fatalf("%s: ranges not ascending and maximal: %v", m.ID, rs)
			}
			for s := r.Start; s <= r.End; s++ {
				covered[s]++
				if tab.Owner(s).ID != m.ID {
					t.Fatalf("slot %d in %s's ranges but owned by %s", s, m.ID, tab.Owner(s).ID)
				}
			}
		}
	}
	for s, c := range covered {
		if c != 1 {
			t.Fatalf("slot %d covered %d times", s, c)
		}
	}
	one := BuildTable(testMembers(6, 1), 0, 1)
	if got := one.Ranges(one.Members()[0].ID); !slices.Equal(got, []SlotRange{{0, NumSlots - 1}}) {
		t.Fatalf("single node ranges %v", got)
	}
	if tab.Ranges("nope") != nil {
		t.Fatalf("unknown ID has ranges")
	}
}

func TestEmptyTableAndBadSlots(t *testing.T) {
	empty := BuildTable(nil, 2, 0)
	full := BuildTable(testMembers(9, 3), 0, 1)
	for _, tc := range []struct {
		name string
		tab  *Table
		slot int
	}{
		{"empty", empty, 0},
		{"negative", full, -1},
		{"too big", full, NumSlots},
	} {
		if tc.tab.OwnerIndex(tc.slot) != -1 || tc.tab.Owner(tc.slot) != (Member{}) || tc.tab.Preference(tc.slot) != nil {
			t.Errorf("%s: expected no owner for slot %d", tc.name, tc.slot)
		}
	}
	if empty.Len() != 0 || empty.Version() != 0 || empty.Replicas() != 2 || empty.Ranges("x") != nil {
		t.Errorf("empty table accessors wrong")
	}
	if full.IndexOf(full.Members()[2].ID) != 2 || full.IndexOf("zz") != -1 {
		t.Errorf("IndexOf wrong")
	}
}

func TestMemberAddr(t *testing.T) {
	for _, tc := range []struct {
		m    Member
		want string
	}{
		{Member{Host: "127.0.0.1", Port: 6379}, "127.0.0.1:6379"},
		{Member{Host: "::1", Port: 7000}, "[::1]:7000"},
		{Member{Host: "cache-0.local", Port: 1}, "cache-0.local:1"},
	} {
		if got := tc.m.Addr(); got != tc.want {
			t.Errorf("Addr() = %q, want %q", got, tc.want)
		}
	}
}

func BenchmarkBuildTable(b *testing.B) {
	for _, tc := range []struct{ n, replicas int }{{3, 0}, {10, 0}, {50, 0}, {50, 2}} {
		ms := testMembers(1, tc.n)
		b.Run(fmt.Sprintf("n=%d/r=%d", tc.n, tc.replicas), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				BuildTable(ms, tc.replicas, 1)
			}
		})
	}
}

func BenchmarkOwnerIndex(b *testing.B) {
	tab := BuildTable(testMembers(1, 10), 0, 1)
	b.ReportAllocs()
	s := 0
	for b.Loop() {
		s += tab.OwnerIndex(s & (NumSlots - 1))
	}
}

// TestTableAccessorsAllocateNothing checks the per-slot accessors that
// loops over every slot use (AppendPreference into a buffer with room,
// PreferenceIndex, Rank, Holds) against Preference and Holders on a staged
// table, and that they allocate nothing.
func TestTableAccessorsAllocateNothing(t *testing.T) {
	ms := testMembers(1, 5)
	cur := BuildTable(ms[:4], 1, 1)
	tab := nextTable(stageInput{cur: cur, target: ms, alive: aliveOf(ms), replicas: 1, version: 2,
		maxFlips: flipBatch, stage: true})
	if tab.Staged() == 0 || tab.Width() != 2 {
		t.Fatalf("want a staged table of width 2, got %d staged, width %d", tab.Staged(), tab.Width())
	}
	buf := make([]Member, 0, tab.Width())
	for s := range NumSlots {
		want := tab.Preference(s)
		buf = tab.AppendPreference(buf[:0], s)
		if !slices.Equal(buf, want) {
			t.Fatalf("slot %d: AppendPreference %v, Preference %v", s, buf, want)
		}
		for k := range tab.Width() + 1 {
			got := tab.PreferenceIndex(s, k)
			if k < len(want) && tab.Member(got) != want[k] || k >= len(want) && got != -1 {
				t.Fatalf("slot %d: PreferenceIndex(%d) = %d, list %v", s, k, got, want)
			}
		}
		holders := tab.Holders(s)
		for i, m := range tab.Members() {
			if r := tab.Rank(s, i); r != slices.Index(want, m) {
				t.Fatalf("slot %d: Rank(%d) = %d, list %v", s, i, r, want)
			}
			if h := tab.Holds(s, i); h != slices.Contains(holders, m) {
				t.Fatalf("slot %d: Holds(%d) = %v, holders %v", s, i, h, holders)
			}
		}
	}
	sink := 0
	allocs := testing.AllocsPerRun(5, func() {
		for s := range NumSlots {
			buf = tab.AppendPreference(buf[:0], s)
			sink += len(buf) + tab.PreferenceIndex(s, 1) + tab.Rank(s, 2)
			if tab.Holds(s, 3) {
				sink++
			}
		}
	})
	if allocs != 0 {
		t.Errorf("a pass over every slot allocated %v times, want 0", allocs)
	}
	if sink == 0 {
		t.Fatal("the accessors found nothing")
	}
}
