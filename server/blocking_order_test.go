package server

import (
	"slices"
	"testing"
)

// TestReadyOrderAcrossClients plays, on the registry alone, what made
// TestBlockingRepeatedKeysVsRedis's BRPOPLPUSH scenario fail when the
// goroutines ran in an unlucky order: first BRPOPLPUSH d a, then BLMPOP e d
// a behind it. An LPUSH to d signals the first; serving it fills a, which
// signals the second before d is passed on. The second must not be served
// from a while the first still holds d's earlier signal.
func TestReadyOrderAcrossClients(t *testing.T) {
	var r blockRegistry
	r.listen = func() {}
	mk := func(id int64, keys ...string) *blockState {
		return &blockState{c: &client{id: id}, keys: keys, wake: make(chan struct{}, 1)}
	}
	woken := func(b *blockState) bool {
		select {
		case <-b.wake:
			return true
		default:
			return false
		}
	}
	first, second := mk(1, "d"), mk(2, "e", "d", "a")
	r.add(first)
	r.add(second)
	// add signals a client its keys it is first on (a key filled since its
	// handler looked): the first d, the second e and a, not d.
	if got := keysOf(r.takeReady(first)); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("first's own signals: %q", got)
	}
	r.settle(first)
	if got := keysOf(r.takeReady(second)); !slices.Equal(got, []string{"e", "a"}) {
		t.Fatalf("second's own signals: %q", got)
	}
	r.settle(second)
	woken(first)
	woken(second)

	r.mu.Lock()
	first.signalLocked(r.signalFresh("d")) // LPUSH d
	r.mu.Unlock()
	if !woken(first) {
		t.Fatal("the first client was not woken by d")
	}
	taken := r.takeReady(first) // serving it: d in flight
	r.mu.Lock()
	second.signalLocked(r.signalFresh("a")) // its push to a
	r.mu.Unlock()
	if !woken(second) {
		t.Fatal("the second client was not woken by a")
	}
	if got := r.takeReady(second); got != nil {
		t.Fatalf("the second client took %q while the first still held d's earlier signal", keysOf(got))
	}
	r.removePassing(first, taken) // served: d passes on
	if !woken(second) {
		t.Fatal("the second client was not woken when d was passed on")
	}
	if got := keysOf(r.takeReady(second)); !slices.Equal(got, []string{"d", "a"}) {
		t.Fatalf("the second client's keys: %q, want d (signalled first), then a", got)
	}

	// A client ahead that finds its key empty keeps waiting; the one it
	// held back is woken and serves from a key signalled later.
	r.settle(second)
	r.mu.Lock()
	second.signalLocked(r.signalFresh("d"))
	r.mu.Unlock()
	r.takeReady(second) // d in flight
	third := mk(3, "d", "x")
	r.add(third) // behind second on d, first on x: x signalled after d
	if got := r.takeReady(third); got != nil {
		t.Fatalf("the third client took %q while the second held d's earlier signal", keysOf(got))
	}
	woken(third)
	r.settle(second) // d was empty: second keeps waiting
	if !woken(third) {
		t.Fatal("settle did not wake the client held back")
	}
	if got := keysOf(r.takeReady(third)); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("the third client's keys after settle: %q, want x", got)
	}
}
