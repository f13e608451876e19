package rdb

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLZFRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(r.IntN(256))
	}
	words := make([]byte, 0, 300000)
	for len(words) < 300000 { // repeats near and far (beyond the 8 KB window)
		words = append(words, []string{"alpha ", "beta ", "gamma ", "delta "}[r.IntN(4)]...)
		if r.IntN(50) == 0 {
			words = append(words, random[:r.IntN(200)]...)
		}
	}
	inputs := map[string][]byte{
		"run":    bytes.Repeat([]byte{'a'}, 1000),
		"pair":   bytes.Repeat([]byte("ab"), 700),
		"words":  words,
		"mixed":  append(append([]byte(nil), random[:100]...), bytes.Repeat([]byte("xyz"), 100)...),
		"short":  []byte("abcabcabcabcabcabcabcabc"),
		"digits": []byte(strings.Repeat("0123456789", 30)),
	}
	for name, in := range inputs {
		c, ok := lzfCompress([]byte("hdr"), in, len(in))
		if !ok {
			t.Fatalf("%s: did not compress", name)
		}
		if len(c)-3 >= len(in) {
			t.Errorf("%s: %d bytes compressed to %d", name, len(in), len(c)-3)
		}
		out, ok := lzfDecompress(c[3:], len(in))
		if !ok || !bytes.Equal(out, in) {
			t.Fatalf("%s: round trip failed", name)
		}
		if _, ok := lzfDecompress(c[3:], len(in)+1); ok {
			t.Fatalf("%s: wrong length accepted", name)
		}
	}
	if _, ok := lzfCompress(nil, random, len(random)-5); ok {
		t.Fatal("random bytes compressed")
	}
	if _, ok := lzfDecompress([]byte{0x20, 0x00}, 3); ok { // a back reference before the start
		t.Fatal("reference before the output accepted")
	}
}
