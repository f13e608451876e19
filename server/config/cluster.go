package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cached/cached/cluster"
)

// ClusterConfig holds the cluster-* directives.
type ClusterConfig struct {
	// Enabled turns cluster mode on (directive "cluster-enabled").
	Enabled bool
	// Port is the gossip port (directive "cluster-port"); 0 means the client
	// port + 10000, or a free port when the client port is 0 (tests).
	Port int
	// Join lists gossip seed addresses host:port (directive "cluster-join").
	Join []string
	// AnnounceIP is the host announced to clients and peers ("" = the bind address).
	AnnounceIP string
	// AnnouncePort is the client port announced (0 = the bound port).
	AnnouncePort int
	// NodeID is the 40-hex node ID ("" = random at start).
	NodeID string
	// Secret, if not empty, encrypts gossip (16, 24 or 32 bytes).
	Secret string
	// Route is "moved" (redirect clients) or "proxy" (forward to the owner).
	Route string
	// ProbeInterval, ProbeTimeout and GossipInterval tune failure detection, in ms.
	ProbeInterval, ProbeTimeout, GossipInterval int
	// Replicas is the number of replicas per slot (directive
	// "cluster-replicas"): each slot's primary streams its writes to them.
	Replicas int
	// ReplicaReads says which connections a node's replica copies serve
	// reads to (directive "cluster-replica-reads"): "readonly" (default,
	// Redis's rule: only READONLY connections; others get MOVED) or "any"
	// (every connection's read commands of a slot it replicates, live).
	// "any" is for clients that route reads to replicas without READONLY
	// on nodes they also see as masters, e.g. ioredis scaleReads (see
	// docs/replication.md); a client whose slot map is stale then reads the
	// replica's copy instead of being redirected.
	ReplicaReads string
	// ReplBacklogSize is the replication backlog in bytes (directive
	// "repl-backlog-size"): how much a replica may miss and still resume.
	ReplBacklogSize int64

	// NodeTimeout is how long, in ms, a node may miss a majority of its
	// table's members (after memberlist declared them dead) before it
	// answers CLUSTERDOWN (directive "cluster-node-timeout"; default 500).
	NodeTimeout int

	// ShutdownHandoffTimeout is how long, in ms, a graceful shutdown waits
	// for the node's slots to be handed over (directive
	// "cluster-shutdown-handoff-timeout"; default 10000; 0 leaves at once).
	ShutdownHandoffTimeout int
	// SnapshotRate limits snapshot bytes per second sent to replicas and
	// incoming members, all links together (directive "repl-snapshot-rate";
	// 0 = unlimited).
	SnapshotRate int64
	// SnapshotPace is the percentage of the time snapshot work, sending
	// and loading, may take (repl.Pacer: it rests after each 1 ms of work
	// so that the work keeps this share; directive "repl-snapshot-pace",
	// "yes" = 50, "no" = 100 = unpaced, the default): a move then holds at
	// most about this share of each process's time, and takes up to
	// 100/SnapshotPace times as long.
	SnapshotPace int

	// Transport, if set, makes the gossip transport (tests cut the network
	// with it); nil = memberlist's UDP+TCP transport. Not a directive.
	Transport func(host string) (cluster.Transport, error)
}

func (c ClusterConfig) clone() ClusterConfig {
	c.Join = append([]string(nil), c.Join...)
	return c
}

func boolDirective(name, def string, doc string, field func(c *Config) *bool) directive {
	return directive{name: name, def: def, doc: doc,
		get: func(c *Config) string {
			if *field(c) {
				return "yes"
			}
			return "no"
		},
		set: func(c *Config, v string) error {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "yes":
				*field(c) = true
			case "no":
				*field(c) = false
			default:
				return errors.New("argument must be 'yes' or 'no'")
			}
			return nil
		}}
}

var _ = registerDirectives(
	boolDirective("cluster-enabled", "no", "run as a node of a cluster (gossip membership, slots by consistent hashing)",
		func(c *Config) *bool { return &c.Cluster.Enabled }),
	intDirective("cluster-port", "0", false, 0, 65535, "gossip port (0 = port+10000; a free port when port is 0)",
		func(c *Config) *int { return &c.Cluster.Port }),
	directive{name: "cluster-join", def: "", doc: "gossip seeds to join, comma-separated host:port (their cluster-port)",
		get: func(c *Config) string { return strings.Join(c.Cluster.Join, ",") },
		set: func(c *Config, v string) error {
			c.Cluster.Join = nil
			for _, a := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
				if _, _, err := SplitHostPort(a); err != nil {
					return err
				}
				c.Cluster.Join = append(c.Cluster.Join, a)
			}
			return nil
		}},
	stringDirective("cluster-announce-ip", "", false, "host announced to clients and peers (empty = the bind address)",
		func(c *Config) *string { return &c.Cluster.AnnounceIP }),
	intDirective("cluster-announce-port", "0", false, 0, 65535, "client port announced (0 = the bound port)",
		func(c *Config) *int { return &c.Cluster.AnnouncePort }),
	directive{name: "cluster-node-id", def: "", doc: "node ID, 40 hex characters (empty = random)",
		get: func(c *Config) string { return c.Cluster.NodeID },
		set: func(c *Config, v string) error {
			if v != "" && !isNodeID(v) {
				return errors.New("a node ID is 40 lower-case hex characters")
			}
			c.Cluster.NodeID = v
			return nil
		}},
	directive{name: "cluster-secret", def: "", doc: "gossip encryption key, 16, 24 or 32 bytes (empty = none)",
		get: func(c *Config) string { return c.Cluster.Secret },
		set: func(c *Config, v string) error {
			if n := len(v); n != 0 && n != 16 && n != 24 && n != 32 {
				return errors.New("the secret must be 16, 24 or 32 bytes long")
			}
			c.Cluster.Secret = v
			return nil
		}},
	enumDirective("cluster-route", "moved", false, []string{"moved", "proxy"},
		"keys of another node: answer MOVED, or forward to the owner (proxy)", func(c *Config) *string { return &c.Cluster.Route }),
	intDirective("cluster-probe-interval", "200", false, 1, 60000, "gossip failure-probe interval in ms",
		func(c *Config) *int { return &c.Cluster.ProbeInterval }),
	intDirective("cluster-probe-timeout", "100", false, 1, 60000, "gossip probe timeout in ms",
		func(c *Config) *int { return &c.Cluster.ProbeTimeout }),
	intDirective("cluster-gossip-interval", "40", false, 1, 60000, "gossip interval in ms",
		func(c *Config) *int { return &c.Cluster.GossipInterval }),
	intDirective("cluster-node-timeout", "500", false, 1, 3600000,
		"ms a node may miss a majority of the cluster (after gossip declared the others dead) before it answers CLUSTERDOWN",
		func(c *Config) *int { return &c.Cluster.NodeTimeout }),
	intDirective("cluster-replicas", "1", false, 0, 16, "replicas per slot (nodes that hold a copy of each slot)",
		func(c *Config) *int { return &c.Cluster.Replicas }),
	enumDirective("cluster-replica-reads", "readonly", false, []string{"readonly", "any"},
		"reads served from a replica copy: READONLY connections only (readonly), or any connection (any; ioredis scaleReads)",
		func(c *Config) *string { return &c.Cluster.ReplicaReads }),
	intDirective("cluster-shutdown-handoff-timeout", "10000", false, 0, 3600000,
		"ms a graceful shutdown (SIGTERM, SHUTDOWN) waits for the node's slots to be handed over (0 = leave at once)",
		func(c *Config) *int { return &c.Cluster.ShutdownHandoffTimeout }),
	immutable(boundedMemDirective("repl-snapshot-rate", "0", 0, 1<<40,
		"bytes per second of slot snapshots sent to replicas and joining nodes, all together (0 = unlimited)",
		func(c *Config) *int64 { return &c.Cluster.SnapshotRate })),
	directive{name: "repl-snapshot-pace", def: "25", mutable: true,
		doc: "share of the time slot snapshot work (sent and loaded) may take, 1-100 %: it rests after each 1 ms; yes = 50, no = 100 (unpaced); moves take up to 100/share times as long",
		get: func(c *Config) string { return formatPace(c.Cluster.SnapshotPace) },
		set: func(c *Config, v string) error {
			n, err := parsePace(v)
			if err == nil {
				c.Cluster.SnapshotPace = n
			}
			return err
		}},
	immutable(boundedMemDirective("repl-backlog-size", "1mb", 16<<10, 1<<40,
		"replication backlog: how much a disconnected replica may miss and still resume",
		func(c *Config) *int64 { return &c.Cluster.ReplBacklogSize })),
	// Redis Cluster's own directives, as redis.conf has them: inert here.
	inertDirective("cluster-config-file", "nodes.conf"),
	inertDirective("cluster-replica-validity-factor", "10"),
	inertDirective("cluster-migration-barrier", "1"),
	inertDirective("cluster-allow-replica-migration", "yes"),
	inertDirective("cluster-require-full-coverage", "yes"),
	inertDirective("cluster-replica-no-failover", "no"),
	inertDirective("cluster-allow-reads-when-down", "no"),
	inertDirective("cluster-allow-pubsubshard-when-down", "yes"),
	inertDirective("cluster-link-sendbuf-limit", "0"),
	inertDirective("cluster-announce-hostname", ""),
	inertDirective("cluster-announce-human-nodename", ""),
	inertDirective("cluster-preferred-endpoint-type", "ip"),
	inertDirective("cluster-announce-bus-port", "0"),
	inertDirective("cluster-announce-tls-port", "0"),
	inertDirective("cluster-port-tls", "0"),
)

// immutable marks a directive as not settable with CONFIG SET.
func immutable(d directive) directive {
	d.mutable = false
	return d
}

// SplitHostPort splits host:port (a bracketed IPv6 host loses its brackets);
// the port must be between 1 and 65535.
func SplitHostPort(a string) (string, int, error) {
	i := strings.LastIndexByte(a, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("%q is not host:port", a)
	}
	p, err := strconv.Atoi(a[i+1:])
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("%q is not host:port", a)
	}
	return strings.Trim(a[:i], "[]"), p, nil
}

func isNodeID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// parsePace reads a repl-snapshot-pace value: a percentage from 1 to 100,
// or yes (50) or no (100).
func parsePace(v string) (int, error) {
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case "yes":
		return 50, nil
	case "no":
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, errors.New("argument must be 'yes', 'no' or a percentage between 1 and 100")
	}
	return n, nil
}

// formatPace is a repl-snapshot-pace value as CONFIG GET shows it: "no"
// when unpaced, else the percentage.
func formatPace(n int) string {
	if n >= 100 || n <= 0 {
		return "no"
	}
	return strconv.Itoa(n)
}
