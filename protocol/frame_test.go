package protocol

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// filterChunks runs a fresh checker over chunks and returns the joined
// output and the error text.
func filterChunks(l FrameLimits, unauth bool, chunks ...[]byte) ([]byte, string) {
	f := NewFrameChecker(l)
	f.SetAuthRequired(unauth)
	var out []byte
	var errText string
	for _, c := range chunks {
		out, errText = f.Filter(out, c)
		if errText != "" {
			break
		}
	}
	return out, errText
}

// feedChunks runs Feed over chunks and returns the summed n and the error.
func feedChunks(l FrameLimits, unauth bool, chunks ...[]byte) (int, string) {
	f := NewFrameChecker(l)
	f.SetAuthRequired(unauth)
	total := 0
	for _, c := range chunks {
		n, errText := f.Feed(c)
		total += n
		if errText != "" {
			return total, errText
		}
	}
	return total, ""
}

// filterInPlace filters each chunk in place, as the server does: the
// chunk is read into buf and filtered into buf[:0].
func filterInPlace(l FrameLimits, unauth bool, chunks [][]byte) ([]byte, string) {
	f := NewFrameChecker(l)
	f.SetAuthRequired(unauth)
	var all []byte
	for _, c := range chunks {
		buf := append([]byte(nil), c...)
		out, err := f.Filter(buf[:0], buf)
		if len(out) > len(c) || (len(out) > 0 && &out[0] != &buf[0]) {
			return nil, "output longer than input"
		}
		all = append(all, out...)
		if err != "" {
			return all, err
		}
	}
	return all, ""
}

func byteChunks(p []byte) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i : i+1]
	}
	return out
}

func TestFrameChecker(t *testing.T) {
	small := FrameLimits{MaxBulkLen: 10, MaxMultibulk: 4, MaxInline: 8, MaxQueryBuffer: 30}
	ping := "*1\r\n$4\r\nPING\r\n"
	// A 21-byte request, then one of 43 bytes that passes the 30-byte limit.
	qb := "*1\r\n$10\r\n0123456789\r\n" + "*2\r\n$10\r\n0123456789\r\n$10\r\n0123456789\r\n"
	tests := []struct {
		name   string
		lim    FrameLimits
		in     string
		out    string
		err    string
		detect int // stream offset of the byte that made the error certain
	}{
		{"ping", FrameLimits{}, ping, ping, "", 0},
		{"pipeline", FrameLimits{}, ping + ping, ping + ping, "", 0},
		{"inline", FrameLimits{}, "PING\r\nGET a\n", "PING\r\nGET a\n", "", 0},
		{"empty requests dropped", FrameLimits{}, "*0\r\n*-1\r\n" + ping + "*-7\r\n", ping, "", 0},
		{"empty bulk", FrameLimits{}, "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", "", 0},
		{"normalized terminators", FrameLimits{}, "*1\rX$4\rYPINGab", ping, "", 0},
		{"bad mbulk", FrameLimits{}, ping + "*abc\r\n", ping, ErrProtoMultibulkLen, len(ping) + 5},
		{"mbulk plus", FrameLimits{}, "*+1\r\n", "", ErrProtoMultibulkLen, 4},
		{"mbulk leading zero", FrameLimits{}, "*01\r\n", "", ErrProtoMultibulkLen, 4},
		{"mbulk empty", FrameLimits{}, "*\r\n", "", ErrProtoMultibulkLen, 2},
		{"mbulk 21 digits", FrameLimits{}, "*100000000000000000000\r\n", "", ErrProtoMultibulkLen, 23},
		{"mbulk over limit", small, "*5\r\n", "", ErrProtoMultibulkLen, 3},
		{"mbulk at limit", small, "*4\r\n", "*4\r\n", "", 0},
		{"negative bulk", FrameLimits{}, "*1\r\n$-1\r\n", "*1\r\n", ErrProtoBulkLen, 8},
		{"bulk garbage", FrameLimits{}, "*1\r\n$1x\r\n", "*1\r\n", ErrProtoBulkLen, 8},
		{"bulk over limit", small, "*1\r\n$11\r\n", "*1\r\n", ErrProtoBulkLen, 8},
		{"bulk at limit", small, "*1\r\n$10\r\n0123456789\r\n", "*1\r\n$10\r\n0123456789\r\n", "", 0},
		{"expected dollar", FrameLimits{}, "*1\r\nx3\r\n", "*1\r\n", ExpectedDollar('x'), 7},
		{"expected dollar got CR", FrameLimits{}, "*2\r\n$1\r\na\r\n\r\n", "*2\r\n$1\r\na\r\n", ExpectedDollar('\r'), 12},
		{"too big inline", small, "12345678\n123456789", "12345678\n12345678", ErrProtoBigInline, 17},
		{"too big mbulk line", small, "*1234567" + "8", "", ErrProtoBigMbulk, 8},
		{"too big bulk line", small, "*1\r\n$1234567" + "8", "*1\r\n", ErrProtoBigBulk, 12},
		{"NUL hides inline end", small, "a\x00b\nxxxxxx", "a", ErrProtoBigInline, 8},
		{"NUL hides header end", small, "*1\x00\r\n$1\r\n", "", ErrProtoBigMbulk, 8},
		{"query buffer", small, qb, qb[:21+30], ErrQueryBufferLimit, 21 + 30},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		splits := [][][]byte{{in}, byteChunks(in)}
		// Filter refuses an empty request cut inside its header line (see
		// TestFilterSplitEmpty), so that case is checked unsplit only.
		whole := strings.HasPrefix(tt.name, "empty requests")
		if whole {
			splits = splits[:1]
		}
		for k := 1; k < len(in) && !whole; k++ {
			splits = append(splits, [][]byte{in[:k], in[k:]})
		}
		for _, chunks := range splits {
			out, err := filterChunks(tt.lim, false, chunks...)
			if err != "" {
				out = stripPartial(out)
			}
			if string(out) != tt.out || err != tt.err {
				t.Errorf("%s (%d chunks): Filter = %q, %q; want %q, %q", tt.name, len(chunks), out, err, tt.out, tt.err)
				break
			}
			n, ferr := feedChunks(tt.lim, false, chunks...)
			wantN := len(in)
			if tt.err != "" {
				wantN = tt.detect
			}
			if n != wantN || ferr != tt.err {
				t.Errorf("%s (%d chunks): Feed = %d, %q; want %d, %q", tt.name, len(chunks), n, ferr, wantN, tt.err)
				break
			}
		}
	}
}

// TestFilterSplitEmpty pins the one case where Filter departs from Redis:
// an empty request whose header line is cut by a read boundary, whose
// first bytes were already emitted. Feed still skips it.
func TestFilterSplitEmpty(t *testing.T) {
	ping := "*1\r\n$4\r\nPING\r\n"
	tests := []struct {
		chunks []string
		out    string
		err    string
	}{
		{[]string{"*0\r\n" + ping}, ping, ""},
		{[]string{"*0\r", "\n" + ping}, "*0\r", ErrProtoMultibulkLen},
		{[]string{"*", "0\r\n" + ping}, "*", ErrProtoMultibulkLen},
		{[]string{"*-", "1\r\n"}, "*-", ErrProtoMultibulkLen},
		{[]string{ping + "*", "3\r\n"}, ping + "*3\r\n", ""},
	}
	for _, tt := range tests {
		var chunks [][]byte
		for _, c := range tt.chunks {
			chunks = append(chunks, []byte(c))
		}
		out, err := filterChunks(FrameLimits{}, false, chunks...)
		if string(out) != tt.out || err != tt.err {
			t.Errorf("%q: Filter = %q, %q; want %q, %q", tt.chunks, out, err, tt.out, tt.err)
		}
		if n, err := feedChunks(FrameLimits{}, false, chunks...); err != "" || n != len(strings.Join(tt.chunks, "")) {
			t.Errorf("%q: Feed = %d, %q", tt.chunks, n, err)
		}
	}
}

func TestFrameCheckerSticky(t *testing.T) {
	f := NewFrameChecker(FrameLimits{})
	out, err := f.Filter(nil, []byte("*x\r\n"))
	if err != ErrProtoMultibulkLen || len(out) != 0 {
		t.Fatalf("Filter = %q, %q", out, err)
	}
	out, err = f.Filter(out, []byte("*1\r\n$4\r\nPING\r\n"))
	if err != ErrProtoMultibulkLen || len(out) != 0 {
		t.Fatalf("after error: Filter = %q, %q", out, err)
	}
	if n, err := f.Feed([]byte("PING\r\n")); n != 0 || err != ErrProtoMultibulkLen {
		t.Fatalf("after error: Feed = %d, %q", n, err)
	}
	f.Reset()
	if out, err := f.Filter(nil, []byte("PING\r\n")); err != "" || string(out) != "PING\r\n" {
		t.Fatalf("after Reset: Filter = %q, %q", out, err)
	}
}

func TestFrameCheckerUnauthenticated(t *testing.T) {
	tests := []struct {
		in, out, err string
	}{
		{"*10\r\n", "*10\r\n", ""},
		{"*11\r\n", "", ErrProtoUnauthMbulk},
		{"*x\r\n", "", ErrProtoMultibulkLen},
		{"*1\r\n$16384\r\n", "*1\r\n$16384\r\n", ""},
		{"*1\r\n$16385\r\n", "*1\r\n", ErrProtoUnauthBulk},
		{"*1\r\n$-1\r\n", "*1\r\n", ErrProtoBulkLen},
		{"*1\r\n$4\r\nPING\r\n", "*1\r\n$4\r\nPING\r\n", ""},
	}
	for _, tt := range tests {
		f := NewFrameChecker(FrameLimits{})
		f.SetAuthRequired(true)
		out, err := f.Filter(nil, []byte(tt.in))
		if string(out) != tt.out || err != tt.err {
			t.Errorf("%q: Filter = %q, %q; want %q, %q", tt.in, out, err, tt.out, tt.err)
		}
	}
	f := NewFrameChecker(FrameLimits{})
	f.SetAuthRequired(true)
	f.SetAuthRequired(false)
	if _, err := f.Filter(nil, []byte("*11\r\n")); err != "" {
		t.Errorf("after authentication: %q", err)
	}
}

// TestFrameCheckerBigBulk streams a 100 MB bulk in 64 KiB pieces: it is
// counted, not buffered, and passes through unchanged.
func TestFrameCheckerBigBulk(t *testing.T) {
	const size = 100 << 20
	f := NewFrameChecker(FrameLimits{})
	head := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n", size)
	out, err := f.Filter(nil, []byte(head))
	if err != "" || string(out) != head {
		t.Fatalf("head: %q, %q", out, err)
	}
	chunk := bytes.Repeat([]byte("v"), 64<<10)
	buf := make([]byte, 0, len(chunk))
	total := 0
	for total < size {
		c := chunk
		if size-total < len(c) {
			c = c[:size-total]
		}
		buf, err = f.Filter(buf[:0], c)
		if err != "" || len(buf) != len(c) {
			t.Fatalf("at %d: %d bytes out, %q", total, len(buf), err)
		}
		total += len(c)
	}
	out, err = f.Filter(nil, []byte("\r\n"+"PING\r\n"))
	if err != "" || string(out) != "\r\nPING\r\n" {
		t.Fatalf("tail: %q, %q", out, err)
	}
	// Over the default 512 MiB bulk limit.
	out, err = NewFrameChecker(FrameLimits{}).Filter(nil, []byte("*1\r\n$536870913\r\n"))
	if err != ErrProtoBulkLen || string(out) != "*1\r\n" {
		t.Fatalf("huge bulk: %q, %q", out, err)
	}
}

func FuzzFrameChecker(f *testing.F) {
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*0\r\nPING\r\n"), uint8(3))
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$-1\r\n"), uint8(1))
	f.Add([]byte("*1\rx$2\ryabcd*-1\r\n"), uint8(7))
	f.Add([]byte("a\x00b\nPING\r\n"), uint8(2))
	f.Add([]byte("*1\r\n"+strings.Repeat("9", 40)), uint8(5))
	f.Add([]byte("*11\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), uint8(1))
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$40\r\n"+strings.Repeat("x", 40)+"\r\n"), uint8(9))
	lim := FrameLimits{MaxBulkLen: 64, MaxMultibulk: 16, MaxInline: 32, MaxQueryBuffer: 200}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		unauth := step&1 == 1
		whole, werr := filterChunks(lim, unauth, data)
		bytewise, berr := filterChunks(lim, unauth, byteChunks(data)...)
		var chunks [][]byte
		for i, k := 0, 0; i < len(data); k++ {
			n := 1 + (int(step)+k*7)%17
			if n > len(data)-i {
				n = len(data) - i
			}
			chunks = append(chunks, data[i:i+n])
			i += n
		}
		split, serr := filterChunks(lim, unauth, chunks...)
		for _, v := range []struct {
			out []byte
			err string
		}{{bytewise, berr}, {split, serr}} {
			if sameVerdict(whole, werr, v.out, v.err) {
				continue
			}
			// The one allowed difference: a split empty request refused.
			if v.err != ErrProtoMultibulkLen || !bytes.HasPrefix(whole, v.out[:lastRequestStart(v.out)]) {
				t.Fatalf("verdicts differ:\nwhole %q %q\nsplit %q %q", whole, werr, v.out, v.err)
			}
		}
		if inPlace, ierr := filterInPlace(lim, unauth, chunks); ierr != serr || !bytes.Equal(inPlace, split) {
			t.Fatalf("in place: %q %q, want %q %q", inPlace, ierr, split, serr)
		}
		n1, e1 := feedChunks(lim, unauth, data)
		n2, e2 := feedChunks(lim, unauth, byteChunks(data)...)
		if n1 != n2 || e1 != e2 || e1 != werr {
			t.Fatalf("Feed verdicts differ: %d %q / %d %q / Filter %q", n1, e1, n2, e2, werr)
		}
		if werr == "" && n1 != len(data) {
			t.Fatalf("Feed consumed %d of %d bytes without error", n1, len(data))
		}
		if len(whole) > len(data)+8 {
			t.Fatalf("output %d bytes for %d of input", len(whole), len(data))
		}
	})
}

// stripPartial drops a trailing incomplete header line ("*12", "$-1\r"),
// which Filter emits at the end of a call and which then stays when a
// later call finds the line invalid.
func stripPartial(out []byte) []byte {
	i := bytes.LastIndexByte(out, '\n')
	if tail := out[i+1:]; len(tail) > 0 && (tail[0] == '*' || tail[0] == '$') {
		return out[:i+1]
	}
	return out
}

// sameVerdict reports whether two Filter results of one stream agree: the
// same error and output, up to a trailing partial header line (how much of
// it went out depends on where the reads were cut).
func sameVerdict(a []byte, aerr string, b []byte, berr string) bool {
	if aerr != berr {
		return false
	}
	return bytes.Equal(stripPartial(a), stripPartial(b))
}

// lastRequestStart returns where the last '*' of out is (0 if none): the
// start of the request a split-empty refusal cut short.
func lastRequestStart(out []byte) int {
	if i := bytes.LastIndexByte(out, '*'); i >= 0 {
		return i
	}
	return 0
}

// setStream returns n pipelined "SET key:%012d <32 bytes>" requests.
func setStream(n int) []byte {
	var b []byte
	val := bytes.Repeat([]byte("x"), 32)
	for i := 0; i < n; i++ {
		b = AppendCommand(b, []byte("SET"), []byte(fmt.Sprintf("key:%012d", i)), val)
	}
	return b
}

func BenchmarkFilterSET(b *testing.B) {
	in := setStream(1000)
	f := NewFrameChecker(FrameLimits{})
	dst := make([]byte, 0, len(in)+64)
	b.ReportAllocs()
	b.ResetTimer()
	b.SetBytes(int64(len(in)))
	for i := 0; i < b.N; i++ {
		var err string
		if dst, err = f.Filter(dst[:0], in); err != "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilterSETInPlace filters as the server does, Filter(p[:0], p);
// a valid stream comes out unchanged, so the buffer can be reused.
func BenchmarkFilterSETInPlace(b *testing.B) {
	in := setStream(1000)
	f := NewFrameChecker(FrameLimits{})
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := f.Filter(in[:0], in); err != "" || len(out) != len(in) {
			b.Fatal(err, len(out))
		}
	}
}

func BenchmarkFeedSET(b *testing.B) {
	in := setStream(1000)
	f := NewFrameChecker(FrameLimits{})
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Feed(in); err != "" {
			b.Fatal(err)
		}
	}
}
