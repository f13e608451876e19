package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"
)

// Errors returned by this package.
var (
	// ErrUnknownNode is returned by Node.Forget for an ID not in the local view.
	ErrUnknownNode = errors.New("cluster: unknown node")
	// ErrForgetSelf is returned by Node.Forget when asked to forget the node itself.
	ErrForgetSelf = errors.New("cluster: a node cannot forget itself")
	// ErrClosed is returned by Node methods called after Close.
	ErrClosed = errors.New("cluster: node closed")
	// ErrInvalidConfig is returned (wrapped, with the reason) by New for a bad Config.
	ErrInvalidConfig = errors.New("cluster: invalid config")
)

// Default LAN-fast failure-detector timings (DESIGN.md "Timing"): a crashed
// peer is seen as gone in about a second on a LAN.
const (
	DefaultProbeInterval  = 200 * time.Millisecond
	DefaultProbeTimeout   = 100 * time.Millisecond
	DefaultGossipInterval = 40 * time.Millisecond
	DefaultNodeTimeout    = 500 * time.Millisecond
)

// forgetBan is how long Forget keeps a node out of the local view even if
// gossip still reports it alive (Redis Cluster's FORGET ban list is 60 s).
const forgetBan = 60 * time.Second

// closeLeaveTimeout bounds the leave broadcast Close waits for.
const closeLeaveTimeout = 500 * time.Millisecond

// Config configures a Node. The zero value is usable for a single local node
// (random ID, gossip on 127.0.0.1 at a free port, no peers).
type Config struct {
	// NodeID is the node's identity: 40 lower-case hex characters. "" picks a
	// random one. It is also the memberlist node name, so it must be unique.
	NodeID string
	// BindAddr is the host the gossip transport (UDP and TCP) listens on.
	// Default "127.0.0.1".
	BindAddr string
	// BindPort is the gossip port; 0 picks a free one (see Node.GossipAddr).
	BindPort int
	// AdvertiseAddr is the gossip host peers use to reach this node;
	// "" lets memberlist use BindAddr (or a private address if BindAddr is
	// unspecified, like 0.0.0.0).
	AdvertiseAddr string
	// AnnounceHost is the RESP host announced to peers and clients
	// (cluster-announce-ip). "" = the host of the gossip address peers see.
	AnnounceHost string
	// AnnouncePort is the RESP port announced to peers and clients.
	AnnouncePort int
	// Join lists seed gossip addresses (host:port). If set, the node starts
	// in StateJoining with no table of its own (it serves nothing) and a
	// background loop tries to join the seeds with exponential back-off
	// (100 ms doubling to 5 s) until one attempt succeeds; afterwards the
	// same loop keeps re-joining lost members (see Node). If empty, the node
	// forms a cluster of one at once.
	Join []string
	// Secret enables gossip encryption (AES-GCM) with this 16, 24 or 32-byte
	// key; every node must use the same one. nil = no encryption.
	Secret []byte
	// Replicas is the number of replicas per slot in the preference list
	// (besides the primary). Default 0.
	Replicas int
	// ProbeInterval, ProbeTimeout and GossipInterval tune memberlist's
	// failure detector and gossip; 0 picks DefaultProbeInterval,
	// DefaultProbeTimeout and DefaultGossipInterval. Shorter detects a dead
	// node sooner at the price of more traffic and of false suspicions on a
	// slow network.
	ProbeInterval, ProbeTimeout, GossipInterval time.Duration
	// SuspicionMult scales how long a suspected node has to refute before it
	// is declared dead; 0 keeps memberlist's LAN default (4).
	SuspicionMult int
	// NodeTimeout is how long the node may miss a majority of the members
	// of its current table (itself included; members that left gracefully
	// or were forgotten do not count) before it reports StateNoQuorum and
	// stops serving. It runs from the moment memberlist declares the
	// missing members dead (≈ 1.2 s after a cut with the default timings).
	// 0 picks DefaultNodeTimeout. Longer rides out longer flaps at the price
	// of a longer window in which an isolated node and the majority both
	// accept writes for the same slots (see docs/cluster.md "Partitions").
	NodeTimeout time.Duration
	// StageMoves makes the coordinator move slots in stages (docs/cluster.md
	// "Moving slots without a miss"): a slot whose new primary does not
	// hold its data yet keeps its primary and gets the new one as incoming
	// member, and flips once that member reports the slot live
	// (Node.ReportHeld). Set it only when something moves the data and
	// reports (the server's replication, with Replicas > 0); without it a
	// new table moves primaries at once. Default false.
	StageMoves bool
	// Transport replaces memberlist's UDP+TCP transport (for tests that cut
	// the network between nodes); nil = memberlist's NetTransport on
	// BindAddr:BindPort. It is shut down by Close and cannot be reused.
	Transport Transport
	// Logger receives memberlist's log lines at their levels; nil discards them.
	Logger *slog.Logger
	// Clock is a monotonic clock in nanoseconds (any fixed origin) by which
	// the node times its pause check (Node.StateAt takes a reading of it).
	// nil = the node's own, time since New. A caller that reads such a
	// clock per request anyway passes it here and checks the state with
	// that reading, at no extra clock read; being monotonic, a step of the
	// system's wall clock never reads as a pause.
	Clock func() int64
}

// Transport is memberlist's packet and stream transport (Config.Transport).
type Transport = memberlist.Transport

// withDefaults returns cfg with defaults filled in, or an error wrapping
// ErrInvalidConfig.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.NodeID == "" {
		cfg.NodeID = RandomID()
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "127.0.0.1"
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.GossipInterval == 0 {
		cfg.GossipInterval = DefaultGossipInterval
	}
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	if cfg.Clock == nil {
		origin := time.Now()
		cfg.Clock = func() int64 { return int64(time.Since(origin)) }
	}
	if err := cfg.validate(); err != nil {
		return cfg, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return cfg, nil
}

func (cfg Config) validate() error {
	switch {
	case !ValidID(cfg.NodeID):
		return fmt.Errorf("node ID %q is not 40 lower-case hex characters", cfg.NodeID)
	case cfg.BindPort < 0 || cfg.BindPort > 65535:
		return fmt.Errorf("bind port %d out of range", cfg.BindPort)
	case cfg.AnnouncePort < 0 || cfg.AnnouncePort > 65535:
		return fmt.Errorf("announce port %d out of range", cfg.AnnouncePort)
	case cfg.Secret != nil && len(cfg.Secret) != 16 && len(cfg.Secret) != 24 && len(cfg.Secret) != 32:
		return fmt.Errorf("secret is %d bytes, want 16, 24 or 32", len(cfg.Secret))
	case cfg.Replicas < 0:
		return fmt.Errorf("replicas %d is negative", cfg.Replicas)
	case cfg.ProbeInterval < 0 || cfg.ProbeTimeout < 0 || cfg.GossipInterval < 0 || cfg.SuspicionMult < 0 || cfg.NodeTimeout < 0:
		return errors.New("negative timing")
	case len(cfg.AnnounceHost) > 255:
		return errors.New("announce host longer than 255 bytes")
	}
	return nil
}

// RandomID returns a random node ID: 40 lower-case hex characters.
func RandomID() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id is 40 lower-case hex characters.
func ValidID(id string) bool {
	if len(id) != 40 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
