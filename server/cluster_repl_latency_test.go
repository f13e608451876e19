//go:build !race

package server

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestReplicaClientsRouteByLatency: a go-redis ClusterClient with
// RouteByLatency (reads to the nearest of a slot's nodes, replicas
// included) works against replicated nodes. Not built with -race: go-redis
// v9.23.0's RouteByLatency races with itself (the latency goroutine of a
// new node reads the node's client while NewClusterClient's OnNewNode hook
// writes it, osscluster.go:550 vs :1416).
func TestReplicaClientsRouteByLatency(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	checkClusterClient(t, &redis.ClusterOptions{Addrs: []string{nodes[1].Addr()}, RouteByLatency: true, ReadOnly: true})
	checkClusterClient(t, &redis.ClusterOptions{Addrs: []string{nodes[2].Addr()}, RouteByLatency: true})
}
