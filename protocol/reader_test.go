package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// chunkReader returns its chunks one per Read (a socket's reads).
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if n == len(c.chunks[0]) {
		c.chunks = c.chunks[1:]
	} else {
		c.chunks[0] = c.chunks[0][n:]
	}
	return n, nil
}

// onceReader returns b in one Read, then nothing until b is set again.
type onceReader struct{ b []byte }

func (o *onceReader) Read(p []byte) (int, error) {
	n := copy(p, o.b)
	o.b = o.b[n:]
	return n, nil
}

// readAll reads every request from the chunks with a Reader of the given
// buffer size, copying each, and the error that ended the stream.
func readAll(size int, chunks ...[]byte) ([][][]byte, error) {
	return drain(NewRequestReader(&chunkReader{chunks: chunks}, size))
}

// drain reads every request from rd, copying each, and the error that
// ended the stream.
func drain(rd *RequestReader) ([][][]byte, error) {
	var out [][][]byte
	for {
		args, err := rd.Next()
		if err != nil {
			return out, err
		}
		if args == nil {
			if err := rd.Fill(); err != nil {
				return out, err
			}
			continue
		}
		cp := make([][]byte, len(args))
		for i, a := range args {
			cp[i] = append([]byte{}, a...)
		}
		out = append(out, cp)
	}
}

func encode(reqs [][][]byte) []byte {
	var b []byte
	for _, args := range reqs {
		b = append(b, '*')
		b = strconv.AppendInt(b, int64(len(args)), 10)
		b = append(b, "\r\n"...)
		for _, a := range args {
			b = append(b, '$')
			b = strconv.AppendInt(b, int64(len(a)), 10)
			b = append(b, "\r\n"...)
			b = append(b, a...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

func TestRequestReader(t *testing.T) {
	in := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET k\r\n\r\n  \r\n*1\r\n$0\r\n\r\nECHO \"a b\\x41\" 'c\\'d'\n"
	want := [][]string{{"SET", "k", "hello"}, {"GET", "k"}, {""}, {"ECHO", "a bA", "c'd"}}
	for _, size := range []int{1, 3, 16, 0} {
		got, err := readAll(size, []byte(in))
		if err != io.EOF {
			t.Fatalf("size %d: err %v", size, err)
		}
		if len(got) != len(want) {
			t.Fatalf("size %d: %d requests, want %d: %q", size, len(got), len(want), got)
		}
		for i := range want {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("size %d: request %d = %q, want %q", size, i, got[i], want[i])
			}
			for j := range want[i] {
				if string(got[i][j]) != want[i][j] {
					t.Fatalf("size %d: request %d = %q, want %q", size, i, got[i], want[i])
				}
			}
		}
	}
}

func TestRequestReaderErrors(t *testing.T) {
	for in, want := range map[string]string{
		"*x\r\n":             ErrProtoMultibulkLen,
		"*1\r\n$x\r\n":       ErrProtoBulkLen,
		"*1\r\n$-2\r\n":      ErrProtoBulkLen,
		"*1\r\nPING\r\n":     ErrProtoBulkLen,
		"SET \"a\r\n":        ErrProtoQuotes,
		"SET \"a\"b\r\n":     ErrProtoQuotes,
		"SET 'a\r\n":         ErrProtoQuotes,
		"PING\r\nSET 'a'b\n": ErrProtoQuotes,
	} {
		_, err := readAll(0, []byte(in))
		if err == nil || !IsProtocolError(err) || err.Error() != want {
			t.Errorf("%q: err %v, want %q", in, err, want)
		}
	}
}

// TestRequestReaderResumes reads one request of many arguments arriving a
// few bytes at a time, and a request larger than the buffer.
func TestRequestReaderResumes(t *testing.T) {
	var req [][]byte
	for i := range 5000 {
		req = append(req, []byte(strconv.Itoa(i)))
	}
	big := [][]byte{[]byte("SET"), []byte("k"), bytes.Repeat([]byte("v"), 100000)}
	data := encode([][][]byte{req, big, req})
	var chunks [][]byte
	for i := 0; i < len(data); i += 7 {
		chunks = append(chunks, data[i:min(i+7, len(data))])
	}
	got, err := readAll(64, chunks...)
	if err != io.EOF || !bytes.Equal(encode(got), data) {
		t.Fatalf("err %v, %d requests", err, len(got))
	}
}

// TestRequestReaderNoAllocs: a pipelined batch of multibulk and inline
// requests parses without allocating once the buffers are warm.
func TestRequestReaderNoAllocs(t *testing.T) {
	batch := []byte(strings.Repeat("*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$8\r\nabcdefgh\r\nGET key:1\r\n", 16))
	src := &onceReader{}
	rd := NewRequestReader(src, 0)
	allocs := testing.AllocsPerRun(100, func() {
		src.b = batch
		if err := rd.Fill(); err != nil {
			t.Fatal(err)
		}
		for n := 0; ; n++ {
			args, err := rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			if args == nil {
				if n != 32 {
					t.Fatalf("%d requests", n)
				}
				return
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
}

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  a   b\tc ", []string{"a", "b", "c"}},
		{`"a\x41\x4g\n\r\t\b\a\z\"" b`, []string{"aAx4g\n\r\t\b\a" + "z\"", "b"}},
		{`'a\'b\n' ""`, []string{`a'b\n`, ""}},
		{`a"b c"d`, nil}, // a closing quote must be followed by a blank
		{`a"b c" d`, []string{"ab c", "d"}},
		{"a\x00b c", []string{"a"}}, // a C string ends at NUL
		{"a\vb", []string{"a\vb"}},
	} {
		got, ok := SplitArgs([]byte(tc.in), nil)
		if tc.want == nil && tc.in != "" {
			if ok {
				t.Errorf("%q: %q, want an error", tc.in, got)
			}
			continue
		}
		if !ok || len(got) != len(tc.want) {
			t.Errorf("%q: %q %v, want %q", tc.in, got, ok, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
			}
		}
	}
}

// FuzzRequestReader feeds arbitrary bytes, whole and cut into chunks, to
// a FrameChecker and a Reader behind it: the same requests come out
// however the stream is cut, and re-encoding them reads back the same.
func FuzzRequestReader(f *testing.F) {
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*0\r\nPING\r\n"), uint8(3))
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$-1\r\n"), uint8(1))
	f.Add([]byte("SET \"a b\" 'c'\r\nGET\x00 x\n"), uint8(2))
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$40\r\n"+strings.Repeat("x", 40)+"\r\n"), uint8(9))
	lim := FrameLimits{MaxBulkLen: 64, MaxMultibulk: 16, MaxInline: 32, MaxQueryBuffer: 200}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		read := func(chunks ...[]byte) ([][][]byte, error) {
			fc := NewFrameChecker(lim)
			var filtered [][]byte
			for _, c := range chunks {
				out, errText := fc.Filter(nil, c)
				filtered = append(filtered, out)
				if errText != "" {
					reqs, _ := readAll(int(step%64)+1, filtered...)
					return reqs, errors.New(errText)
				}
			}
			return readAll(int(step%64)+1, filtered...)
		}
		whole, werr := read(data)
		var chunks [][]byte
		for i, k := 0, 0; i < len(data); k++ {
			n := min(1+(int(step)+k*7)%17, len(data)-i)
			chunks = append(chunks, data[i:i+n])
			i += n
		}
		split, serr := read(chunks...)
		if werr == io.EOF && serr == io.EOF && !bytes.Equal(encode(whole), encode(split)) {
			t.Fatalf("whole %q, split %q", whole, split)
		}
		again, err := readAll(0, encode(whole))
		if err != io.EOF || !bytes.Equal(encode(again), encode(whole)) {
			t.Fatalf("round trip: %q %v, want %q", again, err, whole)
		}
	})
}

// filterReader filters each Read through a FrameChecker, as a server
// did before RequestReader.Check: the bytes before a violation, then
// the violation as a FrameError.
type filterReader struct {
	rd      io.Reader
	fc      *FrameChecker
	pending string
}

func (f *filterReader) Read(p []byte) (int, error) {
	for {
		if f.pending != "" {
			return 0, FrameError(f.pending)
		}
		n, err := f.rd.Read(p)
		if n == 0 {
			return 0, err
		}
		out, errText := f.fc.Filter(p[:0], p[:n])
		f.pending = errText
		if len(out) > 0 {
			return len(out), nil
		}
	}
}

// FuzzRequestReaderCheck compares a Reader checking with a FrameChecker
// (Check) with a Reader behind the same checker filtering every read: the
// same requests, then the same error, however the stream is cut.
func FuzzRequestReaderCheck(f *testing.F) {
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*0\r\nPING\r\n"), uint8(3), false)
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$-1\r\n"), uint8(1), false)
	f.Add([]byte("SET \"a b\" 'c'\r\nGET\x00 x\n"), uint8(2), false)
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$40\r\n"+strings.Repeat("x", 40)+"\r\n"), uint8(9), false)
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*2\r\n$1\r\na\r\n$65\r\n"), uint8(200), false)
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPINGxx*1\r\n$1\r\nx\r\n"), uint8(5), true)
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*11\r\n"), uint8(64), true)
	lim := FrameLimits{MaxBulkLen: 64, MaxMultibulk: 16, MaxInline: 32, MaxQueryBuffer: 200}
	f.Fuzz(func(t *testing.T, data []byte, step uint8, unauth bool) {
		var chunks [][]byte
		for i, k := 0, 0; i < len(data); k++ {
			n := min(1+(int(step)+k*7)%97, len(data)-i)
			chunks = append(chunks, data[i:i+n])
			i += n
		}
		size := int(step%64) + 1
		if step >= 128 {
			size = RequestReaderSize
		}
		// Each chunkReader consumes its own copy of the list.
		want, werr := drain(NewRequestReader(&filterReader{rd: &chunkReader{chunks: slices.Clone(chunks)}, fc: checker(lim, unauth)}, size))
		rd := NewRequestReader(&chunkReader{chunks: slices.Clone(chunks)}, size)
		rd.Check(checker(lim, unauth))
		got, gerr := drain(rd)
		if !bytes.Equal(encode(got), encode(want)) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("checked: %q %v\nfiltered: %q %v", got, gerr, want, werr)
		}
	})
}

func checker(lim FrameLimits, unauth bool) *FrameChecker {
	fc := NewFrameChecker(lim)
	fc.SetAuthRequired(unauth)
	return fc
}

// BenchmarkReadSET16 reads a batch of 16 SET requests as a server does:
// "filtered" runs the FrameChecker over each read and then parses (two
// walks over each request's headers), "checked" lets the RequestReader
// check while it parses (RequestReader.Check).
func BenchmarkReadSET16(b *testing.B) {
	var batch []byte
	for i := range 16 {
		batch = append(batch, fmt.Sprintf("*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$32\r\n%s\r\n", i, strings.Repeat("v", 32))...)
	}
	run := func(b *testing.B, rd *RequestReader, src *onceReader) {
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		for b.Loop() {
			src.b = batch
			if err := rd.Fill(); err != nil {
				b.Fatal(err)
			}
			for n := 0; ; n++ {
				args, err := rd.Next()
				if err != nil {
					b.Fatal(err)
				}
				if args == nil {
					if n != 16 {
						b.Fatalf("%d requests, want 16", n)
					}
					break
				}
			}
		}
	}
	b.Run("filtered", func(b *testing.B) {
		src := &onceReader{}
		run(b, NewRequestReader(&filterReader{rd: src, fc: NewFrameChecker(FrameLimits{})}, 0), src)
	})
	b.Run("checked", func(b *testing.B) {
		src := &onceReader{}
		rd := NewRequestReader(src, 0)
		rd.Check(NewFrameChecker(FrameLimits{}))
		run(b, rd, src)
	})
}

// TestRequestReaderPeek: Peek walks the complete multibulk requests
// buffered, as Next then returns them, stops at an inline, partial or
// malformed one, and takes nothing.
func TestRequestReaderPeek(t *testing.T) {
	whole := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$0\r\n\r\n"
	for _, tc := range []struct {
		in   string
		want [][]string // what Peek walks, in order
	}{
		{whole, [][]string{{"GET", "k"}, {"SET", "k2", ""}}},
		{whole + "*2\r\n$3\r\nGET\r\n$5\r\nab", [][]string{{"GET", "k"}, {"SET", "k2", ""}}}, // partial last
		{whole + "GET k\r\n" + whole, [][]string{{"GET", "k"}, {"SET", "k2", ""}}},           // inline stops it
		{"*1\r\n$x\r\n" + whole, nil},
		{"*0\r\n" + whole, nil},
		{"*1\r\n$9223372036854775807\r\nab\r\n", nil},
		{"", nil},
	} {
		src := &onceReader{b: []byte(tc.in)}
		rd := NewRequestReader(src, 0)
		if err := rd.Fill(); err != nil {
			t.Fatal(err)
		}
		var got [][]string
		var args [][]byte
		for pos := 0; ; {
			var next int
			next, args = rd.Peek(pos, args)
			if next == 0 {
				if len(args) != 0 {
					t.Fatalf("%q: args %q with no request", tc.in, args)
				}
				break
			}
			var req []string
			for _, a := range args {
				req = append(req, string(a))
			}
			got = append(got, req)
			pos = next
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("%q: Peek walked %q, want %q", tc.in, got, tc.want)
		}
		if rd.Buffered() != len(tc.in) {
			t.Fatalf("%q: Peek took bytes: %d buffered", tc.in, rd.Buffered())
		}
		for _, want := range tc.want { // Next returns the same requests
			args, err := rd.Next()
			if err != nil || fmt.Sprint(toStrings(args)) != fmt.Sprint(want) {
				t.Fatalf("%q: Next %q %v, want %q", tc.in, args, err, want)
			}
		}
	}
}

func toStrings(args [][]byte) []string {
	var out []string
	for _, a := range args {
		out = append(out, string(a))
	}
	return out
}
