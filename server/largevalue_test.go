package server

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/cached/cached/server/config"
)

// TestLargeValueGrowth: SETBIT and SETRANGE on a new key take one buffer of
// the value's size (no second copy, no growth slack), and a value grown by
// APPEND steps keeps at most a quarter of slack; the bytes read as Redis's.
func TestLargeValueGrowth(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	const bits = 80_000_007 // a 10,000,001-byte bitmap
	mustDo(t, rc, "SETBIT", "b", bits, 1)
	if n := mustDo(t, rc, "STRLEN", "b"); n != int64(bits/8+1) {
		t.Fatalf("STRLEN = %v", n)
	}
	if n := mustDo(t, rc, "BITCOUNT", "b"); n != int64(1) {
		t.Fatalf("BITCOUNT = %v", n)
	}
	if n := mustDo(t, rc, "GETBIT", "b", bits); n != int64(1) {
		t.Fatalf("GETBIT = %v", n)
	}
	if u := mustDo(t, rc, "MEMORY", "USAGE", "b").(int64); u < bits/8 || u > bits/8+1024 {
		t.Fatalf("MEMORY USAGE of a %d-byte bitmap = %d", bits/8+1, u)
	}
	mustDo(t, rc, "SETRANGE", "r", 5_000_000, "hello")
	if v := mustDo(t, rc, "GETRANGE", "r", 4_999_999, -1); v != "\x00hello" {
		t.Fatalf("GETRANGE = %q", v)
	}
	if u := mustDo(t, rc, "MEMORY", "USAGE", "r").(int64); u > 5_000_005+1024 {
		t.Fatalf("MEMORY USAGE of a 5,000,005-byte string = %d", u)
	}
	chunk := make([]byte, 64<<10)
	for i := range 64 {
		chunk[0] = byte(i)
		mustDo(t, rc, "APPEND", "a", chunk)
	}
	if u := mustDo(t, rc, "MEMORY", "USAGE", "a").(int64); u < 64*64<<10 || u > 64*64<<10*5/4+1024 {
		t.Fatalf("MEMORY USAGE after 64 APPENDs of 64 KiB = %d", u)
	}
	if v := mustDo(t, rc, "GETRANGE", "a", 63*64<<10, 63*64<<10+1); v != "?\x00" {
		t.Fatalf("GETRANGE of the last chunk = %q", v)
	}
}

// TestLargeValueChangedDuringSnapshot: a replica that resyncs while the
// primary's copy of a large value is changed between the snapshot's walk
// (which lends the value) and the link's write of it ends byte-identical
// to the primary: the snapshot carries the old bytes, the stream the
// change, and the change copied the value once instead of writing into
// the lent buffer.
func TestLargeValueChangedDuringSnapshot(t *testing.T) {
	nodes := replNodes(t, 3, func(c *config.Config) { c.Cluster.ReplBacklogSize = 16 << 10 })
	p := nodes[0]
	key, _ := keysFor(t, p, "big")
	slot := keySlot(key)
	r := nodeByID(nodes, p.cl.view.Load().t.Preference(slot)[1].ID)
	pc := newClient(t, p, nil)
	mustDo(t, pc, "SETBIT", key, 8<<20-1, 1) // a 1 MiB value
	waitReplSynced(t, nodes)

	// Cut the replica off and write more than the backlog holds, so its
	// reconnect gets a snapshot of the key's slot.
	rrs := r.repl.Load()
	rrs.dialFault.Store(true)
	dropReplicaLinks(r)
	waitUntil(t, func() bool { return replSlotsLive(r) == -1 }, func() string { return "links still up" })
	fill := bytes.Repeat([]byte("0123456789abcdef"), 2<<10) // 32 KiB
	mustDo(t, pc, "SETRANGE", key, 0, fill)

	hc := newClient(t, p, nil)
	var fired atomic.Bool
	hookErr := make(chan error, 1)
	hook := func(s int) {
		if s != slot || !fired.CompareAndSwap(false, true) {
			return
		}
		// The slot's lock is released; the link has not sent the value.
		hookErr <- hc.Do(ctxT(t), "SETRANGE", key, 100, "changed during the snapshot").Err()
	}
	p.repl.Load().snapHook.Store(&hook)
	c0, _ := p.store.CopiedOnWrite()
	rrs.dialFault.Store(false)
	waitUntil(t, fired.Load, func() string { return "no snapshot of the key's slot" })
	if err := <-hookErr; err != nil {
		t.Fatal(err)
	}
	waitReplSynced(t, nodes)
	checkReplicasIdentical(t, nodes)
	if c1, _ := p.store.CopiedOnWrite(); c1-c0 != 1 {
		t.Fatalf("%d copies on write, want 1 (the SETRANGE on the lent value)", c1-c0)
	}
	want := make([]byte, 1<<20)
	want[len(want)-1] = 1
	copy(want, fill)
	copy(want[100:], "changed during the snapshot")
	if got, err := pc.Get(ctxT(t), key).Bytes(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("GET on the primary: %d bytes, %v", len(got), err)
	}
}
