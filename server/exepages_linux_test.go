package server

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps the n-page file path privately with prot and returns its
// bytes and range.
func mapFile(t *testing.T, path string, n, prot int) ([]byte, exeRange) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, n*os.Getpagesize(), prot, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Munmap(b) })
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return b, exeRange{start, start + uintptr(len(b))}
}

// presentPages counts the pages of r mapped into this process.
func presentPages(t *testing.T, r exeRange) int {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	page := uintptr(os.Getpagesize())
	b := make([]byte, (r.end-r.start)/page*8)
	if _, err := pm.ReadAt(b, int64(r.start/page*8)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&pagemapPresent != 0 {
			n++
		}
	}
	return n
}

// TestExePagesDropsCleanMappingsOnly: a read-only private file mapping
// whose pages are all the file's loses them from the page tables and reads
// the same bytes again; one with a page the process wrote (as a loader's
// RELRO or a breakpoint) is left alone, so the written byte stays.
func TestExePagesDropsCleanMappingsOnly(t *testing.T) {
	const pages = 4
	path := filepath.Join(t.TempDir(), "file")
	content := make([]byte, pages*os.Getpagesize())
	for i := range content {
		content[i] = 'a'
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}

	clean, cr := mapFile(t, path, pages, unix.PROT_READ)
	if string(clean) != string(content) { // reading maps every page
		t.Fatal("clean mapping reads other bytes than the file's")
	}
	if got := presentPages(t, cr); got != pages {
		t.Fatalf("clean mapping: %d pages present after reading it, want %d", got, pages)
	}
	e := &exePages{ranges: []exeRange{cr}}
	if n := e.drop(); n != 1 {
		t.Fatalf("drop of a clean mapping dropped %d ranges, want 1", n)
	}
	if got := presentPages(t, cr); got != 0 {
		t.Fatalf("clean mapping: %d pages present after drop, want 0", got)
	}
	if string(clean) != string(content) {
		t.Fatal("clean mapping reads other bytes after drop")
	}

	own, or := mapFile(t, path, pages, unix.PROT_READ|unix.PROT_WRITE)
	own[os.Getpagesize()] = 'b' // a private copy of page 1
	if err := unix.Mprotect(own, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	e = &exePages{ranges: []exeRange{or}}
	if n := e.drop(); n != 0 {
		t.Fatalf("drop of a mapping with a private page dropped %d ranges, want 0", n)
	}
	if own[os.Getpagesize()] != 'b' {
		t.Fatalf("private page reads %q after drop, want 'b'", own[os.Getpagesize()])
	}
}

// TestExePagesOfThisBinary: the test binary's code and read-only data are
// found, dropped, and the process runs on.
func TestExePagesOfThisBinary(t *testing.T) {
	e := newExePages()
	if len(e.ranges) == 0 {
		t.Fatal("no read-only mapping of /proc/self/exe found")
	}
	if n := e.drop(); n != len(e.ranges) {
		t.Fatalf("dropped %d of the binary's %d read-only mappings", n, len(e.ranges))
	}
	if got := bytesToHuman(3 << 20); got != "3.00M" { // code runs again
		t.Fatalf("bytesToHuman after drop: %q", got)
	}
}
