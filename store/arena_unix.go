//go:build unix

package store

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

// mapBytes maps n bytes (a multiple of the page size) of anonymous private
// memory, or returns nil.
func mapBytes(n int) []byte {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// unmapBytes unmaps b, all of one mapBytes mapping.
func unmapBytes(b []byte) {
	if err := unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b))); err != nil {
		panic("store: munmap: " + err.Error())
	}
}
