//go:build !unix

package store

// pageSize is the granularity offHeapBytes rounds to.
const pageSize = 4096

// arenaMapLimit is unused here: mapBytes maps nothing.
func arenaMapLimit() int64 { return 0 }

// mapBytes has no off-heap memory to give here: every buffer stays in the
// Go heap.
func mapBytes(int) []byte { return nil }

func unmapBytes([]byte) { panic("store: no off-heap memory on this platform") }
