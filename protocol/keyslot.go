package protocol

import "github.com/cached/cached/internal/keyslot"

// Slots is the number of hash slots in a Redis cluster.
const Slots = keyslot.Slots

// KeySlot returns the cluster hash slot of key, in [0, Slots). If key holds
// a '{' followed later by a '}' with at least one byte between the first
// '{' and the first '}' after it, only those bytes are hashed (a hash tag),
// so "{user1000}.following" and "{user1000}.followers" share a slot.
// Otherwise, including "{}foo", the whole key is hashed.
func KeySlot(key []byte) int {
	countKeySlot()
	return keyslot.Of(key)
}
