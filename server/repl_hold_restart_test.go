package server

import (
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/server/config"
)

// TestHoldFailoverReplicaRestarts (case c): as above, but R itself is
// killed while it holds (its copy of the held slots short of A's seal,
// A's marks for the slots staged to it withheld) and restarts at once
// with the same node ID and an empty store, as a supervisor restarts a
// crashed process; the table still lists R as the primary of its own
// slots. The restarted R must not serve them with its empty store (a
// GET of a key written there before the kill, sent to R itself, gets the
// value, a redirect or CLUSTERDOWN, never a miss) until the cluster has
// planned it out and back in; then A's leave ends, R loads by snapshot,
// and every write acknowledged (WAIT on A and on R, plain SETs on the new
// primaries, which all live) reads back from a cluster where every copy
// equals its primary's. R restarts at a new address ("moved": its old
// process is declared dead meanwhile) or at its old one ("same": the
// new process answers the old one's probes, and memberlist takes it for
// the old). Before node_restart.go the restarted R took the old table as
// its own: it answered misses, stayed its slots' primary, and keys
// acknowledged there with WAIT 1 were lost.
func TestHoldFailoverReplicaRestarts(t *testing.T) {
	for _, same := range []bool{false, true} {
		name := map[bool]string{false: "moved", true: "same"}[same]
		t.Run(name, func(t *testing.T) { testHoldReplicaRestarts(t, same) })
	}
}

func testHoldReplicaRestarts(t *testing.T, same bool) {
	m, acked, after, st := setUpHold(t, false)
	maps.Copy(acked, after) // their primaries survive
	rID := m.r.cl.node.Load().ID()
	own := m.writeOwnOnR(t, acked)
	var seed string
	for _, s := range m.nodes {
		if s != m.a && s != m.r {
			seed = s.cl.node.Load().GossipAddr()
			break
		}
	}
	oldGossip := m.r.cl.node.Load().GossipAddr()
	_, gossipPort, _ := net.SplitHostPort(oldGossip)
	_, respPort, _ := net.SplitHostPort(m.r.Addr())
	start := time.Now()
	crashNode(m.nw, m.nodes, m.r)
	if same {
		m.nw.Heal() // R's old process is closed: its address is the new one's
	}
	again := startClusterNode(t, seed, func(c *config.Config) {
		c.Cluster.Replicas = 2
		c.Cluster.Transport = m.nw.Transport
		c.Cluster.NodeID = rID
		if same {
			c.Port, _ = strconv.Atoi(respPort)
			gp, _ := strconv.Atoi(gossipPort)
			c.Cluster.Transport = func(host string) (cluster.Transport, error) { return m.nw.TransportOn(host, gp) }
		}
	})
	if !same {
		// The crash cut R's old gossip address off; the new one joins the
		// rest (an address in no group of the partition is cut off from all).
		rest := []string{again.cl.node.Load().GossipAddr()}
		for _, s := range m.nodes {
			if s != m.r {
				rest = append(rest, s.cl.node.Load().GossipAddr())
			}
		}
		m.nw.Partition([]string{oldGossip}, rest)
	} else if again.Addr() != m.r.Addr() || again.cl.node.Load().GossipAddr() != oldGossip {
		t.Fatalf("R restarted at %s (gossip %s), not at its old %s (%s)", again.Addr(), again.cl.node.Load().GossipAddr(), m.r.Addr(), oldGossip)
	}
	watch := watchReads(t, again, own)
	var alive, members []*Server
	for _, s := range m.nodes {
		switch s {
		case m.r:
			alive = append(alive, again)
			members = append(members, again)
		case m.a:
			alive = append(alive, s) // A's leave ends; it stays up, out of the table
		default:
			alive = append(alive, s)
			members = append(members, s)
		}
	}
	pollFor(t, "the cluster settles with the restarted R and without A", func() bool { return settled(t, alive, members) })
	t.Logf("settled %v after R was killed and restarted", time.Since(start).Round(time.Millisecond))
	reads, bad := watch()
	if bad != "" {
		t.Errorf("the restarted R served a key of its old slots without the data (%d reads): %s", reads, bad)
	}
	if v := again.cl.view.Load().t; v.IndexOf(rID) < 0 {
		t.Fatalf("the settled table %d does not list R's ID", v.Version())
	}
	cc := checkSettledCluster(t, members)
	want := wantAcked(acked)
	readsBackAny(t, cc, want)
	primaryOf := 0
	v := again.cl.view.Load()
	for s := range cluster.NumSlots {
		if v.t.OwnerIndex(s) == v.self {
			primaryOf++
		}
	}
	loaded := again.handoff.keysLoaded.Load()
	if primaryOf > 0 && loaded == 0 {
		t.Errorf("the restarted R is primary of %d slots and loaded no key by snapshot: it started empty", primaryOf)
	}
	t.Logf("%d acknowledged keys read back (%d slots held, %d staged to R at the kill; %d keys of R's own slots read %d times on the restarted R); it is primary of %d slots and loaded %d keys by snapshot",
		len(acked), len(st.held), len(st.stagedToR), len(own), reads, primaryOf, loaded)
}

// writeOwnOnR sets a key in each of up to 64 slots R was primary of
// before A's leave to "own", with WAIT 1 (its first replica has them),
// records them in acked and returns them. (A slot of A's flipped to R
// waits for A's seal, which the gate withholds.)
func (m *holdFailover) writeOwnOnR(t *testing.T, acked map[string]string) []string {
	t.Helper()
	slots := m.rOwn
	if len(slots) == 0 {
		t.Fatal("R is primary of no slot")
	}
	all := slotKeys()
	var keys []string
	for i := 0; i < len(slots) && len(keys) < 64; i += max(1, len(slots)/64) {
		keys = append(keys, "{"+all[slots[i]]+"}own")
	}
	setAndWait(t, m.r, "R", keys, "own", 1)
	for _, k := range keys {
		acked[k] = "own"
	}
	return keys
}

// watchReads GETs keys on s (no redirects followed) in a loop until the
// returned stop is called (or the test ends), which reports how many
// reads answered and the first one that was a miss or a wrong value (all
// keys hold "own"). A redirect, CLUSTERDOWN or TRYAGAIN is an answer a
// client can follow.
func watchReads(t *testing.T, s *Server, keys []string) (stop func() (reads int, bad string)) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	ctx := ctxT(t)
	quit := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	end := func() {
		once.Do(func() {
			close(quit)
			<-done
			_ = rc.Close()
		})
	}
	t.Cleanup(end) // a test that fails before stop
	var reads int
	var bad string
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			k := keys[i%len(keys)]
			v, err := rc.Get(ctx, k).Result()
			switch {
			case err == nil && v != "own", err == redis.Nil:
				if bad == "" {
					bad = fmt.Sprintf("GET %s (slot %d): %q, %v (state %s)", k, keySlot(k), v, err, s.cl.stateName())
				}
			case err != nil && !isRedirectOrDown(err):
				if bad == "" {
					bad = fmt.Sprintf("GET %s: %v", k, err)
				}
			}
			if err == nil || err == redis.Nil || isRedirectOrDown(err) {
				reads++
			}
			if i%len(keys) == len(keys)-1 {
				time.Sleep(time.Millisecond) // a round of keys, then let the node work
			}
		}
	}()
	return func() (int, string) {
		end()
		return reads, bad
	}
}

// isRedirectOrDown reports whether err is a cluster answer a client
// follows or retries: MOVED, ASK, CLUSTERDOWN or TRYAGAIN.
func isRedirectOrDown(err error) bool {
	for _, p := range []string{"MOVED ", "ASK ", "CLUSTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}
