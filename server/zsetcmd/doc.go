// Package zsetcmd holds the sorted set commands of Redis 7 (ZADD, the
// ZRANGE family, ZPOP*/BZPOP*/BZMPOP, the ZUNION/ZINTER/ZDIFF family,
// ZSCAN …). Handlers see only a kernel.Ctx; Commands declares them for the
// server's table.
package zsetcmd

import "github.com/cached/cached/server/kernel"

// Commands returns the family's command declarations for the server's table.
func Commands() []kernel.Spec { return zsetCommands() }
