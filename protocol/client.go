package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/cached/cached/internal/bigcopy"
)

// This file holds a small RESP client: a Writer that batches pipelined
// commands, a Reader that classifies replies without allocating, and a Client
// that pairs them on one connection for request/response traffic (setup
// commands, CLUSTER SLOTS, node-to-node calls).

// ErrProtocol is returned by Reader when the peer sends bytes that are not
// valid RESP2/RESP3. The connection cannot be used afterwards.
var ErrProtocol = errors.New("protocol: invalid reply")

// ErrReplyTooLarge is returned by Reader when a reply's line or bulk length
// exceeds the reader's limit (MaxBulk).
var ErrReplyTooLarge = errors.New("protocol: reply too large")

// Kind is the RESP type of a reply, named by its first byte on the wire.
type Kind byte

// Reply kinds. Null replies of every form ($-1, *-1 and RESP3 _) are KindNil.
const (
	KindSimple    Kind = '+' // simple string
	KindError     Kind = '-' // simple error
	KindInt       Kind = ':' // integer
	KindBulk      Kind = '$' // bulk string
	KindArray     Kind = '*' // array
	KindNil       Kind = '_' // null in any form
	KindMap       Kind = '%' // RESP3 map (Int is the number of pairs)
	KindSet       Kind = '~' // RESP3 set
	KindPush      Kind = '>' // RESP3 push
	KindDouble    Kind = ',' // RESP3 double (text in Str)
	KindBool      Kind = '#' // RESP3 boolean (Int is 1 or 0)
	KindBigNumber Kind = '(' // RESP3 big number (text in Str)
	KindVerbatim  Kind = '=' // RESP3 verbatim string (Str includes "txt:")
	KindBlobError Kind = '!' // RESP3 bulk error
	KindAttribute Kind = '|' // RESP3 attribute (Int is the number of pairs)
)

// String returns the kind's name, for reports.
func (k Kind) String() string {
	switch k {
	case KindSimple:
		return "simple"
	case KindError, KindBlobError:
		return "error"
	case KindInt:
		return "integer"
	case KindBulk, KindVerbatim:
		return "bulk"
	case KindArray:
		return "array"
	case KindNil:
		return "nil"
	case KindMap:
		return "map"
	case KindSet:
		return "set"
	case KindPush:
		return "push"
	case KindDouble:
		return "double"
	case KindBool:
		return "bool"
	case KindBigNumber:
		return "bignumber"
	case KindAttribute:
		return "attribute"
	}
	return "invalid"
}

// Aggregate reports whether replies of this kind are followed by elements.
func (k Kind) Aggregate() bool {
	switch k {
	case KindArray, KindMap, KindSet, KindPush, KindAttribute:
		return true
	}
	return false
}

// Reply is one RESP element as read by Reader. It holds no memory of its
// own: Str points into the Reader's buffer and is valid only until the next
// call on that Reader.
type Reply struct {
	Kind Kind
	// Int is the value of an integer, 1/0 for a boolean, and the element
	// count of an aggregate (pairs for maps and attributes).
	Int int64
	// Str is the text of simple strings, errors, bulk strings, doubles, big
	// numbers and verbatim strings (including its "txt:" prefix).
	Str []byte
	// Detached reports that Str is a slice of its own, not the Reader's
	// buffer (a bulk of Reader.DetachFrom bytes or more): the caller may
	// keep it.
	Detached bool
}

// IsError reports whether the reply is an error of either form.
func (r Reply) IsError() bool { return r.Kind == KindError || r.Kind == KindBlobError }

// ErrorCode returns the first word of an error reply ("MOVED", "ERR",
// "WRONGTYPE"), pointing into Str, or nil if the reply is not an error.
func (r Reply) ErrorCode() []byte {
	if !r.IsError() {
		return nil
	}
	if i := bytes.IndexByte(r.Str, ' '); i >= 0 {
		return r.Str[:i]
	}
	return r.Str
}

// Redirect is a parsed -MOVED or -ASK error.
type Redirect struct {
	Ask  bool   // true for ASK, false for MOVED
	Slot int    // the key's hash slot
	Addr string // "host:port"; host may be empty (Redis 7 sends ":port" when it does not know its address)
}

// ParseRedirect parses "MOVED <slot> <host:port>" or "ASK <slot> <host:port>"
// (the error text without '-'). It allocates only the address string.
func ParseRedirect(msg []byte) (Redirect, bool) {
	var rd Redirect
	switch {
	case bytes.HasPrefix(msg, []byte("MOVED ")):
		msg = msg[len("MOVED "):]
	case bytes.HasPrefix(msg, []byte("ASK ")):
		rd.Ask = true
		msg = msg[len("ASK "):]
	default:
		return rd, false
	}
	sp := bytes.IndexByte(msg, ' ')
	if sp <= 0 {
		return rd, false
	}
	slot, ok := parseLen(msg[:sp])
	if !ok || slot >= Slots {
		return rd, false
	}
	addr := msg[sp+1:]
	if bytes.IndexByte(addr, ':') < 0 || bytes.IndexByte(addr, ' ') >= 0 {
		return rd, false
	}
	rd.Slot = int(slot)
	rd.Addr = string(addr)
	return rd, true
}

// Redirect parses the reply as a MOVED/ASK redirection.
func (r Reply) Redirect() (Redirect, bool) {
	if r.Kind != KindError {
		return Redirect{}, false
	}
	return ParseRedirect(r.Str)
}

// Writer batches pipelined commands in memory; Flush sends them in one write.
// Not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that flushes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, buf: make([]byte, 0, 16<<10)} }

// Reset discards buffered commands and makes the Writer flush to w.
func (w *Writer) Reset(wr io.Writer) { w.w, w.buf = wr, w.buf[:0] }

// WriteCommand appends one command in multibulk form. It does no I/O and does
// not retain args.
func (w *Writer) WriteCommand(args ...[]byte) { w.buf = AppendCommand(w.buf, args...) }

// WriteArray appends an array header; follow it with n WriteBulk calls.
func (w *Writer) WriteArray(n int) { w.buf = AppendArray(w.buf, n) }

// WriteBulk appends one bulk-string argument.
func (w *Writer) WriteBulk(b []byte) { w.buf = AppendBulk(w.buf, b) }

// WriteBulkString appends one bulk-string argument.
func (w *Writer) WriteBulkString(s string) { w.buf = AppendBulkString(w.buf, s) }

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes the buffered commands and empties the buffer, even on error.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// DefaultMaxBulk is the Reader's default limit on a bulk string or line,
// Redis's proto-max-bulk-len.
const DefaultMaxBulk = 512 << 20

// maxLine bounds simple strings, errors and length lines.
const maxLine = 1 << 20

// Reader reads RESP2 and RESP3 replies from a byte stream through its own
// buffer. ReadReply and Next allocate nothing once the buffer has grown to
// the largest reply seen. Not safe for concurrent use.
type Reader struct {
	rd    io.Reader
	buf   []byte
	r, w  int    // unread bytes are buf[r:w]
	reads uint64 // calls to rd.Read
	// MaxBulk bounds a bulk string's length; longer ones fail with
	// ErrReplyTooLarge. Zero means DefaultMaxBulk.
	MaxBulk int64
	// DetachFrom, when positive, makes a bulk string of at least this many
	// bytes arrive in a slice of its own (Reply.Detached) read straight
	// from the stream: the buffer does not grow to hold it, and so is not
	// left that large for the rest of the stream's life, and the caller
	// can keep the payload without copying it.
	DetachFrom int

	slow bool // tests: never take fastNext
}

// NewReader returns a Reader with a 16 KiB buffer that grows as needed.
func NewReader(rd io.Reader) *Reader { return NewReaderSize(rd, 16<<10) }

// NewReaderSize returns a Reader with an initial buffer of size bytes.
func NewReaderSize(rd io.Reader, size int) *Reader {
	if size < 64 {
		size = 64
	}
	return &Reader{rd: rd, buf: make([]byte, size)}
}

// Reset discards buffered data and makes the Reader read from rd.
func (r *Reader) Reset(rd io.Reader) { r.rd, r.r, r.w = rd, 0, 0 }

// Reads returns how many times the Reader has read from its stream. A
// caller timing replies can take the clock only when it changed: replies
// parsed from bytes already buffered arrived with the earlier read.
func (r *Reader) Reads() uint64 { return r.reads }

// Buffered returns the number of bytes read from the stream but not parsed.
func (r *Reader) Buffered() int { return r.w - r.r }

// Peek returns the bytes read from the stream and not yet parsed, without
// reading more; valid until the next call on r. With Discard, a caller
// that knows a frame's shape can parse a frame the buffer holds whole in
// one pass (the replication stream's records).
func (r *Reader) Peek() []byte { return r.buf[r.r:r.w] }

// Discard consumes the first n bytes Peek returned (n <= Buffered).
func (r *Reader) Discard(n int) { r.r += min(n, r.w-r.r) }

// Limit returns the longest bulk string r accepts (MaxBulk, or its
// default).
func (r *Reader) Limit() int64 { return r.maxBulk() }

// fill reads more bytes into the buffer, compacting or growing it so that at
// least need unread bytes fit.
func (r *Reader) fill(need int) error {
	if r.r > 0 && (r.w == r.r || len(r.buf)-r.r < need) {
		r.w = bigcopy.Copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if need > len(r.buf)-r.r {
		nb := make([]byte, max(need, 2*len(r.buf)))
		r.w = bigcopy.Copy(nb, r.buf[r.r:r.w])
		r.r = 0
		r.buf = nb
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.reads++
	r.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// line returns the next CRLF-terminated line without its CRLF and consumes it.
func (r *Reader) line() ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(r.buf[r.r+scanned:r.w], '\n'); i >= 0 {
			end := r.r + scanned + i
			if end == r.r || r.buf[end-1] != '\r' {
				return nil, fmt.Errorf("%w: line not terminated by CRLF", ErrProtocol)
			}
			ln := r.buf[r.r : end-1]
			r.r = end + 1
			return ln, nil
		}
		scanned = r.w - r.r
		if scanned > maxLine {
			return nil, ErrReplyTooLarge
		}
		if err := r.fill(scanned + 1); err != nil {
			return nil, err
		}
	}
}

// Next reads one element. For aggregates it returns only the header (Int is
// the count); the elements follow in later calls. Str is valid until the
// next call on r.
func (r *Reader) Next() (Reply, error) {
	if rep, ok := r.fastNext(); ok {
		return rep, nil
	}
	ln, err := r.line()
	if err != nil {
		return Reply{}, err
	}
	if len(ln) == 0 {
		return Reply{}, fmt.Errorf("%w: empty line", ErrProtocol)
	}
	k, body := Kind(ln[0]), ln[1:]
	switch k {
	case KindSimple, KindError, KindDouble, KindBigNumber:
		return Reply{Kind: k, Str: body}, nil
	case KindInt:
		n, ok := parseInt(body)
		if !ok {
			return Reply{}, fmt.Errorf("%w: bad integer %q", ErrProtocol, body)
		}
		return Reply{Kind: k, Int: n}, nil
	case KindNil:
		return Reply{Kind: KindNil}, nil
	case KindBool:
		if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
			return Reply{}, fmt.Errorf("%w: bad boolean %q", ErrProtocol, body)
		}
		return Reply{Kind: k, Int: int64(b2i(body[0] == 't'))}, nil
	case KindBulk, KindVerbatim, KindBlobError:
		return r.bulk(k, body)
	case KindArray, KindMap, KindSet, KindPush, KindAttribute:
		if k == KindArray && string(body) == "-1" {
			return Reply{Kind: KindNil}, nil
		}
		n, ok := parseLen(body)
		if !ok {
			return Reply{}, fmt.Errorf("%w: bad aggregate length %q", ErrProtocol, body)
		}
		return Reply{Kind: k, Int: n}, nil
	}
	return Reply{}, fmt.Errorf("%w: unknown type byte %q", ErrProtocol, ln[0])
}

// fastNext reads a bulk string or an array header that the buffer holds
// whole, in one pass over its bytes: the replication stream and pipelined
// replies are mostly these, and finding each line's end with IndexByte
// and then parsing it was a sixth of a busy replica's time (Reader.Next
// 17 % of its samples in a perf profile). Anything else
// (another kind, a length with a sign or a leading zero, a nil, a bulk
// to detach, bytes not yet read, a malformed frame) it leaves to the
// general path, which parses it, or reports the error, as before.
func (r *Reader) fastNext() (Reply, bool) {
	b := r.buf[r.r:r.w]
	if r.slow || len(b) < 4 || (b[0] != '$' && b[0] != '*') {
		return Reply{}, false
	}
	n, start, ok := ShortHeader(b)
	if !ok {
		return Reply{}, false
	}
	if b[0] == '*' {
		r.r += start
		return Reply{Kind: KindArray, Int: int64(n)}, true
	}
	end := start + n
	if int64(n) > r.maxBulk() || (r.DetachFrom > 0 && n >= r.DetachFrom) || end+2 > len(b) || b[end] != '\r' || b[end+1] != '\n' {
		return Reply{}, false
	}
	r.r += end + 2
	return Reply{Kind: KindBulk, Str: b[start:end]}, true
}

// ShortHeader parses the length line at the start of b (a type byte, then
// the length and CRLF) when the length has 1 to 9 digits and no sign or
// leading zero: the shape of nearly every bulk string and array header,
// parsed in one pass with no overflow to check. It returns the length and
// the size of the line; ok is false for anything else (the caller then
// takes its general path) or if b ends before the CRLF. It does not look
// at the type byte.
func ShortHeader(b []byte) (n, size int, ok bool) {
	i := 1
	for ; i < len(b) && i <= 9 && b[i]-'0' <= 9; i++ { // a byte: below '0' wraps past 9
		n = n*10 + int(b[i]-'0')
	}
	if i == 1 || i > 2 && b[1] == '0' || len(b) < i+2 || string(b[i:i+2]) != "\r\n" {
		return 0, 0, false
	}
	return n, i + 2, true
}

// maxBulk returns the longest bulk string r accepts (MaxBulk, or its
// default).
func (r *Reader) maxBulk() int64 {
	if r.MaxBulk <= 0 {
		return DefaultMaxBulk
	}
	return r.MaxBulk
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bulk reads the payload of a bulk-like element whose length line is body.
func (r *Reader) bulk(k Kind, body []byte) (Reply, error) {
	if k == KindBulk && string(body) == "-1" {
		return Reply{Kind: KindNil}, nil
	}
	n, ok := parseLen(body)
	if !ok {
		return Reply{}, fmt.Errorf("%w: bad bulk length %q", ErrProtocol, body)
	}
	if n > r.maxBulk() {
		return Reply{}, ErrReplyTooLarge
	}
	need := int(n) + 2
	if r.DetachFrom > 0 && int(n) >= r.DetachFrom && r.w-r.r < need {
		return r.detached(k, int(n))
	}
	for r.w-r.r < need {
		if err := r.fill(need); err != nil {
			return Reply{}, err
		}
	}
	s := r.buf[r.r : r.r+int(n)]
	if r.buf[r.r+int(n)] != '\r' || r.buf[r.r+int(n)+1] != '\n' {
		return Reply{}, fmt.Errorf("%w: bulk string not terminated by CRLF", ErrProtocol)
	}
	r.r += need
	if k == KindVerbatim && (n < 4 || s[3] != ':') {
		return Reply{}, fmt.Errorf("%w: bad verbatim string", ErrProtocol)
	}
	return Reply{Kind: k, Str: s}, nil
}

// detached reads a bulk payload of n bytes, of which the buffer holds only
// a part, into a slice of its own: what is buffered, then the rest straight
// from the stream, then its CRLF through the buffer.
func (r *Reader) detached(k Kind, n int) (Reply, error) {
	s := make([]byte, n)
	got := bigcopy.Copy(s, r.buf[r.r:r.w])
	r.r += got
	for got < n {
		m, err := r.rd.Read(s[got:])
		r.reads++
		got += m
		if m == 0 && err == nil {
			err = io.ErrNoProgress
		}
		if got < n && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Reply{}, err
		}
	}
	for r.w-r.r < 2 {
		if err := r.fill(2); err != nil {
			return Reply{}, err
		}
	}
	if r.buf[r.r] != '\r' || r.buf[r.r+1] != '\n' {
		return Reply{}, fmt.Errorf("%w: bulk string not terminated by CRLF", ErrProtocol)
	}
	r.r += 2
	if k == KindVerbatim && (n < 4 || s[3] != ':') {
		return Reply{}, fmt.Errorf("%w: bad verbatim string", ErrProtocol)
	}
	return Reply{Kind: k, Str: s, Detached: true}, nil
}

// ReadReply reads one complete reply. Attributes before it are skipped. For
// an aggregate it returns the header and consumes (discards) all nested
// elements, so the next call starts at the next reply. Str is valid until the
// next call on r.
func (r *Reader) ReadReply() (Reply, error) {
	for {
		rep, err := r.Next()
		if err != nil {
			return Reply{}, err
		}
		if rep.Kind == KindAttribute {
			if err := r.skip(2 * rep.Int); err != nil {
				return Reply{}, err
			}
			continue
		}
		if rep.Kind.Aggregate() {
			n := rep.Int
			if rep.Kind == KindMap {
				n *= 2
			}
			rep.Str = nil
			return rep, r.skip(n)
		}
		return rep, nil
	}
}

// skip discards n elements and everything nested in them.
func (r *Reader) skip(n int64) error {
	for ; n > 0; n-- {
		e, err := r.Next()
		if err != nil {
			return err
		}
		switch e.Kind {
		case KindMap, KindAttribute:
			n += 2 * e.Int
		case KindArray, KindSet, KindPush:
			n += e.Int
		}
	}
	return nil
}

// Value is a fully decoded reply tree, for setup and control traffic where
// allocation does not matter. Str is a copy owned by the Value.
type Value struct {
	Kind  Kind
	Int   int64
	Str   []byte
	Elems []Value // aggregate elements; maps and attributes alternate key, value
}

// ReplyError is an error reply turned into a Go error by Value.Err.
type ReplyError string

// Error returns the error text as the server sent it, without '-'.
func (e ReplyError) Error() string { return string(e) }

// Err returns the reply as a ReplyError if it is an error reply, else nil.
func (v Value) Err() error {
	if v.Kind == KindError || v.Kind == KindBlobError {
		return ReplyError(v.Str)
	}
	return nil
}

// String returns the text of a string-like value, or the decimal integer.
func (v Value) String() string {
	if v.Kind == KindInt || v.Kind == KindBool {
		return strconv.FormatInt(v.Int, 10)
	}
	return string(v.Str)
}

// maxDepth bounds nesting in ReadValue so hostile replies cannot exhaust the stack.
const maxDepth = 64

// ReadValue reads one complete reply into an allocated tree. Attributes are
// skipped.
func (r *Reader) ReadValue() (Value, error) { return r.readValue(0) }

func (r *Reader) readValue(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, fmt.Errorf("%w: nesting deeper than %d", ErrProtocol, maxDepth)
	}
	for {
		rep, err := r.Next()
		if err != nil {
			return Value{}, err
		}
		if rep.Kind == KindAttribute {
			if err := r.skip(2 * rep.Int); err != nil {
				return Value{}, err
			}
			continue
		}
		v := Value{Kind: rep.Kind, Int: rep.Int}
		if rep.Str != nil {
			v.Str = append([]byte{}, rep.Str...)
		}
		if !rep.Kind.Aggregate() {
			return v, nil
		}
		n := rep.Int
		if rep.Kind == KindMap {
			n *= 2
		}
		v.Elems = make([]Value, 0, min(n, 1024))
		for i := int64(0); i < n; i++ {
			e, err := r.readValue(depth + 1)
			if err != nil {
				return Value{}, err
			}
			v.Elems = append(v.Elems, e)
		}
		return v, nil
	}
}

// parseLen parses a non-negative decimal length without allocating.
func parseLen(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseInt parses a signed decimal integer without allocating.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// Client is one RESP connection used request/response style. Not safe for
// concurrent use.
type Client struct {
	conn    net.Conn
	Reader  *Reader
	Writer  *Writer
	timeout time.Duration
}

// NewClient wraps an established connection. timeout, if positive, bounds
// each Do call.
func NewClient(c net.Conn, timeout time.Duration) *Client {
	return &Client{conn: c, Reader: NewReader(c), Writer: NewWriter(c), timeout: timeout}
}

// Dial connects to addr over TCP within timeout and returns a Client whose Do
// calls are bounded by the same timeout.
func Dial(addr string, timeout time.Duration) (*Client, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return NewClient(c, timeout), nil
}

// DialSetup connects to addr within timeout, sends setup's commands in
// order (AUTH, HELLO …), each of which must not answer an error, and
// returns the bare connection with its deadline cleared, for a caller that
// speaks on it its own way (node-to-node links). On any failure the
// connection is closed.
func DialSetup(addr string, timeout time.Duration, setup [][]string) (net.Conn, error) {
	cl, err := Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	for _, cmd := range setup {
		v, err := cl.DoStrings(cmd...)
		if err == nil {
			err = v.Err()
		}
		if err != nil {
			_ = cl.Close()
			return nil, err
		}
	}
	_ = cl.conn.SetDeadline(time.Time{})
	return cl.conn, nil
}

// Conn returns the underlying connection.
func (c *Client) Conn() net.Conn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Do sends one command and reads its reply. An error reply is returned as a
// Value of KindError with a nil error; use Value.Err to turn it into one.
func (c *Client) Do(args ...[]byte) (Value, error) {
	if c.timeout > 0 {
		if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
			return Value{}, err
		}
	}
	c.Writer.WriteCommand(args...)
	if err := c.Writer.Flush(); err != nil {
		return Value{}, err
	}
	return c.Reader.ReadValue()
}

// DoStrings is Do with string arguments.
func (c *Client) DoStrings(args ...string) (Value, error) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return c.Do(b...)
}
