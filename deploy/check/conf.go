package check

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cached/cached/server/config"
)

// Root is the repository root, relative to this package's directory (where
// go test runs).
const Root = "../.."

// gossipOffset is how far above the client port cached gossips when
// cluster-port is 0 (as Redis Cluster's bus port).
const gossipOffset = 10000

// MemoryLimit is the sizing rule of every deployment (README "Deploy"): a
// node with maxmemory M needs 2·M + 128 MiB — Go's collector lets the heap
// reach about twice the live data (GOGC 100), plus connections, buffers
// and the runtime.
func MemoryLimit(maxmemory int64) int64 { return 2*maxmemory + 128<<20 }

// GoMemLimit is the GOMEMLIMIT for a memory limit: 90 %, so the collector
// works harder before the kernel or the kubelet kills the process.
func GoMemLimit(limit int64) int64 { return limit * 9 / 10 }

// Node is a cached configuration read with cached's own parser.
type Node struct {
	cfg config.Config
}

// ParseNode reads a cached.conf and then --directive value pairs, as
// `cached FILE --name value ...` does; a value may span several words up
// to the next --name.
func ParseNode(confFile string, flags []string) (*Node, error) {
	f, err := os.Open(confFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := parseNode(f, flags)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(confFile), err)
	}
	return n, nil
}

// parseNode is ParseNode on a config text.
func parseNode(conf io.Reader, flags []string) (*Node, error) {
	n := &Node{cfg: config.DefaultConfig()}
	if err := config.ParseConfig(conf, &n.cfg); err != nil {
		return nil, err
	}
	for i := 0; i < len(flags); {
		name, ok := strings.CutPrefix(flags[i], "--")
		if !ok {
			return nil, fmt.Errorf("flag %q: want --name value", flags[i])
		}
		j := i + 1
		for j < len(flags) && !strings.HasPrefix(flags[j], "--") {
			j++
		}
		if err := n.cfg.Set(name, strings.Join(flags[i+1:j], " ")); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
		i = j
	}
	return n, nil
}

// Get returns a directive's value as CONFIG GET shows it.
func (n *Node) Get(name string) string {
	v, _ := n.cfg.Get(name)
	return v
}

// Int returns a numeric directive (maxmemory in bytes, ports).
func (n *Node) Int(name string) int64 {
	v, err := strconv.ParseInt(n.Get(name), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// GossipPort is the node's gossip port: cluster-port, or port + 10000.
func (n *Node) GossipPort() int64 {
	if p := n.Int("cluster-port"); p > 0 {
		return p
	}
	return n.Int("port") + gossipOffset
}

// MetricsPort is the port of metrics-addr, or an error if metrics are off.
func (n *Node) MetricsPort() (int64, error) {
	addr := n.Get("metrics-addr")
	if addr == "" {
		return 0, errors.New("metrics-addr is empty: no /metrics, /healthz or /readyz")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(port, 10, 64)
}

// Seeds returns cluster-join as host and port pairs.
func (n *Node) Seeds() ([][2]string, error) {
	var out [][2]string
	for _, s := range strings.Split(n.Get("cluster-join"), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return nil, fmt.Errorf("cluster-join %q: %w", s, err)
		}
		out = append(out, [2]string{h, p})
	}
	return out, nil
}

// ParseBytes reads sizes as systemd and GOMEMLIMIT write them: a number
// with an optional K/M/G/T suffix (systemd, base 1024) or KiB/MiB/GiB/TiB
// (Go), or B.
func ParseBytes(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGTiB")
	unit := s[len(num):]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "K": 10, "KiB": 10, "M": 20, "MiB": 20, "G": 30, "GiB": 30, "T": 40, "TiB": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	return n << sh, nil
}

// errs collects check failures.
type errs []error

func (e *errs) add(format string, args ...any) { *e = append(*e, fmt.Errorf(format, args...)) }
