package server

import "testing"

// TestRandCountRangeVsRedis: HRANDFIELD and ZRANDMEMBER check their count
// in Redis 7.0's order and range (WITHVALUES/WITHSCORES allow ±2^62).
// Only counts that answer an error or a whole one-member collection are
// used: a huge negative count makes redis-server build a reply of that
// many elements.
func TestRandCountRangeVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	conns := []*listRaw{listDialRaw(t, "unix", sock), listDialRaw(t, "tcp", s.Addr())}
	for _, c := range conns {
		c.do(t, "HSET", "h1", "f", "v")
		c.do(t, "ZADD", "z1", "1", "m")
		c.do(t, "SET", "str", "x")
	}
	for _, cmd := range [][]string{
		{"HRANDFIELD", "h1", "9223372036854775807", "WITHVALUES"},
		{"HRANDFIELD", "h1", "4611686018427387904", "WITHVALUES"},
		{"HRANDFIELD", "h1", "4611686018427387903", "WITHVALUES"},
		{"HRANDFIELD", "h1", "-4611686018427387904", "WITHVALUES"},
		{"HRANDFIELD", "h1", "abc", "foo"},
		{"HRANDFIELD", "h1", "1", "foo"},
		{"HRANDFIELD", "h1", "9223372036854775808", "foo"},
		{"HRANDFIELD", "h1", "-9223372036854775808", "foo"},
		{"HRANDFIELD", "nokey", "9223372036854775807", "WITHVALUES"},
		{"HRANDFIELD", "str", "9223372036854775807", "WITHVALUES"},
		{"HRANDFIELD", "h1", "9223372036854775807"},
		{"ZRANDMEMBER", "z1", "9223372036854775807", "WITHSCORES"},
		{"ZRANDMEMBER", "z1", "abc", "foo"},
		{"ZRANDMEMBER", "z1", "9223372036854775807"},
	} {
		var got [2]string
		for j, c := range conns {
			got[j] = c.do(t, cmd...)
		}
		if got[0] != got[1] {
			t.Fatalf("%q:\n redis:  %q\n cached: %q", cmd, got[0], got[1])
		}
	}
}
