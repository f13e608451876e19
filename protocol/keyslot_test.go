package protocol

import "testing"

// TestKeySlot: protocol's KeySlot is internal/keyslot's (tested there);
// the slots are redis-server 7.0.15's CLUSTER KEYSLOT for the same keys.
func TestKeySlot(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want int
	}{
		{"somekey", 11058},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},
	} {
		if got := KeySlot([]byte(tt.key)); got != tt.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}
