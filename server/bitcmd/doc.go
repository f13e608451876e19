// Package bitcmd holds the bitmap commands of Redis 7 (SETBIT, GETBIT,
// BITCOUNT, BITPOS, BITOP, BITFIELD). Bitmaps are strings: the package
// reads and writes them through stringcmd. Commands declares them for the
// server's table.
package bitcmd

import "github.com/cached/cached/server/kernel"

// Commands returns the family's command declarations for the server's table.
func Commands() []kernel.Spec { return bitmapCommands() }
