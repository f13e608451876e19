package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// hsNotifyScript exercises every hash and set write, including the ones that
// empty (and so delete) their key.
var hsNotifyScript = [][]any{
	{"HSET", "h", "a", "1", "b", "2"}, {"HSETNX", "h", "a", "x"}, {"HSETNX", "h", "c", "3"},
	{"HMSET", "h", "d", "4"}, {"HINCRBY", "h", "a", "1"}, {"HINCRBYFLOAT", "h", "a", "1.5"},
	{"HDEL", "h", "zz"}, {"HDEL", "h", "a", "b", "c"}, {"HDEL", "h", "d"}, {"HGET", "h", "a"},
	{"SADD", "s", "1", "2"}, {"SADD", "s", "1"}, {"SREM", "s", "9"}, {"SREM", "s", "1"},
	{"SADD", "t", "2", "3"}, {"SMOVE", "s", "t", "2"}, {"SMOVE", "t", "u", "3"}, {"SMOVE", "t", "u", "9"},
	{"SINTERSTORE", "d", "t", "u"}, {"SUNIONSTORE", "d", "t", "u"}, {"SDIFFSTORE", "d2", "d", "t"},
	{"SINTERSTORE", "d", "nokey"}, {"SINTERSTORE", "d", "nokey"}, {"SPOP", "u"}, {"SADD", "p", "1", "2"},
	{"SPOP", "p", "0"}, {"SPOP", "p", "5"}, {"SADD", "p", "1", "2", "3"}, {"SPOP", "p", "3"},
	{"SADD", "q", "x"}, {"SPOP", "q", "1"},
}

// hsEvents runs the script on rc and returns the keyspace events received,
// as "event key" strings.
func hsEvents(t *testing.T, rc *redis.Client) []string {
	ctx := ctxT(t)
	if err := rc.ConfigSet(ctx, "notify-keyspace-events", "KEA").Err(); err != nil {
		t.Fatal(err)
	}
	ps := rc.PSubscribe(ctx, "__keyevent@0__:*", "hsmarker")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	for _, args := range hsNotifyScript {
		_, _ = rc.Do(ctx, args...).Result()
	}
	rc.Publish(ctx, "hsmarker", "end")
	var got []string
	ch := ps.Channel()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			if m.Channel == "hsmarker" {
				return got
			}
			got = append(got, strings.TrimPrefix(m.Channel, "__keyevent@0__:")+" "+m.Payload)
		case <-timeout:
			t.Fatalf("no marker; events so far %v", got)
		}
	}
}

// TestHashSetNotifyVsRedis checks the keyspace events of every hash and set
// write, in order, against redis-server's.
func TestHashSetNotifyVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	want := hsEvents(t, mk(true, 0))
	got := hsEvents(t, newClient(t, s, nil))
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n cached %q\n  redis %q", got, want)
	}
	if len(want) < 20 {
		t.Fatalf("only %d events", len(want))
	}
}
