package repl

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// replicaReader is a frameReader of in as a session's, with a readAhead
// started on it and stopped when the test ends.
func replicaReader(t *testing.T, in io.Reader) *readAhead {
	t.Helper()
	fr := &frameReader{r: protocol.NewReaderSize(in, 32<<10), maxArgs: 1<<20 + recFields, maxBytes: 1 << 30,
		pooled: []string{fRec, fKey}}
	fr.r.MaxBulk = 1 << 30
	fr.r.DetachFrom = detachFrom
	ra := newReadAhead(fr)
	ra.start()
	t.Cleanup(ra.stop)
	return ra
}

// TestReadAheadKeepsFramesUntilRelease: every frame arrives once, in
// order and intact, across batches, and the frames of batches handled but
// not released (a unit held open) stay intact while the reader reads on
// into other batches' arenas; released batches are read into again.
func TestReadAheadKeepsFramesUntilRelease(t *testing.T) {
	var in []byte
	var want []string
	big := strings.Repeat("B", detachFrom+3)
	for i := range 3000 {
		val := fmt.Sprint("v", i, strings.Repeat("x", i%300))
		switch {
		case i%1000 == 500:
			val = big // a detached element
		case i%97 == 0:
			in = appendFrame(in, fPos, uint64(i), 0)
			want = append(want, fmt.Sprint(fPos, " ", i))
		}
		if i%3 == 0 {
			in = appendKey(in, 5, 0, fmt.Append(nil, "k", i), nil, []byte(val), 0)
			want = append(want, fmt.Sprint(fKey, " k", i, " ", len(val), " ", val[:2]))
		} else {
			in = append(in, rec(uint64(i+1), 5, uint64(i+1), i%5 != 0, "SET", fmt.Sprint("k", i), val)...)
			want = append(want, fmt.Sprint(fRec, " k", i, " ", len(val), " ", val[:2]))
		}
	}
	ra := replicaReader(t, bytes.NewReader(in))
	describe := func(args [][]byte) string {
		switch string(args[0]) {
		case fPos:
			return fmt.Sprint(fPos, " ", string(args[1]))
		case fKey:
			return fmt.Sprint(fKey, " ", string(args[3]), " ", len(args[4]), " ", string(args[4][:2]))
		}
		return fmt.Sprint(fRec, " ", string(args[recFields+1]), " ", len(args[recFields+2]), " ", string(args[recFields+2][:2]))
	}
	var heldFrames [][][]byte
	var heldWant []string
	got, batches := 0, 0
	for got < len(want) {
		b := ra.next()
		if b.err != nil {
			t.Fatalf("after %d frames: %v", got, b.err)
		}
		batches++
		for _, args := range b.frames {
			if d := describe(args); d != want[got] {
				t.Fatalf("frame %d read as %q, want %q", got, d, want[got])
			}
			heldFrames, heldWant = append(heldFrames, args), append(heldWant, want[got])
			got++
		}
		keep := batches%5 != 0 // as a unit that spans five batches
		if !keep {             // check what was kept, then let it go
			for i, args := range heldFrames {
				if d := describe(args); d != heldWant[i] {
					t.Fatalf("a kept frame changed before its release: %q, want %q", d, heldWant[i])
				}
			}
			heldFrames, heldWant = heldFrames[:0], heldWant[:0]
		}
		ra.handled(b, keep)
	}
	if batches < 20 {
		t.Fatalf("%d frames came in %d batches: the test meant many", got, batches)
	}
	if b := ra.next(); b.err != io.EOF || len(b.frames) != 0 {
		t.Fatalf("after the input: %d frames, error %v; want none and EOF", len(b.frames), b.err)
	}
}

// TestReadAheadHandsOverWhatIsBuffered: frames that have arrived reach
// the session while the next frame is still on its way. A reader that
// kept them until its batch filled would hold a snapshot's end, whose
// acknowledgement the primary may wait for before it sends more
// (SnapshotWindow): a deadlock until the read timeout.
func TestReadAheadHandsOverWhatIsBuffered(t *testing.T) {
	c, peer := net.Pipe()
	defer peer.Close()
	defer c.Close()
	ra := replicaReader(t, c)
	var in []byte
	for i := range 3 {
		in = append(in, rec(uint64(i+1), 5, uint64(i+1), false, "SET", fmt.Sprint("k", i), "v")...)
	}
	in = appendFrame(in, fSnapEnd, 5, 3, 9)
	next := rec(9, 5, 9, false, "SET", "later", "v")
	wrote := make(chan error, 1)
	go func() {
		_, err := peer.Write(append(in, next[:len(next)/2]...)) // the fifth frame's first half only
		wrote <- err
	}()
	var frames [][][]byte
	deadline := time.After(10 * time.Second)
	for len(frames) < 4 {
		select {
		case b := <-ra.full:
			if b.err != nil {
				t.Fatal(b.err)
			}
			frames = append(frames, b.frames...)
			ra.handled(b, true) // the frames are checked below
		case <-deadline:
			t.Fatalf("%d of the 4 frames that arrived reached the session in 10 s", len(frames))
		}
	}
	if string(frames[3][0]) != fSnapEnd || len(frames) != 4 {
		t.Fatalf("got %d frames, the last %q", len(frames), frames[len(frames)-1][0])
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = peer.Write(next[len(next)/2:]) }()
	b := ra.next()
	if b.err != nil || len(b.frames) != 1 || string(b.frames[0][recFields+1]) != "later" {
		t.Fatalf("the fifth frame: %d frames, error %v", len(b.frames), b.err)
	}
}

// TestReadAheadBoundsWhatItHolds: while the session handles nothing, the
// reader stops reading about aheadBytes past it (the connection's bytes
// stay in the kernel, where they hold the primary back), and reads on as
// the session catches up.
func TestReadAheadBoundsWhatItHolds(t *testing.T) {
	var in []byte
	val := strings.Repeat("v", 1000)
	for i := 0; len(in) < 8*aheadBytes; i++ {
		in = append(in, rec(uint64(i+1), 5, uint64(i+1), false, "SET", fmt.Sprint("k", i), val)...)
	}
	cr := &countingReader{r: bytes.NewReader(in)}
	ra := replicaReader(t, cr)
	// What the reader may hold: aheadBytes, the batch it fills after that,
	// the frame that crossed the bound, and the protocol reader's buffer.
	bound := int64(aheadBytes + batchBytes + 2*len(val) + 64 + 32<<10)
	waitFor(t, "the reader to read ahead", func() bool { return ra.ahead.Load() >= aheadBytes })
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if n := cr.n.Load(); n > bound {
			t.Fatalf("the reader read %d bytes ahead of a session that handled nothing, want at most %d", n, bound)
		}
	}
	var handled int64
	for handled < int64(len(in))/2 { // the session catches up: the reader reads on
		b := ra.next()
		if b.err != nil {
			t.Fatal(b.err)
		}
		for _, args := range b.frames {
			for _, a := range args {
				handled += int64(len(a))
			}
		}
		ra.handled(b, false)
	}
	if n := cr.n.Load(); n < handled {
		t.Fatalf("read %d bytes, fewer than the %d handled", n, handled)
	}
}
