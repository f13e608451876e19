package bitops

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func args(ss ...string) [][]byte { return toBytes(ss) }

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"123", 123, true},
		{"9223372036854775807", 1<<63 - 1, true}, {"-9223372036854775808", -1 << 63, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false}, {"", 0, false}, {"-", 0, false},
		{"-0", 0, false}, {"01", 0, false}, {"+1", 0, false}, {" 1", 0, false},
		{"1 ", 0, false}, {"1a", 0, false}, {"00", 0, false}, {"184467440737095516150", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInt(%q) = %d,%v want %d,%v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseBitOffset(t *testing.T) {
	tests := []struct {
		in   string
		max  int64
		want uint64
		err  string
	}{
		{"0", 0, 0, ""}, {"4294967295", 0, 1<<32 - 1, ""}, {"4294967296", 0, 0, ErrBitOffset},
		{"-1", 0, 0, ErrBitOffset}, {"01", 0, 0, ErrBitOffset}, {"+1", 0, 0, ErrBitOffset},
		{"#1", 0, 0, ErrBitOffset}, {"x", 0, 0, ErrBitOffset}, {"", 0, 0, ErrBitOffset},
		{"7", 1, 7, ""}, {"8", 1, 0, ErrBitOffset},
	}
	for _, tt := range tests {
		got, err := ParseBitOffset([]byte(tt.in), tt.max)
		if got != tt.want || err != tt.err {
			t.Errorf("ParseBitOffset(%q,%d) = %d,%q want %d,%q", tt.in, tt.max, got, err, tt.want, tt.err)
		}
	}
}

func TestParseBit(t *testing.T) {
	for in, want := range map[string]string{"0": "", "1": "", "2": ErrBitValue, "-1": ErrBitValue, "-0": ErrBitValue, "x": ErrBitValue, "": ErrBitValue, "01": ErrBitValue} {
		if _, err := ParseBit([]byte(in)); err != want {
			t.Errorf("ParseBit(%q) = %q want %q", in, err, want)
		}
	}
	for in, want := range map[string]string{"0": "", "1": "", "2": ErrBitArg, "-1": ErrBitArg, "x": ErrNotInteger, "": ErrNotInteger} {
		if _, err := ParseBitArg([]byte(in)); err != want {
			t.Errorf("ParseBitArg(%q) = %q want %q", in, err, want)
		}
	}
}

// TestSetBitDocs follows the SETBIT and GETBIT documentation examples.
func TestSetBitDocs(t *testing.T) {
	v, old := SetBit(nil, 7, 1)
	if old != 0 || !bytes.Equal(v, []byte{0x01}) {
		t.Fatalf("SETBIT 7 1 = %v,%d", v, old)
	}
	for off, want := range map[uint64]byte{0: 0, 7: 1, 100: 0} {
		if got := GetBit(v, off); got != want {
			t.Errorf("GETBIT %d = %d want %d", off, got, want)
		}
	}
	v2, old := SetBit(v, 7, 0)
	if old != 1 || !bytes.Equal(v2, []byte{0x00}) || v[0] != 0x01 {
		t.Fatalf("SETBIT 7 0 = %v,%d (input now %v)", v2, old, v)
	}
	v3, old := SetBit(v, 7, 1) // no change: same slice back
	if old != 1 || &v3[0] != &v[0] {
		t.Fatalf("unchanged SETBIT should return the input")
	}
	v4, _ := SetBit([]byte{0xff}, 23, 1)
	if !bytes.Equal(v4, []byte{0xff, 0, 1}) {
		t.Fatalf("grow = %v", v4)
	}
}

func TestSetGetBitProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var v []byte
	ref := map[uint64]byte{}
	for range 2000 {
		off := uint64(r.IntN(400))
		bit := byte(r.IntN(2))
		nv, old := SetBit(v, off, bit)
		if old != ref[off] {
			t.Fatalf("old bit at %d = %d want %d", off, old, ref[off])
		}
		ref[off] = bit
		v = nv
		if got := GetBit(v, off); got != bit {
			t.Fatalf("GetBit(%d) = %d after SetBit %d", off, got, bit)
		}
		if uint64(len(v)) < off/8+1 {
			t.Fatalf("not grown: len %d off %d", len(v), off)
		}
	}
	var ones int64
	for _, b := range ref {
		ones += int64(b)
	}
	if got := BitCount(v, Range{}); got != ones {
		t.Fatalf("BitCount = %d want %d", got, ones)
	}
}

func TestParseBitCount(t *testing.T) {
	tests := []struct {
		args []string
		want Range
		err  string
	}{
		{nil, Range{}, ""},
		{[]string{"1"}, Range{}, ErrSyntax},
		{[]string{"1", "2", "bit", "x"}, Range{}, ErrSyntax},
		{[]string{"x", "2"}, Range{}, ErrNotInteger},
		{[]string{"1", "x"}, Range{}, ErrNotInteger},
		{[]string{"1", "2", "bits"}, Range{}, ErrSyntax},
		{[]string{"-1", "-5", "bits"}, Range{HasStart: true, HasEnd: true, Start: -1, End: -5}, ""},
		{[]string{"1", "-2", "BIT"}, Range{HasStart: true, HasEnd: true, Start: 1, End: -2, Bit: true}, ""},
		{[]string{"1", "2", "byte"}, Range{HasStart: true, HasEnd: true, Start: 1, End: 2}, ""},
	}
	for _, tt := range tests {
		got, err := ParseBitCount(args(tt.args...))
		if err != tt.err || (err == "" && got != tt.want) {
			t.Errorf("ParseBitCount(%q) = %+v,%q want %+v,%q", tt.args, got, err, tt.want, tt.err)
		}
	}
}

func TestBitCount(t *testing.T) {
	foobar := []byte("foobar")
	tests := []struct {
		v    []byte
		args []string
		want int64
	}{
		// The BITCOUNT documentation's examples.
		{foobar, nil, 26}, {foobar, []string{"0", "0"}, 4}, {foobar, []string{"1", "1"}, 6},
		{foobar, []string{"1", "1", "BYTE"}, 6}, {foobar, []string{"5", "30", "BIT"}, 17},
		{nil, nil, 0}, {nil, []string{"0", "-1"}, 0}, {[]byte{}, []string{"0", "-1", "bit"}, 0},
		{foobar, []string{"0", "-1"}, 26}, {foobar, []string{"-100", "100"}, 26},
		{foobar, []string{"-2", "-1"}, 7}, {foobar, []string{"-1", "-2"}, 0}, {foobar, []string{"4", "2"}, 0},
		{foobar, []string{"6", "100"}, 0}, {foobar, []string{"0", "-1", "bit"}, 26},
		{foobar, []string{"-1", "-1", "bit"}, 0}, {foobar, []string{"-2", "-1", "bit"}, 1},
		{[]byte{0xff, 0xff}, []string{"3", "12", "bit"}, 10}, {[]byte{0xff}, []string{"3", "3", "bit"}, 1},
		{[]byte{0xff}, []string{"9", "20", "bit"}, 0},
	}
	for _, tt := range tests {
		r, err := ParseBitCount(args(tt.args...))
		if err != "" {
			t.Fatalf("%q: %s", tt.args, err)
		}
		if got := BitCount(tt.v, r); got != tt.want {
			t.Errorf("BITCOUNT %q %q = %d want %d", tt.v, tt.args, got, tt.want)
		}
	}
}

// naiveBitCount counts bits in [s, e] bit offsets one by one.
func naiveBitCount(v []byte, s, e int64) int64 {
	var n int64
	for i := s; i <= e; i++ {
		n += int64(GetBit(v, uint64(i)))
	}
	return n
}

func TestBitCountProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		v := make([]byte, r.IntN(70))
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		total := int64(len(v)) * 8
		s, e := r.Int64N(total+20)-10, r.Int64N(total+20)-10
		got := BitCount(v, Range{HasStart: true, HasEnd: true, Start: s, End: e, Bit: true})
		if s < 0 && e < 0 && s > e {
			if got != 0 {
				t.Fatalf("negative inverted range counted %d", got)
			}
			continue
		}
		if s < 0 {
			s = max(s+total, 0)
		}
		if e < 0 {
			e = max(e+total, 0)
		}
		e = min(e, total-1)
		if want := naiveBitCount(v, s, e); got != want {
			t.Fatalf("BitCount(%x, %d..%d bit) = %d want %d", v, s, e, got, want)
		}
	}
	big := bytes.Repeat([]byte{0xa5, 0xff, 0x00, 0x01}, 1000)
	if got := BitCount(big[3:], Range{}); got != int64(1000*(4+8+0+1)-12) {
		t.Fatalf("big popcount = %d", got)
	}
}

func TestParseBitPos(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{nil, ErrSyntax}, {[]string{"x"}, ErrNotInteger}, {[]string{"2"}, ErrBitArg},
		{[]string{"-1"}, ErrBitArg}, {[]string{"1"}, ""}, {[]string{"0", "x"}, ErrNotInteger},
		{[]string{"0", "1", "x"}, ErrNotInteger}, {[]string{"0", "1", "x", "foo"}, ErrSyntax},
		{[]string{"0", "1", "2", "foo"}, ErrSyntax}, {[]string{"0", "1", "2", "bit", "x"}, ErrSyntax},
		{[]string{"0", "1", "2", "BIT"}, ""}, {[]string{"x", "1", "2", "bit", "x"}, ErrNotInteger},
	}
	for _, tt := range tests {
		if _, err := ParseBitPos(args(tt.args...)); err != tt.err {
			t.Errorf("ParseBitPos(%q) = %q want %q", tt.args, err, tt.err)
		}
	}
}

func TestBitPos(t *testing.T) {
	tests := []struct {
		v      []byte
		exists bool
		args   []string
		want   int64
	}{
		// The BITPOS documentation's examples.
		{[]byte{0xff, 0xf0, 0x00}, true, []string{"0"}, 12},
		{[]byte{0x00, 0xff, 0xf0}, true, []string{"1", "0"}, 8},
		{[]byte{0x00, 0xff, 0xf0}, true, []string{"1", "2"}, 16},
		{[]byte{0x00, 0xff, 0xf0}, true, []string{"1", "2", "-1", "BYTE"}, 16},
		{[]byte{0x00, 0xff, 0xf0}, true, []string{"1", "7", "15", "BIT"}, 8},
		{[]byte{0x00, 0x00, 0x00}, true, []string{"1"}, -1},
		{[]byte{0x00, 0x00, 0x00}, true, []string{"1", "7", "-3", "BIT"}, -1},
		// Missing key: infinite zeros. Empty string: no bits.
		{nil, false, []string{"0"}, 0}, {nil, false, []string{"1"}, -1}, {nil, false, []string{"0", "5", "9"}, 0},
		{[]byte{}, true, []string{"0"}, -1}, {[]byte{}, true, []string{"1"}, -1},
		// Bit 0 on all ones: past the end without an end, -1 with one.
		{[]byte{0xff, 0xff, 0xff}, true, []string{"0"}, 24},
		{[]byte{0xff, 0xff, 0xff}, true, []string{"0", "1"}, 24},
		{[]byte{0xff, 0xff, 0xff}, true, []string{"0", "1", "-1"}, -1},
		{[]byte{0xff, 0xff, 0xff}, true, []string{"0", "0", "-1", "bit"}, -1},
		{[]byte{0xff, 0xff, 0xff}, true, []string{"0", "5"}, -1},
		{bytes.Repeat([]byte{0xff}, 100), true, []string{"0", "3"}, 800},
		{append(bytes.Repeat([]byte{0}, 100), 0x10), true, []string{"1"}, 803},
		{append(bytes.Repeat([]byte{0}, 100), 0x10), true, []string{"1", "0", "802", "bit"}, -1},
		{append(bytes.Repeat([]byte{0}, 100), 0x10), true, []string{"1", "0", "803", "bit"}, 803},
		{[]byte{0x0f}, true, []string{"1", "2", "5", "bit"}, 4},
		{[]byte{0x0f}, true, []string{"0", "2", "3", "bit"}, 2},
		{[]byte{0x0f}, true, []string{"0", "4", "7", "bit"}, -1},
		{[]byte{0x0f}, true, []string{"1", "-3", "-1", "bit"}, 5},
	}
	for _, tt := range tests {
		a, err := ParseBitPos(args(tt.args...))
		if err != "" {
			t.Fatalf("%q: %s", tt.args, err)
		}
		if got := BitPos(tt.v, tt.exists, a); got != tt.want {
			t.Errorf("BITPOS %x %q = %d want %d", tt.v, tt.args, got, tt.want)
		}
	}
}

func TestBitPosProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 3000 {
		v := make([]byte, r.IntN(60))
		fill := byte(r.IntN(2)) * 0xff
		for i := range v {
			v[i] = fill
			if r.IntN(20) == 0 {
				v[i] = byte(r.Uint32())
			}
		}
		bit := byte(r.IntN(2))
		total := int64(len(v)) * 8
		s, e := r.Int64N(total+1), r.Int64N(total+1)
		got := scanBit(v, s, min(e, total-1), bit)
		want := int64(-1)
		for i := s; i <= min(e, total-1); i++ {
			if GetBit(v, uint64(i)) == bit {
				want = i
				break
			}
		}
		if got != want {
			t.Fatalf("scanBit(%x, %d, %d, %d) = %d want %d", v, s, e, bit, got, want)
		}
	}
}

func TestOp(t *testing.T) {
	res, err := Op("AND", [][]byte{[]byte("foobar"), []byte("abcdef")})
	if err != "" || string(res) != "`bc`ab" { // the BITOP documentation's example
		t.Fatalf("AND = %q,%q", res, err)
	}
	tests := []struct {
		op   string
		srcs []string
		want string
		err  string
	}{
		{"or", []string{"\x01", "\x10\x01"}, "\x11\x01", ""},
		{"xor", []string{"\xff\x0f", "\x0f", ""}, "\xf0\x0f", ""},
		{"and", []string{"\xff\x0f", "\x0f"}, "\x0f\x00", ""},
		{"and", []string{"\xff\x0f", ""}, "\x00\x00", ""},
		{"Not", []string{"\x0f\xf0"}, "\xf0\x0f", ""},
		{"not", []string{""}, "", ""},
		{"and", []string{"", ""}, "", ""},
		{"not", []string{"a", "b"}, "", ErrBitopNot},
		{"nand", []string{"a"}, "", ErrSyntax},
	}
	for _, tt := range tests {
		res, err := Op(tt.op, args(tt.srcs...))
		if err != tt.err || string(res) != tt.want {
			t.Errorf("BITOP %s %q = %q,%q want %q,%q", tt.op, tt.srcs, res, err, tt.want, tt.err)
		}
	}
	if OpXor.String() != "XOR" || OpCode(9).String() != "UNKNOWN" {
		t.Error("OpCode.String")
	}
}

func TestOpProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 500 {
		srcs := make([][]byte, 1+r.IntN(4))
		for i := range srcs {
			srcs[i] = make([]byte, r.IntN(50))
			for j := range srcs[i] {
				srcs[i][j] = byte(r.Uint32())
			}
		}
		orig := make([][]byte, len(srcs))
		for i := range srcs {
			orig[i] = bytes.Clone(srcs[i])
		}
		for _, op := range []OpCode{OpAnd, OpOr, OpXor, OpNot} {
			in := srcs
			if op == OpNot {
				in = srcs[:1]
			}
			got, want := Compute(op, in), naiveOp(op, in)
			if !bytes.Equal(got, want) {
				t.Fatalf("%v %x = %x want %x", op, in, got, want)
			}
		}
		for i := range srcs {
			if !bytes.Equal(srcs[i], orig[i]) {
				t.Fatal("Compute modified a source")
			}
		}
	}
}

func naiveOp(op OpCode, srcs [][]byte) []byte {
	n := 0
	for _, s := range srcs {
		n = max(n, len(s))
	}
	if n == 0 {
		return nil
	}
	at := func(s []byte, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	out := make([]byte, n)
	for i := range out {
		b := at(srcs[0], i)
		for _, s := range srcs[1:] {
			switch op {
			case OpAnd:
				b &= at(s, i)
			case OpOr:
				b |= at(s, i)
			case OpXor:
				b ^= at(s, i)
			}
		}
		if op == OpNot {
			b = ^b
		}
		out[i] = b
	}
	return out
}

func TestSetBitInPlaceMatchesSetBit(t *testing.T) {
	v := []byte{0xf0, 0x0f}
	for off := uint64(0); off < 16; off++ {
		for _, bit := range []byte{0, 1} {
			want, _ := SetBit(v, off, bit)
			got := append([]byte(nil), v...)
			SetBitInPlace(got, off, bit)
			if string(got) != string(want) {
				t.Fatalf("off %d bit %d: %x, want %x", off, bit, got, want)
			}
		}
	}
}
