package store

import "github.com/cached/cached/internal/keyslot"

// KeySlot returns the cluster slot of key: CRC16 of its first non-empty
// {hash tag}, or of the whole key, mod 16384 (as protocol.KeySlot).
func KeySlot(key []byte) int {
	countKeySlot()
	return keyslot.Of(key)
}
