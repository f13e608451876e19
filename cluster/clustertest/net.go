// Package clustertest provides a gossip transport for tests that cut the
// network between the nodes of a cluster: real UDP and TCP on loopback
// (memberlist's NetTransport), with the traffic between chosen groups of
// nodes dropped while a partition lasts.
//
// # Usage
//
//	nw := clustertest.NewNet()
//	tr, err := nw.Transport("127.0.0.1") // one per node: cluster.Config.Transport
//	...
//	nw.Partition([]string{gossipA}, []string{gossipB, gossipC}) // A alone
//	nw.Heal()
package clustertest

import (
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/cached/cached/cluster"
)

// ErrCut is returned by dials across a partition.
var ErrCut = errors.New("clustertest: network cut")

// Net is a switchable network between the transports it made. The zero
// value is not usable: call NewNet. It is safe for concurrent use.
type Net struct {
	mu    sync.Mutex     // protects group
	group map[string]int // gossip address -> group; nil = no partition
}

// NewNet returns a network with no partition.
func NewNet() *Net { return &Net{} }

// Partition cuts the network into groups of gossip addresses (host:port):
// packets and dials between addresses of different groups are dropped;
// an address in no group is cut off from all the others.
func (nw *Net) Partition(groups ...[]string) {
	g := make(map[string]int)
	for i, addrs := range groups {
		for _, a := range addrs {
			g[a] = i + 1
		}
	}
	nw.mu.Lock()
	nw.group = g
	nw.mu.Unlock()
}

// Heal ends the partition: all traffic flows again.
func (nw *Net) Heal() {
	nw.mu.Lock()
	nw.group = nil
	nw.mu.Unlock()
}

// cut reports whether traffic from a to b is dropped.
func (nw *Net) cut(a, b string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.group == nil || a == b {
		return false
	}
	ga, gb := nw.group[a], nw.group[b]
	return ga == 0 || gb == 0 || ga != gb
}

// Transport starts a transport listening on host at a free port (UDP and
// TCP), for cluster.Config.Transport. The node that uses it shuts it down.
func (nw *Net) Transport(host string) (cluster.Transport, error) { return nw.TransportOn(host, 0) }

// TransportOn is Transport at a given port (0: a free one), for a node
// restarted at the address it had.
func (nw *Net) TransportOn(host string, port int) (cluster.Transport, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host},
		BindPort:  port,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		return nil, err
	}
	self := net.JoinHostPort(host, strconv.Itoa(nt.GetAutoBindPort()))
	return &transport{NetTransport: nt, nw: nw, self: self}, nil
}

// transport is a NetTransport whose sends and dials across a partition
// are dropped. Every node of a test uses one, so dropping outgoing traffic
// on both sides cuts both directions.
type transport struct {
	*memberlist.NetTransport
	nw   *Net
	self string // own gossip address
}

// WriteTo implements memberlist.Transport.
func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.nw.cut(t.self, addr) {
		return time.Now(), nil // lost on the way
	}
	return t.NetTransport.WriteTo(b, addr)
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// DialTimeout implements memberlist.Transport.
func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.nw.cut(t.self, addr) {
		return nil, ErrCut
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}
