package keyspec

import (
	"reflect"
	"strings"
	"testing"
)

// TestFind checks Find on spec kinds the table's commands do
// not all use: a keyword search forwards and backwards, a range with a
// limit, an incomplete spec, shard channels.
func TestFind(t *testing.T) {
	words := func(s string) [][]byte {
		var out [][]byte
		for _, w := range strings.Fields(s) {
			out = append(out, []byte(w))
		}
		return out
	}
	for _, c := range []struct {
		spec, line string
		notKeys    bool
		want       []int
		ok         bool
	}{
		{"OW update | keyword STORE 1 | range 0 1 0", "SORT k BY x STORE d", false, []int{5}, true},
		{"OW update | keyword STORE 1 | range 0 1 0", "SORT k store d", false, []int{3}, true},
		{"OW update | keyword STORE 1 | range 0 1 0", "SORT k BY x", false, nil, true},
		{"OW update | keyword STORE 1 | range 0 1 0", "SORT k STORE", false, nil, true}, // the last argument is never a keyword
		{"RO | keyword STREAMS -2 | range -1 1 2", "XREAD COUNT 2 STREAMS a b 0 0", false, []int{4, 5}, true},
		{"RO | keyword KEYS -2 | range -1 1 0", "MIGRATE h p k 0 5 KEYS a b", false, []int{7, 8}, true},
		{"RO incomplete | index 1 | range 0 1 0", "X a", false, nil, false},
		{"not_key | index 1 | range -1 1 0", "SSUBSCRIBE a b", false, nil, true},
		{"not_key | index 1 | range -1 1 0", "SSUBSCRIBE a b", true, []int{1, 2}, true},
		{"RO | index 2 | keynum 0 1 1", "ZINTER 2 a b", false, nil, false}, // keynum at 2 is "a"
		{"RO | index 1 | keynum 0 1 1", "ZINTER 2 a b", false, []int{2, 3}, true},
		{"RO | index 1 | keynum 0 1 1", "ZINTER 3 a b", false, nil, false},
		{"RO | index 1 | keynum 0 1 1", "ZINTER 0 a", false, nil, false},
		{"RO | index 5 | range 0 1 0", "GET k", false, nil, false},
	} {
		refs, ok := Find([]Spec{Parse("t", c.spec)}, words(c.line), c.notKeys)
		var got []int
		for _, r := range refs {
			got = append(got, r.Pos)
		}
		if ok != c.ok || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("%q on %q: %v %v, want %v %v", c.spec, c.line, got, ok, c.want, c.ok)
		}
	}
}

// TestLegacyRange: first/last/step and movablekeys derived from the specs,
// as Redis's populateCommandLegacyRangeSpec.
func TestLegacyRange(t *testing.T) {
	for _, c := range []struct {
		specs             []string
		first, last, step int
		movable           bool
	}{
		{nil, 0, 0, 0, false},
		{[]string{"RW update | index 1 | range 0 1 0"}, 1, 1, 1, false},
		{[]string{"RW update | index 1 | range -1 2 0"}, 1, -1, 2, false},
		{[]string{"RW | index 1 | range 0 1 0", "RO | index 2 | range 0 1 0"}, 1, 2, 1, false},
		{[]string{"RW | index 1 | range 0 1 0", "RO | keyword STORE 1 | range 0 1 0"}, 1, 1, 1, true},
		{[]string{"RO | index 1 | keynum 0 1 1"}, 0, 0, 0, true},
		{[]string{"RO incomplete | index 1 | range 0 1 0"}, 1, 1, 1, true},
	} {
		var specs []Spec
		for _, s := range c.specs {
			specs = append(specs, Parse("t", s))
		}
		first, last, step, movable := LegacyRange(specs)
		if first != c.first || last != c.last || step != c.step || movable != c.movable {
			t.Errorf("%q: %d/%d/%d movable %v, want %d/%d/%d %v", c.specs, first, last, step, movable, c.first, c.last, c.step, c.movable)
		}
	}
	if d := Default(2, -1, 2, false, true); !d.Has("RO") || !d.Has("access") || d.lastKey != -1 || d.index != 2 {
		t.Errorf("Default: %+v", d)
	}
}
