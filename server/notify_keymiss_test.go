package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// keyMissScript reads missing keys with every kind of read command.
var keyMissScript = [][]any{
	{"GET", "m1"}, {"MGET", "m2", "m3"}, {"STRLEN", "m4"}, {"GETRANGE", "m5", "0", "1"},
	{"GETBIT", "m6", "1"}, {"BITCOUNT", "m7"}, {"BITPOS", "m8", "1"}, {"EXISTS", "m9"}, {"TYPE", "m10"},
	{"TTL", "m11"}, {"PTTL", "m12"}, {"OBJECT", "ENCODING", "m13"},
	{"HGET", "m14", "f"}, {"HGETALL", "m15"}, {"HLEN", "m16"}, {"HEXISTS", "m17", "f"}, {"HMGET", "m18", "f"},
	{"HSTRLEN", "m19", "f"}, {"HKEYS", "m20"}, {"HRANDFIELD", "m21"},
	{"LRANGE", "m22", "0", "-1"}, {"LLEN", "m23"}, {"LINDEX", "m24", "0"}, {"LPOS", "m25", "x"},
	{"SMEMBERS", "m26"}, {"SISMEMBER", "m27", "x"}, {"SCARD", "m28"}, {"SRANDMEMBER", "m29"},
	{"SMISMEMBER", "m30", "x"}, {"SINTER", "m31", "m32"},
	{"ZRANGE", "m33", "0", "-1"}, {"ZSCORE", "m34", "x"}, {"ZCARD", "m35"}, {"ZRANK", "m36", "x"},
	{"ZCOUNT", "m37", "0", "1"}, {"ZMSCORE", "m38", "x"}, {"ZRANDMEMBER", "m39"},
	{"HSCAN", "m40", "0"}, {"SSCAN", "m41", "0"}, {"ZSCAN", "m42", "0"}, {"LCS", "m43", "m44"},
	{"SUNION", "m45"}, {"ZUNION", "1", "m46"}, {"EXPIRETIME", "m47"}, {"DUMP", "m48"},
}

// keyMissEvents runs keyMissScript with notify-keyspace-events Em and
// returns the keys of the keymiss events, in order.
func keyMissEvents(t *testing.T, rc *redis.Client) []string {
	ctx := ctxT(t)
	if err := rc.ConfigSet(ctx, "notify-keyspace-events", "Em").Err(); err != nil {
		t.Fatal(err)
	}
	ps := rc.Subscribe(ctx, "__keyevent@0__:keymiss", "missmarker")
	defer ps.Close()
	for range 2 {
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range keyMissScript {
		_ = rc.Do(ctx, args...).Err()
	}
	rc.Publish(ctx, "missmarker", "end")
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-ps.Channel():
			if m.Channel == "missmarker" {
				return got
			}
			got = append(got, m.Payload)
		case <-timeout:
			t.Fatalf("no marker; events so far %v", got)
		}
	}
}

// TestNotifyKeyMissVsRedis: reads of missing keys publish "keymiss" (class
// m) for the same commands and keys as redis-server.
func TestNotifyKeyMissVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	want := keyMissEvents(t, mk(true, 0))
	got := keyMissEvents(t, newClient(t, s, nil))
	if !slices.Equal(got, want) {
		t.Fatalf("keymiss keys:\n cached %s\n  redis %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}
