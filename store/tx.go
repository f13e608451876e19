package store

import (
	"slices"
	"strconv"

	"github.com/cached/cached/internal/bigcopy"
	"github.com/cespare/xxhash/v2"
)

// Tx is a set of locked shards. It must be used by one goroutine and only
// between Lock and Unlock; after Unlock it must not be touched (it is pooled).
//
// Every change made through a Tx is noted in its Record (Changed,
// Propagate, and the store's own lazy expiries and key creations), and the
// Record is committed to the Store's Observer by Unlock, before the locks
// are released.
type Tx struct {
	st     *Store
	all    bool
	ids    []int   // locked shard indexes, ascending
	buf    [16]int // ids without an allocation: MSET and MGET of up to 16 shards (redis-benchmark's MSET has 10 keys)
	locked bool
	depth  int   // nested uses (Nest): Unlock only counts down while > 0
	now    int64 // the clock when the Tx was locked: one time for the whole command, as Redis
	rec    Record
	// looked is shard id+1 << 32 | record of the last key a lookup of the
	// current (nested) use touched, 0 if none: a write that then replaces
	// that key's value does not count a second access (Redis's
	// lookupKeyWrite then dbOverwrite touch the LFU counter once).
	looked uint64
	slots  slotMemo // the slots of the keys it has hashed (txslot.go)
	warmed uint64   // Warm's loads end here, so they are not optimized away
}

// shardIndex returns the index of key's shard: shards are chosen by cluster
// slot, so the keys of a slot share one shard (one lock guards the slot's
// keys and its effect sequence).
func (s *Store) shardIndex(key []byte) int { return KeySlot(key) & int(s.mask) }

// Lock locks the shards of keys (in any database) in index order and
// returns a Tx. Keys are not retained. No allocation for keys of up to 16
// shards.
func (s *Store) Lock(keys ...[]byte) *Tx { return s.LockAt(s.clock.NowMs(), keys...) }

// LockAt is Lock with the command's time given: now (Unix ms, from MsAt)
// is what Tx.Now returns and every TTL of the Tx is computed from.
func (s *Store) LockAt(now int64, keys ...[]byte) *Tx {
	tx := s.txPool.Get().(*Tx)
	tx.ids = tx.buf[:0]
	tx.slots.reset()
	for _, k := range keys {
		// Added without a lookup: the memo is empty but for these keys,
		// and a lookup per key was quadratic in a 10-key MSET (a key
		// named twice takes two entries, with the same slot).
		slot := KeySlot(k)
		tx.slots.add(k, slot)
		id := slot & int(s.mask)
		if !slices.Contains(tx.ids, id) {
			tx.ids = append(tx.ids, id)
		}
	}
	if len(tx.ids) > 1 { // most commands have one key: no call
		slices.Sort(tx.ids)
	}
	for _, id := range tx.ids {
		sh := s.shards[id]
		sh.mu.Lock()
		sh.cur = &tx.rec
	}
	tx.locked = true
	tx.now = now
	tx.looked = 0
	return tx
}

// LockAll locks every shard and returns a Tx that may touch any key.
func (s *Store) LockAll() *Tx {
	tx := s.txPool.Get().(*Tx)
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.cur = &tx.rec
	}
	tx.all, tx.locked = true, true
	tx.now = s.clock.NowMs()
	tx.looked = 0
	return tx
}

// Nest returns tx itself for a nested use: a command's lock of keys the
// Tx holds (the caller checked them with Covers, or just locked the Tx for
// them). The matching Unlock only ends the nested use: the locks and the
// Record stay with the outer Lock, so an EXEC that locked the keys of all
// its commands commits them as one unit.
func (tx *Tx) Nest() *Tx {
	if !tx.locked {
		panic("store: Nest of an unlocked Tx")
	}
	tx.depth++
	tx.looked = 0
	return tx
}

// lookedIn returns the record of sh the current use's last lookup touched, or 0.
func (tx *Tx) lookedIn(sh *shard) uint32 {
	if tx.looked>>32 == uint64(sh.id)+1 {
		return uint32(tx.looked)
	}
	return 0
}

// Covers reports whether the Tx holds the locks of every key in keys.
func (tx *Tx) Covers(keys ...[]byte) bool {
	if tx.all {
		return true
	}
	for _, k := range keys {
		if !slices.Contains(tx.ids, tx.slotOf(k)&int(tx.st.mask)) {
			return false
		}
	}
	return true
}

// Extend adds to a locked Tx the shards of keys (every shard if all) it
// does not hold yet, for a script that touches keys it did not declare.
// A shard above every held one is locked (waiting), keeping lock order; a
// shard below a held one is only tried, since waiting for it could
// deadlock with a Tx that holds it and waits for one of ours. It reports
// whether the Tx now covers what was asked; when not, it keeps what it got
// and the caller may try again or give up.
func (tx *Tx) Extend(all bool, keys ...[]byte) bool {
	if !tx.locked {
		panic("store: Extend of an unlocked Tx")
	}
	if tx.all {
		return true
	}
	var want []int
	if all {
		for id := range tx.st.shards {
			if !slices.Contains(tx.ids, id) {
				want = append(want, id)
			}
		}
	} else {
		for _, k := range keys {
			id := tx.slotOf(k) & int(tx.st.mask)
			if !slices.Contains(tx.ids, id) && !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
	}
	top := -1
	if len(tx.ids) > 0 {
		top = tx.ids[len(tx.ids)-1]
	}
	ok := true
	for _, id := range want {
		sh := tx.st.shards[id]
		if id > top {
			sh.mu.Lock()
		} else if !sh.mu.TryLock() {
			ok = false
			continue
		}
		sh.cur = &tx.rec
		tx.ids = append(tx.ids, id)
	}
	slices.Sort(tx.ids)
	if all && ok {
		tx.all = true
	}
	return ok
}

// All reports whether the Tx holds every shard (LockAll).
func (tx *Tx) All() bool { return tx.all }

// Unlock commits the Tx's Record to the Observer, releases the locks and
// returns the Tx to the pool. After Nest it only ends the nested use.
func (tx *Tx) Unlock() {
	if !tx.locked {
		panic("store: Unlock of an unlocked Tx")
	}
	if tx.depth > 0 {
		tx.depth--
		return
	}
	tx.st.commit(&tx.rec, tx.all)
	if tx.all {
		for _, sh := range tx.st.shards {
			sh.cur, sh.applying = nil, false
			sh.mu.Unlock()
		}
	} else {
		for i := len(tx.ids) - 1; i >= 0; i-- {
			sh := tx.st.shards[tx.ids[i]]
			sh.cur, sh.applying = nil, false
			sh.mu.Unlock()
		}
	}
	tx.all, tx.locked = false, false
	if cap(tx.ids) > len(tx.buf) {
		tx.ids = nil
	}
	tx.st.txPool.Put(tx)
}

// commit numbers r's effects and hands r to the Observer, then empties it.
// The shards of r's keys (all shards if all) must be locked.
func (s *Store) commit(r *Record, all bool) {
	if r.empty() {
		return
	}
	for i := range r.fxMeta {
		m := &r.fxMeta[i]
		if m.slot < 0 {
			if !all {
				panic("store: keyless effect without every shard locked")
			}
			s.keylessSeq++
			m.seq = s.keylessSeq
		} else {
			s.seq[m.slot]++
			m.seq = s.seq[m.slot]
		}
	}
	if s.observer != nil {
		r.seal()
		s.observer.Commit(r)
	}
	r.reset()
}

// shard returns key's shard and hash, checking that the Tx holds its lock.
func (tx *Tx) shard(key []byte) (*shard, uint64) {
	sh, h, _ := tx.shardSlot(key)
	return sh, h
}

// shardSlot is shard that also returns key's slot.
func (tx *Tx) shardSlot(key []byte) (*shard, uint64, int) {
	h := xxhash.Sum64(key)
	slot := tx.slotOf(key)
	id := slot & int(tx.st.mask)
	if !tx.all && !slices.Contains(tx.ids, id) {
		panic("store: key used outside the keys of its Tx")
	}
	return tx.st.shards[id], h, slot
}

// Changed notes that the running command changed key in db: WATCH, blocked
// clients and keyspace notifications react to it when the Tx commits.
// class and event are the command's notification class (opaque to the
// store) and Redis's event name ("set", "lpush", "del" …). A command notes
// each change once, after making it, as Redis calls notifyKeyspaceEvent.
func (tx *Tx) Changed(db int, key []byte, class uint16, event string) {
	if tx.st.quiet.Load() {
		return // nothing reacts to writes (SetObserveWrites)
	}
	tx.rec.note(ChangeWrite, db, key, class, event)
}

// Flushed notes that every key of db changed (FLUSHDB, FLUSHALL, SWAPDB).
func (tx *Tx) Flushed(db int) { tx.rec.note(ChangeFlush, db, nil, 0, "") }

// RecordsEffects reports whether effects are being recorded (an effect
// consumer is attached): a caller may skip building costly effect
// arguments when it is false.
func (tx *Tx) RecordsEffects() bool { return tx.st.recordFx.Load() }

// Propagate records a write effect of the running command in db: args is a
// deterministic command (absolute times, final values) whose first argument
// after the name is a key; the effect belongs to that key's slot. It copies
// args, and does nothing while effects are not recorded. In cluster mode
// every key of one effect is in the same slot; outside it an effect naming
// keys of several slots is numbered in its first key's slot.
func (tx *Tx) Propagate(db int, args ...[]byte) { tx.PropagateAs(db, args[0], args) }

// PropagateAs is Propagate of args under the command name name (args[0]
// is not recorded): a command whose effect is another command with the
// same arguments (MSETNX's is MSET) records it without building a new
// argument slice.
func (tx *Tx) PropagateAs(db int, name []byte, args [][]byte) {
	if !tx.st.recordFx.Load() {
		return
	}
	slot := -1
	if len(args) > 1 {
		slot = tx.slotOf(args[1])
		if !tx.all && !slices.Contains(tx.ids, slot&int(tx.st.mask)) {
			panic("store: effect for a key outside the Tx")
		}
	}
	tx.rec.effect(db, slot, name, args[1:])
}

// PropagateKeyless records an effect that names no key (FLUSHDB, FLUSHALL,
// SWAPDB): it needs every shard locked (LockAll).
func (tx *Tx) PropagateKeyless(db int, args ...[]byte) {
	if !tx.st.recordFx.Load() {
		return
	}
	if !tx.all {
		panic("store: keyless effect without LockAll")
	}
	tx.rec.effect(db, -1, args[0], args[1:])
}

// Now returns the store clock in Unix ms.
// It is read once, when the Tx is locked, so every step of a command sees the
// same time (Redis's command time snapshot).
func (tx *Tx) Now() int64 { return tx.now }

const (
	lookRead = iota
	lookWrite
	lookPeek
	lookReadNoTouch
	lookReadNoNotify
	lookReadNoNotifyTouch
)

func (tx *Tx) lookup(db int, key []byte, mode int) (Entry, bool) {
	sh, h := tx.shard(key)
	p := tx.st.phys(db)
	now := tx.now
	i := sh.find(p, key, tagOf(h, p))
	expired := false
	if i != 0 {
		if mode == lookWrite || mode == lookPeek {
			expired = sh.expiredLocked(i, now)
		} else {
			expired = sh.expiredReadLocked(i, now)
		}
	}
	if i == 0 || expired {
		if mode != lookWrite && mode != lookPeek {
			sh.misses.Add(1)
		}
		if (mode == lookRead || mode == lookReadNoTouch) && tx.st.reportMiss.Load() {
			tx.rec.note(ChangeMiss, db, key, 0, "")
		}
		return Entry{}, false
	}
	e := Entry{sh: sh, i: i, now: now}
	switch mode {
	case lookRead, lookReadNoNotifyTouch:
		sh.hits.Add(1)
		sh.touchLocked(i, now)
		tx.looked = uint64(sh.id+1)<<32 | uint64(i)
	case lookWrite:
		sh.touchLocked(i, now)
		tx.looked = uint64(sh.id+1)<<32 | uint64(i)
	case lookReadNoTouch, lookReadNoNotify:
		sh.hits.Add(1)
	}
	return e, true
}

// LookupRead finds key in db for a read command: lazy expiry, a keyspace
// hit or miss counted (a miss also reported as EventKeyMiss after
// SetReportMiss(true)), LRU touched.
func (tx *Tx) LookupRead(db int, key []byte) (Entry, bool) { return tx.lookup(db, key, lookRead) }

// LookupWrite finds key in db for a write command: lazy expiry, LRU touched.
func (tx *Tx) LookupWrite(db int, key []byte) (Entry, bool) { return tx.lookup(db, key, lookWrite) }

// LookupReadNoTouch finds key in db for a read that counts a keyspace hit
// or miss but is not a use of the key (Redis's LOOKUP_NOTOUCH: EXISTS, TYPE,
// TTL, OBJECT): the LRU position and idle time stay.
func (tx *Tx) LookupReadNoTouch(db int, key []byte) (Entry, bool) {
	return tx.lookup(db, key, lookReadNoTouch)
}

// LookupReadNoNotify is LookupReadNoTouch without the EventKeyMiss a miss
// reports (Redis's LOOKUP_NONOTIFY: OBJECT).
func (tx *Tx) LookupReadNoNotify(db int, key []byte) (Entry, bool) {
	return tx.lookup(db, key, lookReadNoNotify)
}

// Peek finds key in db with lazy expiry only (no stats, no LRU touch): for
// OBJECT IDLETIME, TYPE and other looks that must not count as a use.
func (tx *Tx) Peek(db int, key []byte) (Entry, bool) { return tx.lookup(db, key, lookPeek) }

// TypeOf returns the type of key in db if it exists and its TTL has not
// passed, and changes nothing: no stats, no LRU touch, and an expired key is
// left for lazy or active expiry (Peek would delete it). For looks that are
// not a command's: the blocking layer's check of a signalled key, which in
// Redis runs only when a key of a type blocked clients wait for is written,
// so it never deletes a string that expired meanwhile.
func (tx *Tx) TypeOf(db int, key []byte) (Type, bool) {
	sh, i := tx.find(db, key)
	if i == 0 {
		return TypeNone, false
	}
	if exp := sh.expireAt(i); exp != 0 && exp <= tx.now {
		return TypeNone, false
	}
	return sh.rec(i).typ(), true
}

// ExpiryOf returns key's expiry in db (absolute Unix ms, 0: none) and
// whether the key is present, its TTL passed or not. It changes nothing (no
// expiry, stats or LRU touch): WATCH's look, which leaves an expired key in
// place as Redis's keyIsExpired does.
func (tx *Tx) ExpiryOf(db int, key []byte) (at int64, present bool) {
	sh, i := tx.find(db, key)
	if i == 0 {
		return 0, false
	}
	return sh.expireAt(i), true
}

// SetString creates or replaces key (of any type) with string val; it copies
// key and val. expireAt: absolute Unix ms, 0 none, KeepTTL keeps the TTL.
func (tx *Tx) SetString(db int, key, val []byte, expireAt int64) {
	sh, h, slot := tx.shardSlot(key)
	sh.setLocked(tx.st.phys(db), key, h, slot, TypeString, val, nil, 0, expireAt, tx.now, tx.lookedIn(sh))
}

// GrowString returns the value of the existing string key for the caller
// to modify in place, grown with zero bytes to at least n bytes. Growth stays
// in the key's allocation while its size class has room (Go's classes are
// ~12% apart, and 8 KiB apart above 32 KiB), so APPEND, SETRANGE and SETBIT
// copy the value only when it crosses a class, not on every call. It reports
// false, changing nothing, when key is missing, expired or not a string. A
// large value a Pin holds is copied first (copy-on-write, largepin.go). The
// bytes are valid until the next write to key or Unlock; n must stay below
// 4 GiB minus the key (the server caps it with proto-max-bulk-len).
func (tx *Tx) GrowString(db int, key []byte, n int) ([]byte, bool) {
	sh, h := tx.shard(key)
	p := tx.st.phys(db)
	i := sh.find(p, key, tagOf(h, p))
	if i == 0 || sh.expiredLocked(i, tx.now) || sh.rec(i).typ() != TypeString {
		return nil, false
	}
	return sh.growLocked(i, n), true
}

// SetObject creates or replaces key with a collection object of type t that
// costs size bytes. The store keeps obj as is (no copy).
func (tx *Tx) SetObject(db int, key []byte, t Type, obj any, size int64, expireAt int64) {
	if t == TypeNone || t == TypeString || int(t) >= len(typeNames) {
		panic("store: SetObject with a non-collection type")
	}
	sh, h, slot := tx.shardSlot(key)
	sh.setLocked(tx.st.phys(db), key, h, slot, t, nil, obj, size, expireAt, tx.now, tx.lookedIn(sh))
}

// find locates key without expiry or stats.
func (tx *Tx) find(db int, key []byte) (*shard, uint32) {
	sh, h := tx.shard(key)
	p := tx.st.phys(db)
	return sh, sh.find(p, key, tagOf(h, p))
}

// findLive locates key, applying lazy expiry.
func (tx *Tx) findLive(db int, key []byte) (*shard, uint32) {
	sh, i := tx.find(db, key)
	if i != 0 && sh.expiredLocked(i, tx.now) {
		i = 0
	}
	return sh, i
}

// Delete removes key; false if it did not exist (or had expired).
func (tx *Tx) Delete(db int, key []byte) bool {
	sh, i := tx.findLive(db, key)
	if i == 0 {
		return false
	}
	sh.removeLocked(i)
	return true
}

// SetExpire sets key's expiry to expireAt (absolute Unix ms; 0 removes the
// TTL). false if there is no such key. An expireAt <= now deletes the key
// (without counting it as expired: the caller decides how to report it).
func (tx *Tx) SetExpire(db int, key []byte, expireAt int64) bool {
	sh, i := tx.findLive(db, key)
	if i == 0 {
		return false
	}
	if expireAt == KeepTTL {
		return true
	}
	if expireAt != 0 && expireAt <= tx.now {
		sh.removeLocked(i)
		return true
	}
	sh.setTTLLocked(i, max(expireAt, 0))
	return true
}

// Persist removes key's TTL; true if there was one.
func (tx *Tx) Persist(db int, key []byte) bool {
	sh, i := tx.findLive(db, key)
	if i == 0 || !sh.rec(i).hasTTL() {
		return false
	}
	sh.setTTLLocked(i, 0)
	return true
}

// Rename moves src's value and TTL to dst (overwriting dst). false if src is
// missing. src and dst may be in different dbs (MOVE). Both keys' shards must
// be locked.
func (tx *Tx) Rename(srcDB int, src []byte, dstDB int, dst []byte) bool {
	return tx.transfer(srcDB, src, dstDB, dst, true)
}

// Copy copies src's value and TTL to dst (overwriting dst). Objects are deep
// copied through Cloner; false if src is missing or its object is not a Cloner.
func (tx *Tx) Copy(srcDB int, src []byte, dstDB int, dst []byte) bool {
	return tx.transfer(srcDB, src, dstDB, dst, false)
}

func (tx *Tx) transfer(srcDB int, src []byte, dstDB int, dst []byte, move bool) bool {
	ss, si := tx.findLive(srcDB, src)
	if si == 0 {
		return false
	}
	if srcDB == dstDB && string(src) == string(dst) {
		return true
	}
	r := ss.rec(si)
	t, exp := r.typ(), ss.expireAt(si)
	var val []byte
	var o objRef
	if t == TypeString {
		val = ss.val(r) // stays valid: src is not freed before dst is written
	} else {
		o = *ss.objOf(si)
		if !move {
			c, ok := o.obj.(Cloner)
			if !ok {
				return false
			}
			o.obj = c.Clone()
		}
	}
	ds, h, slot := tx.shardSlot(dst)
	now := tx.now
	ds.setLocked(tx.st.phys(dstDB), dst, h, slot, t, val, o.obj, o.size, exp, now, 0)
	if move {
		ss.removeLocked(si)
	}
	return true
}

// Entry is a read view of one key, valid only while its Tx is locked and
// until the next write to that key.
type Entry struct {
	sh  *shard
	i   uint32
	now int64
}

// Type returns the value's type.
func (e Entry) Type() Type { return e.sh.rec(e.i).typ() }

// Str returns the string value (TypeString only, else nil). Do not modify
// it or keep it after Unlock.
func (e Entry) Str() []byte {
	if r := e.sh.rec(e.i); r.typ() == TypeString {
		return e.sh.val(r)
	}
	return nil
}

// Object returns the collection object, nil for strings.
func (e Entry) Object() any {
	if e.sh.rec(e.i).typ() == TypeString {
		return nil
	}
	return e.sh.objOf(e.i).obj
}

// ExpireAt returns the absolute expiry in Unix ms, 0 if none.
func (e Entry) ExpireAt() int64 { return e.sh.expireAt(e.i) }

// IdleMs returns the time since the last access in ms (1/16 s
// resolution; at most about 97 days, lruMaxIdleMs, while the active expirer
// runs, see lruClock). Meaningful only while an LRU (not LFU)
// policy is selected.
func (e Entry) IdleMs() int64 { return lruIdleMs(e.sh.rec(e.i).access(), e.now) }

// Encoding returns Redis's OBJECT ENCODING: for strings "int", "embstr" or
// "raw"; for objects what their Encoding() string method says, else "".
func (e Entry) Encoding() string {
	r := e.sh.rec(e.i)
	if r.typ() != TypeString {
		if en, ok := e.Object().(interface{ Encoding() string }); ok {
			return en.Encoding()
		}
		return ""
	}
	v := e.sh.val(r)
	if len(v) <= 20 {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && strconv.FormatInt(n, 10) == string(v) {
			return "int"
		}
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

// Resize records that the entry's object changed in place and now costs
// size bytes (the key is not looked up again). It does nothing for a
// string.
func (e Entry) Resize(size int64) {
	if e.sh.rec(e.i).typ() == TypeString {
		return
	}
	o := e.sh.objOf(e.i)
	e.sh.used.Add(size - o.size)
	o.size = size
}

// MemoryUsage returns the bytes this key costs (MEMORY USAGE).
func (e Entry) MemoryUsage() int64 { return e.sh.costLocked(e.i) }

// Release ends every nested use of the Tx and unlocks it (committing its
// Record): for an owner that must let go whatever a command did, e.g.
// after a recovered panic.
func (tx *Tx) Release() {
	tx.depth = 0
	tx.Unlock()
}

// GetString is Store.Get inside the Tx: lazy expiry, a hit or miss counted,
// the LRU touched, no ChangeMiss noted (the caller reports the miss).
func (tx *Tx) GetString(db int, key []byte, dst []byte) (val []byte, ok bool, err error) {
	e, ok := tx.lookup(db, key, lookReadNoNotifyTouch)
	switch {
	case !ok:
		return dst, false, nil
	case e.Type() != TypeString:
		return dst, true, ErrWrongType
	}
	return bigcopy.Append(dst, e.Str()), true, nil
}

// SetIdle makes key look last accessed idleMs before now (RESTORE
// IDLETIME; capped at lruMaxIdleMs, 97 days, negative means that much):
// OBJECT IDLETIME reports it, and the LRU policies judge the key by it.
// false if there is no such key.
func (tx *Tx) SetIdle(db int, key []byte, idleMs int64) bool {
	sh, i := tx.findLive(db, key)
	if i == 0 {
		return false
	}
	sh.rec(i).setAccess(lruAccessIdle(idleMs, tx.now))
	return true
}
