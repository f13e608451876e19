package server

import (
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
