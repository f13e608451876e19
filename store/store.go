package store

import (
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cached/cached/internal/bigcopy"
	"github.com/cespare/xxhash/v2"
)

// Config configures a Store.
type Config struct {
	// Shards is the number of lock stripes, a power of two; 0 means
	// 4*GOMAXPROCS rounded up to a power of two, at least 16. More shards mean
	// less lock contention and slightly coarser global LRU order.
	Shards int
	// Databases is the number of logical databases (SELECT), 1..256; 0 means 16.
	Databases int
	// MaxMemory is the memory limit in bytes for FreeMemory; 0 means none.
	MaxMemory int64
	// Policy is the maxmemory-policy; default NoEviction.
	Policy Policy
	// MaxMemorySamples is how many keys the sampled policies look at per
	// eviction (Redis maxmemory-samples); 0 means 5.
	MaxMemorySamples int
	// LFU holds lfu-log-factor and lfu-decay-time for the LFU policies; nil
	// means DefaultLFULogFactor and DefaultLFUDecayTime.
	LFU *LFUConfig
	// Clock gives the time; nil means the wall clock.
	Clock Clock
	// ActiveExpireHz is how many active expiry cycles run per second; 0 means
	// 10, above 1000 means 1000; negative disables the expirer goroutine
	// (tests call RunExpireCycle). Each cycle spends at most 25% of its period.
	ActiveExpireHz int
	// Paused, if set, reports whether the data is to stay still (the
	// server's CLIENT PAUSE, as Redis's PAUSE_ACTION_EXPIRE and
	// PAUSE_ACTION_EVICT): while it answers true no active expiry cycle
	// runs and FreeMemory evicts nothing and answers nil, as Redis's
	// performEvictions does. Lazy expiry on access is not held.
	Paused func() bool
	// Observer, if set, receives the change Record of every committed unit
	// (see Observer).
	Observer Observer
}

// DefaultConfig returns the defaults New would fill in.
func DefaultConfig() Config {
	return Config{Shards: defaultShards(), Databases: 16, MaxMemorySamples: 5, ActiveExpireHz: 10, Clock: WallClock{}}
}

func defaultShards() int {
	n := 1 << bits.Len(uint(4*runtime.GOMAXPROCS(0)-1))
	return max(n, 16)
}

// Store is the keyspace of a node. It is safe for concurrent use.
type Store struct {
	shards     []*shard
	mask       uint64
	dbs        int
	clock      Clock
	wall       bool // clock is WallClock: MsAt need not read it
	observer   Observer
	newKeys    atomic.Bool // note created keys (ChangeNew)
	reportMiss atomic.Bool // note read misses (ChangeMiss)
	recordFx   atomic.Bool // record effects (SetRecordEffects)
	quiet      atomic.Bool // note no ChangeWrite (SetObserveWrites(false))

	// seq[slot] is the slot's last effect sequence number, guarded by the
	// lock of the slot's shard; keylessSeq is guarded by every shard's lock.
	seq        [Slots]uint64
	keylessSeq uint64

	maxMemory    atomic.Int64
	overhead     atomic.Int64  // process bytes outside the keys that count against maxMemory
	released     atomic.Int64  // bytes the shards' slab allocators gave back to the Go heap
	offHeap      atomic.Int64  // bytes of slabs, record chunks and indexes mapped off the Go heap (arena.go)
	slabFreed    atomic.Int64  // bytes of freed items the slabs keep for their class (SlabFreedBytes)
	slabIdle     atomic.Int64  // mapped slab bytes written before that hold no item: spares, their tails (SlabIdleBytes)
	slabSpares   atomic.Int32  // the shards' mapped spares (FreeMemory drops them when over the limit)
	countFreed   atomic.Bool   // Overhead adds slabFreed and slabIdle (SetCountSlabFreed)
	cowCopies    atomic.Int64  // large values copied because a Pin held them (largepin.go)
	cowBytes     atomic.Int64  // bytes of those copies
	compactMoved atomic.Uint64 // slab items compaction moved (CompactedItems)
	policy       atomic.Uint32
	samples      atomic.Int32
	evictNext    atomic.Uint32 // rotating start shard for FreeMemory

	// lfuLogFactor and lfuDecayTime are lfu-log-factor and lfu-decay-time.
	lfuLogFactor, lfuDecayTime atomic.Int32

	activeExpireOff atomic.Bool // DEBUG SET-ACTIVE-EXPIRE 0
	paused          func() bool // Config.Paused; nil: never

	replicaMarks // slots held as a replica's copy (slotindex.go)
	fences       // slots handed over: fenced before their seal (fence.go)

	// dbPhys maps logical to physical db, dbLog the reverse. Written only with
	// every shard locked (SwapDB), read atomically.
	dbPhys, dbLog []atomic.Uint32
	// slotCounts[phys] counts keys per cluster slot, allocated on first use.
	slotCounts []atomic.Pointer[[Slots]atomic.Int32]

	hz     int
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
	txPool sync.Pool
}

// New validates cfg, fills defaults and returns a Store with its active
// expirer running (stopped by Close).
func New(cfg Config) (*Store, error) {
	d := DefaultConfig()
	if cfg.Shards == 0 {
		cfg.Shards = d.Shards
	}
	if cfg.Databases == 0 {
		cfg.Databases = d.Databases
	}
	if cfg.MaxMemorySamples == 0 {
		cfg.MaxMemorySamples = d.MaxMemorySamples
	}
	if cfg.ActiveExpireHz == 0 {
		cfg.ActiveExpireHz = d.ActiveExpireHz
	}
	if cfg.Clock == nil {
		cfg.Clock = d.Clock
	}
	cfg.ActiveExpireHz = min(cfg.ActiveExpireHz, 1000)
	switch {
	case cfg.Shards < 0 || cfg.Shards&(cfg.Shards-1) != 0 || cfg.Shards > Slots:
		return nil, fmt.Errorf("%w: shards %d is not a power of two in 1..%d", ErrBadConfig, cfg.Shards, Slots)
	case cfg.Databases < 0 || cfg.Databases > 256:
		return nil, fmt.Errorf("%w: databases %d not in 1..256", ErrBadConfig, cfg.Databases)
	case cfg.MaxMemory < 0 || cfg.MaxMemorySamples < 0:
		return nil, fmt.Errorf("%w: negative maxmemory or samples", ErrBadConfig)
	case int(cfg.Policy) >= len(policyNames):
		return nil, fmt.Errorf("%w: policy %d", ErrBadConfig, cfg.Policy)
	case cfg.LFU != nil && (cfg.LFU.LogFactor < 0 || cfg.LFU.DecayTime < 0):
		return nil, fmt.Errorf("%w: negative lfu-log-factor or lfu-decay-time", ErrBadConfig)
	}
	s := &Store{
		mask: uint64(cfg.Shards - 1), dbs: cfg.Databases, clock: cfg.Clock, observer: cfg.Observer,
		dbPhys: make([]atomic.Uint32, cfg.Databases), dbLog: make([]atomic.Uint32, cfg.Databases),
		slotCounts: make([]atomic.Pointer[[Slots]atomic.Int32], cfg.Databases),
		hz:         cfg.ActiveExpireHz, stop: make(chan struct{}), paused: cfg.Paused,
	}
	_, s.wall = cfg.Clock.(WallClock)
	s.txPool.New = func() any { return &Tx{st: s} }
	for i := range cfg.Databases {
		s.dbPhys[i].Store(uint32(i))
		s.dbLog[i].Store(uint32(i))
	}
	s.shards = make([]*shard, cfg.Shards)
	for i := range s.shards {
		s.shards[i] = newShard(s, i, cfg.Databases)
	}
	s.maxMemory.Store(cfg.MaxMemory)
	s.policy.Store(uint32(cfg.Policy))
	s.samples.Store(int32(cfg.MaxMemorySamples))
	lfu := LFUConfig{LogFactor: DefaultLFULogFactor, DecayTime: DefaultLFUDecayTime}
	if cfg.LFU != nil {
		lfu = *cfg.LFU
	}
	s.SetLFU(lfu)
	if s.hz > 0 {
		s.wg.Add(1)
		go s.expireLoop()
	}
	return s, nil
}

// Close stops the background goroutines, waits for them and gives back the
// memory of every key (off the Go heap it would otherwise stay mapped for
// the life of the process). It is idempotent; the Store stays usable, empty
// and without active expiry. It records no change and no effect.
func (s *Store) Close() {
	s.closed.Do(func() { close(s.stop) })
	s.wg.Wait()
	for _, sh := range s.shards {
		sh.mu.Lock()
	}
	for _, sh := range s.shards {
		sh.resetLocked()
	}
	for i := range s.slotCounts {
		s.slotCounts[i].Store(nil)
	}
	for _, sh := range s.shards {
		sh.mu.Unlock()
	}
}

// Databases returns the number of logical databases.
func (s *Store) Databases() int { return s.dbs }

// SetMaxMemory sets the memory limit in bytes (0 = none).
func (s *Store) SetMaxMemory(n int64) { s.maxMemory.Store(max(n, 0)) }

// MaxMemory returns the memory limit in bytes (0 = none).
func (s *Store) MaxMemory() int64 { return s.maxMemory.Load() }

// SetOverhead sets the bytes the process uses outside the keys (client
// buffers, replication backlog) that count against MaxMemory, as Redis counts
// them in used_memory: eviction keeps UsedMemory()+Overhead() at or under the
// limit. Negative values count as 0. Overhead adds SlabFreedBytes to it
// when SetCountSlabFreed is on.
func (s *Store) SetOverhead(n int64) { s.overhead.Store(max(n, 0)) }

// SetCountSlabFreed makes Overhead, and so eviction and the OOM check,
// count the slabs' freed items (SlabFreedBytes) and idle bytes
// (SlabIdleBytes) as they are at each check; FreeMemory then drops the
// shards' spare slabs first when over the limit:
// a server that owns the process turns it on, so that memory the slabs
// hold for a size no longer written bounds the keys (values that change
// size leave the old size's slabs sparse until eviction empties them).
// A write that reuses a freed item of its size leaves the sum of
// UsedMemory and the freed items unchanged but for its record and index
// slot, so deleted keys make room for new ones of their size as before.
//
// Freed records (RecordFreedBytes) are not counted: then evicting a key
// would not lower the sum at all until a slab emptied, and a write that
// found no freed item in its shard evicted keys until one did. Counted
// with them, allkeys-lru under maxmemory 64mb held 163,000-173,000
// 200-byte keys instead of 238,000 (docs/performance.md, "Refilling after
// deletes under noeviction, and evictions per write").
func (s *Store) SetCountSlabFreed(on bool) { s.countFreed.Store(on) }

// ReleasedBytes returns how many bytes of large values and of slabs that
// were in the Go heap (not mapped off it: arena.go) the store has given back
// to the Go heap since it started (deleted or outgrown large values, emptied
// slabs, flushed shards). They return to the OS only after
// a garbage collection frees them; a caller owning the process may start
// one when much was released and nothing else triggers it.
func (s *Store) ReleasedBytes() int64 { return s.released.Load() }

// OffHeapBytes returns the bytes of the keys' memory mapped off the Go heap
// (slabs, record chunks, large indexes: see arena.go): the collector does
// not count them, so a caller that owns the process adds them to the live
// heap to know what the data takes. It takes no lock.
func (s *Store) OffHeapBytes() int64 { return s.offHeap.Load() }

// UnwrittenBytes returns the bytes of the newly mapped slabs and record
// chunks (in OffHeapBytes) that no key has used yet: the never-used tails
// of each class's newest slab and each shard's newest chunk. Their pages
// are untouched, so they hold no RSS, and the keys that later fill them
// count in UsedMemory: a caller that counts the memory beyond the keys
// leaves them out (server/server.go's cron). It takes each shard's lock in
// turn and walks its slabs and chunks.
func (s *Store) UnwrittenBytes() int64 {
	var n int64
	for _, sh := range s.shards {
		sh.mu.Lock()
		n += sh.slabs.unwritten() + sh.unwrittenLocked()
		sh.mu.Unlock()
	}
	return n
}

// SlabFreedBytes returns the bytes of freed items that the shards' slabs
// keep on their free lists, for later items of the same size class: memory
// the process holds (its pages were written) that UsedMemory does not
// count, and that goes back only when a slab's last item is freed (a
// workload whose values change size leaves the old size's slabs sparse
// until they empty). It takes no lock.
func (s *Store) SlabFreedBytes() int64 { return s.slabFreed.Load() }

// SlabIdleBytes returns the bytes of the shards' mapped slabs that were
// written before and now hold no item, free lists aside: each shard's
// spare (its last emptied slab, kept for the next class that needs one)
// and the never-used tails of slabs made from a spare. Unlike a newly
// mapped slab's tail (UnwrittenBytes) their pages are resident. They
// change without a GC cycle, so a caller that counts the memory beyond
// the keys once per cycle leaves them out, and Overhead counts them as
// they are at each check (SetCountSlabFreed). It takes no lock.
func (s *Store) SlabIdleBytes() int64 { return s.slabIdle.Load() }

// RecordFreedBytes returns what the records freed by deleted and evicted
// keys cost while the shards' record chunks keep them for later keys:
// recordCost each, the record and its share of the index, as UsedMemory
// counted them. Chunks go back only when a shard is flushed. A caller
// that counts the process's memory beyond the keys leaves them out, as
// Redis's used_memory leaves out what its allocator keeps: a key written
// later takes one back, and UsedMemory counts it again. It takes no lock.
func (s *Store) RecordFreedBytes() int64 {
	var n int64
	for _, sh := range s.shards {
		n += sh.freeRecs.Load()
	}
	return n * recordCost
}

// Overhead returns the bytes set by SetOverhead, plus SlabFreedBytes and
// SlabIdleBytes when SetCountSlabFreed is on.
func (s *Store) Overhead() int64 {
	n := s.overhead.Load()
	if s.countFreed.Load() {
		n += s.slabFreed.Load() + s.slabIdle.Load()
	}
	return n
}

// SetPolicy sets the maxmemory-policy. Switching between an LRU and an LFU
// policy reinterprets every key's access field (see lfu.go), as Redis does.
func (s *Store) SetPolicy(p Policy) {
	if int(p) < len(policyNames) {
		s.policy.Store(uint32(p))
	}
}

// Policy returns the maxmemory-policy.
func (s *Store) Policy() Policy { return Policy(s.policy.Load()) }

// SetMaxMemorySamples sets maxmemory-samples (values < 1 become 1).
func (s *Store) SetMaxMemorySamples(n int) { s.samples.Store(int32(min(max(n, 1), 1<<16))) }

// Now returns the store clock in Unix ms.
func (s *Store) Now() int64 { return s.clock.NowMs() }

// MsAt returns the store clock in Unix ms at the Mono reading mono: for
// the wall clock (the default) MonoMs(mono), without reading the clock
// again; an injected Clock is read.
func (s *Store) MsAt(mono int64) int64 {
	if s.wall {
		return MonoMs(mono)
	}
	return s.clock.NowMs()
}

func (s *Store) phys(db int) uint8    { return uint8(s.dbPhys[db].Load()) }
func (s *Store) logical(db uint8) int { return int(s.dbLog[db].Load()) }

// slotAdd counts a key of physical db in or out of its cluster slot.
func (s *Store) slotAdd(db uint8, slot int, d int32) {
	p := s.slotCounts[db].Load()
	if p == nil {
		s.slotCounts[db].CompareAndSwap(nil, new([Slots]atomic.Int32))
		p = s.slotCounts[db].Load()
	}
	p[slot].Add(d)
}

// Stats are the keyspace counters.
type Stats struct {
	Hits, Misses, Expired, Evicted uint64
}

// Stats sums the counters of every shard. It takes no lock.
func (s *Store) Stats() Stats {
	var st Stats
	for _, sh := range s.shards {
		st.Hits += sh.hits.Load()
		st.Misses += sh.misses.Load()
		st.Expired += sh.expired.Load()
		st.Evicted += sh.evicted.Load()
	}
	return st
}

// ResetStats zeroes Hits, Misses, Expired and Evicted (CONFIG RESETSTAT).
func (s *Store) ResetStats() {
	for _, sh := range s.shards {
		sh.hits.Store(0)
		sh.misses.Store(0)
		sh.expired.Store(0)
		sh.evicted.Store(0)
	}
}

// UsedMemory returns the bytes accounted to all keys: record, index share,
// key and value allocation (rounded to Go size classes), TTL entry, and the
// sizes collection objects report.
func (s *Store) UsedMemory() int64 {
	var n int64
	for _, sh := range s.shards {
		n += sh.used.Load()
	}
	return n
}

// DBSize returns the number of keys in db (expired ones not yet reaped
// included, as Redis). It takes no lock.
func (s *Store) DBSize(db int) int64 {
	var n int64
	p := s.phys(db)
	for _, sh := range s.shards {
		n += sh.counts[p].keys.Load()
	}
	return n
}

// DBExpires returns the number of keys with a TTL in db. It takes no lock.
func (s *Store) DBExpires(db int) int64 {
	var n int64
	p := s.phys(db)
	for _, sh := range s.shards {
		n += sh.counts[p].expires.Load()
	}
	return n
}

// AvgTTL returns the mean remaining TTL in ms of up to 16 keys with a TTL per
// shard in db (INFO keyspace avg_ttl), 0 if none. Shards whose lock is busy
// are skipped (it is an estimate, and INFO may run inside an EXEC that
// holds some of them).
func (s *Store) AvgTTL(db int) int64 {
	var sum, n int64
	now := s.clock.NowMs()
	for _, sh := range s.shards {
		if !sh.mu.TryLock() {
			continue
		}
		p, seen := s.phys(db), 0
		for _, e := range sh.ttl {
			if seen == 16 {
				break
			}
			if sh.dbOf(e.rec) == p && e.exp > now {
				sum += e.exp - now
				n++
				seen++
			}
		}
		sh.mu.Unlock()
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// CountKeysInSlot returns the number of keys of db 0 in a cluster slot.
func (s *Store) CountKeysInSlot(slot int) int64 {
	if slot < 0 || slot >= Slots {
		return 0
	}
	for {
		p0 := s.phys(0)
		p := s.slotCounts[p0].Load()
		if s.phys(0) != p0 {
			continue // raced with SWAPDB
		}
		if p == nil {
			return 0
		}
		return int64(p[slot].Load())
	}
}

// lockShard locks sh for work outside a Tx, unless tx (may be nil) holds
// it already; changes go to the shard's own Record.
func (tx *Tx) lockShard(sh *shard) {
	if tx.holds(sh.id) {
		return
	}
	sh.mu.Lock()
	sh.cur = &sh.bg
}

// unlockShard commits the shard's own Record and unlocks sh, unless tx
// holds it (then its changes are in tx's Record).
func (tx *Tx) unlockShard(sh *shard) {
	if tx.holds(sh.id) {
		return
	}
	sh.st.commit(&sh.bg, false)
	sh.cur = nil
	sh.mu.Unlock()
}

// holds reports whether tx (nil: none) holds shard id's lock.
func (tx *Tx) holds(id int) bool {
	return tx != nil && tx.locked && (tx.all || slices.Contains(tx.ids, id))
}

// FlushDB removes every key of db (FLUSHDB). It needs every shard locked.
// It notes a ChangeFlush for db; it records no effect (the caller does).
func (tx *Tx) FlushDB(db int) {
	tx.mustAll()
	tx.st.flushing(tx, db, -1)
	p := tx.st.phys(db)
	for _, sh := range tx.st.shards {
		if sh.counts[p].keys.Load() == 0 {
			continue
		}
		if sh.counts[p].keys.Load() == int64(sh.idx.n) {
			sh.resetLocked()
			continue
		}
		for i := uint32(1); i < sh.nrec; i++ {
			if sh.noKeysOfFrom(p, i) {
				i |= chunkMask
				continue
			}
			if r := sh.rec(i); r.typ() != TypeNone {
				sh.removeLocked(i)
			}
		}
	}
	tx.st.slotCounts[p].Store(nil)
	tx.Flushed(db)
}

// FlushAll removes every key of every db (FLUSHALL). It needs every shard
// locked and notes a ChangeFlush per db.
func (tx *Tx) FlushAll() {
	tx.mustAll()
	tx.st.flushing(tx, -1, -1)
	for _, sh := range tx.st.shards {
		sh.resetLocked()
	}
	for i := range tx.st.slotCounts {
		tx.st.slotCounts[i].Store(nil)
	}
	for db := range tx.st.dbs {
		tx.Flushed(db)
	}
}

// SwapDB exchanges logical databases a and b. It needs every shard locked
// and notes a ChangeFlush for both.
func (tx *Tx) SwapDB(a, b int) {
	tx.mustAll()
	s := tx.st
	s.flushing(tx, a, b)
	s.flushing(tx, b, a)
	pa, pb := s.dbPhys[a].Load(), s.dbPhys[b].Load()
	s.dbPhys[a].Store(pb)
	s.dbPhys[b].Store(pa)
	s.dbLog[pb].Store(uint32(a))
	s.dbLog[pa].Store(uint32(b))
	tx.Flushed(a)
	tx.Flushed(b)
}

func (tx *Tx) mustAll() {
	if !tx.all {
		panic("store: whole-keyspace change without LockAll")
	}
}

// FlushObserver is an optional interface of an Observer: FlushDB, FlushAll
// and SwapDB call Flushing before they change anything, with every shard
// locked, passing the database about to be emptied or swapped (-1: all)
// and, for SwapDB, the other one (else -1), and exists, which reports
// whether a key is in a database now (lazy expiry applied). WATCH uses it:
// Redis fails a transaction watching a key such a command changes only if
// the key existed. Flushing must not block or call the Store.
type FlushObserver interface {
	Flushing(db, other int, exists func(db int, key []byte) bool)
}

func (s *Store) flushing(tx *Tx, db, other int) {
	if fo, ok := s.observer.(FlushObserver); ok {
		fo.Flushing(db, other, func(db int, key []byte) bool {
			_, ok := tx.Peek(db, key)
			return ok
		})
	}
}

// Get appends the string value of key in db to dst. It applies lazy expiry,
// counts a hit or miss and touches the LRU. ErrWrongType if the key holds
// a collection (counted as a hit, as Redis). A miss is not noted as a
// ChangeMiss (the caller reports it). Unlike GetAt it ignores fences
// (fence.go): it is not a request path.
func (s *Store) Get(db int, key []byte, dst []byte) (val []byte, ok bool, err error) {
	return s.getAt(s.clock.NowMs(), db, key, dst, false)
}

// GetAt is Get at the command's time now (Unix ms, from MsAt). It reads
// nothing and returns ErrFenced for a key of a fenced slot (fence.go).
func (s *Store) GetAt(now int64, db int, key []byte, dst []byte) (val []byte, ok bool, err error) {
	return s.getAt(now, db, key, dst, true)
}

// getAt is GetAt; fence says whether a fenced slot's key is refused.
func (s *Store) getAt(now int64, db int, key []byte, dst []byte, fence bool) (val []byte, ok bool, err error) {
	h := xxhash.Sum64(key)
	slot := KeySlot(key)
	sh := s.shards[slot&int(s.mask)]
	var tx *Tx
	tx.lockShard(sh)
	locked := true
	defer func() {
		if locked {
			tx.unlockShard(sh)
		}
	}()
	if fence && s.fencedSlot(slot) {
		return dst, false, ErrFenced
	}
	p := s.phys(db)
	i := sh.find(p, key, tagOf(h, p))
	if i == 0 || sh.expiredReadLocked(i, now) {
		sh.misses.Add(1)
		return dst, false, nil
	}
	sh.hits.Add(1)
	sh.touchLocked(i, now)
	r := sh.rec(i)
	if r.typ() != TypeString {
		return dst, true, ErrWrongType
	}
	v := sh.val(r)
	if r.item&largeBit == 0 || len(v) < copyUnlockedFrom {
		return bigcopy.Append(dst, v), true, nil
	}
	// A large value is copied after the lock is released, from its pinned
	// buffer (largepin.go): a 512 MB GET held every other key of the shard
	// for the whole copy.
	pin := Pin{c: sh.slabs.pinLarge(r.item)}
	defer pin.Release()
	tx.unlockShard(sh)
	locked = false
	return bigcopy.Append(dst, v), true, nil
}

// copyUnlockedFrom is the value length from which a read copies a string
// after releasing the shard lock (GetAt).
const copyUnlockedFrom = 1 << 20

// Set stores val as the string value of key in db, replacing any value of
// any type, with expiry expireAt (absolute Unix ms; 0 none; KeepTTL keeps
// it), and notes the change (class and event as Tx.Changed) and, while
// effects are recorded, the effect (as Tx.Propagate). It is a Lock, SetString,
// Changed, Propagate, Unlock without a Tx. Unlike SetAt it ignores fences
// (fence.go): it is not a request path.
func (s *Store) Set(db int, key, val []byte, expireAt int64, class uint16, event string, effect ...[]byte) {
	s.setAt(false, s.clock.NowMs(), db, key, val, expireAt, class, event, effect...)
}

// SetAt is Set at the command's time now (Unix ms, from MsAt). It writes
// nothing and returns false for a key of a fenced slot (fence.go).
func (s *Store) SetAt(now int64, db int, key, val []byte, expireAt int64, class uint16, event string, effect ...[]byte) bool {
	return s.setAt(true, now, db, key, val, expireAt, class, event, effect...)
}

// setAt is SetAt; fence says whether a fenced slot's key is refused.
func (s *Store) setAt(fence bool, now int64, db int, key, val []byte, expireAt int64, class uint16, event string, effect ...[]byte) bool {
	h := xxhash.Sum64(key)
	slot := KeySlot(key)
	sh := s.shards[slot&int(s.mask)]
	var tx *Tx
	tx.lockShard(sh)
	if fence && s.fencedSlot(slot) {
		tx.unlockShard(sh)
		return false
	}
	sh.setLocked(s.phys(db), key, h, slot, TypeString, val, nil, 0, expireAt, now, 0)
	if !s.quiet.Load() {
		sh.bg.note(ChangeWrite, db, key, class, event)
	}
	if len(effect) > 0 && s.recordFx.Load() {
		fxSlot := slot
		if string(effect[1]) != string(key) { // an effect names key (SET's does)
			fxSlot = KeySlot(effect[1])
		}
		sh.bg.effect(db, fxSlot, effect[0], effect[1:])
	}
	tx.unlockShard(sh)
	return true
}

// SetObserveWrites turns the ChangeWrite notes of Tx.Changed and Set on
// (the default) or off. Their owner turns them off while nothing reacts to
// them (no WATCH, no blocked client, no keyspace notification), so a write
// then costs no change record; it must turn them on before such a consumer
// starts reacting. Effects, expiries, evictions, flushes, ChangeNew and
// ChangeMiss are not affected.
func (s *Store) SetObserveWrites(on bool) { s.quiet.Store(!on) }

// RecordsEffects reports whether effects are being recorded.
func (s *Store) RecordsEffects() bool { return s.recordFx.Load() }

// SetRecordEffects turns effect recording on or off. While off (the
// default) Propagate does nothing, so writes pay nothing for effects.
func (s *Store) SetRecordEffects(on bool) { s.recordFx.Store(on) }

// SetReportNew turns ChangeNew notes on or off: when on, every key a write
// creates is noted (keyspace notifications' "new" class). Off by default.
func (s *Store) SetReportNew(on bool) { s.newKeys.Store(on) }

// SetReportMiss turns ChangeMiss notes on or off: when on, every key a read
// lookup (LookupRead, LookupReadNoTouch) misses is noted, as keyspace
// notifications' "keymiss" class wants. Off by default.
func (s *Store) SetReportMiss(on bool) { s.reportMiss.Store(on) }

// setLocked creates or replaces key with a string or object value. Replacing
// is an access of the key unless it is record looked (which the caller's
// lookup touched already). h is key's hash and slot its slot (KeySlot).
func (sh *shard) setLocked(p uint8, key []byte, h uint64, slot int, t Type, val []byte, obj any, size, expireAt, now int64, looked uint32) uint32 {
	tag := tagOf(h, p)
	i := sh.find(p, key, tag)
	if i != 0 && expireAt == KeepTTL && sh.expiredLocked(i, now) {
		i = 0
	}
	return sh.putLocked(p, key, tag, slot, i, t, val, obj, size, expireAt, now, looked)
}

// putLocked is setLocked once key is found: i is its record, or 0 to
// create it.
func (sh *shard) putLocked(p uint8, key []byte, tag uint32, slot int, i uint32, t Type, val []byte, obj any, size, expireAt, now int64, looked uint32) uint32 {
	if i == 0 {
		i = sh.insertLocked(p, key, tag, slot, t, val, obj, size, now, expireAt > 0)
		if sh.st.newKeys.Load() {
			sh.cur.note(ChangeNew, sh.st.logical(p), key, 0, "")
		}
	} else {
		sh.replaceLocked(i, t, val, obj, size, expireAt > 0)
		if i != looked {
			sh.touchLocked(i, now)
		}
	}
	if expireAt != KeepTTL {
		sh.setTTLLocked(i, expireAt)
	}
	return i
}

// FlushDB is LockAll, Tx.FlushDB, Unlock.
func (s *Store) FlushDB(db int) {
	tx := s.LockAll()
	tx.FlushDB(db)
	tx.Unlock()
}

// FlushAll is LockAll, Tx.FlushAll, Unlock.
func (s *Store) FlushAll() {
	tx := s.LockAll()
	tx.FlushAll()
	tx.Unlock()
}

// SwapDB is LockAll, Tx.SwapDB, Unlock.
func (s *Store) SwapDB(a, b int) {
	tx := s.LockAll()
	tx.SwapDB(a, b)
	tx.Unlock()
}
