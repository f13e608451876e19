package server

import "testing"

// TestLargeValueGrowth: SETBIT and SETRANGE on a new key take one buffer of
// the value's size (no second copy, no growth slack), and a value grown by
// APPEND steps keeps at most a quarter of slack; the bytes read as Redis's.
func TestLargeValueGrowth(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	const bits = 80_000_007 // a 10,000,001-byte bitmap
	mustDo(t, rc, "SETBIT", "b", bits, 1)
	if n := mustDo(t, rc, "STRLEN", "b"); n != int64(bits/8+1) {
		t.Fatalf("STRLEN = %v", n)
	}
	if n := mustDo(t, rc, "BITCOUNT", "b"); n != int64(1) {
		t.Fatalf("BITCOUNT = %v", n)
	}
	if n := mustDo(t, rc, "GETBIT", "b", bits); n != int64(1) {
		t.Fatalf("GETBIT = %v", n)
	}
	if u := mustDo(t, rc, "MEMORY", "USAGE", "b").(int64); u < bits/8 || u > bits/8+1024 {
		t.Fatalf("MEMORY USAGE of a %d-byte bitmap = %d", bits/8+1, u)
	}
	mustDo(t, rc, "SETRANGE", "r", 5_000_000, "hello")
	if v := mustDo(t, rc, "GETRANGE", "r", 4_999_999, -1); v != "\x00hello" {
		t.Fatalf("GETRANGE = %q", v)
	}
	if u := mustDo(t, rc, "MEMORY", "USAGE", "r").(int64); u > 5_000_005+1024 {
		t.Fatalf("MEMORY USAGE of a 5,000,005-byte string = %d", u)
	}
	chunk := make([]byte, 64<<10)
	for i := range 64 {
		chunk[0] = byte(i)
		mustDo(t, rc, "APPEND", "a", chunk)
	}
	if u := mustDo(t, rc, "MEMORY", "USAGE", "a").(int64); u < 64*64<<10 || u > 64*64<<10*5/4+1024 {
		t.Fatalf("MEMORY USAGE after 64 APPENDs of 64 KiB = %d", u)
	}
	if v := mustDo(t, rc, "GETRANGE", "a", 63*64<<10, 63*64<<10+1); v != "?\x00" {
		t.Fatalf("GETRANGE of the last chunk = %q", v)
	}
}
