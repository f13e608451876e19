package server

import "testing"

// TestZSetSetInputs: plain sets are inputs of ZUNION/ZINTER/ZDIFF (and the
// STORE forms, ZINTERCARD) with every member scored 1.
func TestZSetSetInputs(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, resp2)
	mustDo(t, rc, "SADD", "set", "a", "x")
	mustDo(t, rc, "SADD", "ints", "1", "2", "3")
	mustDo(t, rc, "ZADD", "z", "5", "a", "7", "b")
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"ZUNION", "2", "z", "set", "WEIGHTS", "1", "3", "WITHSCORES"}, `["x" "3" "b" "7" "a" "8"]`},
		{[]any{"ZINTER", "2", "set", "z", "AGGREGATE", "MAX", "WITHSCORES"}, `["a" "5"]`},
		{[]any{"ZDIFF", "2", "set", "z", "WITHSCORES"}, `["x" "1"]`},
		{[]any{"ZINTERCARD", "2", "set", "z"}, `1`},
		{[]any{"ZUNIONSTORE", "out", "1", "set"}, `2`},
		{[]any{"ZRANGE", "out", "0", "-1", "WITHSCORES"}, `["a" "1" "x" "1"]`},
		{[]any{"ZUNION", "2", "ints", "set", "WITHSCORES"}, `["1" "1" "2" "1" "3" "1" "a" "1" "x" "1"]`},
		{[]any{"ZINTER", "2", "ints", "ints", "WITHSCORES"}, `["1" "2" "2" "2" "3" "2"]`},
	} {
		if got := strFmt(rc.Do(ctxT(t), tc.args...).Result()); got != tc.want {
			t.Errorf("%v = %s, want %s", tc.args, got, tc.want)
		}
	}
	wantErr(t, rc, "WRONGTYPE Operation against a key holding the wrong kind of value", "ZRANGE", "set", "0", "-1")
}
