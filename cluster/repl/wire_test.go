package repl

import (
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// TestFrameReaderReuse: frames named by reuse share one buffer (the next
// read overwrites them); every other frame keeps its own.
func TestFrameReaderReuse(t *testing.T) {
	var in []byte
	in = appendKey(in, 3, 0, []byte("key1"), nil, []byte("payload1"), 0)
	in = append(in, rec(1, 3, 1, false, "SET", "a", "b")...)
	in = appendKey(in, 3, 0, []byte("key2"), nil, []byte("payload2"), 0)
	in = appendKey(in, 3, 0, []byte("key3"), nil, bytes.Repeat([]byte("x"), 5000), 7)
	fr := &frameReader{r: protocol.NewReader(bytes.NewReader(in)), maxArgs: 100, maxBytes: 1 << 20, reuse: fKey}
	fr.r.MaxBulk = 1 << 20
	read := func() [][]byte {
		t.Helper()
		args, err := fr.read()
		if err != nil {
			t.Fatal(err)
		}
		return args
	}
	key1 := read()
	if string(key1[3]) != "key1" || string(key1[4]) != "payload1" {
		t.Fatalf("first KEY frame read as %q", key1)
	}
	recArgs := read()
	want := slices.Clone(recArgs)
	for i := range want {
		want[i] = slices.Clone(want[i])
	}
	key2 := read()
	if string(key2[3]) != "key2" || string(key2[4]) != "payload2" {
		t.Fatalf("second KEY frame read as %q", key2)
	}
	if string(key1[3]) != "key2" {
		t.Fatalf("the first KEY frame's buffer was not reused: it still reads %q", key1[3])
	}
	key3 := read()
	if string(key3[3]) != "key3" || len(key3[4]) != 5000 || string(key3[5]) != "7" {
		t.Fatalf("third KEY frame read as %q %d bytes %q", key3[3], len(key3[4]), key3[5])
	}
	if !slices.EqualFunc(recArgs, want, bytes.Equal) {
		t.Fatalf("the REC frame changed under later reads: %q, want %q", recArgs, want)
	}
}

// TestDefaultMaxBulkTakesLargestString: by default a replica accepts the
// snapshot payload of a 512 MiB string (proto-max-bulk-len's default): a
// tag byte and the value. With a bound of exactly 512 MiB it refused the
// KEY frame, reconnected and was sent the value again, endlessly.
func TestDefaultMaxBulkTakesLargestString(t *testing.T) {
	if got := (ReplicaConfig{}).withDefaults().MaxBulk; got < 512<<20+1 {
		t.Fatalf("default MaxBulk %d is below a 512 MiB string's payload", got)
	}
}

// slowConn hands out at most 64 KiB per Read and advances a fake clock by
// a quarter of timeout per Read; it records whether any Read began after
// the read deadline in force.
type slowConn struct {
	net.Conn // nil: only Read and SetReadDeadline are used
	data     []byte
	clock    time.Time
	step     time.Duration
	deadline time.Time
	late     int
}

func (c *slowConn) Read(b []byte) (int, error) {
	c.clock = c.clock.Add(c.step)
	if !c.deadline.IsZero() && c.clock.After(c.deadline) {
		c.late++
	}
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), 64<<10)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *slowConn) SetReadDeadline(t time.Time) error { c.deadline = t; return nil }

// TestReadTimeoutBoundsSilenceNotFrames: a 4 MiB KEY frame whose bytes
// keep arriving for 16 read timeouts is read whole: the deadline moves
// with every read that waits, so only silence longer than the timeout
// cuts the link (a deadline per frame cut 512 MiB snapshots on a loaded
// machine, and the replica asked for them again).
func TestReadTimeoutBoundsSilenceNotFrames(t *testing.T) {
	const timeout = time.Second
	body := bytes.Repeat([]byte("x"), 4<<20)
	start := time.Now()
	c := &slowConn{data: appendKey(nil, 1, 0, []byte("k"), []byte{1}, body, 0), clock: start, step: timeout / 4}
	fr := &frameReader{maxArgs: 8, maxBytes: 16 << 20,
		r: protocol.NewReaderSize(&progressReader{conn: c, timeout: timeout, now: func() time.Time { return c.clock }}, 32<<10)}
	fr.r.MaxBulk = 8 << 20
	args, err := fr.read()
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 6 || !bytes.Equal(args[4], append([]byte{1}, body...)) || string(args[5]) != "0" {
		t.Fatalf("read %d elements, not the frame written", len(args))
	}
	if c.late > 0 {
		t.Fatalf("%d reads began past the read deadline", c.late)
	}
	if elapsed := c.clock.Sub(start); elapsed < 16*timeout {
		t.Fatalf("the frame took %v of fake time, want at least 16 timeouts", elapsed)
	}
}

// TestFrameReaderKeepsLargeElements: a KEY frame whose payload is
// detachFrom bytes or more hands the payload over as the reader read it
// (no copy into the frame's buffer), with the frame's other elements
// intact, and does not lend the reused argument slice, which would keep
// the large payload alive until the next KEY frame.
func TestFrameReaderKeepsLargeElements(t *testing.T) {
	big := bytes.Repeat([]byte("z"), detachFrom+5)
	var in []byte
	in = appendKey(in, 3, 0, []byte("small"), nil, []byte("p"), 0)
	in = appendKey(in, 3, 0, []byte("large"), nil, big, 9)
	in = appendKey(in, 3, 0, []byte("after"), nil, []byte("q"), 0)
	c, peer := net.Pipe()
	defer c.Close()
	go func() { // the connection's other end: net.Pipe has no buffer
		defer peer.Close()
		_, _ = peer.Write(in)
	}()
	fr := newFrameReader(c, 100, 1<<30, 1<<30, 0)
	fr.reuse = fKey
	small, err := fr.read()
	if err != nil {
		t.Fatal(err)
	}
	large, err := fr.read()
	if err != nil {
		t.Fatal(err)
	}
	if string(large[3]) != "large" || !bytes.Equal(large[4], big) || string(large[5]) != "9" {
		t.Fatalf("large KEY frame read as %q, %d payload bytes, %q", large[3], len(large[4]), large[5])
	}
	if &large[0] == &small[0] {
		t.Fatal("the large frame was returned in the reused argument slice")
	}
	after, err := fr.read()
	if err != nil || string(after[3]) != "after" {
		t.Fatalf("frame after the large one: %q %v", after, err)
	}
	if !bytes.Equal(large[4], big) {
		t.Fatal("the large payload changed under the next read")
	}
}
