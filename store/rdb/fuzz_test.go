package rdb

import (
	"slices"
	"testing"
)

// FuzzDecode feeds Decode and DecodeSnapshot arbitrary payloads (seeded
// with redis-server 7.0.15's dumps under testdata/fuzz/FuzzDecode). The
// input is decoded as it is, which exercises the footer checks, and
// re-sealed with a valid version and CRC, so mutations reach the value
// decoders. Decoding must never panic; a value it accepts must survive our
// own dump and decode, and our own snapshot payload and decode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 1, 'a'})
	f.Add([]byte{2, 2, 1, 'a', 1, 'b'})
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = Decode(p)
		_, _ = DecodeSnapshot(p)
		body := p
		if len(p) >= 10 {
			body = p[:len(p)-10]
		}
		v, err := Decode(seal(body, Version))
		if err != nil {
			return
		}
		again, err := dumpValue(v)
		if err != nil {
			t.Fatalf("dump of a decoded value: %v", err)
		}
		v2, err := Decode(again)
		if err != nil {
			t.Fatalf("decode of our own dump: %v", err)
		}
		if !slices.Equal(canon(v), canon(v2)) || v.Type != v2.Type {
			t.Fatal("value changed through dump and decode")
		}
		var obj any
		if v.Obj != nil {
			obj = v.Obj
		}
		snap, err := AppendSnapshot(nil, v.Type, v.Str, obj)
		if err != nil {
			t.Fatalf("snapshot of a decoded value: %v", err)
		}
		v3, err := DecodeSnapshot(snap)
		if err != nil {
			t.Fatalf("decode of our own snapshot payload: %v", err)
		}
		if !slices.Equal(canon(v), canon(v3)) || v.Type != v3.Type {
			t.Fatal("value changed through snapshot payload and decode")
		}
	})
}
