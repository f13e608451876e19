package server

import (
	"bytes"
	"testing"
)

// Fuzz targets for the hash and set argument parsers: no panic, and the
// results stay within what the handlers index.

func FuzzHashRandfieldArgs(f *testing.F) {
	for _, s := range []string{"h 1", "h -5 WITHVALUES", "h 0 withvalues x", "h -9223372036854775808",
		"h -9223372036854775807 withvalues", "h x", "h 3 foo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := append([][]byte{[]byte("hrandfield")}, bytes.Fields([]byte(s))...)
		if len(args) < 3 {
			return
		}
		count, withValues, errText := hrandfieldParse(args)
		if errText == "" && (withValues != (len(args) == 4) || (withValues && count < -(1<<62))) {
			t.Fatalf("%q: count %d withValues %v", s, count, withValues)
		}
	})
}

func FuzzSetIntercardArgs(f *testing.F) {
	for _, s := range []string{"2 a b", "1 a LIMIT 3", "2 a b limit 0 LIMIT 1", "0 a", "3 a b", "1 a LIMIT",
		"1 a LIMIT -1", "x a", "1 a b"} {
		f.Add(s)
	}
	cmd := newCommandTable().lookup([]byte("sintercard"))
	f.Fuzz(func(t *testing.T, s string) {
		args := append([][]byte{[]byte("sintercard")}, bytes.Fields([]byte(s))...)
		if len(args) < 3 {
			return
		}
		n, limit, errText := sintercardParse(args)
		keys := cmd.keyPositions(args) // the table's key specs
		if errText != "" {
			return
		}
		if n < 1 || 2+n > len(args) || limit < 0 || len(keys) != n {
			t.Fatalf("%q: numkeys %d limit %d keys %v", s, n, limit, keys)
		}
		for _, k := range keys {
			_ = args[k]
		}
	})
}
