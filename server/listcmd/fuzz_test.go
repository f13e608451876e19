package listcmd

import (
	"bytes"
	"strconv"
	"testing"
)

// listFuzzArgs splits a fuzz input into arguments at spaces.
func listFuzzArgs(s []byte) [][]byte {
	if len(s) == 0 {
		return nil
	}
	return bytes.Split(s, []byte(" "))
}

func FuzzListLposOptions(f *testing.F) {
	for _, s := range []string{"", "RANK 1", "rank -1 count 0 maxlen 5", "RANK 0", "COUNT -1", "MAXLEN", "foo 1",
		"RANK -9223372036854775808", "count 3 count 4", "RANK x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		o, msg := parseLposOptions(listFuzzArgs(in))
		if msg != "" {
			return
		}
		if o.rank == 0 || o.count < 0 || o.maxlen < 0 {
			t.Fatalf("%q accepted as %+v", in, o)
		}
	})
}

// numkeysPositions are the key positions of LMPOP's key spec (numkeys at
// index 1, then that many keys), or nil when numkeys does not fit args.
// The table's answer for the same spec is compared with redis-server's
// COMMAND GETKEYS in the server package's tests.
func numkeysPositions(args [][]byte) []int {
	n, err := strconv.Atoi(string(args[1]))
	if err != nil || n < 1 || 2+n > len(args) {
		return nil
	}
	pos := make([]int, n)
	for i := range pos {
		pos[i] = 2 + i
	}
	return pos
}

func FuzzListMpopArgs(f *testing.F) {
	for _, s := range []string{"LMPOP 1 k left", "LMPOP 2 a b RIGHT COUNT 3", "LMPOP 0 k left", "LMPOP 3 k left",
		"LMPOP 1 k left COUNT", "LMPOP 1 k left COUNT 0", "LMPOP -5 k right", "LMPOP 1 k middle", "LMPOP 1 k left count 1 count 2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		args := listFuzzArgs(in)
		if len(args) < 4 { // the arity check comes first
			return
		}
		m, msg := parseMpop(args, 1)
		pos := numkeysPositions(args)
		if msg != "" {
			return
		}
		if m.count < 1 || len(m.keys) == 0 || len(pos) != len(m.keys) {
			t.Fatalf("%q accepted as %+v, key positions %v", in, m, pos)
		}
		for i, p := range pos {
			if !bytes.Equal(args[p], m.keys[i]) {
				t.Fatalf("%q: key %d is %q, position says %q", in, i, m.keys[i], args[p])
			}
		}
	})
}
