// Package keycmd holds the generic key commands of Redis 7: DEL, EXISTS,
// TYPE, RENAME, COPY, MOVE, OBJECT, the expiry commands (EXPIRE, TTL,
// PERSIST …) and the keyspace walks (KEYS, SCAN, RANDOMKEY, DBSIZE …).
// Handlers see only a kernel.Ctx; Commands declares them for the server's
// table.
package keycmd

import "github.com/cached/cached/server/kernel"

// Commands returns the family's command declarations for the server's table.
func Commands() []kernel.Spec { return keyCommands() }
