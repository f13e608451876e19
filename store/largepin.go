package store

import (
	"sync/atomic"

	"github.com/cached/cached/internal/bigcopy"
)

// Copy-on-write of large values.
//
// A replication snapshot must not copy a large string (up to 512 MB) while
// it holds the slot's shard lock: that stalled every writer of the shard,
// the expiry cycle and the replica session for seconds. Instead it pins the
// value's buffer under the lock (Entry.PinStr), releases the lock, and
// writes the bytes to the network straight from that buffer. While a Pin
// holds a buffer, the store treats it as read-only:
//
//   - a write that would change its bytes in place (GrowString for SETBIT,
//     SETRANGE and APPEND; a SET of a value of exactly its room) gives the
//     key a new buffer first: GrowString copies the old bytes to a private
//     buffer (counted by CopiedOnWrite), SET simply allocates a new one;
//   - growing, moving, deleting, expiring, evicting or flushing the key
//     drops the buffer from the store as before, and large buffers are
//     never reused (slab.go), so the Pin's bytes stay as they were until the
//     garbage collector frees them after the last Pin is released.
//
// The TTL position in an item's last 4 bytes is still written in place: it
// lies past the value, outside the bytes a Pin hands out.
//
// A pinned buffer whose key changed or went away is no longer in
// UsedMemory (as Redis leaves a fork's copy-on-write pages out of
// used_memory); a server that owns the process counts it through the live
// heap (SetOverhead). Small values (largeMin bytes and less) live in shared
// slabs and are never pinned: copying one under the lock is cheap.
//
// Pins are counted per large-table entry (slabAlloc.pins). The count goes
// up under the shard lock and down without it (Pin.Release, any goroutine):
// a writer that sees it at zero under the lock knows that no reader holds
// the buffer and that none can start, and the atomic load orders the
// readers' last reads before its writes.

// Pin is a hold on a large string value's bytes, from Entry.PinStr. Its
// zero value holds nothing.
type Pin struct{ c *atomic.Int32 }

// Release ends the hold; the bytes must not be used afterwards. It may be
// called from any goroutine, without a lock, exactly once per Pin (the
// zero Pin's Release does nothing).
func (p Pin) Release() {
	if p.c != nil && p.c.Add(-1) < 0 {
		panic("store: Pin released twice")
	}
}

// PinStr returns the string value's bytes and a Pin that keeps them
// unchanged and valid after Unlock, until Pin.Release, whatever happens to
// the key meanwhile (see largepin.go). ok is false, pinning nothing, for a
// collection or a value of largeMin bytes or less (use Str under the lock).
// Every Pin returned must be released.
func (e Entry) PinStr() (b []byte, p Pin, ok bool) {
	r := e.sh.rec(e.i)
	if r.typ() != TypeString || r.item&largeBit == 0 {
		return nil, Pin{}, false
	}
	return e.sh.val(r), Pin{c: e.sh.slabs.pinLarge(r.item)}, true
}

// CopiedOnWrite returns how many large values a write had to copy because
// a Pin held their buffer, and how many bytes those copies moved.
func (s *Store) CopiedOnWrite() (copies, bytes int64) {
	return s.cowCopies.Load(), s.cowBytes.Load()
}

// unshareLocked gives string record i a private buffer if its buffer is
// pinned, copying its bytes, so that the caller may change them in place.
func (s *shard) unshareLocked(i uint32) {
	r := s.rec(i)
	if !s.slabs.shared(r.item) {
		return
	}
	n := s.slabs.unshare(r.item)
	s.st.cowCopies.Add(1)
	s.st.cowBytes.Add(int64(n))
}

// pinLarge counts one more Pin of large item h's buffer and returns its
// counter.
func (a *slabAlloc) pinLarge(h uint32) *atomic.Int32 {
	i := h &^ largeBit
	c := a.pins[i]
	if c == nil {
		if a.pins == nil {
			a.pins = make(map[uint32]*atomic.Int32)
		}
		c = new(atomic.Int32)
		a.pins[i] = c
	}
	c.Add(1)
	return c
}

// shared reports whether item h is a large buffer that a Pin still holds.
// A counter found at zero is forgotten.
func (a *slabAlloc) shared(h uint32) bool {
	if h&largeBit == 0 || len(a.pins) == 0 {
		return false
	}
	i := h &^ largeBit
	c := a.pins[i]
	switch {
	case c == nil:
		return false
	case c.Load() > 0:
		return true
	}
	delete(a.pins, i)
	return false
}

// forgetPins drops large entry i's pin counter: its buffer leaves the
// table, and whoever pinned it keeps its own reference.
func (a *slabAlloc) forgetPins(i uint32) {
	if a.pins != nil {
		delete(a.pins, i)
	}
}

// unshare replaces large item h's buffer by a copy of its content and its
// last 4 bytes (a TTL position), of the same length and capacity, and
// returns the content's length.
func (a *slabAlloc) unshare(h uint32) int {
	i := h &^ largeBit
	old := a.large[i]
	n := len(old)
	buf := make([]byte, cap(old))
	bigcopy.Copy(buf, old)
	copy(buf[cap(buf)-4:], old[cap(old)-4:cap(old)])
	a.drop(old, false)
	a.held += int64(cap(buf))
	a.large[i] = buf[:n]
	a.forgetPins(i)
	return n
}
