//go:build unix && !linux

package store

// mapHuge: huge pages are advised on Linux only (arena_huge_linux.go).
func mapHuge(int) []byte { return nil }

// unmapHuge: no buffer is carved here.
func unmapHuge([]byte) bool { return false }
