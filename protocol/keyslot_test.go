package protocol

import (
	"testing"

	"github.com/cached/cached/internal/keyslot"
)

func TestKeySlot(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"somekey", 11058},
		{"foo", 12182},
		{"bar", 5061},
		{"{foo}bar", 12182},
		{"a{foo}", 12182},
		{"{}foo", int(keyslot.CRC16([]byte("{}foo"))) % Slots},
		{"foo{}{bar}", int(keyslot.CRC16([]byte("foo{}{bar}"))) % Slots},
		{"foo{{bar}}zap", int(keyslot.CRC16([]byte("{bar"))) % Slots},
		{"foo{bar}{zap}", 5061},
		{"{foo", int(keyslot.CRC16([]byte("{foo"))) % Slots},
		{"", 0},
	}
	for _, tt := range tests {
		if got := KeySlot([]byte(tt.key)); got != tt.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	a := KeySlot([]byte("{user1000}.following"))
	b := KeySlot([]byte("{user1000}.followers"))
	if a != b {
		t.Errorf("hash tags differ: %d != %d", a, b)
	}
}

func BenchmarkKeySlot(b *testing.B) {
	key := []byte("key:000000000001")
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for i := 0; i < b.N; i++ {
		_ = KeySlot(key)
	}
}
