//go:build !keyslotcount

package protocol

// countKeySlot counts KeySlot calls with the build tag keyslotcount; here
// it is nothing (and inlined away).
func countKeySlot() {}
