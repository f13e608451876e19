package server

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
)

// zsetEvents runs cmds on rc with keyspace notifications on and returns
// the keyevent messages they published, in order.
func zsetEvents(t *testing.T, rc *redis.Client, cmds [][]any) []string {
	t.Helper()
	ctx := ctxT(t)
	if err := rc.ConfigSet(ctx, "notify-keyspace-events", "KEA").Err(); err != nil {
		t.Fatalf("CONFIG SET: %v", err)
	}
	sub := rc.PSubscribe(ctx, "__keyevent@*", "zsetdone")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("PSUBSCRIBE: %v", err)
	}
	for _, args := range cmds {
		_ = rc.Do(ctx, args...).Err()
	}
	rc.Publish(ctx, "zsetdone", "x")
	var out []string
	for {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if m.Channel == "zsetdone" {
			return out
		}
		if m.Channel == "__keyevent@0__:set" {
			continue // the string commands' events are not under test here
		}
		out = append(out, m.Channel+" "+m.Payload)
	}
}

// TestZSetNotifyVsRedis compares the keyspace events of a random command
// stream (event names, order, the del of emptied keys) with Redis 7.0's.
func TestZSetNotifyVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	real, rc := mk(false, 0), newClient(t, s, resp2)
	r := rand.New(rand.NewPCG(11, 12))
	cmds := [][]any{{"SET", "str", "x"}, {"SET", "lexstr", "x"}}
	for len(cmds) < 1500 {
		if c := zsetRandomCommand(r); c[0] != "DEL" { // DEL's own events are the keyspace commands' business
			cmds = append(cmds, c)
		}
	}
	want, got := zsetEvents(t, real, cmds), zsetEvents(t, rc, cmds)
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("event %d: got %q, want %q (of %d/%d)\ngot  %q\nwant %q", i, got[i], want[i], len(got), len(want), got[max(0, i-5):i+1], want[max(0, i-5):i+1])
			}
		}
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	if len(want) < 100 {
		t.Fatalf("only %d events: the stream is too tame", len(want))
	}
}
