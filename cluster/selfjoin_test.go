package cluster

import (
	"net"
	"strconv"
	"testing"
)

// TestSeedIsSelf: a node whose only seed is its own gossip address (a
// Kubernetes headless service resolving to the first pod alone) forms a
// cluster of one once it has reached that seed.
func TestSeedIsSelf(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	n := startNode(t, Config{BindPort: port, Join: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}})
	waitFor(t, convergeWithin, "a cluster of one", func() bool {
		return n.State() == StateOK && n.Table().Len() == 1 && n.Table().Owner(0).ID == n.ID()
	})
}
