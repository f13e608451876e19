package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
)

// TestEncodingThresholdsVsRedis plays writes around the encoding thresholds
// on cached and redis-server 7.0 side by side, with the defaults and after
// CONFIG SET of each directive (and an old ziplist alias), and compares
// OBJECT ENCODING and the CONFIG replies byte for byte. Sets past their
// intset are compared only where Redis 7.0 and cached's 7.2-style
// listpack agree (hashtable); lists are "quicklist" either way.
func TestEncodingThresholdsVsRedis(t *testing.T) {
	p := newVsRedisPair(t, false)
	t.Cleanup(func() { applyEncodings(config.DefaultConfig().Encodings) }) // the limits are process-wide
	fill := func(cmd, key string, from, to int, val func(i int) string) {
		args := []string{cmd, key}
		for i := from; i < to; i++ {
			if cmd == "ZADD" {
				args = append(args, fmt.Sprint(i), fmt.Sprintf("m%d", i))
				continue
			}
			args = append(args, fmt.Sprintf("f%d", i))
			if cmd == "HSET" {
				args = append(args, val(i))
			}
		}
		p.same(t, args...)
	}
	short := func(int) string { return "v" }
	enc := func(key, want string) {
		t.Helper()
		if got := p.same(t, "OBJECT", "ENCODING", key); got != "$"+fmt.Sprint(len(want))+"\r\n"+want+"\r\n" {
			t.Errorf("OBJECT ENCODING %s = %q, want %s", key, got, want)
		}
	}
	// Defaults: 512 fields / 64 bytes for hashes, 128 / 64 for sorted sets.
	fill("HSET", "h512", 0, 512, short)
	enc("h512", "listpack")
	fill("HSET", "h512", 512, 513, short)
	enc("h512", "hashtable")
	fill("HSET", "h64", 0, 3, func(int) string { return strings.Repeat("x", 64) })
	enc("h64", "listpack")
	fill("HSET", "h64", 3, 4, func(int) string { return strings.Repeat("x", 65) })
	enc("h64", "hashtable")
	fill("HSET", "hbig", 0, 1000, short) // one HSET past the threshold
	enc("hbig", "hashtable")
	fill("ZADD", "z128", 0, 128, nil)
	enc("z128", "listpack")
	fill("ZADD", "z128", 128, 129, nil)
	enc("z128", "skiplist")
	p.same(t, "SADD", "ints", "1", "2", "3")
	enc("ints", "intset")
	p.same(t, "RPUSH", "l", "a", "b")
	enc("l", "quicklist")

	// Lowered at run time: existing keys convert on their next write.
	for _, kv := range [][2]string{{"hash-max-ziplist-entries", "4"}, {"hash-max-listpack-value", "3"},
		{"zset-max-listpack-entries", "3"}, {"zset-max-ziplist-value", "2"}, {"set-max-intset-entries", "3"},
		{"list-max-listpack-size", "5"}} {
		p.same(t, "CONFIG", "SET", kv[0], kv[1])
		p.same(t, "CONFIG", "GET", kv[0])
	}
	fill("HSET", "h4", 0, 4, short)
	enc("h4", "listpack")
	fill("HSET", "h4", 4, 5, short)
	enc("h4", "hashtable")
	fill("HSET", "hv", 0, 1, func(int) string { return "abc" })
	enc("hv", "listpack")
	fill("HSET", "hv", 1, 2, func(int) string { return "abcd" })
	enc("hv", "hashtable")
	fill("ZADD", "z3", 0, 3, nil)
	enc("z3", "listpack")
	fill("ZADD", "z3", 3, 4, nil)
	enc("z3", "skiplist")
	p.same(t, "ZADD", "zv", "1", "abc")
	enc("zv", "skiplist")
	p.same(t, "SADD", "ints", "4")
	enc("ints", "hashtable") // an intset past set-max-intset-entries becomes a hashtable in 7.0 and 7.2
	p.same(t, "CONFIG", "SET", "hash-max-listpack-entries", "-1")
	p.same(t, "CONFIG", "SET", "list-max-listpack-size", "x")
}

// TestSetListpackLimitsConfig: cached's Redis 7.2 set-max-listpack-*
// directives (which 7.0 lacks) decide between listpack and hashtable.
func TestSetListpackLimitsConfig(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	t.Cleanup(func() { applyEncodings(config.DefaultConfig().Encodings) })
	mustDo(t, rc, "SADD", "s", "a", "b")
	if e := rc.ObjectEncoding(t.Context(), "s").Val(); e != "listpack" {
		t.Fatalf("2 strings: %s", e)
	}
	mustDo(t, rc, "CONFIG", "SET", "set-max-listpack-entries", "2")
	mustDo(t, rc, "SADD", "s", "c")
	if e := rc.ObjectEncoding(t.Context(), "s").Val(); e != "hashtable" {
		t.Fatalf("3 strings past set-max-listpack-entries 2: %s", e)
	}
	mustDo(t, rc, "CONFIG", "SET", "set-max-listpack-value", "3")
	mustDo(t, rc, "SADD", "t", "abcd")
	if e := rc.ObjectEncoding(t.Context(), "t").Val(); e != "hashtable" {
		t.Fatalf("4-byte member past set-max-listpack-value 3: %s", e)
	}
}
