package watch

import "testing"

func TestRegistryWatchTouchUnwatch(t *testing.T) {
	var r Registry
	toggles := 0
	r.Toggled = func() { toggles++ }
	var a, b State
	ka, kb := Key{DB: 0, Key: "k"}, Key{DB: 1, Key: "k"}
	if !r.Watch(&a, ka) || r.Watch(&a, ka) || !r.Watch(&b, ka) || !r.Watch(&b, kb) {
		t.Fatal("Watch must add each (state, key) once")
	}
	if !r.Active() || toggles != 1 {
		t.Fatalf("active %v, toggled %d times; want on, once", r.Active(), toggles)
	}
	r.Touch(1, []byte("k")) // db 1: only b
	if a.Dirty() || !b.Dirty() {
		t.Fatalf("touch of db 1: a %v, b %v", a.Dirty(), b.Dirty())
	}
	r.SetExpire(&a, ka, 1000)
	if r.Expired(&a, 999) || !r.Expired(&a, 1000) || r.Expired(&b, 5000) {
		t.Fatal("Expired must follow the TTL recorded at WATCH")
	}
	if got := r.Keys(&b); len(got) != 2 || string(got[0]) != "k" {
		t.Fatalf("Keys %q", got)
	}
	r.Unwatch(&a)
	r.Touch(0, []byte("k"))
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
	r.Watch(&a, Key{DB: 0, Key: "x"})
	r.Watch(&b, Key{DB: 0, Key: "gone"})
	r.Watch(&c, Key{DB: 2, Key: "x"})
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
