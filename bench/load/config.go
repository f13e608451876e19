package load

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrConfig is returned (wrapped) by Config.Validate and the Parse functions
// for an invalid setting.
var ErrConfig = errors.New("load: bad config")

// Config describes one workload against one target. Fill it from
// DefaultConfig; Run validates it.
type Config struct {
	// Addrs is the target "host:port"; with Cluster, the seed nodes.
	Addrs []string
	// Cluster turns on cluster-aware routing: the slot map is read with
	// CLUSTER SLOTS (CLUSTER SHARDS as a fallback), MOVED/ASK are followed
	// and MOVED triggers a refresh of the map.
	Cluster bool
	// User and Password authenticate every connection (AUTH) when Password
	// is set; User may be empty.
	User, Password string

	// Clients is the number of connections (one goroutine each). Default 50.
	Clients int
	// Pipeline is the number of requests written per batch: in closed loop
	// the requests in flight per connection, in open loop the most requests
	// coalesced in one write. Default 1.
	Pipeline int
	// Duration of the measured phase, after Warmup. Ignored when Requests > 0.
	Duration time.Duration
	// Requests, if positive, ends the run after this many measured requests
	// (all clients together) instead of after Duration.
	Requests int64
	// Warmup runs the workload unmeasured for this long first.
	Warmup time.Duration
	// Rate, if positive, switches to open loop: requests are sent on a fixed
	// schedule of Rate per second (all clients together) whatever the
	// replies, and latency is measured from each request's intended send
	// time, so a stalled server is not hidden (no coordinated omission).
	Rate float64
	// Timeout bounds a dial and a wait for replies. Default 5 s.
	Timeout time.Duration

	// Commands is the weighted operation mix. Default: RatioCommands(1, 10, 0).
	Commands []Command
	// Keyspace is the number of distinct keys, named KeyPrefix + index.
	Keyspace uint64
	// KeyPrefix prefixes every key. Default "key:".
	KeyPrefix string
	// KeyDist is the key popularity distribution.
	KeyDist KeyDist
	// DataMin and DataMax bound value sizes in bytes, drawn uniformly; equal
	// for a fixed size. Default 32.
	DataMin, DataMax int
	// TTL, if positive, is set on the preload's writes; RatioCommands adds it
	// to SET.
	TTL time.Duration
	// Preload writes every key of the key space once (SET, with TTL) before
	// the run, unmeasured.
	Preload bool
	// CacheAside makes the client behave as an application in front of a
	// database: a read command (GET, HGET, …) answered nil is followed, in
	// the connection's next batch, by SET key data (with TTL), reported as
	// the operation FILL. A read answered after a MOVED/ASK redirect is not
	// filled. Closed loop only.
	CacheAside bool
	// Seed makes the random choices repeatable; 0 picks one from the clock.
	Seed uint64

	// Progress, if set, is called about once a second from Run's collector
	// goroutine; it must not block for long.
	Progress func(Progress)
}

// DefaultConfig returns the defaults: 127.0.0.1:6379, 50 clients, no
// pipelining, 10 s, SET:GET 1:10 over 100,000 uniform keys, 32-byte values.
func DefaultConfig() Config {
	return Config{
		Addrs:     []string{"127.0.0.1:6379"},
		Clients:   50,
		Pipeline:  1,
		Duration:  10 * time.Second,
		Timeout:   5 * time.Second,
		Commands:  RatioCommands(1, 10, 0),
		Keyspace:  100000,
		KeyPrefix: "key:",
		KeyDist:   KeyDist{Kind: "uniform"},
		DataMin:   32,
		DataMax:   32,
	}
}

// maxPipeline bounds Pipeline to keep per-connection buffers sane.
const maxPipeline = 100000

// Validate checks the config and fills unset fields with defaults.
func (c *Config) Validate() error {
	d := DefaultConfig()
	if len(c.Addrs) == 0 {
		c.Addrs = d.Addrs
	}
	for _, a := range c.Addrs {
		if !strings.Contains(a, ":") {
			return fmt.Errorf("%w: address %q is not host:port", ErrConfig, a)
		}
	}
	if c.Clients <= 0 {
		return fmt.Errorf("%w: clients must be positive", ErrConfig)
	}
	if c.Pipeline <= 0 || c.Pipeline > maxPipeline {
		return fmt.Errorf("%w: pipeline must be in 1..%d", ErrConfig, maxPipeline)
	}
	if c.Requests <= 0 && c.Duration <= 0 {
		return fmt.Errorf("%w: need a duration or a request count", ErrConfig)
	}
	if c.Warmup < 0 || c.Rate < 0 || c.TTL < 0 {
		return fmt.Errorf("%w: warmup, rate and ttl must not be negative", ErrConfig)
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if len(c.Commands) == 0 {
		c.Commands = d.Commands
	}
	if len(c.Commands) > 1<<15 {
		return fmt.Errorf("%w: too many commands", ErrConfig)
	}
	if c.CacheAside && c.Rate > 0 {
		return fmt.Errorf("%w: cache-aside runs in closed loop only (no rate)", ErrConfig)
	}
	if c.CacheAside && !c.Commands[len(c.Commands)-1].fill {
		c.Commands = append(c.Commands, fillCommand(c.TTL))
	}
	for _, cmd := range c.Commands {
		if cmd.fill {
			continue
		}
		if cmd.Weight <= 0 || len(cmd.parts) == 0 {
			return fmt.Errorf("%w: command %q needs a positive weight (build it with NewCommand)", ErrConfig, cmd.Name)
		}
	}
	uniqueNames(c.Commands)
	if c.Keyspace == 0 {
		return fmt.Errorf("%w: keyspace must be positive", ErrConfig)
	}
	if c.KeyDist.Kind == "" {
		c.KeyDist.Kind = "uniform"
	}
	if _, err := ParseKeyDist(c.KeyDist.String()); err != nil {
		return err
	}
	if c.DataMin < 0 || c.DataMax < c.DataMin || c.DataMax > 512<<20 {
		return fmt.Errorf("%w: data size range %d-%d", ErrConfig, c.DataMin, c.DataMax)
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return nil
}

// ParseSize parses a value size "N" or a range "MIN-MAX" in bytes.
func ParseSize(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err = strconv.Atoi(strings.TrimSpace(a))
	if err == nil {
		hi = lo
		if isRange {
			hi, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if err != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("%w: bad data size %q, want N or MIN-MAX", ErrConfig, s)
	}
	return lo, hi, nil
}
