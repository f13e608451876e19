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
// while over the limit. It must not be called with a Tx held. Each evicted
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
	if limit <= 0 {
		return nil
	}
	for range maxEvictRounds {
		used := s.UsedMemory() + s.overhead.Load()
		if used <= limit {
			return nil
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

// evictOneLocked evicts one key chosen by policy p; it returns the bytes
// freed, or false if the shard has no eligible key.
func (sh *shard) evictOneLocked(p Policy, samples int) (int64, bool) {
	var i uint32
	switch p {
	case AllKeysLRU:
		i = sh.rec(0).prev
	case VolatileLRU:
		i = sh.volatileLRULocked(samples)
	case AllKeysRandom:
		i = sh.randomRecordLocked()
	case VolatileRandom:
		if len(sh.ttl) > 0 {
			i = sh.ttl[rand.IntN(len(sh.ttl))].rec
		}
	case VolatileTTL:
		i = sh.nearestExpiryLocked(samples)
	case AllKeysLFU, VolatileLFU:
		i = sh.lfuVictimLocked(p == VolatileLFU, samples)
	}
	if i != 0 && sh.replicaRec(i) { // a replica's key: its primary evicts it
		i = sh.ownKeyLocked(i, p == AllKeysLRU, samples)
	}
	if i == 0 {
		return 0, false
	}
	freed := sh.costLocked(i)
	sh.dropLocked(i, ChangeEvicted)
	return freed, true
}

// volatileLRULocked walks the LRU list from its tail for the least recently
// used key with a TTL; past 16*samples steps it samples the TTL keys instead
// and takes the least recently accessed.
func (sh *shard) volatileLRULocked(samples int) uint32 {
	if len(sh.ttl) == 0 {
		return 0
	}
	for i, n := sh.rec(0).prev, 0; i != 0 && n < 16*samples; i, n = sh.rec(i).prev, n+1 {
		if sh.rec(i).ttl != 0 {
			return i
		}
	}
	best := uint32(0)
	for range samples {
		c := sh.ttl[rand.IntN(len(sh.ttl))].rec
		if best == 0 || sh.rec(c).access < sh.rec(best).access {
			best = c
		}
	}
	return best
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
	mask := len(slots) - 1
	for j := rand.IntN(len(slots)); ; j = (j + 1) & mask {
		if v := slots[j]; v != 0 {
			return uint32(v)
		}
	}
}
