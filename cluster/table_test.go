package cluster

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/cespare/xxhash/v2"
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

// balance returns the max/min ratio of slots per member and the extremes.
func balance(t *Table) (ratio float64, lo, hi int) {
	lo, hi = NumSlots+1, -1
	for _, m := range t.Members() {
		c := ownerCounts(t)[m.ID]
		lo, hi = min(lo, c), max(hi, c)
	}
	return float64(hi) / float64(lo), lo, hi
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

// referencePreference computes a slot's preference list the slow, obvious
// way: score every member, sort by score descending (ties: lower ID first).
func referencePreference(ms []Member, slot, width int) []string {
	ms = normalizeMembers(ms)
	type sc struct {
		id    string
		score uint64
	}
	var all []sc
	for _, m := range ms {
		key := binary.LittleEndian.AppendUint64(nil, xxhash.Sum64String(m.ID))
		key = binary.LittleEndian.AppendUint64(key, uint64(slot))
		all = append(all, sc{m.ID, xxhash.Sum64(key)})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	var ids []string
	for _, s := range all[:min(width, len(all))] {
		ids = append(ids, s.id)
	}
	return ids
}

func TestBuildTableMatchesReference(t *testing.T) {
	for _, tc := range []struct{ n, replicas int }{{1, 0}, {2, 3}, {4, 0}, {7, 1}, {7, 2}, {20, 4}} {
		ms := testMembers(uint64(tc.n+31*tc.replicas), tc.n)
		tab := BuildTable(ms, tc.replicas, 1)
		for _, s := range []int{0, 1, 2, 255, 256, 5000, 12182, NumSlots - 1} {
			var got []string
			for _, m := range tab.Preference(s) {
				got = append(got, m.ID)
			}
			want := referencePreference(ms, s, 1+tc.replicas)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d r=%d slot %d: preference %v, want %v", tc.n, tc.replicas, s, got, want)
			}
			if tab.Owner(s).ID != want[0] || tab.Member(tab.OwnerIndex(s)).ID != want[0] {
				t.Fatalf("n=%d slot %d: owner disagrees with preference", tc.n, s)
			}
		}
	}
}

func TestBuildTableBalance(t *testing.T) {
	for _, tc := range []struct {
		n        int
		maxRatio float64
	}{{3, 1.3}, {5, 1.3}, {10, 1.3}, {50, 1.6}} {
		for seed := uint64(1); seed <= 3; seed++ {
			ratio, lo, hi := balance(BuildTable(testMembers(seed*1000+uint64(tc.n), tc.n), 0, 1))
			if ratio >= tc.maxRatio {
				t.Errorf("n=%d seed=%d: max/min = %d/%d = %.3f, want < %.1f", tc.n, seed, hi, lo, ratio, tc.maxRatio)
			}
		}
	}
}

// moved counts the slots whose primary differs between two tables and
// checks that each such slot involves node id (lost by it on leave, gained
// on join): the rendezvous property.
func moved(t *testing.T, before, after *Table, id string) int {
	t.Helper()
	n := 0
	for s := range NumSlots {
		b, a := before.Owner(s).ID, after.Owner(s).ID
		if a == b {
			continue
		}
		n++
		if a != id && b != id {
			t.Fatalf("slot %d moved %s -> %s, neither is the node %s that changed", s, b, a, id)
		}
	}
	return n
}

func TestBuildTableMovement(t *testing.T) {
	for _, n := range []int{3, 5, 10, 50} {
		for seed := uint64(1); seed <= 3; seed++ {
			ms := testMembers(seed*7919+uint64(n), n+1)
			base := BuildTable(ms[:n], 0, 1)
			grown := BuildTable(ms, 0, 2)
			joined := ms[n].ID
			got := moved(t, base, grown, joined)
			if got != ownerCounts(grown)[joined] {
				t.Fatalf("n=%d join: %d slots moved but the new node owns %d", n, got, ownerCounts(grown)[joined])
			}
			checkFraction(t, fmt.Sprintf("n=%d join", n), got, n+1)

			left := ms[0].ID
			shrunk := BuildTable(ms[1:n], 0, 3)
			got = moved(t, base, shrunk, left)
			if got != ownerCounts(base)[left] {
				t.Fatalf("n=%d leave: %d slots moved but the leaver owned %d", n, got, ownerCounts(base)[left])
			}
			checkFraction(t, fmt.Sprintf("n=%d leave", n), got, n)
		}
	}
}

// checkFraction asserts that moved slots are within 30% of NumSlots/n.
func checkFraction(t *testing.T, what string, moved, n int) {
	t.Helper()
	ideal := float64(NumSlots) / float64(n)
	if d := float64(moved) - ideal; d > 0.3*ideal || d < -0.3*ideal {
		t.Errorf("%s: %d slots moved, ideal %.0f", what, moved, ideal)
	}
}

func TestPreferenceListsWithReplicas(t *testing.T) {
	for _, tc := range []struct{ n, replicas int }{{1, 1}, {2, 1}, {3, 1}, {5, 2}, {10, 3}} {
		ms := testMembers(uint64(tc.n*13+tc.replicas), tc.n)
		tab := BuildTable(ms, tc.replicas, 1)
		primaries := BuildTable(ms, 0, 1)
		wantLen := min(tc.n, 1+tc.replicas)
		for s := range NumSlots {
			p := tab.Preference(s)
			if len(p) != wantLen {
				t.Fatalf("n=%d r=%d slot %d: %d entries, want %d", tc.n, tc.replicas, s, len(p), wantLen)
			}
			if p[0].ID != primaries.Owner(s).ID {
				t.Fatalf("slot %d: primary differs from the replicas=0 table", s)
			}
			seen := map[string]bool{}
			for _, m := range p {
				if seen[m.ID] {
					t.Fatalf("slot %d: %s twice in %v", s, m.ID, p)
				}
				seen[m.ID] = true
			}
		}
		// HRW: removing a member leaves every list without it unchanged.
		if tc.n > 1 {
			gone := ms[0].ID
			after := BuildTable(ms[1:], tc.replicas, 2)
			for s := range NumSlots {
				before := tab.Preference(s)
				if slices.ContainsFunc(before, func(m Member) bool { return m.ID == gone }) {
					continue
				}
				if !slices.Equal(before, after.Preference(s)) {
					t.Fatalf("slot %d: list changed though %s was not in it", s, gone)
				}
			}
		}
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

func TestScoreIsXXHashOfSeedAndSlot(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		seed, slot := r.Uint64(), r.Uint64N(NumSlots)
		key := binary.LittleEndian.AppendUint64(nil, seed)
		key = binary.LittleEndian.AppendUint64(key, slot)
		if got, want := score(seedState(seed), slot), xxhash.Sum64(key); got != want {
			t.Fatalf("score(%#x, %d) = %#x, xxhash.Sum64 = %#x", seed, slot, got, want)
		}
	}
}
