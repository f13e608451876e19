package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// newKeyScript creates keys in every way a command can, and writes some that
// exist already (no "new" then).
var newKeyScript = [][]any{
	{"SET", "a", "1"}, {"SET", "a", "2"}, {"SETNX", "b", "1"}, {"SETEX", "c", "100", "v"},
	{"MSET", "d", "1", "e", "2"}, {"APPEND", "f", "x"}, {"INCR", "g"}, {"INCRBYFLOAT", "g2", "1.5"},
	{"GETSET", "h", "v"}, {"SETRANGE", "i", "3", "x"}, {"SETBIT", "j", "7", "1"},
	{"HSET", "hs", "f", "v"}, {"HSET", "hs", "g", "v"}, {"RPUSH", "l", "x"}, {"LPUSH", "l", "y"},
	{"LMOVE", "l", "l2", "LEFT", "RIGHT"}, {"SADD", "s", "m"}, {"SADD", "s2", "n"},
	{"SUNIONSTORE", "su", "s", "s2"}, {"ZADD", "z", "1", "m"}, {"ZUNIONSTORE", "zu", "1", "z"},
	{"RENAME", "a", "a2"}, {"COPY", "b", "b2"}, {"DEL", "c"}, {"SET", "c", "again"},
}

// newKeyEvents runs newKeyScript with notify-keyspace-events KEA plus n and
// returns the events seen on __keyevent@0__, as "event key".
func newKeyEvents(t *testing.T, rc *redis.Client) []string {
	ctx := ctxT(t)
	if err := rc.ConfigSet(ctx, "notify-keyspace-events", "KEAn").Err(); err != nil {
		t.Fatal(err)
	}
	ps := rc.PSubscribe(ctx, "__keyevent@0__:*", "newmarker")
	defer ps.Close()
	for range 2 {
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range newKeyScript {
		if err := rc.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	rc.Publish(ctx, "newmarker", "end")
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-ps.Channel():
			if m.Channel == "newmarker" {
				return got
			}
			got = append(got, strings.TrimPrefix(m.Channel, "__keyevent@0__:")+" "+m.Payload)
		case <-timeout:
			t.Fatalf("no marker; events so far %v", got)
		}
	}
}

// TestNotifyNewVsRedis: the "n" class publishes "new" for every key a write
// creates, before the command's own event, exactly as redis-server does.
func TestNotifyNewVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	want := newKeyEvents(t, mk(true, 0))
	got := newKeyEvents(t, newClient(t, s, nil))
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n cached %q\n  redis %q", got, want)
	}
	news := 0
	for _, e := range got {
		if strings.HasPrefix(e, "new ") {
			news++
		}
	}
	if news < 20 {
		t.Fatalf("only %d new events in %q", news, got)
	}
	// Without n, no "new" event (and no store callback per write).
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", "KEA")
	if s.store == nil || newKeyEventsOff(t, rc) {
		return
	}
	t.Fatal("a new event was published with notify-keyspace-events KEA")
}

// newKeyEventsOff creates a key with KEA set and reports whether the first
// event seen is the command's own (no "new" before it).
func newKeyEventsOff(t *testing.T, rc *redis.Client) bool {
	ctx := ctxT(t)
	ps := rc.PSubscribe(ctx, "__keyevent@0__:*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	rc.Set(ctx, "fresh-key", "v", 0)
	m, err := ps.ReceiveMessage(ctx)
	return err == nil && m.Channel == "__keyevent@0__:set"
}
