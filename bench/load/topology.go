package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

// ErrNoSlots is returned by Run in cluster mode when no seed node answers
// CLUSTER SLOTS or CLUSTER SHARDS with a usable map.
var ErrNoSlots = errors.New("load: no cluster slot map")

// slotMap is one immutable view of the cluster: slot → primary address.
// It is replaced whole, never modified.
type slotMap struct {
	addrs []string
	owner [protocol.Slots]uint16 // index into addrs
}

// topology routes keys. Without cluster mode it spreads workers over the
// given addresses; with it, it follows the slot map and refreshes it in the
// background when a MOVED arrives or a node cannot be reached. Safe for
// concurrent use.
type topology struct {
	cfg       *Config
	cur       atomic.Pointer[slotMap]
	kick      chan struct{} // capacity 1: a refresh is wanted
	refreshes atomic.Int64  // maps loaded so far: the map's generation
	mu        sync.Mutex    // protects loaded
	loaded    chan struct{} // closed, and replaced, when a map is stored
}

func newTopology(cfg *Config) *topology {
	return &topology{cfg: cfg, kick: make(chan struct{}, 1), loaded: make(chan struct{})}
}

// store installs a new map and wakes the requests waiting for one.
func (t *topology) store(m *slotMap) {
	t.cur.Store(m)
	t.refreshes.Add(1)
	t.mu.Lock()
	close(t.loaded)
	t.loaded = make(chan struct{})
	t.mu.Unlock()
}

// awaitLoad waits until a map newer than generation gen is stored; it
// gives up (false) at deadline or when stop is set.
func (t *topology) awaitLoad(gen int64, deadline time.Time, stop *atomic.Bool) bool {
	for t.refreshes.Load() <= gen {
		t.mu.Lock()
		ch := t.loaded
		t.mu.Unlock()
		if t.refreshes.Load() > gen { // stored before ch was taken
			return true
		}
		d := min(time.Until(deadline), 100*time.Millisecond) // wake to look at stop
		if d <= 0 || stop.Load() {
			return false
		}
		timer := time.NewTimer(d)
		select {
		case <-ch:
		case <-timer.C:
		}
		timer.Stop()
	}
	return true
}

// route returns the address for a key's slot (cluster mode) or for worker
// (otherwise).
func (t *topology) route(key []byte, hasKey bool, worker int) string {
	if !t.cfg.Cluster {
		return t.cfg.Addrs[worker%len(t.cfg.Addrs)]
	}
	m := t.cur.Load()
	if !hasKey {
		return m.addrs[worker%len(m.addrs)]
	}
	return m.addrs[m.owner[protocol.KeySlot(key)]]
}

// wantRefresh asks the refresher for a new map without blocking.
func (t *topology) wantRefresh() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// minRefreshGap spaces refreshes during a MOVED storm.
const minRefreshGap = 50 * time.Millisecond

// refresher reloads the map whenever asked, until ctx ends. Run owns it.
func (t *topology) refresher(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
		}
		_ = t.load() // on failure the old map stays; the next MOVED or failed dial asks again
		select {
		case <-ctx.Done():
			return
		case <-time.After(minRefreshGap):
		}
	}
}

// load fetches the slot map from the known nodes, then the seeds.
func (t *topology) load() error {
	var tried []string
	if m := t.cur.Load(); m != nil {
		tried = append(tried, m.addrs...)
	}
	tried = append(tried, t.cfg.Addrs...)
	var lastErr error
	for _, addr := range tried {
		m, err := fetchSlots(t.cfg, addr)
		if err == nil {
			t.store(m)
			return nil
		}
		lastErr = err
	}
	return fmt.Errorf("%w: %v", ErrNoSlots, lastErr)
}

// dial connects to addr and authenticates.
func dial(cfg *Config, addr string) (*protocol.Client, error) {
	c, err := protocol.Dial(addr, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	if cfg.Password != "" {
		args := []string{"AUTH", cfg.Password}
		if cfg.User != "" {
			args = []string{"AUTH", cfg.User, cfg.Password}
		}
		v, err := c.DoStrings(args...)
		if err == nil {
			err = v.Err()
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("load: auth on %s: %w", addr, err)
		}
	}
	return c, nil
}

// fetchSlots asks addr for CLUSTER SLOTS, or CLUSTER SHARDS if that fails.
func fetchSlots(cfg *Config, addr string) (*slotMap, error) {
	c, err := dial(cfg, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	host, _, _ := net.SplitHostPort(addr)
	v, err := c.DoStrings("CLUSTER", "SLOTS")
	if err == nil && v.Err() == nil {
		if m, err := parseSlots(v, host); err == nil {
			return m, nil
		}
	}
	v, err = c.DoStrings("CLUSTER", "SHARDS")
	if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return parseShards(v, host)
}

// mapBuilder collects slot ranges into a slotMap.
type mapBuilder struct {
	m     *slotMap
	index map[string]uint16
}

func newMapBuilder() *mapBuilder { return &mapBuilder{m: &slotMap{}, index: map[string]uint16{}} }

func (b *mapBuilder) add(lo, hi int64, addr string) error {
	if lo < 0 || hi >= protocol.Slots || lo > hi {
		return fmt.Errorf("%w: bad slot range %d-%d", ErrNoSlots, lo, hi)
	}
	i, ok := b.index[addr]
	if !ok {
		i = uint16(len(b.m.addrs))
		b.index[addr] = i
		b.m.addrs = append(b.m.addrs, addr)
	}
	for s := lo; s <= hi; s++ {
		b.m.owner[s] = i
	}
	return nil
}

func (b *mapBuilder) done() (*slotMap, error) {
	if len(b.m.addrs) == 0 {
		return nil, fmt.Errorf("%w: no slots assigned", ErrNoSlots)
	}
	// Unassigned slots keep owner 0: requests go there and get an error
	// reply, which is what the cluster would answer anyway.
	return b.m, nil
}

// nodeAddr joins host and port; an empty or "?" host is the queried node's.
func nodeAddr(host string, port int64, fallback string) string {
	if host == "" || host == "?" {
		host = fallback
	}
	return net.JoinHostPort(host, strconv.FormatInt(port, 10))
}

// parseSlots reads CLUSTER SLOTS: [[start, end, [host, port, id, …], replicas…], …].
func parseSlots(v protocol.Value, fallback string) (*slotMap, error) {
	b := newMapBuilder()
	for _, r := range v.Elems {
		if len(r.Elems) < 3 || len(r.Elems[2].Elems) < 2 {
			return nil, fmt.Errorf("%w: malformed CLUSTER SLOTS entry", ErrNoSlots)
		}
		p := r.Elems[2]
		if err := b.add(r.Elems[0].Int, r.Elems[1].Int, nodeAddr(p.Elems[0].String(), p.Elems[1].Int, fallback)); err != nil {
			return nil, err
		}
	}
	return b.done()
}

// parseShards reads CLUSTER SHARDS: a list of maps with "slots" (flat
// start/end pairs) and "nodes" (maps with ip/endpoint, port, role).
func parseShards(v protocol.Value, fallback string) (*slotMap, error) {
	b := newMapBuilder()
	for _, shard := range v.Elems {
		slots, nodes := field(shard, "slots"), field(shard, "nodes")
		addr := ""
		for _, n := range nodes.Elems {
			if field(n, "role").String() != "master" {
				continue
			}
			host := field(n, "ip").String()
			port := field(n, "port")
			if port.Kind != protocol.KindInt {
				port = field(n, "tls-port")
			}
			addr = nodeAddr(host, port.Int, fallback)
		}
		if addr == "" {
			continue
		}
		for i := 0; i+1 < len(slots.Elems); i += 2 {
			if err := b.add(slots.Elems[i].Int, slots.Elems[i+1].Int, addr); err != nil {
				return nil, err
			}
		}
	}
	return b.done()
}

// field returns the value of key in a RESP3 map or a RESP2 flat key/value array.
func field(v protocol.Value, key string) protocol.Value {
	for i := 0; i+1 < len(v.Elems); i += 2 {
		if v.Elems[i].String() == key {
			return v.Elems[i+1]
		}
	}
	return protocol.Value{}
}

// resolve fills in the host of a redirect address like ":7000" from the
// node that sent it.
func resolve(addr, from string) string {
	if len(addr) > 0 && addr[0] == ':' {
		if host, _, err := net.SplitHostPort(from); err == nil {
			return net.JoinHostPort(host, addr[1:])
		}
	}
	return addr
}
