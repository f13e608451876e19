package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
)

// TestBinaryLaggingReplicaEvictsNothing: what a primary keeps for a
// replica that lags, beyond repl-backlog-size, counts in used_memory but
// not against maxmemory (mem_not_counted_for_evict, as in Redis), and that
// holds for the cron's heap term too, which counts the live Go heap when
// the binary manages the runtime: the kept records are on that heap. In a
// 3-node cluster (maxmemory 256mb, allkeys-lru, gc-min-heap 4mb so that
// collections run), a replica that never reads completes a handshake with
// the first node for its slots and acknowledges: once its socket is full,
// every record the node writes stays in its buffer. Keys of one of its
// slots are then written to it until its dataset is 80 % of maxmemory,
// the buffer growing about as much: no key may be evicted meanwhile, nor
// after a GC cycle (MEMORY PURGE) has given the cron a heap reading. With
// the buffer counted in the heap term (which is capped at maxmemory/4),
// the keys and it pass maxmemory from about 75 % on and keys go.
func TestBinaryLaggingReplicaEvictsNothing(t *testing.T) {
	const maxmemory = 256 << 20
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pc := startProcCluster(ctx, t, bin, 3, "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru", "--gc-min-heap", "4mb")
	addr := pc.addrs[0]
	slots := ownedSlots(ctx, t, addr, addr)
	if len(slots) == 0 {
		t.Fatal("the first node owns no slot")
	}
	tag := keysBySlot()[slots[0]]

	dialStillReplica(t, addr, "lagging-replica-for-the-test", slots...)

	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	value := strings.Repeat("v", 1000)
	written := 0
	for {
		info, err := rc.Info(ctx, "memory", "stats").Result() // stats: evicted_keys
		if err != nil {
			t.Fatal(err)
		}
		if infoInt(t, info, "used_memory_dataset") >= maxmemory*8/10 {
			break
		}
		if ev := infoInt(t, info, "evicted_keys"); ev > 0 {
			t.Fatalf("%d keys evicted after %d written, at %.1f MiB of keys, for the lagging replica's %.1f MiB", ev, written,
				float64(infoInt(t, info, "used_memory_dataset"))/(1<<20), float64(infoInt(t, info, "mem_not_counted_for_evict"))/(1<<20))
		}
		p := rc.Pipeline()
		for range 500 {
			p.Set(ctx, fmt.Sprintf("{%s}:%d", tag, written), value, 0)
			written++
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("the dataset did not reach 80 % of maxmemory")
		}
	}
	if err := rc.Do(ctx, "MEMORY", "PURGE").Err(); err != nil {
		t.Fatal(err)
	}
	// The cron reads the heap after a GC cycle (every 100 ms) and evicts
	// at once if over: a few of its rounds.
	var notCounted, evicted int64
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		info, err := rc.Info(ctx, "memory", "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		notCounted, evicted = infoInt(t, info, "mem_not_counted_for_evict"), infoInt(t, info, "evicted_keys")
	}
	n, err := rc.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d keys written, %d held; mem_not_counted_for_evict %.1f MiB; evicted_keys %d",
		written, n, float64(notCounted)/(1<<20), evicted)
	if notCounted < maxmemory/4 {
		t.Fatalf("the lagging replica's buffer is %d bytes: the test does not lag it enough", notCounted)
	}
	if evicted > 0 || n != int64(written) {
		t.Errorf("%d keys evicted (%d of %d held) for a lagging replica's buffer", evicted, n, written)
	}
}

// dialStillReplica connects to addr as replica id, asks for slots at no
// position (REPLSYNC), and never reads: a frozen replica, or a stalled
// network. It acknowledges (nothing) every second, so that the primary
// does not cut it for silence, until the test ends.
func dialStillReplica(t *testing.T, addr, id string, slots ...int) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"REPLSYNC", "", id}
	for _, s := range slots {
		args = append(args, fmt.Sprint(s), "0", "0")
	}
	if _, err := nc.Write(respCommand(args...)); err != nil {
		t.Fatal(err)
	}
	stop, acked := make(chan struct{}), make(chan struct{})
	go func() { // owned by the cleanup below
		defer close(acked)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if _, err := nc.Write(respCommand("ACK", "0", "0", "0")); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-acked; nc.Close() })
}

// respCommand encodes args as a RESP array of bulk strings.
func respCommand(args ...string) []byte {
	b := protocol.AppendArray(nil, len(args))
	for _, a := range args {
		b = protocol.AppendBulkString(b, a)
	}
	return b
}
