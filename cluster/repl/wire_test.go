package repl

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// TestFrameReaderPooled: frames named by pooled stay intact until the
// arena is reset, across reads that outgrow the arena (a value larger than
// the whole arena included), other frames between them keep buffers of
// their own, and after a release the arena's memory is used again with
// no allocation per frame.
func TestFrameReaderPooled(t *testing.T) {
	big := strings.Repeat("v", 3*poolStart)
	var in []byte
	var want [][]string
	for i := range 300 { // 300 small records, a large one, 300 more: the arena grows twice
		val := fmt.Sprint("value-", i)
		if i == 150 {
			val = big
		}
		in = append(in, rec(uint64(i+1), 3, uint64(i+1), true, "SET", fmt.Sprint("key-", i), val)...)
		want = append(want, []string{fRec, fmt.Sprint(i + 1), "0", "3", fmt.Sprint(i + 1), "0", "1", "SET", fmt.Sprint("key-", i), val})
		if i == 10 {
			in = appendFrame(in, fPos, 7, 0)
		}
	}
	for i := range 50 { // after the release
		in = append(in, rec(uint64(i+400), 3, uint64(i+400), false, "SET", "again", "x")...)
	}
	fr := &frameReader{r: protocol.NewReader(bytes.NewReader(in)), maxArgs: 100, maxBytes: 1 << 20, pooled: []string{fRec}}
	fr.r.MaxBulk = 1 << 20
	var got [][][]byte
	var pos [][]byte
	for range 301 {
		args, err := fr.read()
		if err != nil {
			t.Fatal(err)
		}
		if string(args[0]) == fPos {
			pos = args
			continue
		}
		got = append(got, args)
	}
	if len(pos) != 3 || string(pos[1]) != "7" {
		t.Fatalf("POS frame read as %q", pos)
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("record %d: %d elements, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			if j == 2 { // the time in ms: rec writes 0
				continue
			}
			if string(got[i][j]) != want[i][j] {
				t.Fatalf("record %d element %d changed before the release: %.20q, want %.20q", i, j, got[i][j], want[i][j])
			}
		}
	}
	fr.pool.reset()
	allocs := testing.AllocsPerRun(49, func() {
		if args, err := fr.read(); err != nil || string(args[8]) != "again" {
			t.Fatalf("after the release: %q %v", args, err)
		}
		fr.pool.reset()
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per pooled frame after a release, want 0", allocs)
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
// intact.
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
	fr.pooled = []string{fKey}
	if small, err := fr.read(); err != nil || string(small[3]) != "small" {
		t.Fatalf("frame before the large one: %q %v", small, err)
	}
	large, err := fr.read()
	if err != nil {
		t.Fatal(err)
	}
	if string(large[3]) != "large" || !bytes.Equal(large[4], big) || string(large[5]) != "9" {
		t.Fatalf("large KEY frame read as %q, %d payload bytes, %q", large[3], len(large[4]), large[5])
	}
	after, err := fr.read()
	if err != nil || string(after[3]) != "after" {
		t.Fatalf("frame after the large one: %q %v", after, err)
	}
	if !bytes.Equal(large[4], big) {
		t.Fatal("the large payload changed under the next read")
	}
}

// TestAppendBulkUint: the hand-written length prefix gives the bytes
// protocol.AppendBulk gives, for every digit count (1 to 20).
func TestAppendBulkUint(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 999_999_999, 1_000_000_000, 9_999_999_999, 10_000_000_000, 1 << 63, ^uint64(0)}
	for v := uint64(1); v < 1e19; v *= 10 {
		vals = append(vals, v-1, v, v+1)
	}
	for _, v := range vals {
		want := protocol.AppendBulk([]byte("x"), strconv.AppendUint(nil, v, 10))
		if got := appendBulkUint([]byte("x"), v); string(got) != string(want) {
			t.Errorf("appendBulkUint(%d) = %q, want %q", v, got, want)
		}
	}
	for _, v := range []int64{-1, -9_223_372_036_854_775_808, 42} {
		want := protocol.AppendBulk(nil, strconv.AppendInt(nil, v, 10))
		if got := appendBulkInt(nil, v); string(got) != string(want) {
			t.Errorf("appendBulkInt(%d) = %q, want %q", v, got, want)
		}
	}
}

// readerPair reads data through a frameReader as a replica's (pooled REC
// and KEY frames) twice: fast may take readWhole, slow never
// does. Reader buffers of 64 bytes make frames straddle reads.
func readerPair(data []byte, bufSize int) (fast, slow *frameReader) {
	mk := func(noWhole bool) *frameReader {
		fr := &frameReader{r: protocol.NewReaderSize(bytes.NewReader(data), bufSize), maxArgs: 64, maxBytes: 1 << 16,
			pooled: []string{fRec, fKey}, slow: noWhole}
		fr.r.MaxBulk = 1 << 12
		fr.r.DetachFrom = 1 << 11
		return fr
	}
	return mk(false), mk(true)
}

// sameFrames reads both readers to the end (or 200 frames) and fails at
// the first frame, or error, that differs; it reports the frames read.
func sameFrames(t testing.TB, fast, slow *frameReader) int {
	for i := range 200 {
		a, errA := fast.read()
		b, errB := slow.read()
		if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() {
			t.Fatalf("frame %d: error %v with the whole-frame path, %v without", i, errA, errB)
		}
		if errA != nil {
			return i
		}
		if len(a) != len(b) {
			t.Fatalf("frame %d: %d elements with the whole-frame path, %d without", i, len(a), len(b))
		}
		for j := range a {
			if !bytes.Equal(a[j], b[j]) || cap(a[j]) != len(a[j]) && (string(a[0]) == fRec || string(a[0]) == fKey) {
				t.Fatalf("frame %d element %d: %q (cap %d) with the whole-frame path, %q without", i, j, a[j], cap(a[j]), b[j])
			}
		}
		if i%7 == 6 {
			fast.pool.reset()
			slow.pool.reset()
		}
	}
	return 200
}

// TestFrameReaderWholeMatchesGeneral: REC and KEY frames read whole give
// what the general path gives, for records and keys of every size around
// the limits, mixed with other frames, with frames cut at every place by a
// small buffer, and malformed input gives the same error.
func TestFrameReaderWholeMatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	var in []byte
	keys := 0
	for i := range 150 {
		args := []string{"SET", fmt.Sprint("k", i)}
		for range rng.IntN(4) {
			args = append(args, strings.Repeat("v", []int{0, 1, 9, 10, 99, 1 << 11, 1<<11 - 1}[rng.IntN(7)]))
		}
		in = append(in, rec(uint64(i+1), 3, uint64(i+1), rng.IntN(2) == 0, args...)...)
		switch rng.IntN(5) {
		case 0:
			in = appendFrame(in, fPos, uint64(i), 0)
		case 1, 2:
			val := strings.Repeat("p", []int{0, 3, 99, 1<<11 - 1, 1 << 11}[rng.IntN(5)])
			in = appendKey(in, 3, 0, fmt.Append(nil, "key", i), nil, []byte(val), int64(rng.IntN(3))-1)
			keys++
		}
	}
	for _, size := range []int{64, 4 << 10, 1 << 16} {
		fast, slow := readerPair(in, size)
		if n := sameFrames(t, fast, slow); n < 150+keys {
			t.Fatalf("buffer %d: %d frames read", size, n)
		}
		if size > 64 && fast.wholes < (150+keys)/2 {
			t.Fatalf("buffer %d: %d of %d records and keys read whole", size, fast.wholes, 150+keys)
		}
	}
	// A snapshot's keys, buffered whole, are read whole (all but the
	// first, read before anything was buffered), and
	// as the general path reads them.
	var snap []byte
	for i := range 50 {
		snap = appendKey(snap, 7, 0, fmt.Append(nil, "key:", i), nil, bytes.Repeat([]byte{'p'}, 33), int64(i))
	}
	fast, slow := readerPair(snap, 1<<16)
	if n := sameFrames(t, fast, slow); n != 50 || fast.wholes != 49 {
		t.Fatalf("%d frames read, %d of them whole; want 50 and 49", n, fast.wholes)
	}
	bad := [][]byte{
		[]byte("*3\r\n$3\r\nREC\r\n$1\r\n1\r\n:5\r\n"),                              // not a bulk
		[]byte("*2\r\n$3\r\nREC\r\n$01\r\n1\r\n"),                                   // leading zero
		[]byte("*2\r\n$3\r\nREC\r\n$1\r\n1\n\r"),                                    // bad CRLF
		[]byte("*2\r\n$3\r\nREC\r\n$5000\r\n" + strings.Repeat("x", 5000) + "\r\n"), // past MaxBulk
		[]byte("*100\r\n$3\r\nREC\r\n"),                                             // past maxArgs
		[]byte("*0\r\n"),
		[]byte("*1\r\n$3\r\nREC\r"),                                                 // cut short
		[]byte("*3\r\n$3\r\nKEY\r\n$1\r\n1\r\n:5\r\n"),                              // not a bulk
		[]byte("*2\r\n$3\r\nKEY\r\n$5000\r\n" + strings.Repeat("x", 5000) + "\r\n"), // past MaxBulk
		[]byte("*2\r\n$3\r\nKEY\r\n$2\r\nab\r"),                                     // cut short
	}
	for _, b := range bad {
		fast, slow := readerPair(b, 4<<10)
		sameFrames(t, fast, slow)
	}
}

// FuzzFrameReaderWhole: on any bytes, the whole-frame path reads what the
// general path reads and fails where it fails.
func FuzzFrameReaderWhole(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Add(bytes.Join(fuzzSeeds(), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, slow := readerPair(data, 64)
		sameFrames(t, fast, slow)
		fast, slow = readerPair(data, 4<<10)
		sameFrames(t, fast, slow)
	})
}

// BenchmarkFrameReaderRecords reads REC frames of 32-byte SETs as a
// replica does, with and without the whole-frame path; ns/op is per
// record.
func BenchmarkFrameReaderRecords(b *testing.B) {
	var in []byte
	val := strings.Repeat("v", 32)
	for i := range 1000 {
		in = append(in, rec(uint64(i+1), 3, uint64(i+1), false, "SET", fmt.Sprintf("key:%012d", i), val)...)
	}
	for _, slow := range []bool{false, true} {
		b.Run(fmt.Sprintf("whole=%v", !slow), func(b *testing.B) {
			br := bytes.NewReader(in)
			fr := &frameReader{r: protocol.NewReaderSize(br, 32<<10), maxArgs: 64, maxBytes: 1 << 20, pooled: []string{fRec}, slow: slow}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%1000 == 0 {
					br.Reset(in)
					fr.r.Reset(br)
				}
				if _, err := fr.read(); err != nil {
					b.Fatal(err)
				}
				fr.pool.reset()
			}
		})
	}
}

// TestConnWriterGathersInChunks: a writer that gathers 16 MiB of frames
// through grow (as a link gathers a hot slot's snapshot under the store's
// lock) sets full buffers aside rather than growing one by doubling,
// which copied everything gathered at each step, and writes them all, in
// order, at the next flush.
func TestConnWriterGathersInChunks(t *testing.T) {
	c, peer := net.Pipe()
	defer c.Close()
	w := &connWriter{conn: c, timeout: 10 * time.Second}
	want := make([]byte, 0, 17<<20)
	val := bytes.Repeat([]byte("v"), 1000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; len(want) < 16<<20; i++ {
		key := fmt.Appendf(nil, "key:%d", i)
		w.grow(len(key) + len(val) + 96)
		n := len(w.buf)
		w.buf = appendKey(w.buf, 7, 0, key, nil, val, 0)
		want = append(want, w.buf[n:]...)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(want))*3/2 { // one buffer grown by append: 5x
		t.Fatalf("gathering %d bytes allocated %d: the buffer was grown by copying", len(want), got)
	}
	if len(w.spill) < 14 {
		t.Fatalf("%d buffers set aside for %d bytes, want one a MiB", len(w.spill), len(want))
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("wrote %d bytes, not the %d gathered in order", len(b), len(want))
	}
	if len(w.spill) != 0 || len(w.buf) != 0 {
		t.Fatalf("after the flush: %d buffers aside, %d bytes buffered", len(w.spill), len(w.buf))
	}
}
