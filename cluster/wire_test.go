package cluster

import (
	"errors"
	"testing"
)

func TestTableWireRoundTrip(t *testing.T) {
	for _, r := range []int{0, 1, 3} {
		for _, n := range []int{0, 1, 2, 10} {
			tab := Plan(BuildTable(testMembers(uint64(n), n), r, 3), testMembers(uint64(n), n+1), r, 4)
			tab.planner = testMembers(1, 1)[0].ID
			tab.term = uint64(n) // 0: the format without a term
			enc := encodeTable(tab)
			got, err := decodeTable(enc)
			if err != nil {
				t.Fatalf("r=%d n=%d: %v", r, n, err)
			}
			if !sameAssignment(got, tab) || got.Version() != 4 || got.Term() != uint64(n) || got.Planner() != tab.planner || got.Replicas() != r {
				t.Fatalf("r=%d n=%d: round trip differs", r, n)
			}
			want := byte(tableFormat)
			if n > 0 {
				want = tableFormatTerm
			}
			if enc[1] != want {
				t.Fatalf("r=%d n=%d: format %d, want %d", r, n, enc[1], want)
			}
			for i, m := range got.Members() {
				if m != tab.Members()[i] {
					t.Fatalf("member %d: %+v, want %+v", i, m, tab.Members()[i])
				}
			}
			if n == 10 && r == 1 && len(enc) > 1200 {
				t.Errorf("10 members, 1 replica: %d bytes, want one UDP gossip packet", len(enc))
			}
		}
	}
}

// A table with a retained member keeps its term, 0 or not, and its
// retained column through the wire: in format 6 (with the since column,
// as a node plans it) and in format 5 (a node of before the marks).
func TestTableWireRetainedWithTerm(t *testing.T) {
	for _, c := range []struct {
		term   uint64
		format byte
	}{{0, tableFormatSince}, {7, tableFormatSince}, {0, tableFormatRetained}, {7, tableFormatRetained}} {
		term := c.term
		tab := BuildTable(testMembers(2, 3), 1, 1)
		tab.planner = tab.members[0].ID
		tab.term = term
		tab.stageColumns()
		tab.retained = make([]uint16, NumSlots)
		for s := range tab.retained {
			tab.retained[s] = noMember
		}
		row := tab.prefs[:tab.width]
		for m := range uint16(3) {
			if m != row[0] && m != row[1] {
				tab.retained[0] = m
			}
		}
		if c.format == tableFormatRetained {
			tab.since = nil
		}
		enc := encodeTable(tab)
		if enc[1] != c.format {
			t.Fatalf("term %d: format %d, want %d", term, enc[1], c.format)
		}
		got, err := decodeTable(enc)
		if err != nil {
			t.Fatalf("term %d: %v", term, err)
		}
		if got.Term() != term || !sameAssignment(got, tab) || got.RetainedIndex(0) != int(tab.retained[0]) || got.RetainedIndex(1) != -1 {
			t.Fatalf("term %d: round trip gives term %d, retained %d/%d", term, got.Term(), got.RetainedIndex(0), got.RetainedIndex(1))
		}
	}
}

func TestTableWireRejects(t *testing.T) {
	tab := BuildTable(testMembers(2, 3), 1, 1)
	tab.planner = tab.members[0].ID
	good := encodeTable(tab)
	dup := Plan(nil, testMembers(2, 3), 1, 1)
	dup.planner = tab.planner
	dup.prefs[1] = dup.prefs[0] // slot 0's replica is its primary
	unsorted := BuildTable(testMembers(2, 3), 0, 1)
	unsorted.planner = tab.planner
	unsorted.members[0], unsorted.members[1] = unsorted.members[1], unsorted.members[0]
	zeroTerm := append([]byte{tableMagic, tableFormatTerm, good[2], 0}, good[3:]...) // version 1 is one byte
	for name, b := range map[string][]byte{
		"term 0":        zeroTerm,
		"format 6":      append([]byte{tableMagic, 6}, good[2:]...),
		"empty":         nil,
		"bad magic":     append([]byte{'X'}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"no planner":    encodeTable(BuildTable(testMembers(2, 3), 1, 1)),
		"same member":   encodeTable(dup),
		"unsorted IDs":  encodeTable(unsorted),
		"short layer":   append(append([]byte{}, good[:len(good)-2]...), 1, 0),
		"huge run size": append(append([]byte{}, good[:len(good)-2]...), 0xff, 0xff, 0xff, 0x01, 0),
	} {
		if _, err := decodeTable(b); !errors.Is(err, errBadTable) {
			t.Errorf("%s: err = %v, want errBadTable", name, err)
		}
	}
}
