package server

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"
)

// newLogger builds the node's logger: slog's text handler (key=value) or,
// with log-format json, its JSON handler, one object per line.
func newLogger(out io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// logStarted writes the start-up line: version, addresses, config file, and
// then every directive that is accepted without effect.
func (s *Server) logStarted() {
	s.cfgMu.Lock()
	cfg := s.cfg.Clone()
	s.cfgMu.Unlock()
	attrs := []any{"version", Version, "redis_version", redisVersion, "go", runtime.Version(),
		"pid", os.Getpid(), "addrs", s.addrs, "config_file", cfg.ConfigFile(),
		"metrics", s.httpAddr, "cluster", cfg.Cluster.Enabled}
	if s.unixPath != "" {
		attrs = append(attrs, "unixsocket", s.unixPath)
	}
	if s.cl != nil {
		if n := s.cl.node.Load(); n != nil {
			attrs = append(attrs, "node_id", n.ID(), "gossip", n.GossipAddr())
		}
	}
	s.log.Info("cached started", attrs...)
	s.logIneffective(nil, &cfg)
}

// failStart logs why Start failed and releases what it built.
func (s *Server) failStart(err error) {
	s.log.Error("cached not started", "error", err)
	_ = s.stopNode("start-up failed", false)
}

// logStopped writes the last line of a node's log.
func (s *Server) logStopped(reason string) {
	s.log.Warn("cached stopped", "reason", reason, "uptime", time.Since(s.started).Round(time.Millisecond).String())
}
