package bitops

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
)

// run parses and applies one BITFIELD command to *v, as a handler would.
func run(t *testing.T, v *[]byte, a ...string) []Result {
	t.Helper()
	ops, err := ParseBitfield(args(a...), false)
	if err != "" {
		t.Fatalf("BITFIELD %q: %s", a, err)
	}
	nv, res, _ := apply(*v, ops)
	*v = nv
	return res
}

func ints(vals ...int64) []Result {
	out := make([]Result, len(vals))
	for i, v := range vals {
		out[i] = Result{Value: v}
	}
	return out
}

// TestBitfieldDocs follows the BITFIELD documentation's examples.
func TestBitfieldDocs(t *testing.T) {
	var v []byte
	if got := run(t, &v, "INCRBY", "i5", "100", "1", "GET", "u4", "0"); !reflect.DeepEqual(got, ints(1, 0)) {
		t.Fatalf("INCRBY i5 100 1 GET u4 0 = %v", got)
	}
	v = nil
	for _, want := range [][]Result{ints(1, 1), ints(2, 2), ints(3, 3), ints(0, 3)} {
		if got := run(t, &v, "incrby", "u2", "100", "1", "OVERFLOW", "SAT", "incrby", "u2", "102", "1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("overflow example = %v want %v", got, want)
		}
	}
	if got := run(t, &v, "OVERFLOW", "FAIL", "incrby", "u2", "102", "1"); !reflect.DeepEqual(got, []Result{{Null: true}}) {
		t.Fatalf("FAIL example = %v", got)
	}
	v = nil
	if got := run(t, &v, "SET", "i8", "#0", "100", "SET", "i8", "#1", "200"); !reflect.DeepEqual(got, ints(0, 0)) {
		t.Fatalf("SET #0 #1 = %v", got)
	}
	if got := run(t, &v, "GET", "u8", "#0", "GET", "i8", "8"); !reflect.DeepEqual(got, ints(100, -56)) {
		t.Fatalf("GET = %v", got)
	}
	// Redis quirks checked against redis-server 7.0.15.
	v = nil
	got := run(t, &v, "set", "u8", "0", "-1", "overflow", "sat", "set", "u8", "8", "-1", "set", "i8", "16", "200", "overflow", "wrap", "set", "i8", "24", "200")
	if !reflect.DeepEqual(got, ints(0, 0, 0, 0)) || !bytes.Equal(v, []byte{255, 255, 127, 0xc8}) {
		t.Fatalf("quirks = %v, %x", got, v)
	}
}

// apply runs ops as the BITFIELD handler does, on a copy of v (nil: a
// missing key): grown to WriteExtent(ops) when ops write. It returns the
// value after, the results, and whether the value grew or a field changed.
func apply(v []byte, ops []FieldOp) (nv []byte, res []Result, changed bool) {
	nv = v
	if HasWrite(ops) {
		nv = make([]byte, max(WriteExtent(ops), len(v)))
		copy(nv, v)
		changed = len(nv) > len(v)
	}
	res, diff := ApplyInPlace(nv, ops)
	return nv, res, changed || diff
}

func TestBitfieldFailGrows(t *testing.T) {
	ops, _ := ParseBitfield(args("overflow", "fail", "set", "u8", "800", "999"), false)
	nv, res, changed := apply(nil, ops)
	if len(nv) != 101 || !res[0].Null || !changed {
		t.Fatalf("len %d res %v changed %v; Redis creates the 101-byte key", len(nv), res, changed)
	}
	nv2, _, changed := apply(nv, ops)
	if changed || len(nv2) != 101 {
		t.Fatalf("second FAIL changed=%v", changed)
	}
	ops, _ = ParseBitfield(args("get", "u8", "0"), false)
	in := []byte{7}
	nv, res, changed = apply(in, ops)
	if &nv[0] != &in[0] || changed || res[0].Value != 7 {
		t.Fatal("read-only apply should return the input unchanged")
	}
	ops, _ = ParseBitfield(args("set", "u8", "0", "7"), false)
	if _, _, changed = apply(in, ops); changed {
		t.Fatal("SET to the same value is no change")
	}
	if in[0] != 7 {
		t.Fatal("apply modified its input")
	}
}

func TestParseBitfieldErrors(t *testing.T) {
	tests := []struct {
		args []string
		ro   bool
		err  string
	}{
		{nil, false, ""}, {nil, true, ""},
		{[]string{"get", "u8"}, false, ErrSyntax},
		{[]string{"foo", "u8", "0"}, false, ErrSyntax},
		{[]string{"overflow"}, false, ErrSyntax},
		{[]string{"overflow", "foo"}, false, ErrOverflowType},
		{[]string{"set", "u8", "0"}, false, ErrSyntax},
		{[]string{"get", "I8", "0"}, false, ErrBitfieldType},
		{[]string{"get", "u64", "0"}, false, ErrBitfieldType},
		{[]string{"get", "i65", "0"}, false, ErrBitfieldType},
		{[]string{"get", "i0", "0"}, false, ErrBitfieldType},
		{[]string{"get", "i08", "0"}, false, ErrBitfieldType},
		{[]string{"get", "i", "0"}, false, ErrBitfieldType},
		{[]string{"get", "", "0"}, false, ErrBitfieldType},
		{[]string{"get", "i64", "0"}, false, ""},
		{[]string{"get", "u63", "0"}, false, ""},
		{[]string{"get", "u8", "4294967296"}, false, ErrBitOffset},
		{[]string{"get", "u8", "4294967295"}, false, ""},
		{[]string{"get", "u8", "#536870912"}, false, ErrBitOffset},
		{[]string{"get", "u8", "#536870911"}, false, ""},
		{[]string{"get", "u8", "#-1"}, false, ErrBitOffset},
		{[]string{"get", "i64", "#9223372036854775807"}, false, ErrBitOffset},
		{[]string{"get", "i4", "#4611686018427387905"}, false, ""}, // wraps to 4, as redis-server 7.0.15
		{[]string{"get", "u8", "-1"}, false, ErrBitOffset},
		{[]string{"set", "u8", "0", "x"}, false, ErrNotInteger},
		{[]string{"incrby", "u8", "0", "9223372036854775808"}, false, ErrNotInteger},
		{[]string{"get", "u8", "0", "set", "u8", "0", "1"}, true, ErrBitfieldRO},
		{[]string{"get", "u8", "0", "set", "u8", "0", "x"}, true, ErrNotInteger},
		{[]string{"get", "u8", "0", "overflow", "sat"}, true, ""},
	}
	for _, tt := range tests {
		if _, err := ParseBitfield(args(tt.args...), tt.ro); err != tt.err {
			t.Errorf("ParseBitfield(%q, ro=%v) = %q want %q", tt.args, tt.ro, err, tt.err)
		}
	}
	if ops, _ := ParseBitfield(args("get", "i64", "#288230376151711745"), false); len(ops) != 1 || ops[0].Offset != 64 {
		t.Errorf("wrapped '#' offset = %+v, redis-server uses 64", ops)
	}
	if _, err := ParseBitfieldMax(args("get", "u8", "8"), false, 1); err != ErrBitOffset {
		t.Errorf("small max bulk: %q", err)
	}
}

func TestBitfieldRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, signed := range []bool{false, true} {
		for width := 1; width <= 64; width++ {
			if !signed && width == 64 {
				continue
			}
			typ := "u" + strconv.Itoa(width)
			lo, hi := big.NewInt(0), new(big.Int).Lsh(big.NewInt(1), uint(width))
			if signed {
				typ = "i" + strconv.Itoa(width)
				hi.Rsh(hi, 1)
				lo.Neg(hi)
			}
			hi.Sub(hi, big.NewInt(1))
			for range 20 {
				val := randIn(r, lo, hi)
				off := r.IntN(40)
				v := make([]byte, r.IntN(16))
				for i := range v {
					v[i] = byte(r.Uint32())
				}
				before := bytes.Clone(v)
				got := run(t, &v, "SET", typ, strconv.Itoa(off), val.String(), "GET", typ, strconv.Itoa(off))
				if got[1].Value != val.Int64() {
					t.Fatalf("%s at %d: SET %s then GET %d", typ, off, val, got[1].Value)
				}
				for b := 0; b < len(before)*8; b++ { // bits outside the field unchanged
					if (b < off || b >= off+width) && GetBit(v, uint64(b)) != GetBit(before, uint64(b)) {
						t.Fatalf("%s at %d: bit %d changed", typ, off, b)
					}
				}
			}
		}
	}
}

func randIn(r *rand.Rand, lo, hi *big.Int) *big.Int {
	span := new(big.Int).Sub(hi, lo)
	span.Add(span, big.NewInt(1))
	n := new(big.Int).SetUint64(r.Uint64())
	n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(r.Uint64()))
	n.Mod(n, span)
	return n.Add(n, lo)
}

// refIncr is the math/big reference for INCRBY: the exact sum, then the
// overflow policy applied.
func refIncr(old, incr int64, signed bool, width int, ow Overflow) (int64, bool) {
	lo, hi := big.NewInt(0), new(big.Int).Lsh(big.NewInt(1), uint(width))
	if signed {
		hi.Rsh(hi, 1)
		lo.Neg(hi)
	}
	hi.Sub(hi, big.NewInt(1))
	sum := new(big.Int).Add(big.NewInt(old), big.NewInt(incr))
	if sum.Cmp(lo) >= 0 && sum.Cmp(hi) <= 0 {
		return sum.Int64(), true
	}
	switch ow {
	case OverflowFail:
		return 0, false
	case OverflowSat:
		if sum.Cmp(hi) > 0 {
			return hi.Int64(), true
		}
		return lo.Int64(), true
	}
	mod := new(big.Int).Lsh(big.NewInt(1), uint(width))
	w := new(big.Int).Sub(sum, lo)
	w.Mod(w, mod).Add(w, lo)
	return w.Int64(), true
}

func TestBitfieldIncrVsBig(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	edges := []int64{0, 1, -1, 2, -2, 1<<63 - 1, -1 << 63, 1 << 62, -(1 << 62)}
	for range 20000 {
		signed := r.IntN(2) == 0
		width := 1 + r.IntN(64)
		if !signed && width == 64 {
			width = 63
		}
		ow := Overflow(r.IntN(3))
		var incr int64
		switch r.IntN(3) {
		case 0:
			incr = edges[r.IntN(len(edges))]
		case 1:
			incr = int64(r.Uint64()) >> r.IntN(64)
		default:
			incr = int64(r.IntN(9)) - 4
		}
		v := make([]byte, 9)
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		op := FieldOp{Kind: FieldGet, Signed: signed, Bits: uint8(width), Offset: uint64(r.IntN(8))}
		old := getField(v, op)
		op.Kind, op.Value, op.Overflow = FieldIncrBy, incr, ow
		nv, res, _ := apply(v, []FieldOp{op})
		want, ok := refIncr(old, incr, signed, width, ow)
		if !ok {
			if !res[0].Null || !bytes.Equal(nv, v) {
				t.Fatalf("%+v old %d: want null and no write, got %v", op, old, res)
			}
			continue
		}
		if res[0].Null || res[0].Value != want {
			t.Fatalf("%+v old %d: got %v want %d", op, old, res[0], want)
		}
		op.Kind = FieldGet
		if got := getField(nv, op); got != want {
			t.Fatalf("%+v: stored %d want %d", op, got, want)
		}
	}
}

func TestBitfieldSetVsBig(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for range 20000 {
		signed := r.IntN(2) == 0
		width := 1 + r.IntN(64)
		if !signed && width == 64 {
			width = 63
		}
		ow := Overflow(r.IntN(3))
		val := int64(r.Uint64()) >> r.IntN(64)
		op := FieldOp{Kind: FieldSet, Signed: signed, Bits: uint8(width), Value: val, Overflow: ow}
		nv, res, _ := apply(nil, []FieldOp{op})
		// SET checks the value as an increment from 0, except that
		// unsigned fields see negative values as huge (Redis casts to
		// uint64): SAT gives the maximum, WRAP the low bits.
		want, ok := refIncr(0, val, signed, width, ow)
		if !signed && val < 0 {
			switch ow {
			case OverflowSat:
				want, ok = int64(widthMask(uint8(width))), true
			case OverflowWrap:
				want, ok = int64(uint64(val)&widthMask(uint8(width))), true
			}
		}
		if !ok {
			if !res[0].Null {
				t.Fatalf("%+v: want null, got %v", op, res[0])
			}
			continue
		}
		op.Kind = FieldGet
		if res[0].Null || getField(nv, op) != want {
			t.Fatalf("%+v: stored %d want %d (%v)", op, getField(nv, op), want, res[0])
		}
	}
}
