package server

import (
	"bufio"
	"encoding/binary"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// exePages keeps the executable's code and read-only data in RSS only as
// far as the server uses them. At start-up the Go runtime and every
// package's initialisation touch pages all over the binary, and the
// kernel maps up to 64 KiB around each page fault (fault-around), so a
// fresh cached held 11.6 MiB of its own 14.0 MiB of code and read-only data
// in RSS while serving requests used about 1.5 MiB of them (measured with
// /proc/PID/clear_refs, 2026-12-05; docs/performance.md). Those pages are
// the file's, in the page cache: dropping them from this process's page
// tables (madvise MADV_DONTNEED) takes nothing from the page cache, and
// the next use of a page maps it again. The cron goroutine does it one
// second after start and then every exeDropEvery, so what rarely runs
// (start-up, a CONFIG, INFO or a metrics scrape) does not stay in RSS.
//
// Only the executable's read-only private file mappings are dropped, and
// only while none of their pages is private (/proc/self/pagemap): a page
// a dynamic loader relocated (RELRO), a debugger's breakpoint or a uprobe
// is the process's own copy, and dropping it would bring back the file's
// bytes. The writable data and bss mappings are never touched.
//
// It is used only while the server owns the process (Config.ManageRuntime)
// and runs on the cron goroutine only.
type exePages struct {
	ranges []exeRange
	buf    []byte // pagemap entries of one range
	ticks  int
}

// exeRange is one read-only mapping of the executable: [start, end).
type exeRange struct{ start, end uintptr }

const (
	exeDropFirst = 10  // cron ticks (100 ms) after start of the first drop
	exeDropEvery = 100 // cron ticks between drops: 10 s
)

// newExePages finds the executable's read-only mappings in /proc/self/maps;
// with none found (or no /proc) tick does nothing.
func newExePages() *exePages {
	e := &exePages{}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return e
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return e
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if r, ok := exeMapping(sc.Text(), exe); ok {
			e.ranges = append(e.ranges, r)
		}
	}
	return e
}

// exeMapping parses one line of /proc/self/maps (start-end perms offset
// dev inode path) and reports whether it is a read-only private mapping of
// the file exe.
func exeMapping(line, exe string) (exeRange, bool) {
	f := strings.Fields(line)
	if len(f) < 6 || strings.Join(f[5:], " ") != exe || (f[1] != "r-xp" && f[1] != "r--p") {
		return exeRange{}, false
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return exeRange{}, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end <= start {
		return exeRange{}, false
	}
	return exeRange{uintptr(start), uintptr(end)}, true
}

// tick is called on every cron tick; it drops the pages when it is time.
func (e *exePages) tick() {
	e.ticks++
	if e.ticks%exeDropEvery == exeDropFirst%exeDropEvery && len(e.ranges) > 0 {
		e.drop()
	}
}

// drop unmaps from this process the pages of every range that holds no
// private page; it returns how many ranges it dropped.
func (e *exePages) drop() int {
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0
	}
	defer pm.Close()
	n := 0
	for _, r := range e.ranges {
		if !e.filePagesOnly(pm, r) {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_DONTNEED); errno == 0 {
			n++
		}
	}
	return n
}

// Bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
const (
	pagemapPresent = 1 << 63
	pagemapSwapped = 1 << 62
	pagemapFile    = 1 << 61 // a file page or shared anonymous page
)

// filePagesOnly reports whether every page of r that is present or swapped
// is a file page (none is the process's private copy); false if pagemap
// cannot be read.
func (e *exePages) filePagesOnly(pm *os.File, r exeRange) bool {
	page := uintptr(os.Getpagesize())
	n := int((r.end - r.start) / page * 8)
	if cap(e.buf) < n {
		e.buf = make([]byte, n)
	}
	b := e.buf[:n]
	if _, err := pm.ReadAt(b, int64(r.start/page*8)); err != nil {
		return false
	}
	for i := 0; i < n; i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		if v&(pagemapPresent|pagemapSwapped) != 0 && v&pagemapFile == 0 {
			return false
		}
	}
	return true
}
