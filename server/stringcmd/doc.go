// Package stringcmd holds the string commands of Redis 7 (GET, SET and its
// options, MGET/MSET, INCR and friends, APPEND, GETRANGE/SETRANGE, LCS …).
// Handlers see only a kernel.Ctx; Commands declares them for the server's
// table.
package stringcmd

import "github.com/cached/cached/server/kernel"

// Commands returns the family's command declarations for the server's table.
func Commands() []kernel.Spec { return stringCommands() }
