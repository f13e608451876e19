package watch

import "testing"

func TestRegistryWatchTouchUnwatch(t *testing.T) {
	var r Registry
	toggles := 0
	r.Toggled = func() { toggles++ }
	var a, b State
	ka, kb := Key{DB: 0, Key: "k"}, Key{DB: 1, Key: "k"}
	if !r.Watch(&a, ka, 1000, false) || r.Watch(&a, ka, 0, false) || !r.Watch(&b, ka, 0, false) || !r.Watch(&b, kb, 0, false) {
		t.Fatal("Watch must add each (state, key) once")
	}
	if !r.Active() || toggles != 1 {
		t.Fatalf("active %v, toggled %d times; want on, once", r.Active(), toggles)
	}
	r.Touch(1, []byte("k"), false) // db 1: only b
	if a.Dirty() || !b.Dirty() {
		t.Fatalf("touch of db 1: a %v, b %v", a.Dirty(), b.Dirty())
	}
	if r.Expired(&a, 999) || !r.Expired(&a, 1000) || r.Expired(&b, 5000) {
		t.Fatal("Expired must follow the TTL recorded at WATCH")
	}
	if got := r.Keys(&b); len(got) != 2 || string(got[0]) != "k" {
		t.Fatalf("Keys %q", got)
	}
	r.Unwatch(&a)
	r.Touch(0, []byte("k"), false)
	if a.Dirty() || !r.Active() {
		t.Fatal("an unwatched state was touched, or b's watches went with a's")
	}
	r.Unwatch(&b)
	if r.Active() || toggles != 2 || len(r.keys) != 0 {
		t.Fatalf("after every unwatch: active %v, toggled %d, %d keys left", r.Active(), toggles, len(r.keys))
	}
}

func TestRegistryTouchIn(t *testing.T) {
	var r Registry
	var a, b, c State
	r.Watch(&a, Key{DB: 0, Key: "x"}, 0, false)
	r.Watch(&b, Key{DB: 0, Key: "gone"}, 0, false)
	r.Watch(&c, Key{DB: 2, Key: "x"}, 0, false)
	exists := func(db int, key []byte) bool {
		return string(key) == "x" && db != 2 || db == 5 && string(key) == "gone"
	}
	r.TouchIn(0, -1, exists) // FLUSHDB of db 0: only keys that exist there
	if !a.Dirty() || b.Dirty() || c.Dirty() {
		t.Fatalf("FLUSHDB 0: %v %v %v", a.Dirty(), b.Dirty(), c.Dirty())
	}
	r.TouchIn(0, 5, exists) // SWAPDB 0 5: a key that exists in the other db counts
	if !b.Dirty() || c.Dirty() {
		t.Fatalf("SWAPDB 0 5: %v %v", b.Dirty(), c.Dirty())
	}
}

// TestRegistryExpiredAtWatch: a key already expired at WATCH (still in
// place) is no change when it is removed by expiry or eviction, as Redis's
// watchedKey.expired: the watch forgets the flag then, and a later write
// dirties it; a write before the removal dirties it too. Its passed TTL
// never fails the EXEC. Watches without the flag are dirtied by a removal.
func TestRegistryExpiredAtWatch(t *testing.T) {
	var r Registry
	var a, b, c State
	k := Key{DB: 0, Key: "k"}
	r.Watch(&a, k, 500, true)  // expired at WATCH
	r.Watch(&b, k, 900, false) // a live TTL when b watched
	r.Watch(&c, Key{DB: 0, Key: "w"}, 500, true)
	if r.Expired(&a, 1000) || !r.Expired(&b, 1000) {
		t.Fatal("a TTL passed at WATCH must not count; one that passed after must")
	}
	r.Touch(0, []byte("k"), true) // the expired key is deleted
	if a.Dirty() || !b.Dirty() {
		t.Fatalf("removal of k: a dirty %v (want false), b dirty %v (want true)", a.Dirty(), b.Dirty())
	}
	if r.Expired(&a, 1000) || r.nExpired.Load() != 1 {
		t.Fatalf("after the removal: a expired %v, %d flagged watches (want 1: c)", r.Expired(&a, 1000), r.nExpired.Load())
	}
	r.Touch(0, []byte("k"), false) // k written again
	if !a.Dirty() {
		t.Fatal("a write after the removal must dirty a")
	}
	r.Touch(0, []byte("w"), false) // a write to an expired, undeleted key
	if !c.Dirty() {
		t.Fatal("a write must dirty a flagged watch")
	}
	r.Unwatch(&a)
	r.Unwatch(&b)
	r.Unwatch(&c)
	if r.nExpired.Load() != 0 || r.Active() {
		t.Fatalf("after every unwatch: %d flagged, active %v", r.nExpired.Load(), r.Active())
	}
}
