// Package hashcmd holds the hash commands of Redis 7 (HSET, HGET, HDEL,
// HINCRBY, HRANDFIELD, HSCAN …). Handlers see only a kernel.Ctx; Commands
// declares them for the server's table.
package hashcmd

import "github.com/cached/cached/server/kernel"

// Commands returns the family's command declarations for the server's table.
func Commands() []kernel.Spec { return hashCommands() }
