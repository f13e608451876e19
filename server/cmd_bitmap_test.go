package server

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

const (
	strBitOffsetErr = "-ERR bit offset is not an integer or out of range"
	strBitTypeErr   = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)

// bitScript holds the Redis documentation's examples for every bitmap
// command, then the error paths.
var bitScript = []strStep{
	// SETBIT / GETBIT (docs).
	{cmd: "SETBIT mykey 7 1", want: "0"},
	{cmd: "SETBIT mykey 7 0", want: "1"},
	{cmd: "GET mykey", want: `"\x00"`},
	{cmd: "SETBIT mykey 7 1", want: "0"},
	{cmd: "GETBIT mykey 0", want: "0"},
	{cmd: "GETBIT mykey 7", want: "1"},
	{cmd: "GETBIT mykey 100", want: "0"},
	{cmd: "GETBIT nosuch 0", want: "0"},
	{cmd: "SETBIT grow 17 1", want: "0"},
	{cmd: "GET grow", want: `"\x00\x00@"`},
	{cmd: "SETBIT zero 9 0", want: "0"},
	{cmd: "GET zero", want: `"\x00\x00"`},
	// BITCOUNT (docs).
	{cmd: "SET fb foobar", want: `"OK"`},
	{cmd: "BITCOUNT fb", want: "26"},
	{cmd: "BITCOUNT fb 0 0", want: "4"},
	{cmd: "BITCOUNT fb 1 1", want: "6"},
	{cmd: "BITCOUNT fb 1 1 BYTE", want: "6"},
	{cmd: "BITCOUNT fb 5 30 BIT", want: "17"},
	{cmd: "BITCOUNT fb -2 -1", want: "7"},
	{cmd: "BITCOUNT fb -1 -2", want: "0"},
	{cmd: "BITCOUNT nosuch", want: "0"},
	{cmd: "BITCOUNT nosuch 0 1", want: "0"},
	{cmd: "BITCOUNT nosuch 0", want: "0"},
	{cmd: "BITCOUNT nosuch x 1 FOO BAR", want: "0"},
	// BITPOS (docs).
	{cmd: `SET bp "\xff\xf0\x00"`, want: `"OK"`},
	{cmd: "BITPOS bp 0", want: "12"},
	{cmd: `SET bp "\x00\xff\xf0"`, want: `"OK"`},
	{cmd: "BITPOS bp 1 0", want: "8"},
	{cmd: "BITPOS bp 1 2", want: "16"},
	{cmd: "BITPOS bp 1 2 -1 BYTE", want: "16"},
	{cmd: "BITPOS bp 1 7 15 BIT", want: "8"},
	{cmd: `SET bp "\x00\x00\x00"`, want: `"OK"`},
	{cmd: "BITPOS bp 1", want: "-1"},
	{cmd: "BITPOS bp 1 7 -3 BIT", want: "-1"},
	{cmd: `SET bp "\xff\xff"`, want: `"OK"`},
	{cmd: "BITPOS bp 0", want: "16"},
	{cmd: "BITPOS bp 0 0 -1", want: "-1"},
	{cmd: "BITPOS bp 0 5", want: "-1"},
	{cmd: "SET empty ''", want: `"OK"`},
	{cmd: "BITPOS empty 0", want: "-1"},
	{cmd: "BITPOS nosuch 0", want: "0"},
	{cmd: "BITPOS nosuch 1", want: "-1"},
	{cmd: "BITPOS nosuch 1 abc", want: "-1"},
	// BITOP (docs).
	{cmd: "SET key1 foobar", want: `"OK"`},
	{cmd: "SET key2 abcdef", want: `"OK"`},
	{cmd: "BITOP AND dest key1 key2", want: "6"},
	{cmd: "GET dest", want: "\"`bc`ab\""},
	{cmd: "BITOP OR dest key1 key2", want: "6"},
	{cmd: "GET dest", want: `"goofev"`},
	{cmd: "BITOP XOR dest key1 key2 nosuch", want: "6"},
	{cmd: "GET dest", want: `"\a\r\f\x06\x04\x14"`},
	{cmd: "BITOP NOT dest mykey", want: "1"},
	{cmd: "GET dest", want: `"\xfe"`},
	{cmd: "BITOP and dest nosuch", want: "0"},
	{cmd: "GET dest", want: "nil"},
	{cmd: "SET dk v EX 100", want: `"OK"`},
	{cmd: "BITOP OR dk key1", want: "6"},
	{cmd: "GET dk", want: `"foobar"`},
	// BITFIELD (docs).
	{cmd: "BITFIELD bf INCRBY i5 100 1 GET u4 0", want: "[1 0]"},
	{cmd: "BITFIELD ov incrby u2 100 1 OVERFLOW SAT incrby u2 102 1", want: "[1 1]"},
	{cmd: "BITFIELD ov incrby u2 100 1 OVERFLOW SAT incrby u2 102 1", want: "[2 2]"},
	{cmd: "BITFIELD ov incrby u2 100 1 OVERFLOW SAT incrby u2 102 1", want: "[3 3]"},
	{cmd: "BITFIELD ov incrby u2 100 1 OVERFLOW SAT incrby u2 102 1", want: "[0 3]"},
	{cmd: "BITFIELD ov OVERFLOW FAIL incrby u2 102 1", want: "[nil]"},
	{cmd: "BITFIELD hs SET i8 #0 100 SET i8 #1 200", want: "[0 0]"},
	{cmd: "BITFIELD hs GET i8 #0 GET i8 #1 GET u8 8", want: "[100 -56 200]"},
	{cmd: "BITFIELD_RO hs GET i8 0 GET u16 0", want: "[100 25800]"},
	{cmd: "BITFIELD_RO nosuch GET i8 16", want: "[0]"},
	{cmd: "BITFIELD nosuch GET i8 16", want: "[0]"},
	{cmd: "GET nosuch", want: "nil"},
	{cmd: "BITFIELD fail OVERFLOW FAIL SET i8 0 1000 INCRBY i8 0 200", want: "[nil nil]"},
	{cmd: "GET fail", want: `"\x00"`}, // created, though nothing was written
	{cmd: "BITFIELD fail OVERFLOW FAIL SET i8 0 100 INCRBY i8 0 27 INCRBY i8 0 1 GET i8 0", want: "[0 127 nil 127]"},
	{cmd: "BITFIELD fail OVERFLOW WRAP INCRBY i8 0 1 OVERFLOW SAT INCRBY i8 0 -300", want: "[-128 -128]"},
	{cmd: "BITFIELD w INCRBY i64 0 9223372036854775807 INCRBY i64 0 1", want: "[9223372036854775807 -9223372036854775808]"},
	{cmd: "BITFIELD none", want: "[]"},
	// Errors.
	{cmd: "@list l"},
	{cmd: "SETBIT k -1 1", want: strBitOffsetErr},
	{cmd: "SETBIT k 4294967296 1", want: strBitOffsetErr},
	{cmd: "SETBIT k x 1", want: strBitOffsetErr},
	{cmd: "SETBIT k 0 2", want: "-ERR bit is not an integer or out of range"},
	{cmd: "SETBIT k 0 x", want: "-ERR bit is not an integer or out of range"},
	{cmd: "SETBIT l 0 1", want: strWrongType},
	{cmd: "GETBIT k -1", want: strBitOffsetErr},
	{cmd: "GETBIT l 0", want: strWrongType},
	{cmd: "BITCOUNT fb 0", want: strSyntaxErr},
	{cmd: "BITCOUNT fb 0 1 FOO", want: strSyntaxErr},
	{cmd: "BITCOUNT fb 0 1 BIT 1", want: strSyntaxErr},
	{cmd: "BITCOUNT fb a 1", want: strNotInteger},
	{cmd: "BITCOUNT l", want: strWrongType},
	{cmd: "BITCOUNT l 0", want: strWrongType},
	{cmd: "BITPOS bp 2", want: "-ERR The bit argument must be 1 or 0."},
	{cmd: "BITPOS bp x", want: strNotInteger},
	{cmd: "BITPOS bp 1 abc", want: strNotInteger},
	{cmd: "BITPOS bp 1 0 1 FOO", want: strSyntaxErr},
	{cmd: "BITPOS bp 1 0 1 BIT 2", want: strSyntaxErr},
	{cmd: "BITPOS l 1", want: strWrongType},
	{cmd: "BITOP NOT dest key1 key2", want: "-ERR BITOP NOT must be called with a single source key."},
	{cmd: "BITOP FOO dest key1", want: strSyntaxErr},
	{cmd: "BITOP AND dest key1 l", want: strWrongType},
	{cmd: "BITOP AND dest", want: "-ERR wrong number of arguments for 'bitop' command"},
	{cmd: "BITFIELD k GET i65 0", want: strBitTypeErr},
	{cmd: "BITFIELD k GET u64 0", want: strBitTypeErr},
	{cmd: "BITFIELD k GET I8 0", want: strBitTypeErr},
	{cmd: "BITFIELD k OVERFLOW FOO", want: "-ERR Invalid OVERFLOW type specified"},
	{cmd: "BITFIELD k GET i8 -1", want: strBitOffsetErr},
	{cmd: "BITFIELD k SET i8 0 abc", want: strNotInteger},
	{cmd: "BITFIELD k GET i8", want: strSyntaxErr},
	{cmd: "BITFIELD k FOO", want: strSyntaxErr},
	{cmd: "BITFIELD l GET i8 0", want: strWrongType},
	{cmd: "BITFIELD_RO k SET i8 0 1", want: "-ERR BITFIELD_RO only supports the GET subcommand"},
	{cmd: "BITFIELD_RO l GET i8 0", want: strWrongType},
}

func TestBitmapScript(t *testing.T)        { strCheckScript(t, bitScript) }
func TestBitmapScriptVsRedis(t *testing.T) { strCheckScriptRedis(t, bitScript) }

// TestBitmapTyped drives the bitmap commands through go-redis's typed API
// in both protocols.
func TestBitmapTyped(t *testing.T) {
	s := startServer(t, nil)
	for _, proto := range []int{2, 3} {
		rc := newClient(t, s, func(o *redis.Options) { o.Protocol = proto })
		ctx := ctxT(t)
		rc.FlushDB(ctx)
		if old, err := rc.SetBit(ctx, "b", 7, 1).Result(); err != nil || old != 0 {
			t.Fatalf("resp%d SETBIT: %v %v", proto, old, err)
		}
		if v, _ := rc.GetBit(ctx, "b", 7).Result(); v != 1 {
			t.Fatalf("resp%d GETBIT = %d", proto, v)
		}
		rc.Set(ctx, "fb", "foobar", 0)
		if n, _ := rc.BitCount(ctx, "fb", &redis.BitCount{Start: 5, End: 30, Unit: redis.BitCountIndexBit}).Result(); n != 17 {
			t.Fatalf("resp%d BITCOUNT BIT = %d", proto, n)
		}
		if n, _ := rc.BitCount(ctx, "fb", nil).Result(); n != 26 {
			t.Fatalf("resp%d BITCOUNT = %d", proto, n)
		}
		rc.Set(ctx, "bp", "\x00\xff\xf0", 0)
		if n, _ := rc.BitPos(ctx, "bp", 1, 2, -1).Result(); n != 16 {
			t.Fatalf("resp%d BITPOS = %d", proto, n)
		}
		if n, _ := rc.BitPosSpan(ctx, "bp", 1, 7, 15, "bit").Result(); n != 8 {
			t.Fatalf("resp%d BITPOS BIT = %d", proto, n)
		}
		rc.Set(ctx, "k1", "foobar", 0)
		rc.Set(ctx, "k2", "abcdef", 0)
		if n, _ := rc.BitOpAnd(ctx, "dst", "k1", "k2").Result(); n != 6 || rc.Get(ctx, "dst").Val() != "`bc`ab" {
			t.Fatalf("resp%d BITOP AND = %d %q", proto, n, rc.Get(ctx, "dst").Val())
		}
		if n, _ := rc.BitOpNot(ctx, "dst", "b").Result(); n != 1 || rc.Get(ctx, "dst").Val() != "\xfe" {
			t.Fatalf("resp%d BITOP NOT = %d", proto, n)
		}
		got, err := rc.BitField(ctx, "bf", "INCRBY", "i5", 100, 1, "GET", "u4", 0).Result()
		if err != nil || len(got) != 2 || got[0] != 1 || got[1] != 0 {
			t.Fatalf("resp%d BITFIELD = %v %v", proto, got, err)
		}
		got, err = rc.BitFieldRO(ctx, "bf", "i5", 100).Result()
		if err != nil || len(got) != 1 || got[0] != 1 {
			t.Fatalf("resp%d BITFIELD_RO = %v %v", proto, got, err)
		}
	}
}

// TestBitfieldWritesInPlace checks that BITFIELD writes into a large
// bitmap where it lies, as SETBIT does: a write allocates far less than
// the value (it copied the whole value on every write before).
func TestBitfieldWritesInPlace(t *testing.T) {
	s := startServer(t, nil)
	p := newPathConn(t, s)
	const size = 4 << 20
	if err := p.batch(respRequest("SETBIT", "bm", strconv.Itoa(size*8-1), "1")); err != nil {
		t.Fatal(err)
	}
	req := respRequest("BITFIELD", "bm", "INCRBY", "u8", "#100", "1", "GET", "u8", "#100")
	if err := p.batch(req); err != nil { // warm: buffers, the command cache
		t.Fatal(err)
	}
	const n = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if err := p.batch(req); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if got, want := string(p.mc.out), fmt.Sprintf("*2\r\n:%d\r\n:%d\r\n", n+1, n+1); got != want {
		t.Fatalf("reply %q, want %q", got, want)
	}
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > size/8 {
		t.Fatalf("%d bytes allocated per BITFIELD write on a %d-byte value: the value is copied", per, size)
	}
	if err := p.batch(respRequest("STRLEN", "bm")); err != nil {
		t.Fatal(err)
	}
	if got := string(p.mc.out); got != fmt.Sprintf(":%d\r\n", size) {
		t.Fatalf("STRLEN %q, want %d", got, size)
	}
}
