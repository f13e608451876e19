package server

import (
	"reflect"
	"strings"
	"testing"
)

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	fn()
}

// TestKeySpecTableChecks checks that building the table refuses
// inconsistent entries, as start-up must.
func TestKeySpecTableChecks(t *testing.T) {
	for what, sp := range map[string]spec{
		"bad flag":       spec{name: "x", arity: 2, first: 1, last: 1, step: 1}.withKeys("RX | index 1 | range 0 1 0"),
		"bad begin":      spec{name: "x", arity: 2, first: 1, last: 1, step: 1}.withKeys("RO | at 1 | range 0 1 0"),
		"bad find":       spec{name: "x", arity: 2, first: 1, last: 1, step: 1}.withKeys("RO | index 1 | all"),
		"two parts":      spec{name: "x", arity: 2, first: 1, last: 1, step: 1}.withKeys("RO | index 1"),
		"zero step":      spec{name: "x", arity: 2, first: 1, last: 1, step: 1}.withKeys("RO | index 1 | range 0 0 0"),
		"legacy differs": spec{name: "x", arity: 3, first: 1, last: 1, step: 1}.withKeys("RO | index 1 | range 1 1 0"),
		"variable without keyFlags": spec{name: "x", arity: 2, first: 1, last: 1, step: 1}.
			withKeys("RW variable_flags | index 1 | range 0 1 0"),
		"keyFlags without variable": spec{name: "x", arity: 2, first: 1, last: 1, step: 1}.
			withKeys("RW | index 1 | range 0 1 0").withKeyFlags(func([][]byte) []string { return nil }),
	} {
		mustPanic(t, what, func() { build(sp, nil) })
	}
	ok := build(spec{name: "x", arity: -3, flags: "write", first: 1, last: 1, step: 1}.
		withKeys("OW update | index 1 | range 0 1 0", "RO access | index 2 | keynum 0 1 1"), nil)
	if ok.flags&flagMovableKeys == 0 {
		t.Error("a keynum spec must make the keys movable")
	}
}

// TestKeySpecFind checks findKeys on spec kinds the table's commands do
// not all use: a keyword search forwards and backwards, a range with a
// limit, an incomplete spec, shard channels.
func TestKeySpecFind(t *testing.T) {
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
		cmd := &command{fullName: "t", keySpecs: []keySpec{parseKeySpec("t", c.spec)}}
		refs, ok := cmd.findKeys(words(c.line), c.notKeys)
		var got []int
		for _, r := range refs {
			got = append(got, r.pos)
		}
		if ok != c.ok || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("%q on %q: %v %v, want %v %v", c.spec, c.line, got, ok, c.want, c.ok)
		}
	}
}
