// Package setcmd holds the set commands of Redis 7 (SADD, SREM, SMEMBERS,
// the SINTER/SUNION/SDIFF family, SRANDMEMBER, SSCAN …). Handlers see only
// a kernel.Ctx; Commands declares them for the server's table.
package setcmd

import "github.com/cached/cached/server/kernel"

// Commands returns the family's command declarations for the server's table.
func Commands() []kernel.Spec { return setCommands() }
