package setcmd

import (
	"bytes"
	"testing"
)

// FuzzSetIntercardArgs: SINTERCARD's parser does not panic, and an
// accepted numkeys names keys inside args (SINTERCARD's key spec: numkeys
// at index 1, then the keys; the table's answer for it is compared with
// redis-server's COMMAND GETKEYS in the server package's tests).
func FuzzSetIntercardArgs(f *testing.F) {
	for _, s := range []string{"2 a b", "1 a LIMIT 3", "2 a b limit 0 LIMIT 1", "0 a", "3 a b", "1 a LIMIT",
		"1 a LIMIT -1", "x a", "1 a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := append([][]byte{[]byte("sintercard")}, bytes.Fields([]byte(s))...)
		if len(args) < 3 {
			return
		}
		n, limit, errText := sintercardParse(args)
		if errText != "" {
			return
		}
		if n < 1 || 2+n > len(args) || limit < 0 {
			t.Fatalf("%q: numkeys %d limit %d", s, n, limit)
		}
	})
}
