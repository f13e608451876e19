package repl

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSnapshotWindowKeepsTheStreamAhead: a replica that does not report
// what it loaded gets at most Config.SnapshotWindow of snapshot bytes
// (and the slot under way) and a GETACK, while a record of a live slot
// appended then still reaches it, not queued behind the rest of the
// snapshots; its acknowledgements let the link send the rest. This is
// what keeps a hand-over's SEAL from waiting behind megabytes of
// snapshots a paced loader has not read (docs/performance.md).
func TestSnapshotWindowKeepsTheStreamAhead(t *testing.T) {
	const (
		window  = 8 << 10
		slots   = 200 // slots 1..slots, 20 keys of 200 bytes each: ≈ 880 KB
		perSlot = 20
	)
	h := newHarness(t, Config{SnapshotWindow: window, BacklogSize: 4 << 20})
	val := strings.Repeat("v", 200)
	h.store.set(0, "live", "0")
	for s := 1; s <= slots; s++ {
		for k := range perSlot {
			h.store.set(s, fmt.Sprintf("k%d-%d", s, k), val)
		}
	}
	fr, w := rawSync(t, h.addr, slotRange(0, slots+1), 10*time.Second)
	keys, snapEnds := 0, 0
	// next reads frames, counting keys and SNAPENDs, until one named name.
	next := func(name string) [][]byte {
		t.Helper()
		for {
			a, err := fr.read()
			if err != nil {
				t.Fatalf("waiting for %s after %d keys and %d SNAPENDs: %v", name, keys, snapEnds, err)
			}
			switch string(a[0]) {
			case fKey:
				keys++
			case fSnapEnd:
				snapEnds++
			}
			if string(a[0]) == name {
				return a
			}
		}
	}
	next(fGetAck) // the window is half full: the link asks what was loaded
	if keys*200 > window {
		t.Fatalf("%d keys (%d value bytes) sent before the GETACK, window %d", keys, keys*200, window)
	}
	before := keys
	h.store.set(0, "live", "1")
	rec := next(fRec)
	if s, _ := strconv.Atoi(string(rec[3])); s != 0 {
		t.Fatalf("REC of slot %s, want 0", rec[3])
	}
	// Between the GETACK and the record: at most the rest of the window
	// and the slot under way, not the ≈ 880 KB of snapshots left.
	if n := keys - before; n*200 > window+perSlot*200 {
		t.Fatalf("%d keys sent between the GETACK and the live record, window %d bytes", n, window)
	}
	// Acknowledging every SNAPEND received lets the link finish.
	for snapEnds < slots+1 {
		w.buf = appendFrame(w.buf, fAck, 0, 0, uint64(snapEnds))
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		for snapEnds < slots+1 {
			a, err := fr.read()
			if err != nil {
				t.Fatalf("after %d of %d SNAPENDs: %v", snapEnds, slots+1, err)
			}
			if string(a[0]) == fKey {
				keys++
			}
			if string(a[0]) == fSnapEnd {
				snapEnds++
			}
			if string(a[0]) == fGetAck {
				break
			}
		}
	}
	if want := 1 + slots*perSlot; keys != want {
		t.Fatalf("%d keys received, want %d", keys, want)
	}
}

// rawSync connects to the primary at addr as replica "r1" asking for a
// snapshot of each of slots, and reads the handshake's answer; the
// connection closes with the test. It returns the connection's frame
// reader (read timeout readTimeout) and writer, for a test that plays
// the replica frame by frame.
func rawSync(t *testing.T, addr string, slots []int, readTimeout time.Duration) (*frameReader, *connWriter) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	args := [][]byte{[]byte(fSync), nil, []byte("r1")}
	for _, s := range slots {
		args = append(args, []byte(strconv.Itoa(s)), []byte("0"), []byte("0"))
	}
	w := &connWriter{conn: c, timeout: 10 * time.Second}
	w.buf = appendCommand(w.buf, args)
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(c, 1<<20+recFields, 1<<20, 64<<20, readTimeout)
	if a, err := fr.read(); err != nil || string(a[0]) != "OK" {
		t.Fatalf("handshake answer %q, %v", a, err)
	}
	return fr, w
}
