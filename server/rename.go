package server

import (
	"errors"
	"strings"

	"github.com/cached/cached/server/config"
)

// applyRenames renames commands in the table clients look commands up in,
// as redis-server does at start-up: the command keeps its own name in
// COMMAND output and commandstats, only the name clients type changes.
// Server code that looks commands up by name does so before this runs.
func (t *commandTable) applyRenames(rs []config.Rename) error {
	for _, r := range rs {
		cmd := t.m[r.From]
		if cmd == nil {
			return errors.New("No such command in rename-command: '" + r.From + "'")
		}
		if r.To == "" {
			delete(t.m, r.From)
			continue
		}
		if t.m[r.To] != nil || len(r.To) > 32 || strings.ContainsAny(r.To, " |") {
			return errors.New("Target command name already exists: '" + r.To + "'")
		}
		delete(t.m, r.From)
		t.m[r.To] = cmd
	}
	return nil
}
