package protocol

// FrameLimits bounds what a FrameChecker lets through. A zero field takes
// its default from DefaultFrameLimits.
type FrameLimits struct {
	// MaxBulkLen is the largest bulk string length accepted in a request
	// (Redis's proto-max-bulk-len). Default 512 MiB.
	MaxBulkLen int64
	// MaxMultibulk is the largest argument count of a request. Default
	// 1024*1024; Redis 7.0 itself accepts up to 2^31-1, but every argument
	// costs the server a slice header before its bytes arrive.
	MaxMultibulk int64
	// MaxInline is the longest inline request line, and the longest
	// "*count" or "$len" header line, without its terminator. Default
	// 64 KiB (Redis's PROTO_INLINE_MAX_SIZE).
	MaxInline int
	// MaxQueryBuffer is the most bytes one request may take, counted from
	// its first byte (Redis's client-query-buffer-limit). Default 1 GiB.
	MaxQueryBuffer int64
}

// DefaultFrameLimits returns Redis 7.0's default limits.
func DefaultFrameLimits() FrameLimits {
	return FrameLimits{
		MaxBulkLen:     512 << 20,
		MaxMultibulk:   1024 * 1024,
		MaxInline:      64 << 10,
		MaxQueryBuffer: 1 << 30,
	}
}

// FrameChecker follows the client-to-server byte stream of one connection
// and stops at the first framing violation Redis 7.0 would refuse, so huge
// lengths are refused before memory is reserved for them. It keeps O(1)
// state between calls: bulk payloads are skipped by counting, never
// buffered; a header line ("*3", "$5") is remembered only up to its first
// 20 bytes of digits, which is all a valid one can have.
//
// It frames the stream as Redis's processInputBuffer does: a request that
// starts with '*' is a multibulk, anything else an inline line ending at
// '\n'. As in Redis, a header line ends at '\r' followed by any byte, the
// two bytes after a bulk payload are skipped unchecked, and a NUL byte in a
// line hides its terminator (Redis looks for it with strchr), so the line
// then runs on until it is too long.
//
// A FrameChecker is not safe for concurrent use; each connection owns one.
type FrameChecker struct {
	lim FrameLimits

	state  uint8
	kind   uint8 // lineMbulk or lineBulk while in a header line
	first  byte  // first byte of the current header line
	nul    bool  // the current line holds a NUL: its terminator is hidden
	over   bool  // the header line has more than len(hdr) bytes of digits
	hdrLen uint8
	hdr    [20]byte // header line content after its first byte
	sent   uint8    // bytes of the current header line Filter already emitted

	lineLen  int   // bytes of the current line before its terminator
	args     int64 // bulk strings still expected in this multibulk
	left     int64 // payload bytes still expected in this bulk string
	trail    uint8 // bytes of the "\r\n" after a payload still expected
	reqBytes int64 // bytes of the current request so far

	unauth bool   // the client has not authenticated: small limits apply
	err    string // sticky error text
}

// FrameChecker states.
const (
	stStart  = iota // at a request boundary
	stLine          // in a "*n" or "$n" header line, before its '\r'
	stLF            // header line seen up to '\r', one byte to go
	stData          // in a bulk payload
	stTrail         // in the two bytes after a payload
	stInline        // in an inline request line
)

// Header line kinds.
const (
	lineMbulk = iota + 1
	lineBulk
)

// NewFrameChecker returns a checker at the start of a stream. Zero fields
// of l take their defaults.
func NewFrameChecker(l FrameLimits) *FrameChecker {
	d := DefaultFrameLimits()
	if l.MaxBulkLen <= 0 {
		l.MaxBulkLen = d.MaxBulkLen
	}
	if l.MaxMultibulk <= 0 {
		l.MaxMultibulk = d.MaxMultibulk
	}
	if l.MaxInline <= 0 {
		l.MaxInline = d.MaxInline
	}
	if l.MaxQueryBuffer <= 0 {
		l.MaxQueryBuffer = d.MaxQueryBuffer
	}
	return &FrameChecker{lim: l}
}

// Reset returns f to the start of a new stream, forgetting any error and
// the SetAuthRequired setting.
func (f *FrameChecker) Reset() { *f = FrameChecker{lim: f.lim} }

// Unauthenticated request limits of Redis 7.0 (processMultibulkBuffer).
const (
	unauthMaxMultibulk = 10
	unauthMaxBulkLen   = 16384
)

// SetAuthRequired turns on or off Redis's limits for clients that have not
// authenticated yet: a request of more than 10 arguments is refused with
// ErrProtoUnauthMbulk and a bulk string over 16384 bytes with
// ErrProtoUnauthBulk. The server turns it on at accept when a password is
// required and off once AUTH (or HELLO AUTH) succeeds. The checker sees
// bytes before the server runs them, so a request pipelined right behind
// AUTH in the same read is still checked with the limits on.
func (f *FrameChecker) SetAuthRequired(on bool) { f.unauth = on }

// Filter appends to dst the bytes of p that are fine to hand to a RESP
// parser and returns the extended slice. Its output is p with three
// changes: empty requests ("*0\r\n", "*-1\r\n", any "*n" with n <= 0,
// which Redis silently skips and redcon refuses) are dropped; the byte
// after a header line's '\r' is emitted as '\n' and the two bytes after a
// payload as "\r\n", which Redis does not check either; and nothing is
// emitted from the byte that makes a request certainly invalid on, so the
// output never completes an invalid header.
//
// Each byte is emitted only after it is read, and the output of a call is
// never longer than p, so filtering in place is safe: dst may be p[:0].
//
// A header line is held only within a call; at the end of a call the
// part read so far is emitted. So an empty request cut by a read boundary
// inside its "*0" line is found only after its first bytes went out: Filter
// then reports ErrProtoMultibulkLen (what redcon would say) where Redis
// would skip the request. Feed has no such case.
//
// errText is "" or the text of the first violation (ErrProto* or
// ExpectedDollar, to be sent before closing the connection, or
// ErrQueryBufferLimit, on which Redis closes without a reply). dst then
// holds everything before the violation; later calls return the same
// error and append nothing.
func (f *FrameChecker) Filter(dst, p []byte) ([]byte, string) {
	dst, _, errText := f.run(dst, p, true)
	return dst, errText
}

// Feed checks p like Filter but emits nothing. n is the number of bytes of
// p consumed before the violation (len(p) if none): p[n] is the byte that
// made the violation certain. The sum of n over calls is the stream offset
// of that byte, however the stream is split. Servers should prefer Filter,
// whose output never contains an invalid header line.
func (f *FrameChecker) Feed(p []byte) (n int, errText string) {
	_, n, errText = f.run(nil, p, false)
	return n, errText
}

// run is the state machine behind Filter and Feed.
func (f *FrameChecker) run(dst, p []byte, emit bool) ([]byte, int, string) {
	if f.err != "" {
		return dst, 0, f.err
	}
	i := 0
	for i < len(p) {
		if f.state == stStart {
			f.reqBytes = 0
			if n := f.fastRequests(p[i:]); n > 0 {
				if emit {
					dst = append(dst, p[i:i+n]...)
				}
				i += n
				continue
			}
			if p[i] == '*' {
				f.beginLine(lineMbulk)
			} else {
				f.state, f.lineLen, f.nul = stInline, 0, false
			}
		}
		room := f.lim.MaxQueryBuffer - f.reqBytes
		if room <= 0 {
			f.err = ErrQueryBufferLimit
			break
		}
		q := p[i:]
		if int64(len(q)) > room {
			q = q[:room]
		}
		var n int
		dst, n = f.step(dst, q, emit)
		f.reqBytes += int64(n)
		i += n
		if f.err != "" {
			break
		}
	}
	if emit && f.err == "" && (f.state == stLine || f.state == stLF) {
		dst = f.flushLine(dst)
	}
	return dst, i, f.err
}

// fastRequests returns the length of the run of complete, canonical and
// valid multibulk requests at the start of q: the common case, which passes
// through unchanged. Anything else (a partial request, an empty one, a
// header not ending in "\r\n", an error) is left to the state machine.
func (f *FrameChecker) fastRequests(q []byte) int {
	i := 0
	for {
		n := f.fastRequest(q[i:], nil)
		if n == 0 {
			return i
		}
		i += n
	}
}

// fastRequest returns the length of the complete, canonical and valid
// multibulk request at the start of q, or 0. If args is not nil, the
// request's arguments (slices of q) are appended to *args.
func (f *FrameChecker) fastRequest(q []byte, args *[][]byte) int {
	if len(q) == 0 || q[0] != '*' || f.unauth {
		return 0
	}
	count, i := fastHeader(q, f.lim.MaxInline)
	if i == 0 || count < 1 || count > f.lim.MaxMultibulk {
		return 0
	}
	for ; count > 0; count-- {
		if i >= len(q) || q[i] != '$' {
			return 0
		}
		size, n := fastHeader(q[i:], f.lim.MaxInline)
		if n == 0 || size < 0 || size > f.lim.MaxBulkLen || int64(len(q)-i-n) < size+2 {
			return 0
		}
		i += n
		end := i + int(size)
		if q[end] != '\r' || q[end+1] != '\n' {
			return 0
		}
		if args != nil {
			*args = append(*args, q[i:end:end])
		}
		i = end + 2
	}
	if int64(i) > f.lim.MaxQueryBuffer {
		return 0
	}
	return i
}

// fastHeader parses a "*n\r\n" or "$n\r\n" line at the start of q and
// returns n and the line's length, or a length of 0 if the line is not
// complete, canonical and valid.
func fastHeader(q []byte, maxInline int) (int64, int) {
	for j := 1; j < len(q)-1 && j <= 21; j++ {
		if q[j] == '\r' {
			if q[j+1] != '\n' || j > maxInline {
				return 0, 0
			}
			v, ok := ParseInt(q[1:j])
			if !ok {
				return 0, 0
			}
			return v, j + 2
		}
	}
	return 0, 0
}

// step consumes a prefix of q, moving through states until q is used up,
// an error is found or the request ends, and returns how much it consumed.
func (f *FrameChecker) step(dst, q []byte, emit bool) ([]byte, int) {
	i := 0
	for i < len(q) {
		switch f.state {
		case stStart:
			return dst, i // the request ended: run resets its byte count
		case stLine:
			i += f.stepLine(q[i:])
		case stLF:
			if dst = f.endLine(dst, emit); f.err != "" {
				return dst, i // the byte after '\r' completed the violation
			}
			i++
		case stData:
			n := int64(len(q) - i)
			if n > f.left {
				n = f.left
			}
			if emit {
				dst = append(dst, q[i:i+int(n)]...)
			}
			i += int(n)
			if f.left -= n; f.left == 0 {
				f.state, f.trail = stTrail, 2
			}
		case stTrail:
			if f.trail == 2 && len(q)-i >= 2 {
				if emit {
					dst = append(dst, '\r', '\n')
				}
				i += 2
				f.trail = 0
			} else {
				if emit {
					dst = append(dst, "\r\n"[2-f.trail])
				}
				i++
				f.trail--
			}
			if f.trail == 0 {
				if f.args--; f.args == 0 {
					f.state = stStart
				} else {
					f.beginLine(lineBulk)
				}
			}
		default: // stInline
			var n int
			dst, n = f.stepInline(dst, q[i:], emit)
			i += n
		}
		if f.err != "" {
			break
		}
	}
	return dst, i
}

// beginLine starts a header line of the given kind.
func (f *FrameChecker) beginLine(kind uint8) {
	f.state, f.kind = stLine, kind
	f.first, f.nul, f.over, f.hdrLen, f.lineLen, f.sent = 0, false, false, 0, 0, 0
}

// stepLine consumes header line bytes up to and including its '\r'.
func (f *FrameChecker) stepLine(q []byte) int {
	if f.lineLen == 0 {
		if n := f.fastLine(q); n > 0 {
			return n
		}
	}
	for i, b := range q {
		if b == '\r' && !f.nul {
			f.state = stLF
			if f.lineLen == 0 {
				f.first = '\r' // the line is empty: Redis reports the '\r'
			}
			return i + 1
		}
		if f.lineLen >= f.lim.MaxInline {
			if f.kind == lineMbulk {
				f.err = ErrProtoBigMbulk
			} else {
				f.err = ErrProtoBigBulk
			}
			return i
		}
		switch {
		case f.lineLen == 0:
			f.first = b
		case int(f.hdrLen) < len(f.hdr):
			f.hdr[f.hdrLen] = b
			f.hdrLen++
		default:
			f.over = true
		}
		if b == 0 {
			f.nul = true
		}
		f.lineLen++
	}
	return len(q)
}

// fastLine takes a whole short header line at the start of q in one go:
// its first byte, up to len(hdr) bytes without NUL, then '\r'. It returns
// the bytes consumed (through the '\r'), or 0 to let stepLine go byte by
// byte.
func (f *FrameChecker) fastLine(q []byte) int {
	if len(q) < 2 || q[0] == '\r' || q[0] == 0 {
		return 0
	}
	end := len(q)
	if end > len(f.hdr)+2 {
		end = len(f.hdr) + 2
	}
	for j := 1; j < end; j++ {
		switch q[j] {
		case 0:
			return 0
		case '\r':
			if j > f.lim.MaxInline {
				return 0
			}
			f.first = q[0]
			f.hdrLen = uint8(copy(f.hdr[:], q[1:j]))
			f.lineLen = j
			f.state = stLF
			return j + 1
		}
	}
	return 0
}

// endLine consumes the byte after a header line's '\r' and acts on the line:
// it checks it, then emits it or drops an empty request.
func (f *FrameChecker) endLine(dst []byte, emit bool) []byte {
	v, ok := int64(0), !f.over
	if ok {
		v, ok = ParseInt(f.hdr[:f.hdrLen])
	}
	if f.kind == lineMbulk {
		if !ok || v > f.lim.MaxMultibulk {
			f.err = ErrProtoMultibulkLen
			return dst
		}
		if f.unauth && v > unauthMaxMultibulk {
			f.err = ErrProtoUnauthMbulk
			return dst
		}
		if v <= 0 {
			if f.sent > 0 {
				// Filter already emitted the start of this empty request.
				f.err = ErrProtoMultibulkLen
				return dst
			}
			f.state = stStart // an empty request: Redis skips it
			return dst
		}
		f.args = v
		dst = f.emitLine(dst, emit)
		f.beginLine(lineBulk)
		return dst
	}
	if f.first != '$' {
		f.err = ExpectedDollar(f.first)
		return dst
	}
	if !ok || v < 0 || v > f.lim.MaxBulkLen {
		f.err = ErrProtoBulkLen
		return dst
	}
	if f.unauth && v > unauthMaxBulkLen {
		f.err = ErrProtoUnauthBulk
		return dst
	}
	dst = f.emitLine(dst, emit)
	f.left = v
	if v == 0 {
		f.state, f.trail = stTrail, 2
	} else {
		f.state = stData
	}
	return dst
}

// emitLine appends the part of a complete, valid header line not emitted
// yet, in canonical form.
func (f *FrameChecker) emitLine(dst []byte, emit bool) []byte {
	if !emit {
		return dst
	}
	var line [len(f.hdr) + 3]byte
	line[0] = f.first
	n := 1 + copy(line[1:], f.hdr[:f.hdrLen])
	line[n], line[n+1] = '\r', '\n'
	return append(dst, line[f.sent:n+2]...)
}

// flushLine emits, at the end of a Filter call, the part of the current
// header line read so far, as long as it may still be valid: its first
// byte is '*' or '$' and its content is at most 20 bytes of digits and '-'.
// This keeps Filter's output from running ahead of its input.
func (f *FrameChecker) flushLine(dst []byte) []byte {
	if f.lineLen == 0 || f.nul || f.over || (f.first != '*' && f.first != '$') {
		return dst
	}
	var line [len(f.hdr) + 2]byte
	line[0] = f.first
	n := 1
	for _, c := range f.hdr[:f.hdrLen] {
		if (c < '0' || c > '9') && c != '-' {
			return dst
		}
		line[n] = c
		n++
	}
	if f.state == stLF {
		line[n] = '\r'
		n++
	}
	dst = append(dst, line[f.sent:n]...)
	f.sent = uint8(n)
	return dst
}

// stepInline consumes inline request bytes up to and including its '\n'.
func (f *FrameChecker) stepInline(dst, q []byte, emit bool) ([]byte, int) {
	if f.nul {
		return dst, f.swallow(q)
	}
	for i, b := range q {
		if b == '\n' {
			f.state = stStart
			if emit {
				dst = append(dst, q[:i+1]...)
			}
			return dst, i + 1
		}
		if f.lineLen >= f.lim.MaxInline {
			f.err = ErrProtoBigInline
			if emit {
				dst = append(dst, q[:i]...)
			}
			return dst, i
		}
		f.lineLen++
		if b == 0 {
			// Redis will never see this line's end: emit what came before
			// the NUL and swallow the rest until the line is too long.
			f.nul = true
			if emit {
				dst = append(dst, q[:i]...)
			}
			return dst, i + 1 + f.swallow(q[i+1:])
		}
	}
	if emit {
		dst = append(dst, q...)
	}
	return dst, len(q)
}

// swallow counts the bytes of an inline line whose end Redis cannot see,
// until the line is too long.
func (f *FrameChecker) swallow(q []byte) int {
	room := f.lim.MaxInline - f.lineLen
	if len(q) <= room {
		f.lineLen += len(q)
		return len(q)
	}
	f.lineLen += room
	f.err = ErrProtoBigInline
	return room
}
