package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cached/cached/protocol"
)

// Directives of the operational concerns: log format, latency tracking, the
// Unix socket, and which directives are cached's own or inert with an effect
// asked for.

var _ = registerDirectives(
	enumDirective("log-format", "text", false, []string{"text", "json"},
		"log line format: text (key=value) or json (one object per line); cached only",
		func(c *Config) *string { return &c.LogFormat }),
	mutableDirective(boolDirective("latency-tracking", "yes",
		"per-command latency histograms (INFO latencystats, cached_command_duration_seconds)",
		func(c *Config) *bool { return &c.LatencyTracking })),
	directive{name: "latency-tracking-info-percentiles", def: "50 99 99.9", mutable: true,
		doc: "percentiles INFO latencystats reports, space separated",
		get: func(c *Config) string { return formatPercentiles(c.LatencyPercentiles) },
		set: func(c *Config, v string) error {
			ps, err := parsePercentiles(v)
			if err != nil {
				return err
			}
			c.LatencyPercentiles = ps
			return nil
		}},
	boolDirective("io-event-loop", "yes",
		"serve TCP clients from epoll event loops (one per GOMAXPROCS) instead of a goroutine each; Linux only; cached only",
		func(c *Config) *bool { return &c.IOEventLoop }),
	stringDirective("unixsocket", "", false, "path of a Unix socket to serve clients on besides TCP; empty = none",
		func(c *Config) *string { return &c.UnixSocket }),
	directive{name: "unixsocketperm", def: "0", doc: "permissions of the unixsocket file, octal (0 = from the umask)",
		get: func(c *Config) string { return strconv.FormatUint(uint64(c.UnixSocketPerm), 8) },
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil || n > 0o777 {
				return errors.New("argument must be an octal number between 0 and 777")
			}
			c.UnixSocketPerm = uint32(n)
			return nil
		}},
)

func mutableDirective(d directive) directive {
	d.mutable = true
	return d
}

// parsePercentiles reads "50 99 99.9" as Redis does: each between 0 and 100;
// an empty value reports none.
func parsePercentiles(v string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Fields(v) {
		p, err := strconv.ParseFloat(f, 64)
		if err != nil || p < 0 || p > 100 {
			return nil, errors.New("latency-tracking-info-percentiles should be a list of numbers between 0 and 100")
		}
		out = append(out, p)
	}
	return out, nil
}

func formatPercentiles(ps []float64) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = strconv.FormatFloat(p, 'f', -1, 64)
	}
	return strings.Join(parts, " ")
}

// cachedOnlyDirectives are the directives redis-server 7.0 does not know:
// cached's own, and a few accepted for newer redis.conf files (7.2's
// set-max-listpack-*, cluster-announce-human-nodename, 8.0's
// prefetch-batch-max-size) or older ones
// (lua-replicate-commands). A test checks the list against a real
// redis-server's CONFIG GET.
var cachedOnlyDirectives = []string{
	"shards", "gc-min-heap", "metrics-addr", "log-format", "io-event-loop",
	"cluster-join", "cluster-node-id", "cluster-secret", "cluster-route", "cluster-probe-interval",
	"cluster-probe-timeout", "cluster-gossip-interval", "cluster-replicas", "cluster-replica-reads",
	"cluster-shutdown-handoff-timeout", "repl-snapshot-rate", "repl-snapshot-pace",
	"cluster-announce-human-nodename", "cluster-port-tls", "lua-replicate-commands",
	"set-max-listpack-entries", "set-max-listpack-value", "prefetch-batch-max-size",
}

// inertNoEffect says, for inert directives whose "doing nothing" value is
// not simply the default, which values ask for an effect cached lacks.
var inertNoEffect = map[string]func(string) bool{
	"save":       func(v string) bool { return strings.TrimSpace(v) != "" },
	"appendonly": func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "yes") },
	"io-threads": func(v string) bool {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return err != nil || n > 1
	},
}

// markDirectives sets the cachedOnly and noEffect fields (called by init).
func markDirectives() {
	for _, name := range cachedOnlyDirectives {
		d := directiveIndex[name]
		if d == nil {
			panic("config: cached-only directive not declared: " + name)
		}
		d.cachedOnly = true
	}
	for name, fn := range inertNoEffect {
		directiveIndex[name].noEffect = fn
	}
}

// hasNoEffect reports whether directive d set to value asks for something
// cached does not do.
func (d *directive) hasNoEffect(value string) bool {
	if !d.inert {
		return false
	}
	if d.noEffect != nil {
		return d.noEffect(value)
	}
	if strings.EqualFold(strings.TrimSpace(value), d.def) {
		return false
	}
	// "64mb" and "67108864" are the same value.
	a, aerr := protocol.ParseMemory(strings.TrimSpace(value))
	b, berr := protocol.ParseMemory(d.def)
	return aerr != nil || berr != nil || a != b
}

// IneffectiveDirectives lists, as "name value", the inert directives of c
// whose values ask for an effect cached does not provide (appendonly yes,
// save points, io-threads 4, …), sorted by name.
func (c *Config) IneffectiveDirectives() []string {
	var out []string
	for _, d := range Directives() {
		dd := lookupDirective(d.Name)
		if v := dd.get(c); dd.hasNoEffect(v) {
			out = append(out, fmt.Sprintf("%s %s", d.Name, v))
		}
	}
	return out
}
