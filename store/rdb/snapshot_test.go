package rdb

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
)

// TestSnapshotNotCompressed: a snapshot payload holds a string as its
// bytes after the tag, and a collection's strings uncompressed, however
// compressible (DUMP compresses both).
func TestSnapshotNotCompressed(t *testing.T) {
	s := bytes.Repeat([]byte("z"), 1000)
	p, err := AppendSnapshot(nil, store.TypeString, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 1+len(s) || !bytes.Equal(p[1:], s) {
		t.Fatalf("string payload of %d bytes, want tag + %d", len(p), len(s))
	}
	h := hash.New()
	if _, err := h.Set([]byte("f"), bytes.Repeat([]byte("v"), 200)); err != nil {
		t.Fatal(err)
	}
	snap, err := AppendSnapshot(nil, store.TypeHash, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := AppendValue(nil, store.TypeHash, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) <= len(dump)-10+100 {
		t.Fatalf("hash snapshot payload %d bytes, DUMP %d: compressed?", len(snap), len(dump))
	}
}

// TestSnapshotParts: head followed by body is AppendSnapshot's payload; a
// string's body is the string itself, not a copy.
func TestSnapshotParts(t *testing.T) {
	s := bytes.Repeat([]byte("q"), 300)
	head, body, err := SnapshotParts(make([]byte, 0, 8), store.TypeString, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := AppendSnapshot(nil, store.TypeString, s, nil)
	if got := append(slices.Clip(head), body...); !bytes.Equal(got, want) {
		t.Fatalf("string parts %q + %d bytes, want the snapshot payload", head, len(body))
	}
	if &body[0] != &s[0] {
		t.Fatal("the string's body is a copy")
	}
	h := hash.New()
	if _, err := h.Set([]byte("f"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	head, body, err = SnapshotParts(nil, store.TypeHash, nil, h)
	if err != nil || body != nil {
		t.Fatalf("hash parts: body %v, err %v", body, err)
	}
	v, err := DecodeSnapshot(head)
	if err != nil || v.Type != store.TypeHash {
		t.Fatalf("hash head decodes to %v, %v", v.Type, err)
	}
}

// TestDecodeSnapshotTakesDump: a DUMP payload decodes as a snapshot
// payload too (a snapshot from a primary of an older build).
func TestDecodeSnapshotTakesDump(t *testing.T) {
	p, err := AppendValue(nil, store.TypeString, []byte("hello"), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeSnapshot(p)
	if err != nil || v.Type != store.TypeString || string(v.Str) != "hello" {
		t.Fatalf("got %v %q, %v", v.Type, v.Str, err)
	}
}

func TestDecodeSnapshotErrors(t *testing.T) {
	h := hash.New()
	if _, err := h.Set([]byte("field"), []byte("value")); err != nil {
		t.Fatal(err)
	}
	good, err := AppendSnapshot(nil, store.TypeHash, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    []byte
		want error
	}{
		{"empty", nil, ErrBadFormat},
		{"object tag only", []byte{snapObject}, ErrBadFormat},
		{"truncated object", good[:len(good)-1], ErrBadFormat},
		{"trailing bytes", append(slices.Clone(good), 0), ErrBadFormat},
		{"string inside object tag", []byte{snapObject, typeString, 1, 'a'}, ErrBadFormat},
		{"unknown type", []byte{snapObject, 99}, ErrBadFormat},
		{"no tag, no footer", []byte{typeString, 1, 'a'}, ErrVersionOrChecksum},
	} {
		if _, err := DecodeSnapshot(c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := DecodeSnapshot(good); err != nil {
		t.Fatalf("the good payload: %v", err)
	}
}
