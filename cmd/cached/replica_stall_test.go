package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
)

// TestBinaryReplicaThatDoesNotReadStallsNoShard: a replica's full sync of
// a slot larger than the socket buffers, to a replica that does not read
// (frozen, or a network that stalls), must not hold the slot's shard while
// the primary waits on the network: the store's slot walk runs under that
// shard's lock, and before, the link wrote the snapshot to the socket from
// inside the walk once it had gathered 4 MiB, so every command on the
// shard (all keys hashed to it, not only the slot's) waited until the
// write timed out and the link was cut, 10 s later. One node, 40 MB of
// 1 KB values in one slot (a hash tag); a replica connection asks for that
// slot and never reads. Once the snapshot has begun, a GET of a key of
// the slot must answer while the link still stands.
func TestBinaryReplicaThatDoesNotReadStallsNoShard(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pc := startProcCluster(ctx, t, bin, 1)
	addr := pc.addrs[0]
	rc := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Minute})
	defer rc.Close()
	const tag, keys = "hot", 40_000
	slot := protocol.KeySlot([]byte(tag))
	value := strings.Repeat("v", 1000)
	for i := 0; i < keys; i += 1000 {
		p := rc.Pipeline()
		for j := i; j < i+1000; j++ {
			p.Set(ctx, fmt.Sprintf("{%s}:%d", tag, j), value, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}

	const id = "replica-that-does-not-read"
	dialStillReplica(t, addr, id, slot)
	linked := func() (snapshotKeys int, ok bool) {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\r\n") {
			if !strings.Contains(line, "id="+id+",") {
				continue
			}
			for f := range strings.SplitSeq(line, ",") {
				if v, found := strings.CutPrefix(f, "snapshot_keys="); found {
					fmt.Sscan(v, &snapshotKeys)
				}
			}
			return snapshotKeys, true
		}
		return 0, false
	}
	for {
		if n, ok := linked(); ok && n > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the replica's snapshot did not begin")
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	start := time.Now()
	if v, err := rc.Get(ctx, fmt.Sprintf("{%s}:%d", tag, keys-1)).Result(); err != nil || v != value {
		t.Fatalf("GET: %q, %v", v, err)
	}
	took := time.Since(start)
	n, ok := linked()
	t.Logf("GET answered after %v; the link %s with %d snapshot keys emitted", took, map[bool]string{true: "stands", false: "was cut"}[ok], n)
	if !ok {
		t.Fatalf("the GET waited until the replica's link was cut (%v): the snapshot held the shard while it waited on the network", took)
	}
	// What the link gathered is held for the replica: in used_memory, not
	// against maxmemory (as Redis's replica output buffers).
	info, err := rc.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	if held := infoInt(t, info, "mem_not_counted_for_evict"); held < 30<<20 {
		t.Errorf("mem_not_counted_for_evict %d while the link writes a 40 MB snapshot", held)
	}
}
