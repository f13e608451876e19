package store

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cached/cached/internal/bigcopy"
	"github.com/cespare/xxhash/v2"
)

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1

	// recordCost is what a key costs beside its bytes: its record plus its
	// amortized index slot (8 bytes at a load between 0.53 and 0.8).
	recordCost = int64(unsafe.Sizeof(record{})) + 12
	// ttlCost is the extra a key with a TTL costs (its ttlEntry; the 4
	// bytes of its position at the end of its item count in the item's size).
	ttlCost = int64(unsafe.Sizeof(ttlEntry{}))
	// objCost is the extra a collection key costs for its objTable slot
	// (its object number is in the key's item).
	objCost = int64(unsafe.Sizeof(objRef{}))
)

// record is one key: 16 bytes. Records live in chunks and never move, so a
// record number is stable until the key is deleted. A free record has type
// TypeNone and no kv; its snext links its chunk's free list. A record holds
// no pointer, so the collector never scans the chunks. There is no LRU
// list: the LRU policies sample keys by their access field (evict.go). A
// record's physical database is its chunk's (dbOf, chunks.go).
type record struct {
	item  uint32 // kv: the handle (slab.go) of the uvarint key length, key, then (strings) value; the item keeps kv's length
	meta  uint32 // access field (bits 0-27) | Type<<28 | metaTTL (bit 31)
	sprev uint32 // links of the slot's key list (slotindex.go); 0 = none
	snext uint32 // a free record: the next free record of its chunk (in-chunk number + 1; 0 = none)
}

// The access field is the LRU clock of the last access (lruClock) or,
// under an LFU policy, minutes<<8 | counter (lfu.go).
const (
	accessBits = 28
	accessMask = 1<<accessBits - 1
	typShift   = accessBits
	typMask    = 7 << typShift
)

// metaTTL flags a record with a TTL: its position in shard.ttl is the last
// 4 bytes (little endian) of its item, past kv, so that keys without a TTL
// do not pay for the field.
const metaTTL = 1 << 31

func (r *record) access() uint32     { return r.meta & accessMask }
func (r *record) setAccess(a uint32) { r.meta = r.meta&^accessMask | a&accessMask }
func (r *record) typ() Type          { return Type((r.meta & typMask) >> typShift) }
func (r *record) setTyp(t Type)      { r.meta = r.meta&^typMask | uint32(t)<<typShift&typMask }
func (r *record) hasTTL() bool       { return r.meta&metaTTL != 0 }

// newRecord is a live record of item h, of type t, with access field a, no
// TTL and no links.
func newRecord(h, a uint32, t Type) record {
	return record{item: h, meta: a&accessMask | uint32(t)<<typShift}
}

// ttlTail is the bytes at the end of record r's item that hold its TTL
// position: 4 with a TTL, else 0.
func ttlTail(r *record) uint32 { return (r.meta >> 31) * 4 }

// ttlPos returns the position in s.ttl of record r, which has a TTL.
func (s *shard) ttlPos(r *record) uint32 { return le32(s.slabs.tail(r.item)) }

// setTTLPos stores the position in s.ttl of record r, which has a TTL.
func (s *shard) setTTLPos(r *record, p uint32) { putLE32(s.slabs.tail(r.item), p) }

// kv returns record r's packed bytes.
func (s *shard) kv(r *record) []byte { return s.slabs.content(r.item) }

// keyEnd returns the offset of the key and the offset just past it in kv.
func keyEnd(b []byte) (int, int) {
	if b[0] < 0x80 {
		return 1, 1 + int(b[0])
	}
	k, w := binary.Uvarint(b)
	return w, w + int(k)
}

// key returns record r's key.
func (s *shard) key(r *record) []byte {
	b := s.kv(r)
	lo, hi := keyEnd(b)
	return b[lo:hi:hi]
}

// val returns record r's string value.
func (s *shard) val(r *record) []byte {
	b := s.kv(r)
	_, hi := keyEnd(b)
	return b[hi:]
}

// ttlEntry is one key with a TTL.
type ttlEntry struct {
	exp int64 // Unix ms
	rec uint32
}

// dbCount counts one physical database's keys in a shard.
type dbCount struct{ keys, expires atomic.Int64 } // written under the shard lock, read without

// shard is one lock stripe. mu guards every field except used (atomic, read
// without the lock by UsedMemory).
type shard struct {
	mu     sync.Mutex
	st     *Store
	id     int
	chunks [][]record
	mapped []bool      // per chunk: off the Go heap (arena.go)
	cinfo  []chunkInfo // per chunk: its database and free records (chunks.go)
	nrec   uint32      // records in the chunks (record 0 is never used: 0 means none)
	warmed uint64      // the slot walks' warm passes' loads end here (prefetch.go), so they are not optimized away
	// partial[db] is the first of physical database db's chunks with free
	// records, -1 = none; spare holds chunks with no live record.
	partial []int32
	spare   []int32
	// freeRecs counts the records on the chunks' free lists (chunks.go);
	// written under mu, read without (RecordFreedBytes): per shard, so
	// that writes in different shards share no counter.
	freeRecs atomic.Int64
	// compacting lists the slabs compaction is emptying and compactCur
	// the next record its walk looks at (compact.go).
	compacting []uint32
	compactCur uint32
	idx        index
	ttl        []ttlEntry
	ttlCur     int       // active expiry sweep position in ttl
	ageCur     uint32    // the LRU age sweep's next record (ageStepLocked)
	objs       objTable  // collection values (objtab.go)
	slabs      slabAlloc // the records' packed keys and values (slab.go)
	counts     []dbCount // per physical db
	pool       evictPool // LRU and LFU eviction candidates
	heads      []uint32  // per slot of this shard: first record of its key list (slotindex.go)

	hits, misses, expired, evicted atomic.Uint64 // written under mu, read without

	applying bool // locked by a LockApply Tx: replica slots' expired keys are live (slotindex.go)

	cur *Record // where changes go while mu is held: the holding Tx's Record, or bg
	bg  Record  // the Record of work done under mu outside a Tx (fast paths, expiry, eviction)

	used     atomic.Int64
	warmSink uint64   // Store.Warm's loads end here, so they are not optimized away; under mu
	_        [64]byte // keep neighbouring shards' locks off this cache line
}

func newShard(st *Store, id, dbs int) *shard {
	s := &shard{st: st, id: id, counts: make([]dbCount, dbs)}
	s.resetLocked()
	return s
}

// resetLocked drops every key of the shard.
func (s *shard) resetLocked() {
	s.releaseLocked()
	s.resetChunksLocked()
	s.idx = newIndex()
	s.idx.off = &s.st.offHeap
	s.ttl = nil
	s.ttlCur = 0
	s.objs = objTable{}
	s.slabs = newSlabAlloc(&s.st.released, &s.st.offHeap, &s.st.slabFreed, &s.st.slabIdle, &s.st.slabSpares)
	s.compacting, s.compactCur = nil, 0
	s.pool = evictPool{}
	s.heads = make([]uint32, Slots/len(s.st.shards))
	clear(s.counts)
	s.used.Store(0)
}

// releaseLocked gives back the memory of every key of the shard: slabs,
// record chunks and index, off the Go heap or not. The shard must be reset
// (or never used again) after it.
func (s *shard) releaseLocked() {
	if s.slabs.released != nil {
		s.slabs.dropAll()
	}
	recBytes := int64(pageRound(chunkSize * int(unsafe.Sizeof(record{}))))
	for i, c := range s.chunks {
		if s.mapped[i] {
			s.st.offHeap.Add(-recBytes)
			freeOffHeap(recordBytes(c))
		}
	}
	s.chunks, s.mapped = nil, nil
	s.freeRecs.Store(0)
	s.idx.release()
}

func (s *shard) rec(i uint32) *record { return &s.chunks[i>>chunkBits][i&chunkMask] }

// tagOf mixes the key hash with the physical db and the store's secret seed
// into the index tag, so that clients cannot choose keys that crowd one
// probe run (the key hash itself is unseeded xxhash, as shard choice is).
func tagOf(h uint64, db uint8) uint32 {
	h ^= tagSeed + uint64(db)*0x9E3779B97F4A7C15
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h)
}

// tagSeed is a random per-process secret for tagOf.
var tagSeed = rand.Uint64()

// find returns the record of key in physical db, or 0.
func (s *shard) find(db uint8, key []byte, tag uint32) uint32 {
	slots := s.idx.slots
	for i := home(tag, len(slots)); ; {
		v := slots[i]
		if v == 0 {
			return 0
		}
		if uint32(v>>32) == tag {
			r := s.rec(uint32(v))
			if s.dbOf(uint32(v)) == db && bytes.Equal(s.key(r), key) {
				return uint32(v)
			}
		}
		if i++; i == len(slots) {
			i = 0
		}
	}
}

// costLocked is what record i costs in UsedMemory.
func (s *shard) costLocked(i uint32) int64 {
	r := s.rec(i)
	c := recordCost + int64(s.slabs.size(r.item))
	if r.hasTTL() {
		c += ttlCost
	}
	if r.typ() != TypeString {
		c += objCost + s.objOf(i).size
	}
	return c
}

// kvLen is the packed size of key and val.
func kvLen(key, val []byte) uint64 {
	k := uint64(len(key))
	return uint64(uvarintLen(k)) + k + uint64(len(val))
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// maxKV is the largest packed key and value.
const maxKV = 1<<32 - 1

// newKVLocked allocates and fills the packed bytes of key (+ val), in an
// item with tail more bytes, and returns its handle.
func (s *shard) newKVLocked(key, val []byte, tail uint32) uint32 {
	n := kvLen(key, val)
	if n+uint64(tail) > maxKV {
		panic("store: key and value larger than 4 GiB")
	}
	h := s.slabs.alloc(uint32(n) + tail)
	b := s.slabs.bytes(h, uint32(n))
	w := binary.PutUvarint(b, uint64(len(key)))
	bigcopy.Copy(b[w+copy(b[w:], key):], val)
	s.slabs.setLength(h, uint32(n))
	return h
}

// growLocked makes string record i's value at least n bytes (zero-filled)
// and returns it. It moves the value only when its item is outgrown: to the
// size class that holds it (classes are ~8% apart) or, past largeMin, to a
// buffer of at least 5/4 of the old room, so growing by small steps copies
// the value O(log n) times, not on every call. A new large buffer comes
// zeroed from the Go heap and is not written here, so its untouched pages
// (SETBIT at a high offset) stay out of RSS.
func (s *shard) growLocked(i uint32, n int) []byte {
	r := s.rec(i)
	kv := s.kv(r)
	_, hi := keyEnd(kv)
	if n <= len(kv)-hi {
		s.unshareLocked(i) // a Pin may be reading it: copy first
		return s.kv(r)[hi:]
	}
	tail := uint64(ttlTail(r))
	newN := uint64(hi) + uint64(n)
	if newN+tail > maxKV {
		panic("store: key and value larger than 4 GiB")
	}
	var pos uint32
	if tail != 0 {
		pos = s.ttlPos(r)
	}
	s.used.Add(-s.costLocked(i))
	old, room := uint32(len(kv)), uint64(s.slabs.room(r.item))-tail
	want := min(max(newN, room+room/4), maxKV-tail)
	fresh := false
	switch {
	case newN <= room:
		s.unshareLocked(i) // same capacity: the cost does not change
	case r.item&largeBit != 0: // a new buffer: a Pin keeps the old one
		s.slabs.growLarge(r.item, old, uint32(want+tail))
		fresh = true
	default:
		if newN+tail <= largeMin {
			want = newN
		}
		h := s.slabs.alloc(uint32(want + tail))
		bigcopy.Copy(s.slabs.bytes(h, old), kv)
		s.slabs.free(r.item)
		r.item = h
		fresh = want+tail >= largeMin
	}
	s.slabs.setLength(r.item, uint32(newN))
	if !fresh {
		clear(s.kv(r)[old:]) // the item's slack may hold an older value's bytes
	}
	if tail != 0 {
		s.setTTLPos(r, pos)
	}
	s.used.Add(s.costLocked(i))
	return s.kv(r)[hi:]
}

// insertLocked creates key in physical db with value bytes val (strings) or
// object obj; tag must be the key's tag and slot its slot (KeySlot). With
// ttl its item gets room for a TTL position (setTTLLocked follows). It
// returns the record.
func (s *shard) insertLocked(db uint8, key []byte, tag uint32, slot int, t Type, val []byte, obj any, size int64, nowMs int64, ttl bool) uint32 {
	i := s.allocRecord(db)
	r := s.rec(i)
	if t != TypeString {
		num := objVal(s.objs.alloc(objRef{obj: obj, size: size}))
		val = num[:]
	}
	var tail uint32
	if ttl {
		tail = 4
	}
	h := s.newKVLocked(key, val, tail)
	*r = newRecord(h, s.initialAccess(nowMs), t)
	s.idx.insert(tag, i)
	s.counts[db].keys.Add(1)
	s.st.slotAdd(db, slot, 1)
	s.slotLink(i, slot)
	s.used.Add(s.costLocked(i))
	return i
}

// replaceLocked gives existing record i a new value (string or object).
// val may alias record i's own value. With ttl (or a TTL already) its item
// keeps room for a TTL position.
func (s *shard) replaceLocked(i uint32, t Type, val []byte, obj any, size int64, ttl bool) {
	r := s.rec(i)
	s.used.Add(-s.costLocked(i))
	_, hi := keyEnd(s.kv(r))
	switch {
	case t != TypeString && r.typ() != TypeString:
		*s.objOf(i) = objRef{obj: obj, size: size}
		val = s.val(r) // the same object number
	case t != TypeString:
		num := objVal(s.objs.alloc(objRef{obj: obj, size: size}))
		val = num[:]
	case r.typ() != TypeString:
		s.objs.release(s.objNum(r))
	}
	newN := uint64(hi) + uint64(len(val))
	tail := uint64(ttlTail(r))
	if ttl {
		tail = 4
	}
	if room := s.slabs.room(r.item); newN+tail <= uint64(room) && allocSize(newN+tail) == uint64(s.slabs.size(r.item)) && !s.slabs.shared(r.item) {
		bigcopy.Copy(s.slabs.bytes(r.item, uint32(newN))[hi:], val)
		s.slabs.setLength(r.item, uint32(newN)) // after the copy: val may alias bytes setLength writes
	} else {
		var pos uint32
		if r.hasTTL() {
			pos = s.ttlPos(r)
		}
		h := s.newKVLocked(s.key(r), val, uint32(tail))
		s.slabs.free(r.item)
		r.item = h
		if r.hasTTL() {
			s.setTTLPos(r, pos)
		}
	}
	r.setTyp(t)
	s.used.Add(s.costLocked(i))
}

// removeLocked deletes record i (and its object) from every structure.
func (s *shard) removeLocked(i uint32) {
	r := s.rec(i)
	s.setTTLLocked(i, 0)
	s.used.Add(-s.costLocked(i))
	key := s.key(r)
	pos := s.idx.position(tagOf(xxhash.Sum64(key), s.dbOf(i)), i)
	if pos < 0 {
		panic("store: record missing from index")
	}
	s.idx.removeAt(pos)
	slot := KeySlot(key)
	s.st.slotAdd(s.dbOf(i), slot, -1)
	s.slotUnlink(i, slot)
	s.counts[s.dbOf(i)].keys.Add(-1)
	if r.typ() != TypeString {
		s.objs.release(s.objNum(r))
	}
	s.slabs.free(r.item)
	s.freeRecord(i)
}

// expireAt returns record i's expiry (Unix ms) or 0.
func (s *shard) expireAt(i uint32) int64 {
	if r := s.rec(i); r.hasTTL() {
		return s.ttl[s.ttlPos(r)].exp
	}
	return 0
}

// setTTLLocked sets record i's expiry; 0 removes it.
func (s *shard) setTTLLocked(i uint32, exp int64) {
	r := s.rec(i)
	has := r.hasTTL()
	switch {
	case has && exp != 0:
		s.ttl[s.ttlPos(r)].exp = exp
	case !has && exp != 0:
		if n := uint64(len(s.kv(r))); n+4 > uint64(s.slabs.room(r.item)) {
			s.moveItemLocked(i, n+4)
		}
		s.ttl = append(s.ttl, ttlEntry{exp: exp, rec: i})
		r.meta |= metaTTL
		s.setTTLPos(r, uint32(len(s.ttl)-1))
		s.counts[s.dbOf(i)].expires.Add(1)
		s.used.Add(ttlCost)
	case has:
		p := s.ttlPos(r)
		last := len(s.ttl) - 1
		if int(p) != last {
			s.ttl[p] = s.ttl[last]
			s.setTTLPos(s.rec(s.ttl[p].rec), p)
		}
		s.ttl = s.ttl[:last]
		r.meta &^= metaTTL
		s.counts[s.dbOf(i)].expires.Add(-1)
		s.used.Add(-ttlCost)
		if cap(s.ttl) > 1024 && len(s.ttl) < cap(s.ttl)/4 {
			s.ttl = append([]ttlEntry(nil), s.ttl...)
		}
	}
}

// moveItemLocked moves record i's kv to a new item of size bytes (at least
// its length; a TTL position is not moved).
func (s *shard) moveItemLocked(i uint32, size uint64) {
	if size > maxKV {
		panic("store: key and value larger than 4 GiB")
	}
	r := s.rec(i)
	s.used.Add(-s.costLocked(i))
	kv := s.kv(r)
	h := s.slabs.alloc(uint32(size))
	bigcopy.Copy(s.slabs.bytes(h, uint32(len(kv))), kv)
	s.slabs.setLength(h, uint32(len(kv)))
	s.slabs.free(r.item)
	r.item = h
	s.used.Add(s.costLocked(i))
}

// touchLocked marks record i as just used at Unix ms nowMs: its access
// field.
func (s *shard) touchLocked(i uint32, nowMs int64) {
	if s.st.Policy().IsLFU() {
		s.touchLFULocked(i, uint32(nowMs/1000))
	} else {
		s.rec(i).setAccess(lruClock(nowMs))
	}
}

// expiredLocked deletes record i if its TTL has passed (counting it and
// noting it as a ChangeExpired with a DEL effect) and reports whether it did.
func (s *shard) expiredLocked(i uint32, now int64) bool {
	exp := s.expireAt(i)
	if exp == 0 || exp > now {
		return false
	}
	if s.replicaRec(i) { // a replica's key: hidden, not deleted
		return !s.applying
	}
	s.dropLocked(i, ChangeExpired)
	return true
}

// expiredReadLocked is expiredLocked for a read (a read command's lookup,
// GET's fast path, SCAN, KEYS, RANDOMKEY). While the store is paused
// (Config.Paused: CLIENT PAUSE, either mode) a key whose TTL has passed is
// hidden but not deleted, as Redis 7's expireIfNeeded expires nothing
// during a pause: the key goes when the pause ends, or a failover's new
// primary sends its DEL. Writes still delete it (expiredLocked), since a
// write goes on to store the key: one admitted just before the pause began,
// or the node's own (replication, hand-over).
func (s *shard) expiredReadLocked(i uint32, now int64) bool {
	if exp := s.expireAt(i); exp == 0 || exp > now {
		return false
	}
	if !s.replicaRec(i) && s.st.isPaused() {
		return true
	}
	return s.expiredLocked(i, now)
}

// dropLocked removes record i as an expiry or eviction.
// The DEL is noted in the Record of whoever holds the lock (sh.cur).
func (s *shard) dropLocked(i uint32, kind ChangeKind) {
	if kind == ChangeExpired {
		s.expired.Add(1)
	} else {
		s.evicted.Add(1)
	}
	r := s.rec(i)
	db, key := s.st.logical(s.dbOf(i)), s.key(r)
	s.cur.note(kind, db, key, 0, "")
	if s.st.recordFx.Load() {
		s.cur.effect(db, KeySlot(key), cmdDel, [][]byte{key})
	}
	s.removeLocked(i)
}

var cmdDel = []byte("DEL")

func hashKey(k []byte) uint64 { return xxhash.Sum64(k) }
