package server

import "testing"

// TestKeyspaceHitsForNoTouchReads checks that EXISTS, TYPE, TTL and OBJECT
// count keyspace hits and misses as Redis does (LOOKUP_NOTOUCH reads).
func TestKeyspaceHitsForNoTouchReads(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "SET", "k", "v")
	before := s.store.Stats()
	for _, cmd := range [][]any{
		{"EXISTS", "k", "missing"}, {"TYPE", "k"}, {"TYPE", "missing"},
		{"TTL", "k"}, {"PTTL", "missing"}, {"OBJECT", "ENCODING", "k"},
	} {
		mustDo(t, rc, cmd...)
	}
	after := s.store.Stats()
	if hits, misses := after.Hits-before.Hits, after.Misses-before.Misses; hits != 4 || misses != 3 {
		t.Fatalf("hits +%d misses +%d, want +4 +3", hits, misses)
	}
}
