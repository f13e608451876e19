package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReaderNext(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		n    int64
		str  string
	}{
		{"+OK\r\n", KindSimple, 0, "OK"},
		{"-ERR bad\r\n", KindError, 0, "ERR bad"},
		{":-42\r\n", KindInt, -42, ""},
		{":9223372036854775807\r\n", KindInt, 1<<63 - 1, ""},
		{"$5\r\nhello\r\n", KindBulk, 0, "hello"},
		{"$0\r\n\r\n", KindBulk, 0, ""},
		{"$-1\r\n", KindNil, 0, ""},
		{"*-1\r\n", KindNil, 0, ""},
		{"_\r\n", KindNil, 0, ""},
		{"*3\r\n", KindArray, 3, ""},
		{"%2\r\n", KindMap, 2, ""},
		{"~1\r\n", KindSet, 1, ""},
		{">3\r\n", KindPush, 3, ""},
		{",1.5\r\n", KindDouble, 0, "1.5"},
		{"#t\r\n", KindBool, 1, ""},
		{"#f\r\n", KindBool, 0, ""},
		{"(123456789012345678901234567890\r\n", KindBigNumber, 0, "123456789012345678901234567890"},
		{"=8\r\ntxt:abcd\r\n", KindVerbatim, 0, "txt:abcd"},
		{"!9\r\nERR oops!\r\n", KindBlobError, 0, "ERR oops!"},
		{"|1\r\n", KindAttribute, 1, ""},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			var src io.Reader = strings.NewReader(tt.in)
			if chunked {
				src = iotest.OneByteReader(src)
			}
			r := NewReaderSize(src, 8)
			got, err := r.Next()
			if err != nil {
				t.Fatalf("%q: %v", tt.in, err)
			}
			if got.Kind != tt.kind || got.Int != tt.n || string(got.Str) != tt.str {
				t.Errorf("%q (chunked %v) = {%v %d %q}, want {%v %d %q}", tt.in, chunked, got.Kind, got.Int, got.Str, tt.kind, tt.n, tt.str)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("%q: after reply err = %v, want EOF", tt.in, err)
			}
		}
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"?x\r\n", ErrProtocol},
		{"+OK\n", ErrProtocol},
		{"\r\n", ErrProtocol},
		{":12a\r\n", ErrProtocol},
		{":99999999999999999999\r\n", ErrProtocol},
		{"$3\r\nabcd\r\n", ErrProtocol},
		{"$-2\r\n", ErrProtocol},
		{"$x\r\n", ErrProtocol},
		{"*-2\r\n", ErrProtocol},
		{"#x\r\n", ErrProtocol},
		{"=2\r\nab\r\n", ErrProtocol},
		{"$999999999999\r\n", ErrReplyTooLarge},
		{"$5\r\nab", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.in))
		_, err := r.ReadReply()
		if tt.want == io.ErrUnexpectedEOF {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%q: err = %v, want %v", tt.in, err, tt.want)
		}
	}
}

func TestReadReplySkipsNested(t *testing.T) {
	in := "|1\r\n+key\r\n+val\r\n" + // attribute, skipped
		"*3\r\n:1\r\n*2\r\n$1\r\na\r\n%1\r\n+k\r\n*1\r\n_\r\n$2\r\nzz\r\n" +
		"+NEXT\r\n"
	r := NewReaderSize(iotest.HalfReader(strings.NewReader(in)), 16)
	got, err := r.ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != KindArray || got.Int != 3 {
		t.Fatalf("got %v %d, want array 3", got.Kind, got.Int)
	}
	got, err = r.ReadReply()
	if err != nil || got.Kind != KindSimple || string(got.Str) != "NEXT" {
		t.Fatalf("after skip: %v %q %v", got.Kind, got.Str, err)
	}
}

func TestReadValue(t *testing.T) {
	in := "*2\r\n*3\r\n:0\r\n:5460\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n%1\r\n+a\r\n#t\r\n"
	r := NewReader(strings.NewReader(in))
	v, err := r.ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Elems) != 2 || len(v.Elems[0].Elems) != 3 {
		t.Fatalf("shape: %+v", v)
	}
	if got := v.Elems[0].Elems[2].Elems[0].String(); got != "127.0.0.1" {
		t.Errorf("host = %q", got)
	}
	if got := v.Elems[0].Elems[1].String(); got != "5460" {
		t.Errorf("end = %q", got)
	}
	m := v.Elems[1]
	if m.Kind != KindMap || len(m.Elems) != 2 || m.Elems[1].Int != 1 {
		t.Errorf("map = %+v", m)
	}
	deep := strings.Repeat("*1\r\n", maxDepth+2) + ":1\r\n"
	if _, err := NewReader(strings.NewReader(deep)).ReadValue(); !errors.Is(err, ErrProtocol) {
		t.Errorf("deep nesting: err = %v", err)
	}
}

func TestLargeBulkGrowsBuffer(t *testing.T) {
	val := strings.Repeat("x", 100000)
	in := "$100000\r\n" + val + "\r\n+OK\r\n"
	r := NewReaderSize(strings.NewReader(in), 64)
	got, err := r.ReadReply()
	if err != nil || string(got.Str) != val {
		t.Fatalf("bulk: len %d err %v", len(got.Str), err)
	}
	if got, _ := r.ReadReply(); string(got.Str) != "OK" {
		t.Fatalf("next = %q", got.Str)
	}
}

func TestParseRedirect(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want Redirect
	}{
		{"MOVED 3999 127.0.0.1:6381", true, Redirect{Slot: 3999, Addr: "127.0.0.1:6381"}},
		{"ASK 0 10.0.0.1:7000", true, Redirect{Ask: true, Slot: 0, Addr: "10.0.0.1:7000"}},
		{"MOVED 16383 :7000", true, Redirect{Slot: 16383, Addr: ":7000"}},
		{"MOVED 16384 h:1", false, Redirect{}},
		{"MOVED x h:1", false, Redirect{}},
		{"MOVED 12", false, Redirect{}},
		{"MOVED 12 nohostport", false, Redirect{}},
		{"ERR MOVED 1 h:1", false, Redirect{}},
	}
	for _, tt := range tests {
		got, ok := ParseRedirect([]byte(tt.in))
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseRedirect(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	rep := Reply{Kind: KindError, Str: []byte("MOVED 1 h:2")}
	if rd, ok := rep.Redirect(); !ok || rd.Addr != "h:2" {
		t.Errorf("Reply.Redirect = %+v %v", rd, ok)
	}
	if code := string(rep.ErrorCode()); code != "MOVED" {
		t.Errorf("ErrorCode = %q", code)
	}
	if (Reply{Kind: KindBulk, Str: []byte("MOVED 1 h:2")}).ErrorCode() != nil {
		t.Error("ErrorCode of a bulk must be nil")
	}
}

func TestWriterPipeline(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.WriteCommand([]byte("SET"), []byte("k"), []byte("v"))
	w.WriteArray(2)
	w.WriteBulkString("GET")
	w.WriteBulk([]byte("k"))
	if w.Buffered() == 0 || out.Len() != 0 {
		t.Fatal("Writer must buffer until Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
	if out.String() != want {
		t.Errorf("wire = %q, want %q", out.String(), want)
	}
}

// TestReaderZeroAlloc checks the hot path: reading a pipeline of typical
// replies allocates nothing once the buffer is warm.
func TestReaderZeroAlloc(t *testing.T) {
	one := "+OK\r\n$5\r\nhello\r\n$-1\r\n:7\r\n-MOVED 1 h:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"
	src := strings.NewReader("")
	r := NewReader(src)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(one)
		r.Reset(src)
		for i := 0; i < 6; i++ {
			rep, err := r.ReadReply()
			if err != nil {
				t.Fatal(err)
			}
			_ = rep.ErrorCode()
		}
	})
	if allocs != 0 {
		t.Errorf("ReadReply allocates %.1f times per pipeline, want 0", allocs)
	}
}

func TestClientDo(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	done := make(chan error, 1)
	go func() {
		defer c2.Close()
		r := NewReader(c2)
		v, err := r.ReadValue()
		if err != nil {
			done <- err
			return
		}
		if len(v.Elems) != 2 || v.Elems[0].String() != "PING" {
			done <- errors.New("server saw a wrong command")
			return
		}
		_, err = c2.Write([]byte("-ERR nope\r\n"))
		done <- err
	}()
	cl := NewClient(c1, 2*time.Second)
	v, err := cl.DoStrings("PING", "x")
	if err != nil {
		t.Fatal(err)
	}
	var re ReplyError
	if !errors.As(v.Err(), &re) || re.Error() != "ERR nope" {
		t.Errorf("Err() = %v", v.Err())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "$5\r\nhello\r\n", "*2\r\n:1\r\n$-1\r\n", "%1\r\n+a\r\n,1.5\r\n",
		"|1\r\n+a\r\n+b\r\n#t\r\n", "=8\r\ntxt:abcd\r\n", "!3\r\nERR\r\n", ">1\r\n_\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReaderSize(bufio.NewReader(bytes.NewReader(in)), 16)
		r.MaxBulk = 1 << 16
		for i := 0; i < 100; i++ {
			if _, err := r.ReadReply(); err != nil {
				break
			}
		}
		r2 := NewReaderSize(iotest.OneByteReader(bytes.NewReader(in)), 16)
		r2.MaxBulk = 1 << 16
		for i := 0; i < 100; i++ {
			if _, err := r2.ReadValue(); err != nil {
				break
			}
		}
	})
}

func BenchmarkReadReply(b *testing.B) {
	pipe := strings.Repeat("$5\r\nhello\r\n+OK\r\n", 64)
	src := strings.NewReader("")
	r := NewReader(src)
	b.ReportAllocs()
	b.SetBytes(int64(len(pipe)))
	for b.Loop() {
		src.Reset(pipe)
		r.Reset(src)
		for i := 0; i < 128; i++ {
			if _, err := r.ReadReply(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func TestReaderReads(t *testing.T) {
	r := NewReader(strings.NewReader("+A\r\n+B\r\n"))
	if _, err := r.ReadReply(); err != nil {
		t.Fatal(err)
	}
	n := r.Reads()
	if _, err := r.ReadReply(); err != nil {
		t.Fatal(err)
	}
	if n != 1 || r.Reads() != 1 {
		t.Errorf("Reads = %d then %d, want 1 and 1 (second reply was buffered)", n, r.Reads())
	}
}

// TestReaderDetachesLargeBulks: a bulk of DetachFrom bytes or more arrives
// in a slice of its own, byte for byte, whatever the stream's read sizes,
// and the buffer does not grow to hold it; smaller ones stay in the buffer.
func TestReaderDetachesLargeBulks(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	in := "$" + strconv.Itoa(len(big)) + "\r\n" + string(big) + "\r\n$3\r\nabc\r\n=" + strconv.Itoa(len(big)) + "\r\ntxt:" + string(big[4:]) + "\r\n"
	for _, chunk := range []int{1 << 20, 4096, 7} {
		r := NewReaderSize(iotest.HalfReader(&chunkReader{chunks: splitEvery([]byte(in), chunk)}), 64<<10)
		r.DetachFrom = 256 << 10
		rep, err := r.Next()
		if err != nil || rep.Kind != KindBulk || !rep.Detached || !bytes.Equal(rep.Str, big) {
			t.Fatalf("chunk %d: first bulk: kind %v detached %v equal %v err %v", chunk, rep.Kind, rep.Detached, bytes.Equal(rep.Str, big), err)
		}
		first := rep.Str
		if rep, err = r.Next(); err != nil || rep.Detached || string(rep.Str) != "abc" {
			t.Fatalf("chunk %d: small bulk after it: %q detached %v err %v", chunk, rep.Str, rep.Detached, err)
		}
		if rep, err = r.Next(); err != nil || rep.Kind != KindVerbatim || !rep.Detached || string(rep.Str[:4]) != "txt:" || !bytes.Equal(rep.Str[4:], big[4:]) {
			t.Fatalf("chunk %d: verbatim: kind %v detached %v err %v", chunk, rep.Kind, rep.Detached, err)
		}
		if !bytes.Equal(first, big) {
			t.Fatalf("chunk %d: a detached bulk changed under the next reads", chunk)
		}
		if len(r.buf) > 64<<10 {
			t.Fatalf("chunk %d: buffer grew to %d bytes for detached bulks", chunk, len(r.buf))
		}
	}
}

// TestReaderDetachedErrors: a detached bulk cut short is an unexpected EOF,
// and one not followed by CRLF is a protocol error, as for buffered ones.
func TestReaderDetachedErrors(t *testing.T) {
	body := strings.Repeat("x", 5000)
	for in, want := range map[string]error{
		"$5000\r\n" + body[:3000]:                        io.ErrUnexpectedEOF,
		"$5000\r\n" + body + "XY":                        ErrProtocol,
		"$5000\r\n" + body:                               io.EOF,
		"=5000\r\n" + strings.Repeat("y", 5000) + "\r\n": ErrProtocol,
	} {
		r := NewReaderSize(strings.NewReader(in), 64)
		r.DetachFrom = 1000
		if _, err := r.Next(); !errors.Is(err, want) {
			t.Errorf("%.12q…: err %v, want %v", in, err, want)
		}
	}
}

// splitEvery cuts b into chunks of n bytes (the last may be shorter).
func splitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out, b = append(out, b[:n]), b[n:]
	}
	return append(out, b)
}

// FuzzReaderFastPath: Next reads every input as the general path alone
// does (the same elements, the same errors), whether or not the fast
// path for bulk strings and array headers takes an element, and at any
// buffer size.
func FuzzReaderFastPath(f *testing.F) {
	for _, s := range []string{
		"*3\r\n$3\r\nREC\r\n$2\r\n17\r\n$0\r\n\r\n", "$05\r\nhello\r\n", "*-1\r\n$-1\r\n", "$3\r\nab\r\n",
		"$1234567890\r\n", "*01\r\n$1\r\nx\r\n", "$3\r\nabcd\r\n", "$2\nab\r\n", "+OK\r\n$1\r\n", "*9999999999\r\n",
	} {
		f.Add([]byte(s), uint8(16))
	}
	f.Fuzz(func(t *testing.T, in []byte, size uint8) {
		fast := NewReaderSize(bytes.NewReader(in), int(size))
		slow := NewReaderSize(bytes.NewReader(in), int(size))
		fast.MaxBulk, slow.MaxBulk = 1<<16, 1<<16
		fast.DetachFrom, slow.DetachFrom = 1<<10, 1<<10
		slow.slow = true
		for i := 0; i < 100; i++ {
			a, errA := fast.Next()
			b, errB := slow.Next()
			if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() {
				t.Fatalf("element %d: error %v, general path %v", i, errA, errB)
			}
			if errA != nil {
				return
			}
			if a.Kind != b.Kind || a.Int != b.Int || !bytes.Equal(a.Str, b.Str) || a.Detached != b.Detached {
				t.Fatalf("element %d: %+v, general path %+v", i, a, b)
			}
		}
	})
}

// BenchmarkReadFrames reads REC-like frames (an array of seven short
// numbers and a SET) as a replica does, element by element.
func BenchmarkReadFrames(b *testing.B) {
	frame := "*10\r\n$3\r\nREC\r\n$7\r\n1234567\r\n$13\r\n1733551234567\r\n$4\r\n1234\r\n$5\r\n98765\r\n$1\r\n0\r\n$1\r\n0\r\n$3\r\nSET\r\n$16\r\nkey:000000123456\r\n$32\r\nvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n"
	pipe := strings.Repeat(frame, 64)
	src := strings.NewReader("")
	r := NewReaderSize(src, 32<<10)
	b.SetBytes(int64(len(pipe)))
	for b.Loop() {
		src.Reset(pipe)
		r.Reset(src)
		for range 64 * 11 {
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
