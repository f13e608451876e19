package bitops

import (
	"bytes"
	"testing"
)

// splitArgs turns fuzz input into arguments separated by spaces.
func splitArgs(s []byte) [][]byte {
	if len(s) == 0 {
		return nil
	}
	return bytes.Split(s, []byte(" "))
}

func FuzzParseBitfield(f *testing.F) {
	for _, s := range []string{
		"GET u8 0", "INCRBY i5 100 1 GET u4 0", "OVERFLOW SAT incrby u2 102 1",
		"set i64 #3 -9223372036854775808 overflow fail incrby i64 #3 -1", "get u63 4294967295",
		"overflow", "get u64 0", "set u8 #536870911 x", "get i8 #-1", "overflow wrap set u1 7 3",
	} {
		f.Add([]byte(s), false, []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, in []byte, ro bool, value []byte) {
		ops, err := ParseBitfieldMax(splitArgs(in), ro, 1<<12) // bound the growth
		if err != "" {
			if ops != nil {
				t.Fatal("ops with an error")
			}
			return
		}
		if ro && HasWrite(ops) {
			t.Fatal("read-only accepted a write")
		}
		orig := bytes.Clone(value)
		nv, res, changed := apply(value, ops)
		if len(res) != len(ops) || len(nv) < len(value) || !bytes.Equal(value, orig) {
			t.Fatalf("results %d ops %d, len %d -> %d", len(res), len(ops), len(value), len(nv))
		}
		if !changed && !bytes.Equal(nv, value) {
			t.Fatal("unchanged but different")
		}
		for i, op := range ops {
			if op.Kind == FieldGet || res[i].Null {
				continue
			}
			got := getField(nv, FieldOp{Signed: op.Signed, Bits: op.Bits, Offset: op.Offset})
			if later(ops, i) {
				continue
			}
			if op.Kind == FieldIncrBy && got != res[i].Value {
				t.Fatalf("op %d %+v: stored %d, replied %d", i, op, got, res[i].Value)
			}
		}
	})
}

// later reports whether a write after op i overlaps its field.
func later(ops []FieldOp, i int) bool {
	a := ops[i]
	for _, b := range ops[i+1:] {
		if b.Kind != FieldGet && b.Offset < a.Offset+uint64(a.Bits) && a.Offset < b.Offset+uint64(b.Bits) {
			return true
		}
	}
	return false
}

func FuzzLCS(f *testing.F) {
	f.Add([]byte("ohmytext"), []byte("mynewtext"), []byte("IDX WITHMATCHLEN"))
	f.Add([]byte(""), []byte("x"), []byte("LEN"))
	f.Add([]byte("aaaa"), []byte("aa"), []byte("idx minmatchlen 2"))
	f.Add([]byte("abc"), []byte("abc"), []byte("len idx"))
	f.Fuzz(func(t *testing.T, a, b, opts []byte) {
		if len(a) > 300 || len(b) > 300 {
			return // bounded: the DP table is O(len(a)*len(b))
		}
		o, err := ParseLCS(splitArgs(opts))
		if err != "" {
			return
		}
		r, err := LCS(a, b, o, 1<<16)
		if err != "" {
			if err != ErrLCSMemory || (uint64(len(a))+1)*(uint64(len(b))+1)*4 <= 1<<16 {
				t.Fatalf("unexpected %q", err)
			}
			return
		}
		if r.Len > int64(min(len(a), len(b))) {
			t.Fatalf("len %d too long", r.Len)
		}
		if !o.Len || o.Idx {
			if int64(len(r.Str)) != r.Len || !isSubseq(r.Str, a) || !isSubseq(r.Str, b) {
				t.Fatalf("bad LCS %q of %q %q", r.Str, a, b)
			}
		}
		for _, m := range r.Matches {
			if m.A[0] < 0 || m.A[1] >= int64(len(a)) || m.B[1] >= int64(len(b)) || m.Len < max(o.MinMatchLen, 1) ||
				!bytes.Equal(a[m.A[0]:m.A[1]+1], b[m.B[0]:m.B[1]+1]) {
				t.Fatalf("bad match %+v", m)
			}
		}
	})
}
