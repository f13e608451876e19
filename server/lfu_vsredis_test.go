package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/keycmd"
	"github.com/redis/go-redis/v9"
)

// lfuScript is run on cached and on redis-server 7.0.15; each step's reply
// (or error text) must be the same. lfu-log-factor 0 makes every access
// count and lfu-decay-time 0 stops decay, so the counters are exact. With
// maxmemory 0 Redis would share small integers (INCR's values) and report
// the shared object's counter; a maxmemory keeps them apart.
var lfuScript = [][]any{
	{"CONFIG", "SET", "maxmemory", "1gb", "maxmemory-policy", "allkeys-lru"},
	{"SET", "s", "v"},
	{"OBJECT", "FREQ", "s"},
	{"OBJECT", "FREQ", "nope"},
	{"CONFIG", "SET", "maxmemory-policy", "allkeys-lfu", "lfu-log-factor", "0", "lfu-decay-time", "0"},
	{"CONFIG", "GET", "lfu-log-factor"},
	{"CONFIG", "GET", "lfu-decay-time"},
	{"CONFIG", "GET", "maxmemory-policy"},
	{"SET", "k", "v"},
	{"OBJECT", "FREQ", "k"},
	{"GET", "k"},
	{"GET", "k"},
	{"OBJECT", "FREQ", "k"},
	{"EXISTS", "k"}, // not an access (LOOKUP_NOTOUCH)
	{"TYPE", "k"},
	{"TTL", "k"},
	{"STRLEN", "k"},
	{"OBJECT", "FREQ", "k"},
	{"SET", "k", "w"}, // an access; the counter is kept
	{"OBJECT", "FREQ", "k"},
	{"APPEND", "k", "x"},
	{"TOUCH", "k"},
	{"OBJECT", "FREQ", "k"},
	{"OBJECT", "IDLETIME", "k"},
	{"OBJECT", "IDLETIME", "nope"},
	{"OBJECT", "FREQ", "nope"},
	{"RPUSH", "l", "a", "b"},
	{"LRANGE", "l", "0", "-1"},
	{"LLEN", "l"},
	{"OBJECT", "FREQ", "l"},
	{"HSET", "h", "f", "1"},
	{"HINCRBY", "h", "f", "2"},
	{"HGET", "h", "f"},
	{"OBJECT", "FREQ", "h"},
	{"INCR", "n"},
	{"INCR", "n"},
	{"OBJECT", "FREQ", "n"},
	{"CONFIG", "SET", "maxmemory-policy", "volatile-lfu"},
	{"OBJECT", "FREQ", "k"},
	{"CONFIG", "SET", "lfu-log-factor", "-1"},
	{"CONFIG", "SET", "lfu-log-factor", "abc"},
	{"CONFIG", "SET", "lfu-decay-time", "2147483648"},
	{"CONFIG", "SET", "lfu-log-factor", "2147483647", "lfu-decay-time", "2147483647"},
	{"CONFIG", "GET", "lfu-log-factor"},
	{"CONFIG", "GET", "lfu-decay-time"},
	{"CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LFU"},
	{"CONFIG", "GET", "maxmemory-policy"},
	{"CONFIG", "SET", "maxmemory-policy", "allkeys-lfuu"},
	{"CONFIG", "SET", "maxmemory-policy", "noeviction"},
	{"OBJECT", "FREQ", "k"},
}

func TestLFUVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	clients := []*redis.Client{newClient(t, s, resp2), mk(false, 0)}
	for i, step := range lfuScript {
		var got [2]string
		for j, rc := range clients {
			v, err := rc.Do(ctxT(t), step...).Result()
			got[j] = fmt.Sprintf("%v %v", v, err)
		}
		if got[0] != got[1] {
			t.Errorf("step %d %v:\ncached: %s\nredis:  %s", i, step, got[0], got[1])
		}
	}
}

// TestLFUIdletimeAfterSwitch: back under an LRU policy, OBJECT IDLETIME
// answers an integer again (the LFU-era field is reinterpreted, as Redis).
func TestLFUIdletimeAfterSwitch(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxMemoryPolicy = "allkeys-lfu" })
	rc := newClient(t, s, nil)
	mustDo(t, rc, "SET", "k", "v")
	if f := mustDo(t, rc, "OBJECT", "FREQ", "k"); f != int64(5) {
		t.Fatalf("OBJECT FREQ of a new key under the configured LFU policy: %v", f)
	}
	wantErr(t, rc, keycmd.ErrLFUSelected, "OBJECT", "IDLETIME", "k")
	mustDo(t, rc, "CONFIG", "SET", "maxmemory-policy", "volatile-lru")
	if _, ok := mustDo(t, rc, "OBJECT", "IDLETIME", "k").(int64); !ok {
		t.Fatal("OBJECT IDLETIME is not an integer after switching back")
	}
	mustDo(t, rc, "GET", "k")
	if d := mustDo(t, rc, "OBJECT", "IDLETIME", "k"); d != int64(0) {
		t.Fatalf("OBJECT IDLETIME after an access under LRU: %v", d)
	}
	if !strings.Contains(keycmd.ErrLFUNotSelected, "not selected") {
		t.Fatal(keycmd.ErrLFUNotSelected)
	}
	wantErr(t, rc, keycmd.ErrLFUNotSelected, "OBJECT", "FREQ", "k")
}
