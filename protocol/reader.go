package protocol

import (
	"errors"
	"io"

	"github.com/cached/cached/internal/bigcopy"
)

// RequestReader reads client requests from a stream and parses them in place: the
// arguments it returns point into its own buffer, so a request costs no
// copy and no allocation (the argument slice is reused). Multibulk
// requests ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline ones ("GET k\r\n",
// split as Redis's sdssplitargs, quotes and escapes undone in place) are
// both read.
//
// Limits (proto-max-bulk-len, client-query-buffer-limit, the inline line
// length, the unauthenticated limits) are a FrameChecker's job, which also
// drops empty requests: Check gives the RequestReader one, and it then
// checks the stream exactly as FrameChecker.Filter would in front of it,
// but walks each request's headers once in the common case: a complete,
// canonical request within the limits, found at a request boundary, is
// checked while it is parsed; anything else (a partial request, an inline
// one, an empty one, one the limits refuse) goes through the checker's
// Filter first, in place. Without a checker it checks only what it needs
// to parse, and skips empty requests.
//
// A RequestReader is not safe for concurrent use; a connection's goroutine owns it.
//
// # Usage
//
//	for {
//		args, err := rd.Next()
//		if err != nil { /* reply with the error text, close */ }
//		if args == nil { /* flush replies; */ err = rd.Fill() /* … */ ; continue }
//		run(args) // args valid until the next Fill
//	}
type RequestReader struct {
	rd   io.Reader
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	c    int // buf[r:c] passed the checker, buf[c:w] not yet (c == w without one)
	fc   *FrameChecker
	ferr string   // the checker's error, returned once the bytes before it are used up
	last int      // bytes of the request Next returned last
	args [][]byte // reused by Next
	size int      // initial buffer size, and the size Fill returns to

	// The multibulk request at buf[r:] while it is incomplete: its
	// argument count (0: none pending), the offset after its last complete
	// argument, its arguments' start and end offsets, and the bytes it
	// takes as far as its headers tell.
	pendCount int64
	pendAt    int
	offs      []int
	pendNeed  int64
}

// RequestReaderSize is the default buffer size of a RequestReader (Redis's
// PROTO_IOBUF_LEN): one read takes up to this many bytes.
const RequestReaderSize = 16 << 10

// NewRequestReader returns a RequestReader over rd with a buffer of size bytes (0:
// RequestReaderSize). The buffer grows for a request larger than it and shrinks
// back once empty.
func NewRequestReader(rd io.Reader, size int) *RequestReader {
	if size <= 0 {
		size = RequestReaderSize
	}
	return &RequestReader{rd: rd, buf: make([]byte, size), size: size}
}

// Check makes r check the stream with fc (see RequestReader), from the
// bytes it reads next; nil turns checking off. A change of fc's
// SetAuthRequired applies from the first request Next has not checked yet:
// requests after the one Next returned last, unless a partial request or
// an inline, empty or invalid one made Next filter what was buffered.
func (r *RequestReader) Check(fc *FrameChecker) {
	r.fc = fc
	r.c = r.w
}

// FrameError is the error Next returns when its FrameChecker refused the
// stream (see FrameChecker.Filter): its text is an ErrProto* text,
// ExpectedDollar's, to be sent before closing, or ErrQueryBufferLimit, on
// which Redis closes without a reply. It is returned once every valid
// request before the violation was returned.
type FrameError string

func (e FrameError) Error() string { return string(e) }

// errQuotes is the error Next returns for an inline request with
// unbalanced quotes; its text is ErrProtoQuotes.
var errQuotes = errors.New(ErrProtoQuotes)

// IsProtocolError reports whether err is a request Next refused (to be
// answered with err.Error() before closing), rather than a read error.
func IsProtocolError(err error) bool {
	_, frame := err.(FrameError)
	return frame || err == errQuotes || err == errMultibulk || err == errBulk
}

var (
	errMultibulk = errors.New(ErrProtoMultibulkLen)
	errBulk      = errors.New(ErrProtoBulkLen)
)

// Buffered returns the bytes read and not yet returned by Next.
func (r *RequestReader) Buffered() int { return r.w - r.r }

// Last returns the length in bytes of the request Next returned last.
func (r *RequestReader) Last() int { return r.last }

// Next returns the next complete request in the buffer, or nil (and no
// error) if there is none yet: then Fill. The arguments point into the
// RequestReader's buffer and the slice is reused: both are valid until the next
// Fill (later calls of Next leave earlier requests' bytes alone, but not
// the slice). err is a protocol error (IsProtocolError) after which the
// stream cannot be read on.
func (r *RequestReader) Next() ([][]byte, error) {
	for {
		if r.r < r.c { // checked bytes (all of them without a checker)
			var n int
			var err error
			if r.buf[r.r] == '*' {
				n, err = r.multibulk(r.buf[r.r:r.c])
			} else {
				n, err = r.inline(r.buf[r.r:r.c])
			}
			if err != nil {
				return nil, err
			}
			if n > 0 {
				r.r += n
				r.last = n
				if len(r.args) > 0 {
					return r.args, nil
				}
				continue
			}
			if r.c == r.w {
				break // the request is not complete yet
			}
			r.filter() // its rest may be in the unchecked bytes
			continue
		}
		if r.c == r.w {
			break
		}
		// Unchecked bytes at a request boundary: check and parse a
		// canonical request at once, leave anything else to the checker.
		if n := r.fast(r.buf[r.c:r.w]); n > 0 {
			r.r += n
			r.c = r.r
			r.last = n
			return r.args, nil
		}
		r.filter()
	}
	if r.ferr != "" {
		return nil, FrameError(r.ferr)
	}
	return nil, nil
}

// filter runs the checker over the unchecked bytes, in place.
func (r *RequestReader) filter() {
	out, errText := r.fc.Filter(r.buf[r.c:r.c], r.buf[r.c:r.w])
	r.c += len(out)
	r.w = r.c
	r.ferr = errText
}

// fast returns the length of the request at the start of b, parsed into
// r.args, if the checker is at a request boundary and the request is
// complete, canonical (every header line ends in "\r\n", every payload
// is followed by "\r\n") and within its limits: then the checker would
// pass it through unchanged and stay at the boundary. Otherwise it
// returns 0, having checked nothing (FrameChecker.fastRequest, which the
// checker's own fast path runs without collecting the arguments).
func (r *RequestReader) fast(b []byte) int {
	if r.fc.state != stStart || r.fc.err != "" {
		return 0
	}
	r.args = r.args[:0]
	return r.fc.fastRequest(b, &r.args)
}

// multibulk parses the request at the start of b into r.args and returns
// its length, 0 if it is not complete. The arguments of an incomplete
// request parsed so far are remembered (as offsets from its start), so a
// request of many arguments arriving over many reads is parsed once.
func (r *RequestReader) multibulk(b []byte) (int, error) {
	if r.pendCount == 0 {
		count, i, err := header(b)
		if i == 0 || err != nil {
			return 0, err
		}
		r.pendCount, r.pendAt, r.offs = count, i, r.offs[:0]
	}
	i := r.pendAt
	for int64(len(r.offs)/2) < r.pendCount {
		if i >= len(b) {
			return 0, nil
		}
		if b[i] != '$' {
			return 0, errBulk
		}
		size, n, err := header(b[i:])
		if n == 0 || err != nil {
			return 0, err
		}
		if size < 0 {
			return 0, errBulk
		}
		if int64(len(b)-i-n) < size+2 {
			r.pendNeed = int64(i+n) + size + 2
			return 0, nil
		}
		i += n
		r.offs = append(r.offs, i, i+int(size))
		i += int(size) + 2 // the two bytes after a payload are not checked, as Redis
		r.pendAt = i
	}
	r.args = r.args[:0]
	for j := 0; j < len(r.offs); j += 2 {
		r.args = append(r.args, b[r.offs[j]:r.offs[j+1]:r.offs[j+1]])
	}
	r.pendCount, r.pendNeed = 0, 0
	return i, nil
}

// header parses a "*n\r\n" or "$n\r\n" line at the start of b: the number
// and the line's length, 0 if the line is not complete.
func header(b []byte) (int64, int, error) {
	for j := 1; j < len(b); j++ {
		if b[j] != '\r' {
			continue
		}
		if j+1 >= len(b) {
			return 0, 0, nil
		}
		v, ok := ParseInt(b[1:j])
		if !ok {
			if b[0] == '*' {
				return 0, 0, errMultibulk
			}
			return 0, 0, errBulk
		}
		return v, j + 2, nil
	}
	return 0, 0, nil
}

// inline splits the line at the start of b into r.args, in place, and
// returns its length with the '\n', 0 if the line is not complete.
func (r *RequestReader) inline(b []byte) (int, error) {
	end := -1
	for j, c := range b {
		if c == '\n' {
			end = j
			break
		}
	}
	if end < 0 {
		return 0, nil
	}
	line := b[:end]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, ok := SplitArgs(line, r.args[:0])
	r.args = args
	if !ok {
		return 0, errQuotes
	}
	return end + 1, nil
}

// Fill reads more bytes from the stream (one Read), first moving the
// unread bytes to the front of the buffer, or growing it when a partial
// request fills it. It invalidates every argument Next returned.
func (r *RequestReader) Fill() error {
	switch {
	case r.r == r.w:
		r.r, r.w, r.c = 0, 0, 0
		if len(r.buf) > r.size*4 {
			r.buf = make([]byte, r.size) // let a big request's buffer go
		}
	case r.w == len(r.buf) && r.r == 0:
		nb := make([]byte, max(2*len(r.buf), r.need()))
		bigcopy.Copy(nb, r.buf[:r.w])
		r.buf = nb
	case r.w == len(r.buf) || r.w-r.r < r.r:
		r.c -= r.r
		r.w = bigcopy.Copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.w += n
	if r.fc == nil {
		r.c = r.w
	}
	if err != nil && n == 0 {
		return err // not kept: a deadline may pass and reading go on
	}
	return nil
}

// need returns how many bytes the partial request at the start of the
// buffer takes, as far as its headers tell (0 if they do not), at most
// 1 GiB more than the buffer holds.
func (r *RequestReader) need() int {
	if r.pendCount == 0 {
		return 0
	}
	return int(min(r.pendNeed, int64(r.w-r.r)+1<<30))
}

// peekMaxArgs is the most arguments a request Peek parses may have: a
// request with more is not parsed (Peek stops there).
const peekMaxArgs = 1024

// Peek parses the complete multibulk request that starts pos bytes after
// the next one Next would return (pos 0: that one; then the offset the
// previous Peek returned) into args[:0], without taking it: it returns the
// offset after the request and its arguments, or 0 and no arguments
// (args[:0]) if there is no complete multibulk request there (none
// buffered, a partial or inline one, one of more than 1,024 arguments, or
// a malformed one). It checks
// nothing (no FrameChecker, no limits), so what it returns is a hint of
// what Next will return (a server warms the keys of the requests it is
// about to run), and it changes nothing of the RequestReader's state. The
// arguments point into the buffer: valid until the next Next or Fill.
func (r *RequestReader) Peek(pos int, args [][]byte) (int, [][]byte) {
	args = args[:0]
	b := r.buf[r.r:r.w]
	if pos < 0 || pos >= len(b) || b[pos] != '*' {
		return 0, args[:0]
	}
	count, i, err := header(b[pos:])
	if i == 0 || err != nil || count < 1 || count > peekMaxArgs {
		return 0, args[:0]
	}
	i += pos
	for range count {
		if i >= len(b) || b[i] != '$' {
			return 0, args[:0]
		}
		size, n, err := header(b[i:])
		if n == 0 || err != nil || size < 0 || size > int64(len(b)-i-n-2) { // no overflow: size may be huge
			return 0, args[:0]
		}
		i += n
		args = append(args, b[i:i+int(size):i+int(size)])
		i += int(size) + 2
	}
	return i, args
}
