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

// TestCompactionAfterDeletes: after three keys of four are deleted, the
// cron's slab compaction (store/compact.go) moves the rest together: INFO
// stats counts the moves as active_defrag_hits, and every key left reads
// back its own value.
func TestCompactionAfterDeletes(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	const n = 20000
	val := func(i int) string { return strings.Repeat(fmt.Sprintf("%06d", i), 34) } // 204 bytes
	pipe := rc.Pipeline()
	for i := range n {
		pipe.Set(ctx, fmt.Sprintf("key:%d", i), val(i), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	pipe = rc.Pipeline()
	for i := range n {
		if i%4 != 0 {
			pipe.Del(ctx, fmt.Sprintf("key:%d", i))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var stats map[string]string
	pollFor(t, "active_defrag_hits above 0", func() bool {
		stats = infoFields(rc.Info(ctx, "stats").Val())
		return stats["active_defrag_hits"] != "0" && stats["active_defrag_hits"] != ""
	})
	if hits, err := strconv.Atoi(stats["active_defrag_hits"]); err != nil || stats["active_defrag_key_hits"] != stats["active_defrag_hits"] {
		t.Fatalf("active_defrag_hits %q (%v), active_defrag_key_hits %q", stats["active_defrag_hits"], err, stats["active_defrag_key_hits"])
	} else {
		t.Logf("%d items moved", hits)
	}
	pipe = rc.Pipeline()
	gets := make([]*redis.StringCmd, 0, n/4)
	for i := 0; i < n; i += 4 {
		gets = append(gets, pipe.Get(ctx, fmt.Sprintf("key:%d", i)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for j, g := range gets {
		if g.Val() != val(4*j) {
			t.Fatalf("key:%d = %q after compaction", 4*j, g.Val())
		}
	}
}
