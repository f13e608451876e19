package protocol

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// words splits s on spaces into arguments.
func words(s string) [][]byte {
	var out [][]byte
	for _, w := range strings.Fields(s) {
		out = append(out, []byte(w))
	}
	return out
}

func TestParseSetOptions(t *testing.T) {
	inv := InvalidExpire("set")
	tests := []struct {
		args string
		want SetOptions
		err  string
	}{
		{"", SetOptions{}, ""},
		{"NX", SetOptions{NX: true}, ""},
		{"nx NX", SetOptions{NX: true}, ""},
		{"xx", SetOptions{XX: true}, ""},
		{"NX XX", SetOptions{}, ErrSyntax},
		{"XX NX", SetOptions{}, ErrSyntax},
		{"NX GET", SetOptions{NX: true, Get: true}, ""},
		{"GET GET", SetOptions{Get: true}, ""},
		{"EX 10", SetOptions{ExpireKind: ExpireEX, Expire: 10}, ""},
		{"px 10", SetOptions{ExpireKind: ExpirePX, Expire: 10}, ""},
		{"exat 10", SetOptions{ExpireKind: ExpireEXAT, Expire: 10}, ""},
		{"PXAT 10", SetOptions{ExpireKind: ExpirePXAT, Expire: 10}, ""},
		{"EX 10 EX 20", SetOptions{ExpireKind: ExpireEX, Expire: 20}, ""},
		{"EX 10 PX 5", SetOptions{}, ErrSyntax},
		{"EXAT 10 PXAT 5", SetOptions{}, ErrSyntax},
		{"EX", SetOptions{}, ErrSyntax},
		{"NX EX", SetOptions{}, ErrSyntax},
		{"KEEPTTL", SetOptions{KeepTTL: true}, ""},
		{"KEEPTTL KEEPTTL", SetOptions{KeepTTL: true}, ""},
		{"KEEPTTL EX 1", SetOptions{}, ErrSyntax},
		{"EX 1 KEEPTTL", SetOptions{}, ErrSyntax},
		{"PERSIST", SetOptions{}, ErrSyntax},
		{"FOO", SetOptions{}, ErrSyntax},
		{"EX 0", SetOptions{}, inv},
		{"EX -1", SetOptions{}, inv},
		{"PX 0", SetOptions{}, inv},
		{"EX abc", SetOptions{}, ErrNotInteger},
		{"EX 1.5", SetOptions{}, ErrNotInteger},
		{"EX abc NX XX", SetOptions{}, ErrSyntax}, // options first
		{"EX 9223372036854775", SetOptions{ExpireKind: ExpireEX, Expire: 9223372036854775}, ""},
		{"EX 9223372036854776", SetOptions{}, inv},
		{"EXAT 9223372036854776", SetOptions{}, inv},
		{"PX 9223372036854775807", SetOptions{ExpireKind: ExpirePX, Expire: math.MaxInt64}, ""},
		{"XX GET KEEPTTL", SetOptions{XX: true, Get: true, KeepTTL: true}, ""},
	}
	for _, tt := range tests {
		got, err := ParseSetOptions(words(tt.args))
		if err != tt.err || got != tt.want {
			t.Errorf("ParseSetOptions(%q) = %+v, %q; want %+v, %q", tt.args, got, err, tt.want, tt.err)
		}
	}
	// Redis compares options as C strings.
	if got, err := ParseSetOptions([][]byte{[]byte("nx\x00zz")}); err != "" || !got.NX {
		t.Errorf("NUL-terminated NX: %+v, %q", got, err)
	}
}

func TestParseGetExOptions(t *testing.T) {
	tests := []struct {
		args string
		want GetExOptions
		err  string
	}{
		{"", GetExOptions{}, ""},
		{"PERSIST", GetExOptions{Persist: true}, ""},
		{"persist PERSIST", GetExOptions{Persist: true}, ""},
		{"EX 5", GetExOptions{ExpireKind: ExpireEX, Expire: 5}, ""},
		{"PXAT 5", GetExOptions{ExpireKind: ExpirePXAT, Expire: 5}, ""},
		{"PERSIST EX 1", GetExOptions{}, ErrSyntax},
		{"EX 1 PERSIST", GetExOptions{}, ErrSyntax},
		{"EX 1 PX 1", GetExOptions{}, ErrSyntax},
		{"NX", GetExOptions{}, ErrSyntax},
		{"GET", GetExOptions{}, ErrSyntax},
		{"KEEPTTL", GetExOptions{}, ErrSyntax},
		{"EX", GetExOptions{}, ErrSyntax},
		{"EX 0", GetExOptions{ExpireKind: ExpireEX, ExpireErr: InvalidExpire("getex")}, ""},
		{"EX x", GetExOptions{ExpireKind: ExpireEX, ExpireErr: ErrNotInteger}, ""},
	}
	for _, tt := range tests {
		got, err := ParseGetExOptions(words(tt.args))
		if err != tt.err || got != tt.want {
			t.Errorf("ParseGetExOptions(%q) = %+v, %q; want %+v, %q", tt.args, got, err, tt.want, tt.err)
		}
	}
}

func TestParseExpireFlags(t *testing.T) {
	nxErr := "ERR NX and XX, GT or LT options at the same time are not compatible"
	gtErr := "ERR GT and LT options at the same time are not compatible"
	tests := []struct {
		args string
		want ExpireFlags
		err  string
	}{
		{"", ExpireFlags{}, ""},
		{"nx", ExpireFlags{NX: true}, ""},
		{"XX GT", ExpireFlags{XX: true, GT: true}, ""},
		{"xx lt", ExpireFlags{XX: true, LT: true}, ""},
		{"GT GT", ExpireFlags{GT: true}, ""},
		{"NX XX", ExpireFlags{}, nxErr},
		{"NX GT", ExpireFlags{}, nxErr},
		{"LT NX", ExpireFlags{}, nxErr},
		{"GT LT", ExpireFlags{}, gtErr},
		{"FOO", ExpireFlags{}, "ERR Unsupported option FOO"},
		{"NX XX foo", ExpireFlags{}, "ERR Unsupported option foo"},
	}
	for _, tt := range tests {
		got, err := ParseExpireFlags(words(tt.args))
		if err != tt.err || got != tt.want {
			t.Errorf("ParseExpireFlags(%q) = %+v, %q; want %+v, %q", tt.args, got, err, tt.want, tt.err)
		}
	}
}

func TestAbsExpireMs(t *testing.T) {
	tests := []struct {
		kind    byte
		v, now  int64
		want    int64
		overflw bool
	}{
		{ExpireEX, 10, 1000, 11000, false},
		{ExpirePX, 10, 1000, 1010, false},
		{ExpireEXAT, 10, 1000, 10000, false},
		{ExpirePXAT, 10, 1000, 10, false},
		{ExpireEX, -5, 1000, -4000, false},
		{ExpireEXAT, -1, 1000, -1000, false},
		{ExpireEX, math.MaxInt64/1000 + 1, 0, 0, true},
		{ExpireEXAT, math.MinInt64/1000 - 1, 0, 0, true},
		{ExpirePX, math.MaxInt64, 1, 0, true},
		{ExpirePX, math.MaxInt64 - 1, 1, math.MaxInt64, false},
		{ExpirePXAT, math.MaxInt64, 1, math.MaxInt64, false},
	}
	for _, tt := range tests {
		got, ok := AbsExpireMs(tt.kind, tt.v, tt.now)
		if ok == tt.overflw || (ok && got != tt.want) {
			t.Errorf("AbsExpireMs(%c, %d, %d) = %d, %v; want %d, overflow=%v",
				tt.kind, tt.v, tt.now, got, ok, tt.want, tt.overflw)
		}
	}
}

func TestParseScanOptions(t *testing.T) {
	tests := []struct {
		args string
		want ScanOptions
		err  string
	}{
		{"", ScanOptions{Count: 10}, ""},
		{"COUNT 100", ScanOptions{Count: 100}, ""},
		{"count 1", ScanOptions{Count: 1}, ""},
		{"COUNT 0", ScanOptions{}, ErrSyntax},
		{"COUNT -1", ScanOptions{}, ErrSyntax},
		{"COUNT x", ScanOptions{}, ErrNotInteger},
		{"COUNT", ScanOptions{}, ErrSyntax},
		{"MATCH *", ScanOptions{Count: 10}, ""},
		{"MATCH a* COUNT 5", ScanOptions{Match: []byte("a*"), Count: 5}, ""},
		{"MATCH a* MATCH b*", ScanOptions{Match: []byte("b*"), Count: 10}, ""},
		{"TYPE string", ScanOptions{Count: 10, Type: []byte("string")}, ""},
		{"TYPE nosuchtype", ScanOptions{Count: 10, Type: []byte("nosuchtype")}, ""},
		{"FOO bar", ScanOptions{}, ErrSyntax},
		{"MATCH", ScanOptions{}, ErrSyntax},
	}
	for _, tt := range tests {
		got, err := ParseScanOptions(words(tt.args))
		if err != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseScanOptions(%q) = %+v, %q; want %+v, %q", tt.args, got, err, tt.want, tt.err)
		}
	}
	if _, err := ParseHScanOptions(words("TYPE string")); err != ErrSyntax {
		t.Errorf("ParseHScanOptions(TYPE) err = %q, want syntax error", err)
	}
	if got, err := ParseHScanOptions(words("COUNT 3")); err != "" || got.Count != 3 {
		t.Errorf("ParseHScanOptions(COUNT 3) = %+v, %q", got, err)
	}
}

func FuzzParseSetOptions(f *testing.F) {
	f.Add("NX EX 10")
	f.Add("GET KEEPTTL XX")
	f.Add("PXAT 9223372036854775807 GET")
	f.Add("EX -1")
	f.Fuzz(func(t *testing.T, s string) {
		args := words(s)
		o, err := ParseSetOptions(args)
		if err != "" {
			if o != (SetOptions{}) {
				t.Fatalf("error %q with non-zero options %+v", err, o)
			}
			return
		}
		if o.NX && o.XX {
			t.Fatalf("%q: NX and XX both set", s)
		}
		if o.KeepTTL && o.ExpireKind != ExpireNone {
			t.Fatalf("%q: KEEPTTL with an expire", s)
		}
		if o.ExpireKind != ExpireNone && o.Expire <= 0 {
			t.Fatalf("%q: non-positive expire %d accepted", s, o.Expire)
		}
		if _, ok := AbsExpireMs(o.ExpireKind, o.Expire, 1700000000000); !ok && o.ExpireKind == ExpireEXAT {
			t.Fatalf("%q: EXAT value accepted by the parser overflows", s)
		}
		// The same words through GETEX must not panic either.
		ParseGetExOptions(args)
		ParseExpireFlags(args)
		ParseScanOptions(args)
	})
}
