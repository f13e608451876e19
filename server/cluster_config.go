package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/store"
)

// ErrClusterConfig is returned for inconsistent cluster directives.
var ErrClusterConfig = errors.New("invalid cluster configuration")

// nodeConfig turns the directives into the cluster package's Config, for a
// node whose client listener is bound at host:port.
func (s *Server) nodeConfig(host string, port int) (cluster.Config, error) {
	cc := s.cfg.Cluster
	gport := cc.Port
	if gport == 0 && s.cfg.Port != 0 {
		gport = port + 10000
		if gport > 65535 {
			return cluster.Config{}, fmt.Errorf("%w: port+10000 is above 65535, set cluster-port", ErrClusterConfig)
		}
	}
	announceHost, announcePort := host, port
	if cc.AnnounceIP != "" {
		announceHost = cc.AnnounceIP
	}
	if cc.AnnouncePort != 0 {
		announcePort = cc.AnnouncePort
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	cfg := cluster.Config{
		NodeID:         cc.NodeID,
		BindAddr:       host,
		BindPort:       gport,
		AdvertiseAddr:  cc.AnnounceIP,
		AnnounceHost:   announceHost,
		AnnouncePort:   announcePort,
		Join:           cc.Join,
		Replicas:       cc.Replicas,
		StageMoves:     true, // replication moves the data (handoff.go)
		ProbeInterval:  ms(cc.ProbeInterval),
		ProbeTimeout:   ms(cc.ProbeTimeout),
		GossipInterval: ms(cc.GossipInterval),
		NodeTimeout:    ms(cc.NodeTimeout),
		Logger:         s.log.With("component", "cluster"),
		Clock:          store.Mono, // routing checks the state by each command's start (routeCluster)
	}
	if cc.Transport != nil {
		tr, err := cc.Transport(host)
		if err != nil {
			return cluster.Config{}, fmt.Errorf("%w: transport: %w", ErrClusterConfig, err)
		}
		cfg.Transport = tr
	}
	if cc.Secret != "" {
		cfg.Secret = []byte(cc.Secret)
	}
	return cfg, nil
}
