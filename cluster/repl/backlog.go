package repl

import (
	"encoding/binary"
	"time"
)

// Record header in the backlog ring, before the record's REC frame:
//
//	0  uint32 frame length
//	4  uint16 slot
//	6  uint16 flags (flagMore: the record's unit goes on)
//	8  uint64 seq
//	16 uint64 index (1 for the first record the Primary appended)
//	24 int64  append time, Unix ms
const (
	hdrSize  = 32
	flagMore = 1
)

// noCover marks a slot whose stream the backlog cannot continue for anyone.
const noCover = ^uint64(0)

// hdr is a decoded record header.
type hdr struct {
	size  int // frame length
	slot  int
	flags uint16
	seq   uint64
	index uint64
	ms    int64
}

func (h *hdr) put(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(h.size))
	binary.LittleEndian.PutUint16(b[4:], uint16(h.slot))
	binary.LittleEndian.PutUint16(b[6:], h.flags)
	binary.LittleEndian.PutUint64(b[8:], h.seq)
	binary.LittleEndian.PutUint64(b[16:], h.index)
	binary.LittleEndian.PutUint64(b[24:], uint64(h.ms))
}

func (h *hdr) get(b []byte) {
	h.size = int(binary.LittleEndian.Uint32(b[0:]))
	h.slot = int(binary.LittleEndian.Uint16(b[4:]))
	h.flags = binary.LittleEndian.Uint16(b[6:])
	h.seq = binary.LittleEndian.Uint64(b[8:])
	h.index = binary.LittleEndian.Uint64(b[16:])
	h.ms = int64(binary.LittleEndian.Uint64(b[24:]))
}

// noHold is a link's hold before its handshake: it keeps nothing.
const noHold = ^uint64(0)

// blockSize is the size of the backlog's memory blocks.
const blockSize = 64 << 10

// keptBlocks is how many emptied blocks the backlog keeps for reuse.
const keptBlocks = 4

// backlog is a queue of encoded records, oldest first, addressed by byte
// offsets that only grow, in blocks of blockSize bytes (offset o lives in
// blocks[(o-base)/blockSize]). It keeps the newest size bytes of records
// (Redis's repl-backlog-size) for replicas that come back, and beyond that
// the records a connected replica has not been sent yet (hold), up to the
// replica limits of Redis's client-output-buffer-limit: past hard bytes,
// or past soft bytes for longer than softMs, the oldest records go and the
// replicas that needed them are cut (copyOut fails). It keeps, per slot,
// the newest sequence number appended and the lowest sequence number a
// replica may hold and still continue from it.
// Not safe for concurrent use: Primary.mu guards it.
type backlog struct {
	blocks     [][]byte
	spare      [][]byte // emptied blocks kept for reuse, at most keptBlocks
	base       uint64   // offset of blocks[0]'s first byte, a multiple of blockSize
	size       uint64   // bytes kept in any case
	start, end uint64   // offsets of the oldest retained record and of the end
	lastIndex  uint64   // index of the newest record appended (0: none yet)
	firstIndex uint64   // index of the oldest retained record
	lastMs     int64    // append time of the newest record
	last       []uint64
	cover      []uint64 // per slot: a replica at seq a >= cover[s] (a <= last[s]) can resume; noCover: none can
	scratch    []byte   // frame encoding buffer
	tmp        [hdrSize]byte

	// hold returns the lowest offset at or after from that a connected
	// replica has not been sent yet, noHold if none; nil: none ever.
	hold       func(from uint64) uint64
	hard, soft uint64 // bytes retained past which records needed by a replica go; 0: no limit
	softMs     int64  // how long retention may stay over soft
	softSince  int64  // append time when retention went over soft; 0: not over
}

func newBacklog(size int) *backlog {
	b := &backlog{
		size:       uint64(size),
		firstIndex: 1,
		last:       make([]uint64, NumSlots),
		cover:      make([]uint64, NumSlots),
	}
	for i := range b.cover {
		b.cover[i] = noCover
	}
	return b
}

// setLimits sets hard, soft and softMs from the Config's Buffer limits
// (0 or negative: none).
// Setting the same limits again (any CONFIG SET re-applies them) leaves
// the soft limit's timer running.
func (b *backlog) setLimits(hard, soft int64, softFor time.Duration) {
	h, s, ms := uint64(max(hard, 0)), uint64(max(soft, 0)), softFor.Milliseconds()
	if h == b.hard && s == b.soft && ms == b.softMs {
		return
	}
	b.hard, b.soft, b.softMs, b.softSince = h, s, ms, 0
}

// used returns the bytes of the ring holding records.
func (b *backlog) used() uint64 { return b.end - b.start }

// canResume reports whether a replica that applied slot's effects up to
// seq can get all later ones from the ring. A replica at seq 0 (the
// caller checks it is of the same history: it loaded the slot before its
// first record) resumes when the ring still holds every record of the
// slot, or the slot has none: without that, every reconnect of a link (a
// table change adds or drops slots) snapshotted every idle slot again.
func (b *backlog) canResume(slot int, seq uint64) bool {
	c := b.cover[slot]
	if c == noCover {
		return seq == 0 && b.last[slot] == 0
	}
	return c <= seq && seq <= b.last[slot]
}

// append encodes one record at the end of the ring, dropping the oldest
// records to make room, and returns its index.
func (b *backlog) append(r *Record, more bool, ms int64) uint64 {
	b.lastIndex++
	b.lastMs = ms
	idx := b.lastIndex
	s := r.Slot
	if b.cover[s] == noCover || r.Seq != b.last[s]+1 {
		// First record of the slot seen (or a broken sequence): the ring
		// continues the slot for replicas that hold everything before it.
		b.cover[s] = r.Seq - 1
	}
	b.last[s] = r.Seq
	b.scratch = appendRecord(b.scratch[:0], idx, ms, r, more)
	h := hdr{size: len(b.scratch), slot: s, seq: r.Seq, index: idx, ms: ms}
	if more {
		h.flags = flagMore
	}
	need := uint64(hdrSize + len(b.scratch))
	if !b.makeRoom(need, ms) {
		// Larger than what the backlog keeps, and no replica waits for
		// it: nobody can receive it from here.
		b.skip(need)
		b.firstIndex = idx + 1
		b.cover[s] = r.Seq
		for i := range b.cover {
			if b.cover[i] != noCover && b.cover[i] < b.last[i] {
				b.cover[i] = b.last[i]
			}
		}
		return idx
	}
	h.put(b.tmp[:])
	b.write(b.end, b.tmp[:])
	b.write(b.end+hdrSize, b.scratch)
	b.end += need
	if cap(b.scratch) > maxKeptBuf {
		b.scratch = nil
	}
	return idx
}

// restart makes the ring continue slot from seq on: nothing of the slot
// before it is in the ring, and a replica at exactly seq may continue.
func (b *backlog) restart(slot int, seq uint64) {
	b.cover[slot] = seq
	b.last[slot] = seq
}

// makeRoom drops the oldest records until need more bytes fit in size,
// keeping those a connected replica has not been sent yet within the
// limits, and reports whether the record fits: false only for one larger
// than size that no replica waits for (or past the limits).
func (b *backlog) makeRoom(need uint64, ms int64) (fits bool) {
	if b.used()+need <= b.size {
		b.softSince = 0
		return true
	}
	from := noHold
	if b.hold != nil {
		from = b.hold(b.start)
	}
	for b.used()+need > b.size {
		over := b.used() + need
		switch {
		case b.hard > 0 && over > b.hard:
		case b.soft > 0 && over > b.soft:
			if b.softSince == 0 {
				b.softSince = ms
			}
			if ms-b.softSince < b.softMs && b.start >= from {
				return true // kept for a while
			}
		default:
			if b.softSince = 0; b.start >= from {
				return true // a replica was not sent the oldest record yet
			}
		}
		if b.used() == 0 {
			return false // too large to keep for anyone
		}
		b.evict()
		if from < b.start && b.hold != nil {
			from = b.hold(b.start) // the replica that needed it is cut
		}
	}
	return true
}

// trim drops what is kept beyond size and no replica needs any more.
func (b *backlog) trim() {
	if b.used() > b.size {
		b.makeRoom(0, b.lastMs)
	}
}

// evict drops the oldest record.
func (b *backlog) evict() {
	var h hdr
	b.read(b.start, b.tmp[:])
	h.get(b.tmp[:])
	if b.cover[h.slot] != noCover && b.cover[h.slot] < h.seq {
		b.cover[h.slot] = h.seq
	}
	b.start += uint64(hdrSize + h.size)
	b.firstIndex = h.index + 1
	b.release()
}

// skip drops every record and leaves n bytes unused, for a record that
// nobody can receive from here.
func (b *backlog) skip(n uint64) {
	b.start = b.end + n
	b.end = b.start
	b.release()
}

// release frees the blocks before start, keeping a few for reuse.
func (b *backlog) release() {
	for len(b.blocks) > 0 && b.base+blockSize <= b.start {
		if len(b.spare) < keptBlocks {
			b.spare = append(b.spare, b.blocks[0])
		}
		b.blocks[0] = nil
		b.blocks = b.blocks[1:]
		b.base += blockSize
	}
	if len(b.blocks) == 0 {
		b.base = b.start &^ (blockSize - 1)
	}
}

// held returns the bytes of the blocks the backlog holds, spares included.
func (b *backlog) held() uint64 { return uint64(len(b.blocks)+len(b.spare)) * blockSize }

// write copies p into the backlog at offset off, the end, adding blocks.
func (b *backlog) write(off uint64, p []byte) {
	for len(p) > 0 {
		i, o := (off-b.base)/blockSize, (off-b.base)%blockSize
		for uint64(len(b.blocks)) <= i {
			var blk []byte
			if n := len(b.spare); n > 0 {
				blk, b.spare = b.spare[n-1], b.spare[:n-1]
			} else {
				blk = make([]byte, blockSize)
			}
			b.blocks = append(b.blocks, blk)
		}
		n := copy(b.blocks[i][o:], p)
		p, off = p[n:], off+uint64(n)
	}
}

// read copies len(p) bytes from offset off.
func (b *backlog) read(off uint64, p []byte) {
	for len(p) > 0 {
		i, o := (off-b.base)/blockSize, (off-b.base)%blockSize
		n := copy(p, b.blocks[i][o:])
		p, off = p[n:], off+uint64(n)
	}
}

// copyOut appends to dst whole records from offset off on, at least one if
// any and then while dst stays under max bytes, and returns the offset
// after them. ok is false if off is older than the ring's oldest record.
func (b *backlog) copyOut(dst []byte, off uint64, max int) ([]byte, uint64, bool) {
	if off < b.start {
		return dst, off, false
	}
	end := off
	var h hdr
	for end < b.end {
		b.read(end, b.tmp[:])
		h.get(b.tmp[:])
		n := uint64(hdrSize + h.size)
		if end > off && int(end-off+n) > max {
			break
		}
		end += n
	}
	n := int(end - off)
	l := len(dst)
	dst = append(dst, make([]byte, n)...)
	b.read(off, dst[l:])
	return dst, end, true
}
