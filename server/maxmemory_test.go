package server

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
)

func TestMaxmemoryNoEvictionRefusesWrites(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxMemory = 1 << 20 })
	rc := newClient(t, s, nil)
	val := strings.Repeat("v", 1000)
	var oom error
	for i := 0; i < 5000 && oom == nil; i++ {
		_, oom = do(t, rc, "SET", fmt.Sprintf("key:%d", i), val)
	}
	if oom == nil || oom.Error() != "OOM command not allowed when used memory > 'maxmemory'." {
		t.Fatalf("expected the OOM error, got %v", oom)
	}
	// Reads and deletes still work; memory stays near the limit.
	if _, err := do(t, rc, "GET", "key:1"); err != nil {
		t.Fatalf("GET under OOM: %v", err)
	}
	if n := mustDo(t, rc, "DEL", "key:1", "key:2"); n != int64(2) {
		t.Fatalf("DEL = %v", n)
	}
	if used := s.store.UsedMemory(); used > 1<<20+4096 {
		t.Fatalf("used memory %d over the limit", used)
	}
}

func TestMaxmemoryAllKeysLRUEvicts(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxMemory = 1 << 20; c.MaxMemoryPolicy = "allkeys-lru" })
	rc := newClient(t, s, nil)
	val := strings.Repeat("v", 1000)
	mustDo(t, rc, "SET", "proto", val)
	payload := mustDo(t, rc, "DUMP", "proto")
	mustDo(t, rc, "DEL", "proto")
	mustDo(t, rc, "SET", "hot", "x")
	// The filler keys are made a minute idle (RESTORE IDLETIME): written
	// within a few ms, they would tie with the hot key on the LRU clock
	// (62.5 ms ticks; Redis's tick is a second), and a tie may go either way.
	for i := 0; i < 4999; i++ {
		mustDo(t, rc, "RESTORE", fmt.Sprintf("key:%d", i), "0", payload, "IDLETIME", "60")
		if i%100 == 0 {
			mustDo(t, rc, "GET", "hot") // keep one key recently used
		}
	}
	mustDo(t, rc, "SET", "key:4999", val)
	if used := s.store.UsedMemory(); used > 1<<20+4096 {
		t.Fatalf("used memory %d over the limit", used)
	}
	info := mustDo(t, rc, "INFO", "stats").(string)
	if strings.Contains(info, "evicted_keys:0\r\n") || !strings.Contains(info, "evicted_keys:") {
		t.Fatalf("no evictions reported:\n%s", info)
	}
	if v := mustDo(t, rc, "GET", "hot"); v != "x" {
		t.Fatalf("the recently used key was evicted: %v", v)
	}
	if v := mustDo(t, rc, "GET", "key:4999"); v != val {
		t.Fatal("the newest key was evicted")
	}
	// Lowering maxmemory at run time evicts down to it on the next write.
	mustDo(t, rc, "CONFIG", "SET", "maxmemory", "512kb")
	mustDo(t, rc, "SET", "trigger", "1")
	if used := s.store.UsedMemory(); used > 512*1024+4096 {
		t.Fatalf("used memory %d after lowering maxmemory", used)
	}
}

// TestMaxmemoryEvictsWithoutWrites: when the memory counted against
// maxmemory grows past it with no write coming (here a transaction queues
// a 300 KB ECHO, which is not a write), the keys are evicted anyway, as
// Redis evicts before any command: used_memory comes back under the limit
// while the clients only read INFO.
func TestMaxmemoryEvictsWithoutWrites(t *testing.T) {
	const limit = 1 << 20
	s := startServer(t, func(c *config.Config) { c.MaxMemory = limit; c.MaxMemoryPolicy = "allkeys-lru" })
	rc := newClient(t, s, nil)
	val := strings.Repeat("v", 1000)
	for i := 0; s.store.UsedMemory()+s.store.Overhead() < limit-200<<10; i++ {
		mustDo(t, rc, "SET", fmt.Sprintf("key:%d", i), val)
	}
	before := mustDo(t, rc, "DBSIZE").(int64)
	info := func(field string) int64 {
		v := mustDo(t, rc, "INFO", "memory", "stats").(string)
		for line := range strings.SplitSeq(v, "\r\n") {
			if n, ok := strings.CutPrefix(line, field+":"); ok {
				x, err := strconv.ParseInt(n, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return x
			}
		}
		t.Fatalf("INFO has no %s", field)
		return 0
	}
	if ev := info("evicted_keys"); ev != 0 {
		t.Fatalf("evicted %d keys while filling under the limit", ev)
	}
	q := listDialRaw(t, "tcp", s.Addr())
	q.do(t, "MULTI")
	q.do(t, "ECHO", strings.Repeat("e", 300<<10))
	pollFor(t, "used_memory back under maxmemory", func() bool {
		return info("evicted_keys") > 0 && info("used_memory") <= limit
	})
	if after := mustDo(t, rc, "DBSIZE").(int64); after >= before {
		t.Fatalf("DBSIZE %d after evicting, %d before", after, before)
	}
	q.do(t, "DISCARD")
}

// TestCompactionAfterDeletes: after three keys of four are deleted, the
// cron's slab compaction (store/compact.go) moves the rest together: INFO
// stats counts the moves as active_defrag_hits, and every key left reads
// back its own value.
func TestCompactionAfterDeletes(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%d", i)
	}
	writeSparse(t, rc, keys)
	var hits int
	pollFor(t, "active_defrag_hits above 0", func() bool {
		hits = defragHits(t, rc)
		return hits > 0
	})
	t.Logf("%d items moved", hits)
	keptReadBack(t, rc, keys)
}

// sparseVal is the value writeSparse gives keys[i]: 204 bytes, one size
// class.
func sparseVal(i int) string { return strings.Repeat(fmt.Sprintf("%06d", i), 34) }

// writeSparse sets every keys[i] to sparseVal(i), then deletes three keys
// of four (those whose index is not a multiple of 4): the class's slabs
// are left a quarter used, which makes compaction move items.
func writeSparse(t *testing.T, rc *redis.Client, keys []string) {
	t.Helper()
	ctx := ctxT(t)
	pipe := rc.Pipeline()
	for i, k := range keys {
		pipe.Set(ctx, k, sparseVal(i), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	pipe = rc.Pipeline()
	for i, k := range keys {
		if i%4 != 0 {
			pipe.Del(ctx, k)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// defragHits returns INFO stats' active_defrag_hits (the items compaction
// moved), which active_defrag_key_hits must equal.
func defragHits(t *testing.T, rc *redis.Client) int {
	t.Helper()
	stats := infoFields(rc.Info(ctxT(t), "stats").Val())
	hits, err := strconv.Atoi(stats["active_defrag_hits"])
	if err != nil || stats["active_defrag_key_hits"] != stats["active_defrag_hits"] {
		t.Fatalf("active_defrag_hits %q (%v), active_defrag_key_hits %q", stats["active_defrag_hits"], err, stats["active_defrag_key_hits"])
	}
	return hits
}

// keptReadBack checks that every key writeSparse kept reads back its value.
func keptReadBack(t *testing.T, rc *redis.Client, keys []string) {
	t.Helper()
	ctx := ctxT(t)
	pipe := rc.Pipeline()
	gets := make([]*redis.StringCmd, 0, len(keys)/4+1)
	for i := 0; i < len(keys); i += 4 {
		gets = append(gets, pipe.Get(ctx, keys[i]))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for j, g := range gets {
		if g.Val() != sparseVal(4*j) {
			t.Fatalf("%s = %q after compaction", keys[4*j], g.Val())
		}
	}
}
