//go:build keyslotcount

package server

import (
	"bytes"
	"testing"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/script"
	"github.com/cached/cached/store"
)

// keySlotCalls is how many key slots (CRC16 of a key) this process has
// computed, in either package that computes them.
func keySlotCalls() int64 { return protocol.KeySlotCalls() + store.KeySlotCalls() }

// TestKeySlotCount counts the key slots (CRC16 of a key) computed per
// command of the request path, on an existing key, standalone and on a
// one-node cluster, and fails when a command computes more than it did when
// the limits were last lowered. The counts are exact: nothing else runs
// while a batch runs (go test -tags keyslotcount -run TestKeySlotCount -v
// ./server/ prints them).
func TestKeySlotCount(t *testing.T) {
	cases := []struct {
		name      string
		req       []byte
		max, cmax int64 // per command: standalone, cluster
	}{
		{"GET", respRequest("GET", "key:42"), 1, 2},
		{"SET", respRequest("SET", "key:42", "v"), 1, 2},
		{"INCR", respRequest("INCR", "counter"), 1, 2},
		{"EVALSHA", nil, 1, 2}, // INCR and EXPIRE of KEYS[1] (benchScript)
		// One per key; in cluster mode routing computes them once more.
		{"MSET", respRequest("MSET", "{t}1", "v", "{t}2", "v", "{t}3", "v", "{t}4", "v", "{t}5", "v",
			"{t}6", "v", "{t}7", "v", "{t}8", "v", "{t}9", "v", "{t}10", "v"), 10, 20},
	}
	for _, mode := range []string{"standalone", "cluster"} {
		var s *Server
		if mode == "cluster" {
			s = startClusterNode(t, "", nil)
		} else {
			s = startServer(t, nil)
		}
		if _, err := s.scripts.Load([]byte(benchScript)); err != nil {
			t.Fatal(err)
		}
		p := newPathConn(t, s)
		for _, tc := range cases {
			req := tc.req
			if req == nil {
				req = respRequest("EVALSHA", script.SHA1Hex([]byte(benchScript)), "1", "counter", "100")
			}
			if err := p.batch(req); err != nil { // create the key, warm caches
				t.Fatal(err)
			}
			if bytes.HasPrefix(p.mc.out, []byte("-")) {
				t.Fatalf("%s %s: %q", mode, tc.name, p.mc.out)
			}
			const n = 16
			in := bytes.Repeat(req, n)
			before := keySlotCalls()
			if err := p.batch(in); err != nil {
				t.Fatal(err)
			}
			got := keySlotCalls() - before
			want := tc.max
			if mode == "cluster" {
				want = tc.cmax
			}
			t.Logf("%s %s: %.2f key slots per command", mode, tc.name, float64(got)/n)
			if got > want*n {
				t.Errorf("%s %s: %d key slots for %d commands, want at most %d each", mode, tc.name, got, n, want)
			}
		}
	}
}
