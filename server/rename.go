package server

import (
	"errors"
	"strings"
)

// commandRename is one rename-command line of the config file: the command
// from is reachable by clients only as to, or not at all when to is "".
type commandRename struct{ from, to string }

// applyRenames renames commands in the table clients look commands up in,
// as redis-server does at start-up: the command keeps its own name in
// COMMAND output and commandstats, only the name clients type changes.
// Server code that looks commands up by name does so before this runs.
func (t *commandTable) applyRenames(rs []commandRename) error {
	for _, r := range rs {
		cmd := t.m[r.from]
		if cmd == nil {
			return errors.New("No such command in rename-command: '" + r.from + "'")
		}
		if r.to == "" {
			delete(t.m, r.from)
			continue
		}
		if t.m[r.to] != nil || len(r.to) > 32 || strings.ContainsAny(r.to, " |") {
			return errors.New("Target command name already exists: '" + r.to + "'")
		}
		delete(t.m, r.from)
		t.m[r.to] = cmd
	}
	return nil
}
