package protocol

import "testing"

func TestCRC16(t *testing.T) {
	tests := []struct {
		in   string
		want uint16
	}{
		{"", 0},
		{"123456789", 0x31C3},
		{"somekey", 0x6B32 /* 27442 % 16384 == 11058 */},
	}
	for _, tt := range tests {
		if got := CRC16([]byte(tt.in)); got != tt.want {
			t.Errorf("CRC16(%q) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}

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
		{"{}foo", int(CRC16([]byte("{}foo"))) % Slots},
		{"foo{}{bar}", int(CRC16([]byte("foo{}{bar}"))) % Slots},
		{"foo{{bar}}zap", int(CRC16([]byte("{bar"))) % Slots},
		{"foo{bar}{zap}", 5061},
		{"{foo", int(CRC16([]byte("{foo"))) % Slots},
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

func TestHashTag(t *testing.T) {
	tests := []struct{ key, want string }{
		{"{user1000}.following", "user1000"},
		{"{}foo", "{}foo"},
		{"foo{}{bar}", "foo{}{bar}"},
		{"foo{{bar}}zap", "{bar"},
		{"foo{bar}{zap}", "bar"},
		{"nobraces", "nobraces"},
	}
	for _, tt := range tests {
		if got := string(HashTag([]byte(tt.key))); got != tt.want {
			t.Errorf("HashTag(%q) = %q, want %q", tt.key, got, tt.want)
		}
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
