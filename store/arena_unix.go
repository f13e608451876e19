//go:build unix

package store

import (
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

// arenaMapLimit returns the kernel's limit on a process's mappings
// (Linux's vm.max_map_count), or 32768 where it cannot be read.
func arenaMapLimit() int64 {
	b, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		return 32768
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 32768
	}
	return n
}

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
