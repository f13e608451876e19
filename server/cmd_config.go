package server

import (
	"bytes"
	"errors"
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
)

// CONFIG GET/SET/RESETSTAT/REWRITE over the directive registry (package config).

func configSpec() spec {
	sub := func(name string, arity int, flags, since, summary, complexity string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: flags, group: "server", since: since,
			summary: summary, complexity: complexity, fn: fn}
	}
	const adm = "admin noscript loading stale"
	return spec{name: "config", arity: -2, group: "server", since: "2.0.0",
		summary: "A container for server configuration commands.", complexity: "Depends on subcommand.",
		subs: []spec{
			sub("get", -3, adm, "2.0.0", "Returns the effective values of configuration parameters.",
				"O(N) when N is the number of configuration parameters provided", configGetCommand),
			sub("set", -4, adm, "2.0.0", "Sets configuration parameters in-flight.",
				"O(N) when N is the number of configuration parameters provided", configSetCommand).withTips("request_policy:all_nodes response_policy:all_succeeded").withKeyspace(),
			sub("resetstat", 2, adm, "2.0.0", "Resets the server's statistics.", "O(1)", configResetStatCommand),
			sub("rewrite", 2, adm, "2.8.0", "Persists the effective configuration to file.", "O(1)", configRewriteCommand),
			sub("help", 2, "loading stale", "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", configHelpCommand),
		}}
}

func configGetCommand(c *client, args [][]byte) {
	type pair struct{ name, value string }
	var out []pair
	seen := map[string]bool{}
	c.s.cfgMu.Lock()
	for _, pat := range args[2:] {
		if !bytes.ContainsAny(pat, "[*?") {
			name := string(pat)
			if seen[strings.ToLower(name)] {
				continue
			}
			if v, ok := c.s.cfg.Get(name); ok {
				seen[strings.ToLower(name)] = true
				out = append(out, pair{name, v})
			}
			continue
		}
		for _, name := range config.Names() {
			if seen[name] || !protocol.Match(pat, []byte(name), true) {
				continue
			}
			v, _ := c.s.cfg.Get(name)
			seen[name] = true
			out = append(out, pair{name, v})
		}
	}
	c.s.cfgMu.Unlock()
	c.MapLen(len(out))
	for _, p := range out {
		c.BulkString(p.name)
		c.BulkString(p.value)
	}
}

// configSetError builds Redis's "CONFIG SET failed" reply.
func configSetError(arg, reason string) string {
	return "ERR CONFIG SET failed (possibly related to argument '" + arg + "') - " + reason
}

func configSetCommand(c *client, args [][]byte) {
	if len(args)%2 != 0 {
		c.Err(protocol.ErrSyntax) // as Redis 7.0 for an odd number of arguments
		return
	}
	// Check every name first, as Redis does: the first problem wins.
	seen := map[string]bool{} // directive names, aliases resolved
	for i := 2; i < len(args); i += 2 {
		name := string(args[i])
		d, ok := config.Lookup(name)
		switch {
		case !ok:
			c.Err("ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'")
			return
		case !d.Mutable:
			c.Err(configSetError(name, "can't set immutable config"))
			return
		case seen[d.Name]:
			c.Err(configSetError(name, "duplicate parameter"))
			return
		}
		seen[d.Name] = true
	}
	s := c.s
	s.cfgMu.Lock()
	next := s.cfg.Clone()
	for i := 2; i < len(args); i += 2 {
		if err := next.Set(string(args[i]), string(args[i+1])); err != nil {
			s.cfgMu.Unlock()
			reason := err.Error()
			if inner := errors.Unwrap(err); inner != nil {
				reason = inner.Error()
			}
			d, _ := config.Lookup(string(args[i]))
			c.Err(configSetError(d.Name, reason))
			return
		}
	}
	if err := next.Validate(); err != nil {
		s.cfgMu.Unlock()
		c.Err("ERR CONFIG SET failed - " + err.Error())
		return
	}
	s.cfg = next
	s.applyHotConfig(&s.cfg)
	s.logIneffective(seen, &s.cfg) // CONFIG SET appendonly yes is accepted, never silently
	s.cfgMu.Unlock()
	if seen["maxmemory"] {
		_ = c.FreeMemory() // evict down to the new limit now, as Redis does
	}
	c.OK()
}

func configResetStatCommand(c *client, args [][]byte) {
	c.s.stats.reset()
	c.s.store.ResetStats()
	c.s.cmds.resetStats()
	c.OK()
}

func configRewriteCommand(c *client, args [][]byte) {
	c.s.cfgMu.Lock()
	cfg := c.s.cfg.Clone()
	path := c.s.cfg.ConfigFile()
	c.s.cfgMu.Unlock()
	if path == "" {
		c.Err("ERR The server is running without a config file")
		return
	}
	if err := config.RewriteFile(path, &cfg); err != nil {
		c.s.log.Warn("CONFIG REWRITE failed", "file", path, "error", err)
		c.Err("ERR Rewriting config file: " + err.Error())
		return
	}
	c.s.log.Info("CONFIG REWRITE executed with success", "file", path)
	c.OK()
}

func configHelpCommand(c *client, args [][]byte) {
	c.HelpReply("CONFIG", []string{
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
	})
}
