package store

import (
	"math/rand/v2"
)

// evictBatch bounds the keys evicted from one shard per visit, so a large
// excess is spread over the shards instead of emptying one.
const evictBatch = 64

// maxEvictRounds bounds FreeMemory's passes over the shards when writers keep
// adding memory concurrently.
const maxEvictRounds = 1000

// FreeMemory evicts keys by the policy until UsedMemory()+Overhead() <=
// MaxMemory (if MaxMemory > 0), starting from a rotating shard. It returns ErrOOM when
// nothing can be evicted (noeviction, or volatile-* without volatile keys)
// while over the limit, and nil with nothing evicted while Config.Paused
// holds the data still. It must not be called with a Tx held. Each evicted
// key counts in Stats().Evicted and is committed as a ChangeEvicted with a
// DEL effect.
func (s *Store) FreeMemory() error {
	var tx *Tx
	return s.freeMemory(tx, int(s.evictNext.Add(1)))
}

// FreeMemory is Store.FreeMemory from inside the Tx: the shards it holds are
// evicted from under its locks (the evictions join its Record), the others
// are locked one at a time.
func (tx *Tx) FreeMemory() error {
	return tx.st.freeMemory(tx, int(tx.st.evictNext.Add(1)))
}

// FreeMemoryFor is FreeMemory starting with the shard of key, the one the
// coming write will grow, then the others.
func (s *Store) FreeMemoryFor(key []byte) error {
	var tx *Tx
	return s.freeMemory(tx, s.shardIndex(key))
}

func (s *Store) freeMemory(tx *Tx, start int) error {
	limit := s.maxMemory.Load()
	if limit <= 0 || s.isPaused() {
		return nil
	}
	spared := false
	for range maxEvictRounds {
		used := s.UsedMemory() + s.Overhead()
		if used <= limit {
			return nil
		}
		if !spared && s.slabSpares.Load() > 0 && s.countFreed.Load() {
			// The shards' empty slabs kept for the next class go first:
			// they count in Overhead (SlabIdleBytes) and hold no key.
			spared = true
			if s.dropSpares(tx) > 0 {
				continue
			}
		}
		p := s.Policy()
		if p == NoEviction {
			return ErrOOM
		}
		need := used - limit
		samples := int(s.samples.Load())
		progress := false
		for k := 0; k < len(s.shards) && need > 0; k++ {
			sh := s.shards[(start+k)&int(s.mask)]
			tx.lockShard(sh)
			for n := 0; n < evictBatch && need > 0; n++ {
				freed, ok := sh.evictOneLocked(p, samples)
				if !ok {
					break
				}
				need -= freed
				progress = true
			}
			tx.unlockShard(sh)
		}
		if !progress {
			return ErrOOM
		}
	}
	return nil
}

// dropSpares drops the spare slab of every shard tx does not hold (a
// held shard's spare may hold bytes its operation freed and still reads)
// and returns the bytes they counted in SlabIdleBytes.
func (s *Store) dropSpares(tx *Tx) int64 {
	var n int64
	for _, sh := range s.shards {
		if tx.holds(sh.id) {
			continue
		}
		sh.mu.Lock()
		n += sh.slabs.dropSpare()
		sh.mu.Unlock()
	}
	return n
}

// evictOneLocked evicts one key chosen by policy p; it returns the bytes
// freed, or false if the shard has no eligible key. A replica's key is
// never evicted (its primary evicts it).
func (sh *shard) evictOneLocked(p Policy, samples int) (int64, bool) {
	var i uint32
	switch p {
	case AllKeysLRU, VolatileLRU, AllKeysLFU, VolatileLFU:
		i = sh.poolVictimLocked(p, samples)
	case AllKeysRandom:
		i = sh.randomRecordLocked()
	case VolatileRandom:
		if len(sh.ttl) > 0 {
			i = sh.ttl[rand.IntN(len(sh.ttl))].rec
		}
	case VolatileTTL:
		i = sh.nearestExpiryLocked(samples)
	}
	if i != 0 && sh.st.replicaSlots.Load() != 0 && sh.replicaRec(i) {
		i = 0
	}
	if i == 0 {
		return 0, false
	}
	freed := sh.costLocked(i)
	sh.dropLocked(i, ChangeEvicted)
	return freed, true
}

// nearestExpiryLocked samples TTL keys and returns the one expiring first.
func (sh *shard) nearestExpiryLocked(samples int) uint32 {
	n := len(sh.ttl)
	if n == 0 {
		return 0
	}
	if n <= samples {
		best := 0
		for j := range sh.ttl {
			if sh.ttl[j].exp < sh.ttl[best].exp {
				best = j
			}
		}
		return sh.ttl[best].rec
	}
	best := sh.ttl[rand.IntN(n)]
	for range samples - 1 {
		if e := sh.ttl[rand.IntN(n)]; e.exp < best.exp {
			best = e
		}
	}
	return best.rec
}

// randomRecordLocked returns a random live record, 0 if the shard is empty.
func (sh *shard) randomRecordLocked() uint32 {
	if sh.idx.n == 0 {
		return 0
	}
	slots := sh.idx.slots
	for j := rand.IntN(len(slots)); ; {
		if v := slots[j]; v != 0 {
			return uint32(v)
		}
		if j++; j == len(slots) {
			j = 0
		}
	}
}

// The LRU and LFU policies evict approximately, as Redis does
// (evictionPoolPopulate in src/evict.c): each pick samples maxmemory-samples
// keys of the shard into a pool that keeps the best candidates seen so far,
// and evicts the pool's best. A key is scored by its access field: under
// LRU its idle time on the LRU clock, under LFU its decayed counter. There
// is no per-key list to keep in order, so an access writes only the key's
// own record.

// lruClock is the LRU clock at Unix ms nowMs: 1/16 s ticks modulo 2^28
// (the record's access field has 28 bits), so keys used within the same
// second stay ordered to 62.5 ms (Redis's clock ticks once a second). It
// wraps every 194 days, as Redis's 24-bit seconds clock does; so that a
// key idle longer does not read as recently used, the active expirer's
// sweep (ageStepLocked) clamps idle times to lruMaxIdleMs (97 days) long
// before they wrap.
func lruClock(nowMs int64) uint32 { return uint32(nowMs*lruHz/1000) & accessMask }

// lruHz is the LRU clock's ticks per second.
const lruHz = 16

// lruMaxTicks is the longest idle time kept, in ticks: half the clock's
// range. lruMaxIdleMs is the same in ms (97 days).
const (
	lruMaxTicks  = (accessMask + 1) / 2
	lruMaxIdleMs = lruMaxTicks * 1000 / lruHz
)

// lruIdleMs is the idle time in ms of access field a at Unix ms nowMs
// (an access later than nowMs reads as a long idle time).
func lruIdleMs(a uint32, nowMs int64) int64 {
	return int64(lruTicks(lruClock(nowMs), a)) * 1000 / lruHz
}

// lruTicks is the LRU clock ticks from access field a to clock now, across
// a wrap.
func lruTicks(now, a uint32) uint32 { return (now - a) & accessMask }

// lruAccessIdle is the access field of a key idle for idleMs at Unix ms
// nowMs (negative or longer than the clock tells apart: the longest).
func lruAccessIdle(idleMs, nowMs int64) uint32 {
	if idleMs < 0 || idleMs > lruMaxIdleMs {
		idleMs = lruMaxIdleMs
	}
	return (lruClock(nowMs) - uint32(idleMs*lruHz/1000)) & accessMask
}

// poolSize is the number of candidates a shard's eviction pool keeps
// (Redis EVPOOL_SIZE).
const poolSize = 16

// poolEntry is an eviction candidate: a record, its score (higher is a
// better victim: under LRU its idle ticks, under LFU 255 minus its decayed
// counter) and the access field it was scored from.
type poolEntry struct {
	rec    uint32
	score  uint32
	access uint32
}

// evictPool keeps the best candidates seen by past samples, sorted by
// score ascending (the best victim last). Entries may name records used,
// deleted or reused since: a pick checks only the entry it takes (its
// record is live, eligible and has the access it was scored from, so its
// score is its current one), and offers a changed one again with its
// current score. Under LRU every kept score ages by the clock ticks since
// the last pick (idle times all grow alike), without reading the records.
type evictPool struct {
	e   [poolSize]poolEntry
	n   int
	lfu bool   // the entries' scores are LFU scores
	now uint32 // LRU: the clock the scores were aged to
}

// poolScore scores access fields for one pick: now is the LRU clock, or
// under LFU the minutes clock.
type poolScore struct {
	lfu   bool
	now   uint32
	decay int32
}

func (c poolScore) of(access uint32) uint32 {
	if c.lfu {
		return 255 - uint32(lfuDecayed(access, c.now, c.decay))
	}
	return lruTicks(c.now, access)
}

// poolVictimLocked picks the victim of LRU or LFU policy p in the shard
// (only keys with a TTL if volatile), or 0 if it has no eligible key. Like
// Redis's evictionPoolPopulate it samples keys into the pool and takes the
// pool's best; a candidate used since it was sampled is judged by its
// current access (see evictPool), so it is not evicted for an idle time or
// counter it no longer has.
func (s *shard) poolVictimLocked(p Policy, samples int) uint32 {
	volatile := p == VolatileLRU || p == VolatileLFU
	if s.idx.n == 0 || volatile && len(s.ttl) == 0 {
		return 0
	}
	nowMs := s.st.clock.NowMs()
	sc := poolScore{now: lruClock(nowMs)}
	if p.IsLFU() {
		sc = poolScore{lfu: true, now: lfuMinutes(uint32(nowMs / 1000)), decay: s.st.lfuDecayTime.Load()}
	}
	s.agePoolLocked(sc)
	// Replica keys are not eligible: where they are most of the shard, a
	// sample may hold none, so sample again (boundedly) before giving up;
	// so too when every kept candidate turned out changed.
	for range 16 {
		s.sampleLocked(volatile, samples, func(i uint32) { s.poolOfferLocked(i, volatile, sc) })
		if i := s.poolTakeLocked(volatile, sc); i != 0 {
			return i
		}
		if s.idx.n == 0 || volatile && len(s.ttl) == 0 {
			return 0
		}
	}
	return 0
}

// agePoolLocked makes the pool's scores comparable with scores taken now
// (sc): under LRU each grows by the ticks since the last pick; a pool
// scored under the other kind of policy is emptied.
func (s *shard) agePoolLocked(sc poolScore) {
	p := &s.pool
	if p.lfu != sc.lfu {
		p.n, p.lfu = 0, sc.lfu
	}
	if !sc.lfu {
		if d := lruTicks(sc.now, p.now); d != 0 {
			for k := range p.e[:p.n] {
				if sc := p.e[k].score + d; sc >= d {
					p.e[k].score = sc
				} else {
					p.e[k].score = 1<<32 - 1 // saturate, never wrap
				}
			}
		}
		p.now = sc.now
	}
}

// poolTakeLocked removes and returns the pool's best candidate that is
// still what it was scored as, offering changed ones again; 0 when the
// pool runs out.
func (s *shard) poolTakeLocked(volatile bool, sc poolScore) uint32 {
	p := &s.pool
	for range 2 * poolSize { // each entry is offered again at most once
		if p.n == 0 {
			return 0
		}
		p.n--
		c := p.e[p.n]
		if !s.poolEligibleLocked(c.rec, volatile) {
			continue
		}
		if s.rec(c.rec).access() == c.access {
			return c.rec
		}
		s.poolOfferLocked(c.rec, volatile, sc)
	}
	return 0
}

// poolEligibleLocked reports whether record i is a live key the policy may
// evict: with a TTL if volatile, and not a replica's.
func (s *shard) poolEligibleLocked(i uint32, volatile bool) bool {
	r := s.rec(i)
	return i != 0 && r.typ() != TypeNone && (!volatile || r.hasTTL()) && (s.st.replicaSlots.Load() == 0 || !s.replicaRec(i))
}

// sampleLocked calls fn with up to n sampled records: all of them when the
// shard has at most n (eligible) keys, else the live records among
// neighbours from a random record number (sampleRecordsLocked) or, when
// those are all free, like Redis's dictGetSomeKeys, the keys met walking
// the index from a random slot (jumping elsewhere after a run of empty
// slots); for volatile n random TTL keys. Neighbouring records were
// allocated at nearby times, but eviction churn reuses freed records in
// any order, and the pool keeps the best of many picks' samples: the hit
// ratio in docs/performance.md did not move measurably.
func (s *shard) sampleLocked(volatile bool, n int, fn func(uint32)) {
	if volatile {
		if len(s.ttl) <= n {
			for _, e := range s.ttl {
				fn(e.rec)
			}
			return
		}
		for range n {
			fn(s.ttl[rand.IntN(len(s.ttl))].rec)
		}
		return
	}
	if s.idx.n > n && s.sampleRecordsLocked(n, fn) {
		return
	}
	slots := s.idx.slots
	steps := 10 * n
	if s.idx.n <= n {
		steps = len(slots)
	}
	got, empty := 0, 0
	for j := rand.IntN(len(slots)); steps > 0 && got < n; steps-- {
		if v := slots[j]; v != 0 {
			fn(uint32(v))
			got, empty = got+1, 0
		} else if empty++; empty > max(n, 5) && s.idx.n > n {
			j, empty = rand.IntN(len(slots)), 0
			continue
		}
		if j++; j == len(slots) {
			j = 0
		}
	}
}

// sampleRecordsLocked calls fn with the live records among up to 4n
// neighbours from a random record a chunk has handed out (their access
// fields share a few cache lines, where keys met through the index are
// each a miss), and reports whether it found any.
func (s *shard) sampleRecordsLocked(n int, fn func(uint32)) bool {
	// The start: a random record a random chunk has handed out.
	c := rand.IntN(len(s.chunks))
	ci := &s.cinfo[c]
	lo, hi := uint32(c)<<chunkBits, uint32(c)<<chunkBits+uint32(ci.bump)
	if c == 0 {
		lo = 1
	}
	if ci.live == 0 || hi <= lo {
		return false
	}
	got := 0
	for j, steps := lo+uint32(rand.IntN(int(hi-lo))), 4*n; steps > 0 && got < n; steps-- {
		if s.noKeysFrom(j) {
			j |= chunkMask // the chunk's never-used rest: one step
		} else if s.rec(j).typ() != TypeNone {
			fn(j)
			got++
		}
		if j++; j == s.nrec {
			j = 1
		}
	}
	return got > 0
}

// poolOfferLocked scores record i and inserts it into the pool if it is a
// live eligible key not there yet and the pool has room or a worse entry.
// A replica's key is not eligible.
func (s *shard) poolOfferLocked(i uint32, volatile bool, sc poolScore) {
	if !s.poolEligibleLocked(i, volatile) {
		return
	}
	r := s.rec(i)
	p := &s.pool
	for _, c := range p.e[:p.n] {
		if c.rec == i {
			return
		}
	}
	score := sc.of(r.access())
	k := 0
	for k < p.n && p.e[k].score < score {
		k++
	}
	switch {
	case p.n < poolSize:
		copy(p.e[k+1:p.n+1], p.e[k:p.n])
		p.n++
	case k == 0:
		return // worse than every kept candidate, and no room
	default:
		k-- // drop the worst candidate (first), shift the lower ones left
		copy(p.e[:k], p.e[1:k+1])
	}
	p.e[k] = poolEntry{rec: i, score: score, access: r.access()}
}

// ageBatch is how many records one sweep step looks at, at least: a step
// runs per shard and expiry cycle (10 a second by default), and a shard's
// records are passed over in at most 2^18 steps (7.3 hours at 10 Hz, 3 days
// at 1 Hz), well within the 97 days before an idle time could wrap.
const ageBatch = 64

// ageStepLocked clamps to lruMaxTicks the idle time of a batch of records
// from the shard's sweep cursor (a chunk's never-used rest counts as
// one), so that no LRU access field gets older than half the clock's
// range and wraps into looking recent. It does
// nothing under an LFU policy (the field holds LFU state, whose 16-bit
// minutes wrap after 45 days as Redis's do).
func (s *shard) ageStepLocked(nowMs int64) {
	if s.st.Policy().IsLFU() {
		return
	}
	now := lruClock(nowMs)
	n := ageBatch + s.nrec>>18
	for range n {
		if s.ageCur == 0 || s.ageCur >= s.nrec {
			s.ageCur = 1
		}
		i := s.ageCur
		if i&chunkMask >= uint32(s.cinfo[i>>chunkBits].bump) { // never used: skip the chunk's rest
			s.ageCur = i | chunkMask + 1
			continue
		}
		if r := s.rec(i); r.typ() != TypeNone && lruTicks(now, r.access()) > lruMaxTicks {
			r.setAccess(now - lruMaxTicks)
		}
		s.ageCur++
	}
}
