package server

// Applying configuration (package config) to the running server, besides
// applyHotConfig (server.go).

import (
	"strings"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/list"
	"github.com/cached/cached/store/set"
	"github.com/cached/cached/store/zset"
)

// applyEncodings hands the encoding limits to the collection packages,
// which keep them process-wide (see config.EncodingLimits).
func applyEncodings(e config.EncodingLimits) {
	hash.SetListpackLimits(e.HashEntries, e.HashValue)
	list.SetMaxListpackSize(e.ListSize)
	set.SetLimits(e.SetInts, e.SetEntries, e.SetValue)
	zset.SetListpackLimits(e.ZSetEntries, e.ZSetValue)
}

// logIneffective logs each directive of cfg that has no effect here, so a
// setting is never ignored silently; names, if not nil, limits it to those
// directives.
func (s *Server) logIneffective(names map[string]bool, cfg *config.Config) {
	for _, line := range cfg.IneffectiveDirectives() {
		name, value, _ := strings.Cut(line, " ")
		if names != nil && !names[name] {
			continue
		}
		s.log.Warn("directive accepted for redis.conf compatibility has no effect in cached",
			"directive", name, "value", value)
	}
}
