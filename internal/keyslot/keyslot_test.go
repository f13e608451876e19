package keyslot

import (
	"math/rand/v2"
	"testing"
)

// crc16Bytewise is the checksum a byte at a time, the reference CRC16 is
// checked against.
func crc16Bytewise(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c ^= uint16(x) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func TestCRC16(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint16
	}{
		{"", 0},
		{"123456789", 0x31C3}, // Redis Cluster specification's check value
		{"somekey", 0x6B32},
	} {
		if got := CRC16([]byte(tt.in)); got != tt.want {
			t.Errorf("CRC16(%q) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	// Every length around the 8-byte steps, random bytes, against the
	// bit-at-a-time definition.
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 100)
	for n := range len(buf) {
		for range 50 {
			for i := range buf[:n] {
				buf[i] = byte(r.Uint32())
			}
			if got, want := CRC16(buf[:n]), crc16Bytewise(buf[:n]); got != want {
				t.Fatalf("CRC16(% x) = %#04x, want %#04x", buf[:n], got, want)
			}
		}
	}
}

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want int
	}{
		{"somekey", 11058},
		{"foo", 12182},
		{"bar", 5061},
		{"{foo}bar", 12182},
		{"a{foo}", 12182},
		{"{}foo", int(crc16Bytewise([]byte("{}foo"))) % Slots},
		{"foo{}{bar}", int(crc16Bytewise([]byte("foo{}{bar}"))) % Slots},
		{"foo{{bar}}zap", int(crc16Bytewise([]byte("{bar"))) % Slots},
		{"foo{bar}{zap}", 5061},
		{"{foo", int(crc16Bytewise([]byte("{foo"))) % Slots},
		{"foo}{bar", int(crc16Bytewise([]byte("foo}{bar"))) % Slots},
		{"}{bar}", 5061},
		{"", 0},
	} {
		if got := Of([]byte(tt.key)); got != tt.want {
			t.Errorf("Of(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

func BenchmarkOf(b *testing.B) {
	for _, k := range []string{"key:000012345", "user:{1000}:followers", "a-key-of-forty-bytes-for-the-benchmark.."} {
		key := []byte(k)
		b.Run(k, func(b *testing.B) {
			s := 0
			for b.Loop() {
				s += Of(key)
			}
			_ = s
		})
	}
}
