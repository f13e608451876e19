package store

import "math/rand/v2"

// LFU as Redis 7 keeps it (src/evict.c): under an LFU policy a record's
// access field holds, instead of its last access on the LRU clock, the
// 16-bit minutes clock of its last decrement (bits 8..23) and an 8-bit
// logarithmic access counter (bits 0..7), the way Redis reuses the 24-bit
// lru field of its objects. The record does not grow; the cost is that the
// field means one thing or the other, chosen by the policy at the time it is
// written: switching policy at run time reinterprets it, as in Redis, until
// accesses rewrite it (OBJECT FREQ and IDLETIME read garbage meanwhile).
//
// A new key starts at lfuInitVal; each access first decays the counter by
// one per lfu-decay-time minutes elapsed since its stored minutes, then
// increments it with probability 1/((counter-lfuInitVal)*lfu-log-factor+1),
// and stores the current minutes. Eviction samples keys into the shard's
// pool (evict.go) and evicts the one with the lowest decayed counter.

// lfuInitVal is the counter of a new key (Redis LFU_INIT_VAL), so that new
// keys are not evicted before they had a chance to be used.
const lfuInitVal = 5

// LFU defaults, as redis.conf.
const (
	DefaultLFULogFactor = 10 // lfu-log-factor
	DefaultLFUDecayTime = 1  // lfu-decay-time, minutes
)

// LFUConfig holds the LFU tunables.
type LFUConfig struct {
	// LogFactor (lfu-log-factor, >= 0) slows the counter's growth: about
	// 100 hits reach 10 with factor 10, 1M hits reach 255.
	LogFactor int
	// DecayTime (lfu-decay-time, minutes, >= 0) is how long a key must be
	// idle for its counter to drop by one; 0 never decays.
	DecayTime int
}

// IsLFU reports whether p is one of the LFU policies.
func (p Policy) IsLFU() bool { return p == AllKeysLFU || p == VolatileLFU }

// SetLFU sets lfu-log-factor and lfu-decay-time (negative values become 0,
// values above 2^31-1 are capped).
func (s *Store) SetLFU(c LFUConfig) {
	s.lfuLogFactor.Store(int32(min(max(c.LogFactor, 0), 1<<31-1)))
	s.lfuDecayTime.Store(int32(min(max(c.DecayTime, 0), 1<<31-1)))
}

// LFU returns the LFU tunables.
func (s *Store) LFU() LFUConfig {
	return LFUConfig{LogFactor: int(s.lfuLogFactor.Load()), DecayTime: int(s.lfuDecayTime.Load())}
}

// lfuMinutes is Redis's 16-bit minutes clock at Unix second sec.
func lfuMinutes(sec uint32) uint32 { return (sec / 60) & 0xffff }

// lfuElapsed is the minutes from ldt to now on the 16-bit clock, taking a
// clock that is behind as wrapped exactly once (as Redis does, where a
// wrap is 65535 minutes).
func lfuElapsed(ldt, now uint32) uint32 {
	if now >= ldt {
		return now - ldt
	}
	return 65535 - ldt + now
}

// lfuDecayed is the counter of LFU field f at minutes now, decayed by one
// per decay minutes elapsed (Redis LFUDecrAndReturn).
func lfuDecayed(f, now uint32, decay int32) uint8 {
	counter := f & 0xff
	if decay <= 0 {
		return uint8(counter)
	}
	periods := lfuElapsed((f>>8)&0xffff, now) / uint32(decay)
	if periods >= counter {
		return 0
	}
	return uint8(counter - periods)
}

// lfuIncr is Redis's LFULogIncr with r, uniform in [0,1], as its coin.
func lfuIncr(counter uint8, factor int32, r float64) uint8 {
	if counter == 255 {
		return 255
	}
	base := max(float64(counter)-lfuInitVal, 0)
	if r < 1/(base*float64(factor)+1) {
		counter++
	}
	return counter
}

// lfuField packs minutes and counter into an access field.
func lfuField(minutes uint32, counter uint8) uint32 { return minutes<<8 | uint32(counter) }

// touchLFULocked is an access to record i under an LFU policy (Redis
// updateLFU): decay, a logarithmic increment, the minutes stamped.
func (s *shard) touchLFULocked(i uint32, nowSec uint32) {
	r := s.rec(i)
	now := lfuMinutes(nowSec)
	c := lfuDecayed(r.access(), now, s.st.lfuDecayTime.Load())
	r.setAccess(lfuField(now, lfuIncr(c, s.st.lfuLogFactor.Load(), rand.Float64())))
}

// initialAccess is the access field of a new record at Unix ms nowMs.
func (s *shard) initialAccess(nowMs int64) uint32 {
	if s.st.Policy().IsLFU() {
		return lfuField(lfuMinutes(uint32(nowMs/1000)), lfuInitVal)
	}
	return lruClock(nowMs)
}

// Freq returns the key's LFU counter, decayed to now (OBJECT FREQ). It is
// meaningful only while an LFU policy is selected.
func (e Entry) Freq() int {
	now := lfuMinutes(uint32(e.now / 1000))
	return int(lfuDecayed(e.sh.rec(e.i).access(), now, e.sh.st.lfuDecayTime.Load()))
}
