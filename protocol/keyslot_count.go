//go:build keyslotcount

package protocol

import "sync/atomic"

var keySlotCalls atomic.Int64

// countKeySlot counts a KeySlot call (build tag keyslotcount only).
func countKeySlot() { keySlotCalls.Add(1) }

// KeySlotCalls returns how many times KeySlot has run in this process. It
// exists only with the build tag keyslotcount, for tests that count the
// slot computations of a command.
func KeySlotCalls() int64 { return keySlotCalls.Load() }
