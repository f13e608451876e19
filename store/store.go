package store

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

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
	// Clock gives the time; nil means the wall clock.
	Clock Clock
	// ActiveExpireHz is how many active expiry cycles run per second; 0 means
	// 10, above 1000 means 1000; negative disables the expirer goroutine
	// (tests call RunExpireCycle). Each cycle spends at most 25% of its period.
	ActiveExpireHz int
	// OnEvent, if set, is told of every expired or evicted key. It is called
	// synchronously with the key's shard lock held: it must not block and
	// must not call the Store.
	OnEvent func(ev Event)
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
	onEvent    func(Event)
	newKeys    atomic.Bool // tell OnEvent of created keys (EventNew)
	reportMiss atomic.Bool // tell OnEvent of read misses (EventKeyMiss)

	maxMemory atomic.Int64
	policy    atomic.Uint32
	samples   atomic.Int32
	evictNext atomic.Uint32 // rotating start shard for FreeMemory

	activeExpireOff atomic.Bool // DEBUG SET-ACTIVE-EXPIRE 0

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
	case cfg.Shards < 0 || cfg.Shards&(cfg.Shards-1) != 0 || cfg.Shards > 1<<16:
		return nil, fmt.Errorf("%w: shards %d is not a power of two in 1..65536", ErrBadConfig, cfg.Shards)
	case cfg.Databases < 0 || cfg.Databases > 256:
		return nil, fmt.Errorf("%w: databases %d not in 1..256", ErrBadConfig, cfg.Databases)
	case cfg.MaxMemory < 0 || cfg.MaxMemorySamples < 0:
		return nil, fmt.Errorf("%w: negative maxmemory or samples", ErrBadConfig)
	case int(cfg.Policy) >= len(policyNames):
		return nil, fmt.Errorf("%w: policy %d", ErrBadConfig, cfg.Policy)
	}
	s := &Store{
		mask: uint64(cfg.Shards - 1), dbs: cfg.Databases, clock: cfg.Clock, onEvent: cfg.OnEvent,
		dbPhys: make([]atomic.Uint32, cfg.Databases), dbLog: make([]atomic.Uint32, cfg.Databases),
		slotCounts: make([]atomic.Pointer[[Slots]atomic.Int32], cfg.Databases),
		hz:         cfg.ActiveExpireHz, stop: make(chan struct{}),
	}
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
	if s.hz > 0 {
		s.wg.Add(1)
		go s.expireLoop()
	}
	return s, nil
}

// Close stops the background goroutines and waits for them. It is
// idempotent; the Store stays usable (without active expiry).
func (s *Store) Close() {
	s.closed.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// Databases returns the number of logical databases.
func (s *Store) Databases() int { return s.dbs }

// SetMaxMemory sets the memory limit in bytes (0 = none).
func (s *Store) SetMaxMemory(n int64) { s.maxMemory.Store(max(n, 0)) }

// MaxMemory returns the memory limit in bytes (0 = none).
func (s *Store) MaxMemory() int64 { return s.maxMemory.Load() }

// SetPolicy sets the maxmemory-policy.
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

func (s *Store) phys(db int) uint8       { return uint8(s.dbPhys[db].Load()) }
func (s *Store) logical(db uint8) int    { return int(s.dbLog[db].Load()) }
func (s *Store) shardOf(h uint64) *shard { return s.shards[h&s.mask] }

// slotAdd counts a key of physical db in or out of its cluster slot.
func (s *Store) slotAdd(db uint8, key []byte, d int32) {
	p := s.slotCounts[db].Load()
	if p == nil {
		s.slotCounts[db].CompareAndSwap(nil, new([Slots]atomic.Int32))
		p = s.slotCounts[db].Load()
	}
	p[KeySlot(key)].Add(d)
}

// Stats are the keyspace counters.
type Stats struct {
	Hits, Misses, Expired, Evicted uint64
}

// Stats sums the counters of every shard.
func (s *Store) Stats() Stats {
	var st Stats
	for _, sh := range s.shards {
		sh.mu.Lock()
		st.Hits += sh.hits
		st.Misses += sh.misses
		st.Expired += sh.expired
		st.Evicted += sh.evicted
		sh.mu.Unlock()
	}
	return st
}

// ResetStats zeroes Hits, Misses, Expired and Evicted (CONFIG RESETSTAT).
func (s *Store) ResetStats() {
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.hits, sh.misses, sh.expired, sh.evicted = 0, 0, 0, 0
		sh.mu.Unlock()
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

// DBSize returns the number of keys in db (expired ones not yet reaped included, as Redis).
func (s *Store) DBSize(db int) int64 { return s.dbCounts(db).keys }

// DBExpires returns the number of keys with a TTL in db.
func (s *Store) DBExpires(db int) int64 { return s.dbCounts(db).expires }

// dbCounts sums db's key and TTL counts over the shards.
func (s *Store) dbCounts(db int) dbCount {
	var n dbCount
	for _, sh := range s.shards {
		sh.mu.Lock()
		c := sh.counts[s.phys(db)]
		sh.mu.Unlock()
		n.keys += c.keys
		n.expires += c.expires
	}
	return n
}

// AvgTTL returns the mean remaining TTL in ms of up to 16 keys with a TTL per
// shard in db (INFO keyspace avg_ttl), 0 if none.
func (s *Store) AvgTTL(db int) int64 {
	var sum, n int64
	now := s.clock.NowMs()
	for _, sh := range s.shards {
		sh.mu.Lock()
		p, seen := s.phys(db), 0
		for _, e := range sh.ttl {
			if seen == 16 {
				break
			}
			if sh.rec(e.rec).db == p && e.exp > now {
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

// lockAll locks every shard in index order.
func (s *Store) lockAll() {
	for _, sh := range s.shards {
		sh.mu.Lock()
	}
}

func (s *Store) unlockAll() {
	for _, sh := range s.shards {
		sh.mu.Unlock()
	}
}

// FlushDB removes every key of db. It records no effects (the caller emits FLUSHDB).
func (s *Store) FlushDB(db int) {
	s.lockAll()
	defer s.unlockAll()
	p := s.phys(db)
	for _, sh := range s.shards {
		if sh.counts[p].keys == 0 {
			continue
		}
		if sh.counts[p].keys == int64(sh.idx.n) {
			sh.resetLocked()
			continue
		}
		for i := uint32(1); i < sh.nrec; i++ {
			if r := sh.rec(i); r.typ != TypeNone && r.db == p {
				sh.removeLocked(i)
			}
		}
	}
	s.slotCounts[p].Store(nil)
}

// FlushAll removes every key of every db.
func (s *Store) FlushAll() {
	s.lockAll()
	defer s.unlockAll()
	for _, sh := range s.shards {
		sh.resetLocked()
	}
	for i := range s.slotCounts {
		s.slotCounts[i].Store(nil)
	}
}

// SwapDB exchanges logical databases a and b, atomically for observers.
func (s *Store) SwapDB(a, b int) {
	s.lockAll()
	defer s.unlockAll()
	pa, pb := s.dbPhys[a].Load(), s.dbPhys[b].Load()
	s.dbPhys[a].Store(pb)
	s.dbPhys[b].Store(pa)
	s.dbLog[pb].Store(uint32(a))
	s.dbLog[pa].Store(uint32(b))
}

// Get appends the string value of key in db to dst. It applies lazy expiry,
// counts a hit or miss and touches the LRU. ErrWrongType if the key holds
// a collection (counted as a hit, as Redis).
func (s *Store) Get(db int, key []byte, dst []byte) (val []byte, ok bool, err error) {
	h := xxhash.Sum64(key)
	sh := s.shardOf(h)
	now := s.clock.NowMs()
	sh.mu.Lock()
	p := s.phys(db)
	i := sh.find(p, key, tagOf(h, p))
	if i == 0 || sh.expiredLocked(i, now) {
		sh.misses++
		sh.mu.Unlock()
		return dst, false, nil
	}
	sh.hits++
	sh.touchLocked(i, uint32(now/1000))
	r := sh.rec(i)
	if r.typ != TypeString {
		sh.mu.Unlock()
		return dst, true, ErrWrongType
	}
	dst = append(dst, r.val()...)
	sh.mu.Unlock()
	return dst, true, nil
}

// Set stores val as the string value of key in db, replacing any value of
// any type, with expiry expireAt (absolute Unix ms; 0 none; KeepTTL keeps it).
func (s *Store) Set(db int, key, val []byte, expireAt int64) {
	h := xxhash.Sum64(key)
	sh := s.shardOf(h)
	now := s.clock.NowMs()
	sh.mu.Lock()
	sh.setLocked(s.phys(db), key, h, TypeString, val, nil, 0, expireAt, now)
	sh.mu.Unlock()
}

// SetReportNew turns EventNew on or off: when on, OnEvent is told of every
// key a write creates (keyspace notifications' "new" class). Off by default.
func (s *Store) SetReportNew(on bool) { s.newKeys.Store(on) }

// SetReportMiss turns EventKeyMiss on or off: when on, OnEvent is told of
// every key a read lookup (LookupRead, LookupReadNoTouch) misses, as
// keyspace notifications' "keymiss" class wants. Off by default.
func (s *Store) SetReportMiss(on bool) { s.reportMiss.Store(on) }

// setLocked creates or replaces key with a string or object value.
func (sh *shard) setLocked(p uint8, key []byte, h uint64, t Type, val []byte, obj any, size, expireAt, now int64) uint32 {
	tag := tagOf(h, p)
	i := sh.find(p, key, tag)
	if i != 0 && expireAt == KeepTTL && sh.expiredLocked(i, now) {
		i = 0
	}
	if i == 0 {
		i = sh.insertLocked(p, key, tag, t, val, obj, size, uint32(now/1000))
		if sh.st.newKeys.Load() && sh.st.onEvent != nil {
			sh.st.onEvent(Event{Kind: EventNew, DB: sh.st.logical(p), Key: key})
		}
	} else {
		sh.replaceLocked(i, t, val, obj, size)
		sh.touchLocked(i, uint32(now/1000))
	}
	if expireAt != KeepTTL {
		sh.setTTLLocked(i, expireAt)
	}
	return i
}
