package hashcmd

import (
	"bytes"
	"testing"
)

// FuzzHashRandfieldArgs: HRANDFIELD's parser does not panic, and its
// results stay within what the handler indexes.
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
