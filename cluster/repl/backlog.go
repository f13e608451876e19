package repl

import "encoding/binary"

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

// backlog is a bounded ring of encoded records, oldest first, addressed by
// byte offsets that only grow (offset o lives at buf[o%len(buf)]). It keeps,
// per slot, the newest sequence number appended and the lowest sequence
// number a replica may hold and still continue from the ring.
// Not safe for concurrent use: Primary.mu guards it.
type backlog struct {
	buf        []byte
	start, end uint64 // offsets of the oldest retained record and of the end
	lastIndex  uint64 // index of the newest record appended (0: none yet)
	firstIndex uint64 // index of the oldest retained record
	lastMs     int64  // append time of the newest record
	last       []uint64
	cover      []uint64 // per slot: a replica at seq a >= cover[s] (a <= last[s]) can resume; noCover: none can
	scratch    []byte   // frame encoding buffer
	tmp        [hdrSize]byte
}

func newBacklog(size int) *backlog {
	b := &backlog{
		buf:        make([]byte, size),
		firstIndex: 1,
		last:       make([]uint64, NumSlots),
		cover:      make([]uint64, NumSlots),
	}
	for i := range b.cover {
		b.cover[i] = noCover
	}
	return b
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
	if need > uint64(len(b.buf)) {
		// Larger than the ring: nobody can receive it from here.
		b.start = b.end + need
		b.end = b.start
		b.firstIndex = idx + 1
		b.cover[s] = r.Seq
		for i := range b.cover {
			if b.cover[i] != noCover && b.cover[i] < b.last[i] {
				b.cover[i] = b.last[i]
			}
		}
		return idx
	}
	for uint64(len(b.buf))-b.used() < need {
		b.evict()
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
}

// write copies p into the ring at offset off.
func (b *backlog) write(off uint64, p []byte) {
	i := int(off % uint64(len(b.buf)))
	n := copy(b.buf[i:], p)
	copy(b.buf, p[n:])
}

// read copies len(p) bytes from offset off.
func (b *backlog) read(off uint64, p []byte) {
	i := int(off % uint64(len(b.buf)))
	n := copy(p, b.buf[i:])
	copy(p[n:], b.buf)
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
