package repl

import (
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cached/cached/internal/bigcopy"
	"github.com/cached/cached/protocol"
)

// Frame names. Every frame is a RESP array of bulk strings whose first
// element names it. Primary to replica:
//
//	REC index ms slot seq db more arg...   one record (more=1: its unit goes on)
//	UEND                                   the open unit ends (its last record was filtered out)
//	POS index ms                           the replica has seen everything up to index
//	SNAP slot                              a snapshot of slot begins: flush it
//	KEY slot db key payload pexpireAt      one key of the snapshot
//	SNAPEND slot seq index                 the snapshot holds slot's effects up to seq
//	SEAL slot seq                          the primary gave up slot: its stream ended at seq
//	MARK version first last                the replica holds every record of slots first..last sent
//	                                       before this, and WAIT counts it for them from here (mark.go)
//	GETACK                                 acknowledge now
//	FOLLOWED slot full id                  FOLLOW id took effect here: resumed (full=0) or a snapshot follows
//
// Replica to primary: REPLSYNC (the handshake, see Replica), ACK index ms,
// RESYNC slot (a gap was seen: send a snapshot of slot), FOLLOW slot seq
// hist id (add slot to the running link, at that position if the stream
// can continue it), UNFOLLOW slot (stop sending slot). A table change adds
// and drops a link's slots with these, not with a new handshake, which
// restarted every snapshot under way on the link and lost the seals in
// flight.
const (
	fRec     = "REC"
	fUnitEnd = "UEND"
	fPos     = "POS"
	fSnap    = "SNAP"
	fKey     = "KEY"
	fSnapEnd = "SNAPEND"
	fSeal    = "SEAL"
	fMark    = "MARK"
	fGetAck  = "GETACK"
	fSync    = "REPLSYNC"
	fAck     = "ACK"
	fResync  = "RESYNC"

	fFollow   = "FOLLOW"
	fUnfollow = "UNFOLLOW"
	fFollowed = "FOLLOWED"
)

// recFields is the number of elements of a REC frame before the command.
const recFields = 7

// appendBulkUint appends v as a RESP bulk string of its decimal digits.
// The length prefix is written by hand: a second strconv call per number
// (strconv.AppendInt) was 17 % of BenchmarkAppend's profile, and a REC
// frame has six numbers.
func appendBulkUint(dst []byte, v uint64) []byte {
	var d [20]byte
	b := strconv.AppendUint(d[:0], v, 10)
	if n := len(b); n < 10 {
		dst = append(dst, '$', byte('0'+n), '\r', '\n')
	} else {
		dst = append(dst, '$', byte('0'+n/10), byte('0'+n%10), '\r', '\n')
	}
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// appendBulkInt appends v as a RESP bulk string of its decimal digits.
func appendBulkInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendBulkUint(dst, uint64(v))
	}
	var d [21]byte
	return protocol.AppendBulk(dst, strconv.AppendInt(d[:0], v, 10))
}

// appendRecord appends the REC frame of r.
func appendRecord(dst []byte, idx uint64, ms int64, r *Record, more bool) []byte {
	dst = protocol.AppendArray(dst, recFields+len(r.Args))
	dst = protocol.AppendBulkString(dst, fRec)
	dst = appendBulkUint(dst, idx)
	dst = appendBulkInt(dst, ms)
	dst = appendBulkUint(dst, uint64(r.Slot))
	dst = appendBulkUint(dst, r.Seq)
	dst = appendBulkUint(dst, uint64(r.DB))
	m := uint64(0)
	if more {
		m = 1
	}
	dst = appendBulkUint(dst, m)
	for _, a := range r.Args {
		dst = protocol.AppendBulk(dst, a)
	}
	return dst
}

// appendFrame appends a frame of a name and unsigned integers.
func appendFrame(dst []byte, name string, nums ...uint64) []byte {
	dst = protocol.AppendArray(dst, 1+len(nums))
	dst = protocol.AppendBulkString(dst, name)
	for _, n := range nums {
		dst = appendBulkUint(dst, n)
	}
	return dst
}

// appendKey appends a KEY frame whose payload is head followed by body.
func appendKey(dst []byte, slot, db int, key, head, body []byte, pexpireAt int64) []byte {
	dst = protocol.AppendArray(dst, 6)
	dst = protocol.AppendBulkString(dst, fKey)
	dst = appendBulkUint(dst, uint64(slot))
	dst = appendBulkUint(dst, uint64(db))
	dst = protocol.AppendBulk(dst, key)
	dst = protocol.AppendBulk2(dst, head, body)
	return appendBulkInt(dst, pexpireAt)
}

// frameReader reads frames (RESP arrays of bulk strings) with bounds.
// Not safe for concurrent use.
type frameReader struct {
	r        *protocol.Reader
	maxArgs  int64
	maxBytes int

	// pooled names the frames read into an arena (REC and KEY frames on a
	// replica: a unit's records are kept until it is applied, a snapshot is
	// mostly KEY frames, and a frame's two allocations cost a replicated
	// write more than the rest of reading it); none if empty. Other frames
	// get their own buffer. The frames read into pool stay valid until the
	// arena is reset; where a frame outgrew the arena, the frames before
	// keep the arrays they were cut from.
	pooled []string
	pool   arena

	slow   bool // tests: never take readWhole
	wholes int  // frames readWhole read (tests)
}

// arena is the memory pooled frames are read into: their bytes and their
// argument slots.
type arena struct {
	buf  []byte
	args [][]byte
}

// poolStart is the arena's first size: a few hundred records of small
// values before it grows.
const poolStart = 64 << 10

// reset lets the next frames reuse the arena: the frames read into it
// before must no longer be used. Arrays grown too large are let go.
func (a *arena) reset() {
	clear(a.args) // the values may be large: do not keep them reachable
	a.buf, a.args = a.buf[:0], a.args[:0]
	if cap(a.buf) > maxKeptBuf {
		a.buf = nil
	}
	if cap(a.args) > maxKeptBuf/64 {
		a.args = nil
	}
}

// isPooled reports whether frames named name are read into the arena.
func (f *frameReader) isPooled(name []byte) bool {
	for _, p := range f.pooled {
		if string(name) == p {
			return true
		}
	}
	return false
}

// arenaSize is the capacity of a new arena that must take need bytes:
// twice the last one's, at least poolStart.
func (f *frameReader) arenaSize(need int) int { return max(2*cap(f.pool.buf), poolStart, need) }

// takePoolArgs returns n argument slots for a pooled frame, from the
// arena's (grown into a new array when full: the frames before keep theirs).
func (f *frameReader) takePoolArgs(n int) [][]byte {
	a := &f.pool
	if cap(a.args)-len(a.args) < n {
		a.args = make([][]byte, 0, max(2*cap(a.args), n, 256))
	}
	a.args = a.args[:len(a.args)+n]
	return a.args[len(a.args)-n:]
}

// newFrameReader returns a frameReader of c that ends the connection when
// nothing arrives for timeout (0: never).
func newFrameReader(c net.Conn, maxArgs int64, maxBulk int64, maxBytes int, timeout time.Duration) *frameReader {
	r := protocol.NewReaderSize(&progressReader{conn: c, timeout: timeout}, 32<<10)
	r.MaxBulk = maxBulk
	r.DetachFrom = detachFrom
	return &frameReader{r: r, maxArgs: maxArgs, maxBytes: maxBytes}
}

// detachFrom is the element size from which a frame's element is read into
// a slice of its own and kept as it is (protocol.Reader.DetachFrom): a
// 512 MiB value then exists once on its way to the store, not three times
// (the reader's buffer, which also stayed that large for the link's life,
// the frame's buffer, the store's copy).
const detachFrom = 1 << 20

// progressReader is what a frameReader reads through: each read moves the
// connection's read deadline to timeout from now (at most every
// timeout/16), so the timeout bounds silence, not the time one frame
// takes. With a deadline per frame, a 512 MiB KEY frame that took longer
// than 10 s to arrive on a loaded machine was cut in its middle, and the
// replica asked for the snapshot again, and again.
type progressReader struct {
	conn    net.Conn
	timeout time.Duration    // 0 = none
	set     time.Time        // when the deadline was last moved
	now     func() time.Time // nil: time.Now (tests set a fake)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.timeout > 0 {
		now := time.Now
		if p.now != nil {
			now = p.now
		}
		if now := now(); now.Sub(p.set) > p.timeout/16 {
			if err := p.conn.SetReadDeadline(now.Add(p.timeout)); err != nil {
				return 0, err
			}
			p.set = now
		}
	}
	return p.conn.Read(b)
}

// read returns the next frame. The returned slices are freshly allocated
// (one buffer per frame, or one of their own for elements of detachFrom
// bytes or more) and may be kept by the caller, except those of a frame
// f.pooled names, which live in f.pool (a detached element of a pooled
// frame is its own).
func (f *frameReader) read() ([][]byte, error) {
	if args := f.readBuffered(); args != nil {
		return args, nil
	}
	h, err := f.r.Next()
	if err != nil {
		return nil, err
	}
	if h.Kind != protocol.KindArray || h.Int < 1 || h.Int > f.maxArgs {
		return nil, fmt.Errorf("%w: want an array of 1..%d elements", ErrFrame, f.maxArgs)
	}
	n := int(h.Int)
	var small [24]int
	ends := small[:0]
	if n > len(small) {
		ends = make([]int, 0, min(n, 1024)) // a header's claim is not trusted with memory
	}
	var buf []byte
	pooled, newArena := false, false
	total := 0
	var kept []keptElem // detached elements, used as they are
	for i := range n {
		e, err := f.r.Next()
		if err != nil {
			return nil, err
		}
		if e.Kind != protocol.KindBulk {
			return nil, fmt.Errorf("%w: element %d is not a bulk string", ErrFrame, i)
		}
		if total += len(e.Str); total > f.maxBytes {
			return nil, fmt.Errorf("%w: frame longer than %d bytes", ErrFrame, f.maxBytes)
		}
		if e.Detached {
			kept = append(kept, keptElem{i, e.Str})
			ends = append(ends, len(buf))
			continue
		}
		if i == 0 && f.isPooled(e.Str) {
			if f.pool.buf == nil {
				f.pool.buf = make([]byte, 0, poolStart)
			}
			pooled, buf = true, f.pool.buf[len(f.pool.buf):]
		}
		if buf == nil {
			buf = make([]byte, 0, max(len(e.Str)+64, min(64*n, 4096)))
		}
		// A large element (a snapshot's 512 MB value) is copied in
		// preemptible pieces, into room reserved for it and a few small
		// elements after it: a built-in append would copy it, or the frame
		// so far when the next element outgrows the buffer, in one
		// memmove that the collector's stop-the-world waits for.
		need := len(e.Str) + min(64*(n-1-i), 4096)
		if pooled && cap(buf)-len(buf) < need { // a new arena, not an array for this frame alone
			nb := make([]byte, len(buf), f.arenaSize(len(buf)+need))
			copy(nb, buf)
			buf, newArena = nb, true
		}
		buf = bigcopy.Grow(buf, need)
		buf = bigcopy.Append(buf, e.Str)
		ends = append(ends, len(buf))
	}
	var args [][]byte
	if pooled {
		// buf is the arena's tail unless the frame outgrew the arena: then
		// the new array, which starts with the frame, is the arena.
		if newArena {
			f.pool.buf = buf
		} else {
			f.pool.buf = f.pool.buf[:len(f.pool.buf)+len(buf)]
		}
		args = f.takePoolArgs(n)
	} else {
		args = make([][]byte, n)
	}
	start := 0
	for i, e := range ends {
		args[i] = buf[start:e:e]
		start = e
	}
	for _, k := range kept {
		args[k.i] = k.b
	}
	return args, nil
}

// wholeMaxArgs and wholeMaxBytes bound the frames readWhole takes: a
// record of a command with a few arguments and small values, a snapshot's
// key with a small value. Longer ones (large values are copied in
// preemptible pieces) go the general way.
const (
	wholeMaxArgs  = 32
	wholeMaxBytes = 64 << 10
)

// readBuffered returns the next frame if it is one f.pooled names and the
// reader's buffer holds it whole (readWhole), without reading from the
// connection; nil otherwise.
func (f *frameReader) readBuffered() [][]byte {
	if len(f.pooled) == 0 || f.slow {
		return nil
	}
	return f.readWhole()
}

// readWhole reads a frame f.pooled names (a REC or a snapshot's KEY) that
// the reader's buffer holds whole, in one pass over its bytes: the headers
// parsed in a loop, then the elements copied into the arena one after the
// other. A replica's records, and a loading
// replica's keys, are most of what it reads, and reading them element by
// element (Reader.Next, then the general path's checks and copy for each)
// was a third of a replica session's time (docs/performance.md, "Stop
// 43"). It returns nil, consuming nothing, for anything else: a frame of
// another name, one not yet buffered whole, any element that is not a
// plain bulk string, a frame past the limits; read then takes the general
// path, which parses it or reports what is wrong, as before.
func (f *frameReader) readWhole() [][]byte {
	b := f.r.Peek()
	n, i, ok := wholeLen(b, 0, '*')
	if !ok || n < 1 || n > wholeMaxArgs || int64(n) > f.maxArgs {
		return nil
	}
	// The name first: another frame goes no further.
	k, at, ok := wholeLen(b, i, '$')
	if !ok || at+k > len(b) {
		return nil
	}
	if !f.isPooled(b[at : at+k]) {
		return nil
	}
	var spans [2 * wholeMaxArgs]int // element i's payload is b[spans[2i]:spans[2i+1]]
	total, limit := 0, f.r.Limit()
	for e := range n {
		k, at, ok := wholeLen(b, i, '$')
		end := at + k
		if !ok || int64(k) > limit || end+2 > len(b) || b[end] != '\r' || b[end+1] != '\n' {
			return nil
		}
		spans[2*e], spans[2*e+1] = at, end
		total += k
		i = end + 2
	}
	if total > wholeMaxBytes || total > f.maxBytes {
		return nil
	}
	args := f.copyToArena(b, spans[:2*n], total)
	f.r.Discard(i)
	f.wholes++
	return args
}

// copyToArena copies the elements b[spans[2i]:spans[2i+1]], total bytes
// in all, into the arena one after the other and returns them as a pooled
// frame's arguments.
func (f *frameReader) copyToArena(b []byte, spans []int, total int) [][]byte {
	if cap(f.pool.buf)-len(f.pool.buf) < total { // a new arena (the first, or the frames before keep theirs)
		f.pool.buf = make([]byte, 0, f.arenaSize(total))
	}
	args := f.takePoolArgs(len(spans) / 2)
	buf := f.pool.buf
	for e := range args {
		at := len(buf)
		buf = append(buf, b[spans[2*e]:spans[2*e+1]]...) // within the arena's room
		args[e] = buf[at:len(buf):len(buf)]
	}
	f.pool.buf = buf
	return args
}

// wholeLen parses the header at b[i:] of kind c ('*' or '$') in the
// shape protocol.ShortHeader takes, and returns the length and where what
// follows starts.
func wholeLen(b []byte, i int, c byte) (n, next int, ok bool) {
	if i >= len(b) || b[i] != c {
		return 0, 0, false
	}
	n, size, ok := protocol.ShortHeader(b[i:])
	return n, i + size, ok
}

// keptElem is a frame element read into a slice of its own.
type keptElem struct {
	i int
	b []byte
}

// parseUint parses a decimal uint64 without allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseInt parses a decimal int64.
func parseInt(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '-' {
		n, ok := parseUint(b[1:])
		if !ok || n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	n, ok := parseUint(b)
	if !ok || n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// parseSlot parses a slot number.
func parseSlot(b []byte) (int, bool) {
	n, ok := parseUint(b)
	if !ok || n >= NumSlots {
		return 0, false
	}
	return int(n), true
}

// uints parses args as unsigned integers; ok is false if any is not one.
func uints(args [][]byte) ([]uint64, bool) {
	return appendUints(make([]uint64, 0, len(args)), args)
}

// appendUints is uints appending to dst: a caller on the stream's path
// passes an array of its own and allocates nothing.
func appendUints(dst []uint64, args [][]byte) ([]uint64, bool) {
	for _, a := range args {
		n, ok := parseUint(a)
		if !ok {
			return nil, false
		}
		dst = append(dst, n)
	}
	return dst, true
}

// maxKeptBuf is the largest write buffer kept between flushes.
const maxKeptBuf = 1 << 20

// connWriter buffers frames for one connection and writes them with a
// deadline. Not safe for concurrent use.
type connWriter struct {
	conn    net.Conn
	buf     []byte
	timeout time.Duration
	// held, if set, counts the bytes of buf passed to note until they
	// are written (flush) or dropped (forget); noted is their number.
	held  *atomic.Int64
	noted int
	// spill is full buffers set aside (grow), to be written in order
	// before buf.
	spill [][]byte
}

// spillFrom is the buffer length from which grow sets a full buffer aside
// rather than growing it, and spillChunk the capacity of the buffer that
// follows. A link gathers a slot's snapshot whole, under the store's lock
// of the slot's shard; grown by append (a quarter at a time at that
// size), a 40 MB slot's buffer was copied about four times over into new
// memory, and the walk held the shard for 78-412 ms, against 13-17 ms
// gathered in 1 MiB buffers (stop 47; docs/performance.md).
const (
	spillFrom  = 512 << 10
	spillChunk = 1 << 20
)

// grow makes room for n more bytes in buf: a buffer of spillFrom bytes or
// more that has no room is set aside in spill, and a new one started.
func (w *connWriter) grow(n int) {
	if len(w.buf)+n > cap(w.buf) && len(w.buf) >= spillFrom {
		w.spill = append(w.spill, w.buf)
		w.buf = make([]byte, 0, max(spillChunk, n))
	}
}

// note counts the last n bytes appended to buf in held.
func (w *connWriter) note(n int) {
	w.noted += n
	w.held.Add(int64(n))
}

// forget stops counting the noted bytes: they were written another way,
// or will not be.
func (w *connWriter) forget() {
	if w.noted > 0 {
		w.held.Add(-int64(w.noted))
		w.noted = 0
	}
}

// flush writes the buffered frames.
func (w *connWriter) flush() error {
	err := w.drain(w.write)
	w.forget()
	return err
}

// drain hands the buffered bytes to write in order, the buffers set
// aside first, stopping at write's first error, and empties the writer.
// What was noted stays noted: the caller forgets it.
func (w *connWriter) drain(write func(b []byte) error) error {
	var err error
	for _, b := range w.spill {
		if err == nil {
			err = write(b)
		}
	}
	if err == nil && len(w.buf) > 0 {
		err = write(w.buf)
	}
	w.spill = nil
	w.buf = w.buf[:0]
	if cap(w.buf) > maxKeptBuf {
		w.buf = nil // one huge frame, or a large slot, does not pin its buffer
	}
	return err
}

// size returns the bytes buffered, in buf and set aside.
func (w *connWriter) size() int {
	n := len(w.buf)
	for _, b := range w.spill {
		n += len(b)
	}
	return n
}

// write writes b within the write timeout.
func (w *connWriter) write(b []byte) error {
	if w.timeout > 0 {
		if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return err
		}
	}
	_, err := w.conn.Write(b)
	return err
}
