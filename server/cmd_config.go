package server

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cached/cached/protocol"
)

// CONFIG GET/SET/RESETSTAT/REWRITE over the directive registry (config.go).

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

// configNames lists every name CONFIG GET matches patterns against: the
// directives and their aliases, sorted.
func configNames() []string {
	names := make([]string, 0, len(directiveIndex))
	for name := range directiveIndex {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
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
		for _, name := range configNames() {
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
	seen := map[*directive]bool{}
	for i := 2; i < len(args); i += 2 {
		name := string(args[i])
		d := lookupDirective(name)
		switch {
		case d == nil:
			c.Err("ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'")
			return
		case !d.mutable:
			c.Err(configSetError(name, "can't set immutable config"))
			return
		case seen[d]:
			c.Err(configSetError(name, "duplicate parameter"))
			return
		}
		seen[d] = true
	}
	s := c.s
	s.cfgMu.Lock()
	next := s.cfg.clone()
	for i := 2; i < len(args); i += 2 {
		if err := next.Set(string(args[i]), string(args[i+1])); err != nil {
			s.cfgMu.Unlock()
			reason := err.Error()
			if inner := errors.Unwrap(err); inner != nil {
				reason = inner.Error()
			}
			c.Err(configSetError(lookupDirective(string(args[i])).name, reason))
			return
		}
	}
	if err := next.validate(); err != nil {
		s.cfgMu.Unlock()
		c.Err("ERR CONFIG SET failed - " + err.Error())
		return
	}
	s.cfg = next
	s.applyHotConfig(&s.cfg)
	names := make(map[string]bool, len(seen))
	for d := range seen {
		names[d.name] = true
	}
	s.logIneffective(names, &s.cfg) // CONFIG SET appendonly yes is accepted, never silently
	s.cfgMu.Unlock()
	if seen[lookupDirective("maxmemory")] {
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
	cfg := c.s.cfg.clone()
	path := c.s.cfg.file
	c.s.cfgMu.Unlock()
	if path == "" {
		c.Err("ERR The server is running without a config file")
		return
	}
	if err := rewriteConfigFile(path, &cfg); err != nil {
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

// rewriteMarker heads the lines CONFIG REWRITE appends, as in Redis.
const rewriteMarker = "# Generated by CONFIG REWRITE"

// listDirectives take several words that the file keeps unquoted.
var listDirectives = map[string]bool{"bind": true, "save": true, "client-output-buffer-limit": true,
	"latency-tracking-info-percentiles": true}

// rewriteConfigFile rewrites path with cfg's values, as CONFIG REWRITE does:
// comments and unknown lines (include, rename-command) are kept; a known
// directive's first line gets the current value and its repeats are
// dropped; directives that differ from their defaults and are not in the
// file yet are appended. Directives redis-server does not know go in
// "# cached: name value" lines, so redis-server reads the file too. The new file
// replaces the old one atomically (write to a temporary file, then rename).
func rewriteConfigFile(path string, cfg *Config) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	def := DefaultConfig()
	var lines []string
	done := map[string]bool{}
	hasMarker := false
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == rewriteMarker {
			hasMarker = true
		}
		if rest, ok := strings.CutPrefix(trimmed, cachedLinePrefix); ok {
			trimmed = strings.TrimSpace(rest) // a cached-only directive
		}
		words, werr := splitArgs(trimmed)
		if trimmed == "" || trimmed[0] == '#' || werr != nil || len(words) == 0 {
			lines = append(lines, line)
			continue
		}
		d := lookupDirective(words[0])
		if d == nil {
			lines = append(lines, line)
			continue
		}
		if done[d.name] {
			continue
		}
		done[d.name] = true
		lines = append(lines, directiveLine(d, d.get(cfg)))
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var added []string // sorted by directive name: the lines start with it or with cachedLinePrefix
	for i := range directives {
		d := &directives[i]
		v := d.get(cfg)
		if done[d.name] || v == d.get(&def) && (redisDefaults[d.name] == "" || v == redisDefaults[d.name]) {
			continue
		}
		added = append(added, directiveLine(d, v))
	}
	sort.Slice(added, func(i, j int) bool {
		return strings.TrimPrefix(added[i], cachedLinePrefix) < strings.TrimPrefix(added[j], cachedLinePrefix)
	})
	if len(added) > 0 && !hasMarker {
		lines = append(lines, rewriteMarker)
	}
	lines = append(lines, added...)
	return writeFileAtomic(path, []byte(strings.Join(lines, "\n")+"\n"))
}

// redisDefaults are redis-server 7.0's defaults where cached's differ: a
// rewritten file states cached's value, so redis-server reads the same.
var redisDefaults = map[string]string{"save": "3600 1 300 100 60 10000", "bind": "* -::*"}

// directiveLine formats "name value" so that ParseConfig reads value back;
// a directive redis-server does not know is written as a "# cached: " line,
// which redis-server skips as a comment.
func directiveLine(d *directive, value string) string {
	line := d.name + " " + quoteConfigArg(value)
	if listDirectives[d.name] && value != "" {
		words := strings.Fields(value)
		for i, w := range words {
			words[i] = quoteConfigArg(w)
		}
		line = d.name + " " + strings.Join(words, " ")
	}
	if d.cachedOnly {
		return cachedLinePrefix + line
	}
	return line
}

// quoteConfigArg returns s as one config-file word: bare when it can be,
// else double-quoted with the escapes splitArgs understands.
func quoteConfigArg(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		ch := s[i]
		plain = ch > ' ' && ch < 0x7f && ch != '"' && ch != '\'' && ch != '\\'
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\\' || ch == '"':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch == '\n':
			b.WriteString(`\n`)
		case ch == '\r':
			b.WriteString(`\r`)
		case ch == '\t':
			b.WriteString(`\t`)
		case ch < ' ' || ch >= 0x7f:
			const hexDigits = "0123456789abcdef"
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[ch>>4])
			b.WriteByte(hexDigits[ch&15])
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path, keeping path's permissions if it exists.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".cached-config-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
