// Package listcmd holds the list commands of Redis 7, the blocking ones
// (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) included: their Spec.Block
// tells the server's blocking layer which keys they wait for and how a
// ready key serves them. Commands declares them for the server's table.
package listcmd

import "github.com/cached/cached/server/kernel"

// Commands returns the family's command declarations for the server's table.
func Commands() []kernel.Spec { return listCommands() }
