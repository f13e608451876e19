package server

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
)

// TestMaxmemoryNoEvictionWhilePaused: while the clients are paused (CLIENT
// PAUSE, in WRITE mode and in ALL mode), nothing evicts (the cron, a held
// write, MULTI queueing, CONFIG SET maxmemory; store.Config.Paused) although
// the memory counted against maxmemory is over it (Redis's
// PAUSE_ACTION_EVICT: an eviction is a write); once the pause is lifted,
// it evicts down to the limit with no write coming.
//
// The memory goes over the limit without any path that evicts by itself:
// a PUBLISH with a 300 KB message (may_replicate, not denyoom, so neither
// dispatch nor anything else calls FreeMemory for it) waits out the
// pause, and its query buffer and arguments count as overhead at the
// cron's next tick. A SETRANGE that makes a 300 KB value waits out the
// pause too: sent before the PUBLISH, while the memory was under the
// limit, its own eviction check (dispatch's, before the pause holds it)
// found nothing to do, and once it runs after the pause the keys stay
// over the limit, so the eviction after the pause is owed to the cron.
//
// "Nothing evicted while paused" is checked over cron ticks, not over a
// time: the cron stamps stats.lastAt first thing in every tick
// (lastCronTick), and its eviction step comes after it sets the overhead.
// So once the overhead counts the PUBLISH, each later stamp seen begins a
// tick that followed a whole tick over the limit.
func TestMaxmemoryNoEvictionWhilePaused(t *testing.T) {
	for _, mode := range []string{"WRITE", "ALL"} {
		t.Run(mode, func(t *testing.T) { testNoEvictionWhilePaused(t, mode) })
	}
}

func testNoEvictionWhilePaused(t *testing.T, mode string) {
	const limit = 1 << 20
	const ticks = 5 // cron ticks seen over the limit while paused
	s := startServer(t, func(c *config.Config) { c.MaxMemory = limit; c.MaxMemoryPolicy = "allkeys-lru" })
	rc := newClient(t, s, nil)
	val := strings.Repeat("v", 1000)
	for i := 0; s.store.UsedMemory()+s.store.Overhead() < limit-200<<10; i++ {
		mustDo(t, rc, "SET", fmt.Sprintf("key:%d", i), val)
	}
	counted := func() int64 { return s.store.UsedMemory() + s.store.Overhead() }
	evicted := func() uint64 { return s.store.Stats().Evicted }
	keys := s.store.DBSize(0)
	if ev := evicted(); ev != 0 {
		t.Fatalf("evicted %d keys while filling under the limit", ev)
	}

	mustDo(t, rc, "CLIENT", "PAUSE", "600000", mode)
	t.Cleanup(s.pause.unpause) // runs before the server closes (cleanups run last first)
	w := listDialRaw(t, "tcp", s.Addr())
	w.send(t, "SETRANGE", "big", strconv.Itoa(300<<10-1), "x")
	pollFor(t, "the SETRANGE waits out the pause", func() bool { return s.pause.waiting.Load() == 1 })
	p := listDialRaw(t, "tcp", s.Addr())
	p.send(t, "PUBLISH", "ch", strings.Repeat("m", 300<<10))
	pollFor(t, "the PUBLISH waits out the pause", func() bool { return s.pause.waiting.Load() == 2 })
	pollFor(t, "the cron counts the PUBLISH's buffers", func() bool { return s.store.Overhead() >= 300<<10 })

	seen, last := 0, lastCronTick(s)
	pollFor(t, fmt.Sprintf("%d cron ticks while paused", ticks), func() bool {
		if at := lastCronTick(s); !at.Equal(last) {
			seen, last = seen+1, at
		}
		if ev := evicted(); ev != 0 {
			t.Fatalf("evicted %d keys while the clients were paused (%s; %d cron ticks seen over the limit)", ev, mode, seen)
		}
		if n := s.store.DBSize(0); n != keys {
			t.Fatalf("DBSIZE %d while paused, %d before", n, keys)
		}
		return seen >= ticks
	})
	if c := counted(); c <= limit {
		t.Fatalf("used memory %d with the PUBLISH held, want over the limit %d", c, limit)
	}
	// Over the limit now, the other ways to evict evict nothing either: a
	// write's check before the pause holds it (it checks again once the
	// pause ends), and in WRITE mode, where they run, queueing in MULTI and
	// CONFIG SET maxmemory.
	x := listDialRaw(t, "tcp", s.Addr())
	x.send(t, "SET", "extra", "v")
	pollFor(t, "the SET waits out the pause", func() bool { return s.pause.waiting.Load() == 3 })
	if mode == "WRITE" {
		mustDo(t, rc, "MULTI")
		mustDo(t, rc, "GET", "key:0")
		mustDo(t, rc, "DISCARD")
		mustDo(t, rc, "CONFIG", "SET", "maxmemory", strconv.Itoa(limit))
	}
	if ev := evicted(); ev != 0 {
		t.Fatalf("evicted %d keys while the clients were paused (%s), by a held write, MULTI or CONFIG SET", ev, mode)
	}
	if n := s.pause.waiting.Load(); n != 3 {
		t.Fatalf("%d clients wait out the pause, want 3", n)
	}

	if mode == "WRITE" {
		mustDo(t, rc, "CLIENT", "UNPAUSE")
	} else {
		s.pause.unpause() // what CLIENT UNPAUSE runs: sent now, it would wait out a pause ALL, as in Redis
	}
	if r := w.read(t); r != ":307200\r\n" {
		t.Fatalf("SETRANGE after the pause: %q", r)
	}
	if r := p.read(t); r != ":0\r\n" {
		t.Fatalf("PUBLISH after the pause: %q", r)
	}
	if r := x.read(t); r != "+OK\r\n" {
		t.Fatalf("SET after the pause: %q", r)
	}
	var info map[string]string
	pollFor(t, "eviction after the pause brings used_memory under maxmemory", func() bool {
		info = infoFields(mustDo(t, rc, "INFO", "memory", "stats").(string))
		ev, _ := strconv.ParseInt(info["evicted_keys"], 10, 64)
		used, _ := strconv.ParseInt(info["used_memory"], 10, 64)
		return ev > 0 && used <= limit
	})
	if n := s.store.DBSize(0); n >= keys+1 {
		t.Fatalf("DBSIZE %d after evicting, %d keys and the big one before", n, keys)
	}
	t.Logf("%s: %d cron ticks over the limit while paused; then evicted %s keys", mode, ticks, info["evicted_keys"])
}
