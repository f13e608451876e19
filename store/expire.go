package store

import "time"

// expireSample is how many TTL keys one active expiry step looks at
// (Redis ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const expireSample = 20

func (s *Store) expireLoop() {
	defer s.wg.Done()
	period := time.Second / time.Duration(s.hz)
	t := time.NewTicker(period)
	defer t.Stop()
	next := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if s.activeExpireOff.Load() || s.isPaused() {
				continue
			}
			// As Redis: spend at most 25% of the cycle's period.
			_, next = s.activeExpireCycle(next, period/4)
		}
	}
}

// isPaused reports whether Config.Paused holds the data still now.
func (s *Store) isPaused() bool { return s.paused != nil && s.paused() }

// SetActiveExpire turns the background expirer on or off (DEBUG
// SET-ACTIVE-EXPIRE); lazy expiry on access goes on either way.
func (s *Store) SetActiveExpire(on bool) { s.activeExpireOff.Store(!on) }

// ActiveExpireOff reports whether SetActiveExpire(false) is in force.
func (s *Store) ActiveExpireOff() bool { return s.activeExpireOff.Load() }

// RunExpireCycle runs one active expiry cycle over every shard without a
// time budget and returns how many keys it expired. Tests call it directly;
// in production the expirer goroutine runs budgeted cycles.
func (s *Store) RunExpireCycle() int {
	n, _ := s.activeExpireCycle(0, 0)
	return n
}

// activeExpireCycle visits the shards from first: in each, it samples
// expireSample TTL keys, expires those past due, and repeats while more
// than 25% of a sample had expired. It stops early when budget (if > 0) is
// spent and returns the count expired and the shard to resume from.
func (s *Store) activeExpireCycle(first int, budget time.Duration) (int, int) {
	start := time.Now()
	total := 0
	for k := range s.shards {
		id := (first + k) & int(s.mask)
		sh := s.shards[id]
		for iter := 0; ; iter++ {
			now := s.clock.NowMs()
			var tx *Tx
			tx.lockShard(sh)
			sampled, expired := sh.expireStepLocked(now)
			if iter == 0 {
				sh.ageStepLocked(now)
			}
			tx.unlockShard(sh)
			total += expired
			if sampled == 0 || expired*4 <= sampled {
				break
			}
			if budget > 0 && iter&15 == 15 && time.Since(start) > budget {
				return total, id
			}
		}
		if budget > 0 && time.Since(start) > budget {
			return total, (id + 1) & int(s.mask)
		}
	}
	return total, first
}

// expireStepLocked looks at up to expireSample TTL keys from the shard's
// sweep cursor and expires those due.
func (sh *shard) expireStepLocked(now int64) (sampled, expired int) {
	n := min(expireSample, len(sh.ttl))
	for sampled < n && len(sh.ttl) > 0 {
		if sh.ttlCur >= len(sh.ttl) {
			sh.ttlCur = 0
		}
		e := sh.ttl[sh.ttlCur]
		sampled++
		if e.exp <= now && !sh.replicaRec(e.rec) {
			sh.dropLocked(e.rec, ChangeExpired) // the last entry moves into ttlCur
			expired++
		} else {
			sh.ttlCur++
		}
	}
	return sampled, expired
}
