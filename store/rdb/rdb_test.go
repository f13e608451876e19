package rdb

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/list"
	"github.com/cached/cached/store/set"
	"github.com/cached/cached/store/zset"
)

func TestCRC64(t *testing.T) {
	// The check value of CRC-64/Jones as Redis's crc64.c tests it.
	if got := crc64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 = %#x", got)
	}
}

type redisCase struct {
	Name, Type, Encoding, Payload string
	Elems                         []string
}

func loadRedisCases(t *testing.T) []redisCase {
	t.Helper()
	b, err := os.ReadFile("testdata/redis.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []redisCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs) < 20 {
		t.Fatalf("only %d cases in testdata/redis.json", len(cs))
	}
	return cs
}

// TestDecodeRedisPayloads decodes the DUMP payloads redis-server 7.0.15
// wrote (testdata/gen.go) and compares every element; then it dumps the
// rebuilt value and decodes that again.
func TestDecodeRedisPayloads(t *testing.T) {
	for _, c := range loadRedisCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			p, _ := hex.DecodeString(c.Payload)
			v, err := Decode(p)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if typeNamesForTest[v.Type] != c.Type {
				t.Fatalf("type %v, want %s", v.Type, c.Type)
			}
			if got := hexAll(canon(v)); !slices.Equal(got, c.Elems) {
				t.Fatalf("contents differ: %d elements, want %d", len(got), len(c.Elems))
			}
			if v.Obj != nil {
				want := c.Encoding
				if c.Type == "set" && want == "hashtable" && v.Obj.Len() <= set.MaxListpackEntries {
					want = "listpack" // cached's small string sets are Redis 7.2's set listpack
				}
				if got := v.Obj.Encoding(); got != want {
					t.Errorf("encoding %s, want %s", got, want)
				}
			}
			again, err := dumpValue(v)
			if err != nil {
				t.Fatal(err)
			}
			v2, err := Decode(again)
			if err != nil {
				t.Fatalf("decode of our dump: %v", err)
			}
			if got := hexAll(canon(v2)); !slices.Equal(got, c.Elems) {
				t.Fatal("contents differ after our dump")
			}
		})
	}
}

// TestDumpBytesAsRedis: where Redis writes no LZF and formats nothing
// differently, cached's payload is byte for byte redis-server's.
func TestDumpBytesAsRedis(t *testing.T) {
	same := map[string]bool{"str_int8": true, "str_neg": true, "str_int16": true, "str_int32": true,
		"str_int64": true, "str_lead0": true, "str_empty": true, "str_short": true, "str_binary": true,
		"set_int16": true, "set_int32": true, "hash_small": true,
		"str_noncompressible": true}
	n := 0
	for _, c := range loadRedisCases(t) {
		if !same[c.Name] {
			continue
		}
		n++
		p, _ := hex.DecodeString(c.Payload)
		v, err := Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := dumpValue(v)
		if !bytes.Equal(got, p) {
			t.Errorf("%s: dump\n %x\nredis-server\n %x", c.Name, got, p)
		}
	}
	if n != len(same) {
		t.Fatalf("%d of %d cases found", n, len(same))
	}
}

// roundTrip dumps obj (or str), decodes the payload and checks contents
// and encoding survive.
func roundTrip(t *testing.T, name string, typ store.Type, str []byte, obj store.Value) {
	t.Helper()
	var o any
	if obj != nil {
		o = obj
	}
	encs := []struct {
		name   string
		append func(dst []byte, t store.Type, str []byte, obj any) ([]byte, error)
		decode func(p []byte) (Value, error)
	}{{"dump", AppendValue, Decode}, {"snapshot", AppendSnapshot, DecodeSnapshot}}
	for _, e := range encs {
		p, err := e.append([]byte("prefix"), typ, str, o)
		if err != nil {
			t.Fatalf("%s %s: %v", e.name, name, err)
		}
		if string(p[:6]) != "prefix" {
			t.Fatalf("%s %s: prefix lost", e.name, name)
		}
		v, err := e.decode(p[6:])
		if err != nil {
			t.Fatalf("%s %s: decode: %v", e.name, name, err)
		}
		want := canon(Value{Type: typ, Str: str, Obj: obj})
		if got := canon(v); !slices.Equal(got, want) {
			t.Fatalf("%s %s: %d elements back, want %d", e.name, name, len(got), len(want))
		}
		if v.Type != typ {
			t.Fatalf("%s %s: type %v", e.name, name, v.Type)
		}
		if obj != nil && v.Obj.Encoding() != obj.Encoding() {
			t.Fatalf("%s %s: encoding %s, want %s", e.name, name, v.Obj.Encoding(), obj.Encoding())
		}
	}
}

func intText(i int) []byte { return strconv.AppendInt(nil, int64(i), 10) }

func TestRoundTripEveryType(t *testing.T) {
	for _, s := range []string{"", "0", "-1", "127", "-128", "128", "32767", "-32768", "65536",
		"2147483647", "-2147483648", "2147483648", "9223372036854775807", "-0", "+1", "01", " 1",
		"\x00\xff", strings.Repeat("z", 1<<20)} {
		roundTrip(t, "string "+strconv.Quote(s[:min(len(s), 20)]), store.TypeString, []byte(s), nil)
	}
	ints := []int{0, 1, -1, 127, 128, -4096, 4095, 4096, -32769, 8388607, -8388609, 1 << 31, -(1 << 40)}
	for _, n := range []int{1, 10, 129, 513, 20000} {
		l := list.New()
		h := hash.New()
		z := zset.New(0, 0)
		var s *set.Set
		si := set.New()
		for i := range n {
			v := intText(ints[i%len(ints)] + i*(i%3))
			if i%4 == 0 {
				v = append([]byte("elem:"), v...)
			}
			if i == 7 {
				v = bytes.Repeat([]byte{0xfe}, 9000) // bigger than a quicklist node
			}
			l.PushBack(v)
			_, _ = h.Set(intText(i), v)
			z.Set(v, float64(i%7)/3)
			if s == nil {
				s = set.NewFor(v, 0)
			}
			_, _ = s.Add(v)
			_, _ = si.Add(intText(ints[i%len(ints)] * (i + 1)))
		}
		for name, obj := range map[string]store.Value{"list": l, "hash": h, "zset": z, "set": s, "intset": si} {
			typ := map[string]store.Type{"list": store.TypeList, "hash": store.TypeHash, "zset": store.TypeZSet,
				"set": store.TypeSet, "intset": store.TypeSet}[name]
			roundTrip(t, name+" "+strconv.Itoa(n)+" "+obj.Encoding(), typ, nil, obj)
		}
	}
}

func TestRoundTripScores(t *testing.T) {
	z := zset.New(0, 0)
	for i, f := range []float64{0, 1, -1, 0.1, 1e300, -1e-300, 5e-324, 1 << 53, 1<<53 + 2, 1e17, 123456789.125} {
		z.Set(intText(i), f)
	}
	z.Set([]byte("negzero"), negZero())
	roundTrip(t, "zset scores listpack", store.TypeZSet, nil, z)
	big := z.Clone().(*zset.ZSet)
	big.Set(bytes.Repeat([]byte("m"), 100), 2)
	roundTrip(t, "zset scores skiplist", store.TypeZSet, nil, big)
}

func negZero() float64 { z := 0.0; return -z }

func TestDecodeErrors(t *testing.T) {
	good, _ := AppendValue(nil, store.TypeString, []byte("hello"), nil)
	flip := slices.Clone(good)
	flip[3] ^= 1
	newer := seal(good[:len(good)-10], Version+1)
	older := seal(good[:len(good)-10], 1)
	lp := func(entries ...string) []byte {
		lb := newLPBuilder(nil)
		for _, e := range entries {
			lb.add([]byte(e))
		}
		return lb.finish(0)
	}
	blob := func(typ byte, b []byte) []byte { return seal(appendString([]byte{typ}, b), Version) }
	cases := []struct {
		name string
		p    []byte
		want error
	}{
		{"short", []byte("abc"), ErrVersionOrChecksum},
		{"checksum", flip, ErrVersionOrChecksum},
		{"newer version", newer, ErrVersionOrChecksum},
		{"unknown type", seal([]byte{99, 1, 'a'}, Version), ErrBadFormat},
		{"module type", seal([]byte{7, 1, 'a'}, Version), ErrBadFormat},
		{"truncated string", seal([]byte{0, 10, 'a'}, Version), ErrBadFormat},
		{"huge length", seal([]byte{0, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Version), ErrBadFormat},
		{"huge set count", seal([]byte{2, 0x80, 0xff, 0xff, 0xff, 0xff, 1, 'a'}, Version), ErrBadFormat},
		{"lzf bomb", seal([]byte{0, 0xc3, 2, 0x80, 0x7f, 0xff, 0xff, 0xff, 0, 'a'}, Version), ErrBadFormat},
		{"empty set", seal([]byte{2, 0}, Version), ErrBadFormat},
		{"empty list", seal([]byte{18, 0}, Version), ErrBadFormat},
		{"duplicate set member", seal([]byte{2, 2, 1, 'a', 1, 'a'}, Version), ErrBadFormat},
		{"duplicate hash field", blob(16, lp("f", "1", "f", "2")), ErrBadFormat},
		{"odd hash listpack", blob(16, lp("f", "1", "g")), ErrBadFormat},
		{"empty hash listpack", blob(16, lp()), ErrBadFormat},
		{"nan score", blob(17, lp("m", "nan")), ErrBadFormat},
		{"bad score", blob(17, lp("m", "x1")), ErrBadFormat},
		{"listpack bad length", blob(16, append(lp("f", "v")[:len(lp("f", "v"))-1], 0xfe, 0xff)), ErrBadFormat},
		{"bad quicklist container", seal(appendString([]byte{18, 1, 3}, lp("a")), Version), ErrBadFormat},
		{"unsorted intset", blob(11, []byte{2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0}), ErrBadFormat},
		{"intset bad width", blob(11, []byte{3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 1}), ErrBadFormat},
	}
	for _, c := range cases {
		if _, err := Decode(c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if v, err := Decode(older); err != nil || string(v.Str) != "hello" {
		t.Fatalf("older version: %v %q", err, v.Str)
	}
}

// TestDecodeOldEncodings decodes the types redis-server before 7.0 wrote
// (ziplists, plain lists, text scores), built here by hand.
func TestDecodeOldEncodings(t *testing.T) {
	zl := func(entries ...[]byte) []byte { // ziplist of pre-encoded entries (prevlen filled in)
		b := make([]byte, zlHeader)
		prev, last := 0, zlHeader
		for _, e := range entries {
			last = len(b)
			b = append(b, byte(prev))
			b = append(b, e...)
			prev = 1 + len(e)
		}
		b = append(b, 0xff)
		put32 := func(off, v int) { b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
		put32(0, len(b))
		put32(4, last)
		b[8] = byte(len(entries))
		return b
	}
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	imm := func(v int) []byte { return []byte{0xf1 + byte(v)} }
	i16 := func(v int16) []byte { return []byte{0xc0, byte(v), byte(v >> 8)} }
	i8 := func(v int8) []byte { return []byte{0xfe, byte(v)} }
	cases := []struct {
		name string
		body []byte
		want []string
	}{
		{"list ziplist", appendString([]byte{10}, zl(str("a"), imm(12), i16(-300), i8(-5))), []string{"a", "12", "-300", "-5"}},
		{"quicklist of ziplists", appendString([]byte{14, 1}, zl(str("x"), imm(0))), []string{"x", "0"}},
		{"plain list", []byte{1, 2, 1, 'a', 0xc0, 7}, []string{"a", "7"}},
		{"hash ziplist", appendString([]byte{13}, zl(str("f"), str("v"), str("g"), imm(3))), []string{"f\x00v", "g\x003"}},
		{"zset ziplist", appendString([]byte{12}, zl(str("b"), str("2.5"), str("a"), imm(1))), []string{"a\x001", "b\x002.5"}},
		{"zset text scores", []byte{3, 2, 1, 'a', 3, '1', '.', '5', 1, 'b', 254}, []string{"a\x001.5", "b\x00+Inf"}},
		{"set listpack (7.2)", func() []byte {
			lb := newLPBuilder(nil)
			lb.add([]byte("m"))
			lb.add([]byte("5"))
			return appendString([]byte{20}, lb.finish(0))
		}(), []string{"5", "m"}},
	}
	for _, c := range cases {
		v, err := Decode(seal(c.body, Version))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := canon(v); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
