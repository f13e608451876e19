// Package watch owns WATCH's registry: which transactions watch which keys,
// each watched key's expiry at WATCH, and marking the watchers dirty when a
// key changes. MULTI/EXEC, the queue and the commands are the server's;
// the server's commit observer calls Touch for every changed key, with a
// store shard lock held.
package watch

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Key identifies a watched key.
type Key struct {
	DB  int
	Key string
}

// watched is one key a State watches, with its expiry when WATCH ran
// (absolute Unix ms, 0 if none or missing) and whether that had passed
// with the key not deleted yet (Redis's watchedKey.expired).
type watched struct {
	Key
	expireAt int64
	expired  bool
}

// State is one transaction's watches. Its keys are guarded by the
// registry it watches through; Dirty may be read from any goroutine.
type State struct {
	keys  []watched
	dirty atomic.Bool
}

// Dirty reports whether a watched key changed since it was watched.
func (st *State) Dirty() bool { return st.dirty.Load() }

// Registry maps watched keys to the States watching them.
type Registry struct {
	n        atomic.Int64 // watched (key, State) pairs: Touch's fast path
	nExpired atomic.Int64 // of them, watches with expired set
	// Toggled, if set, is called when the registry starts watching its
	// first key or stops watching its last (the server then records
	// changes for Touch, or stops).
	Toggled func()
	mu      sync.RWMutex // protects keys and every State's keys
	keys    map[Key][]*State
}

// Active reports whether any key is watched.
func (r *Registry) Active() bool { return r.n.Load() > 0 }

// Watch adds a watch of k by st and reports whether it was new. expireAt
// is k's expiry when WATCH runs (absolute Unix ms; 0: none, or no key), for
// Expired. expired says it has passed with the key not deleted yet: as
// Redis's watchedKey.expired, the key's removal (by expiry or eviction)
// then changes nothing logically and does not dirty st, and its TTL does
// not fail the EXEC. The caller reads both under k's store shard lock and
// holds it here, so no change of k falls between the read and the watch.
func (r *Registry) Watch(st *State, k Key, expireAt int64, expired bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range st.keys {
		if w.Key == k {
			return false
		}
	}
	st.keys = append(st.keys, watched{Key: k, expireAt: expireAt, expired: expired})
	if expired {
		r.nExpired.Add(1)
	}
	if r.keys == nil {
		r.keys = make(map[Key][]*State)
	}
	r.keys[k] = append(r.keys[k], st)
	if r.n.Add(1) == 1 && r.Toggled != nil {
		r.Toggled()
	}
	return true
}

// Unwatch removes every watch of st (EXEC unwatches before it runs the
// queue, so that its own writes do not dirty it).
func (r *Registry) Unwatch(st *State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range st.keys {
		if w.expired {
			r.nExpired.Add(-1)
		}
		list := r.keys[w.Key]
		for i, o := range list {
			if o == st {
				list[i] = list[len(list)-1]
				list[len(list)-1] = nil
				list = list[:len(list)-1]
				break
			}
		}
		if len(list) == 0 {
			delete(r.keys, w.Key)
		} else {
			r.keys[w.Key] = list
		}
	}
	if n := int64(len(st.keys)); n > 0 && r.n.Add(-n) == 0 && r.Toggled != nil {
		r.Toggled()
	}
	st.keys = nil
}

// Watching reports whether st watches any key.
func (r *Registry) Watching(st *State) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(st.keys) > 0
}

// Keys returns the keys st watches (EXEC locks their shards).
func (r *Registry) Keys(st *State) [][]byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([][]byte, len(st.keys))
	for i, w := range st.keys {
		out[i] = []byte(w.Key.Key)
	}
	return out
}

// Expired reports whether a key st watches had a TTL at WATCH that has
// passed by now (Unix ms): Redis 7 fails the EXEC then, even if the key
// was not deleted yet. A key already expired at WATCH does not count.
func (r *Registry) Expired(st *State, now int64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, w := range st.keys {
		if !w.expired && w.expireAt != 0 && w.expireAt <= now {
			return true
		}
	}
	return false
}

// Touch marks the States watching key in db dirty. removed says the change
// took the key away by expiry or eviction: a watch that found the key
// already expired (Watch's expired) is then not dirtied, and forgets that
// it was expired, as Redis's touchWatchedKey. It may run with a store shard
// lock held: it takes only the registry's lock.
func (r *Registry) Touch(db int, key []byte, removed bool) {
	if r.n.Load() == 0 {
		return
	}
	k := Key{db, string(key)}
	if removed && r.nExpired.Load() > 0 {
		r.touchRemoved(k)
		return
	}
	r.mu.RLock()
	for _, st := range r.keys[k] {
		st.dirty.Store(true)
	}
	r.mu.RUnlock()
}

// touchRemoved is Touch of a removed key while some watch is expired.
func (r *Registry) touchRemoved(k Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.keys[k] {
		i := slices.IndexFunc(st.keys, func(w watched) bool { return w.Key == k })
		if i < 0 { // not reached: r.keys lists st under k only while st.keys has k
			st.dirty.Store(true)
			continue
		}
		if w := &st.keys[i]; w.expired {
			w.expired, w.expireAt = false, 0 // the key is gone: no TTL to pass
			r.nExpired.Add(-1)
			continue
		}
		st.dirty.Store(true)
	}
}

// TouchIn touches the keys watched in db (-1: every db) that exist in db
// or in other (-1: none), as Redis's touchAllWatchedKeysInDb: FLUSHDB,
// FLUSHALL and SWAPDB call it before they change anything, with every
// shard locked; exists reads the store under those locks.
func (r *Registry) TouchIn(db, other int, exists func(db int, key []byte) bool) {
	if r.n.Load() == 0 {
		return
	}
	var ks []Key
	r.mu.RLock()
	for k := range r.keys {
		if db == -1 || k.DB == db {
			ks = append(ks, k)
		}
	}
	r.mu.RUnlock()
	for _, k := range ks {
		key := []byte(k.Key)
		if exists(k.DB, key) || other >= 0 && exists(other, key) {
			r.Touch(k.DB, key, false)
		}
	}
}
