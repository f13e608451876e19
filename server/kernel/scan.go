package kernel

import (
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// ScanStep returns the items of one HSCAN/SSCAN/ZSCAN step from cursor and
// the next cursor (0 when done). Items may point into the collection: they
// are written before the key is unlocked.
type ScanStep func(cursor uint64, o protocol.ScanOptions) (items [][]byte, next uint64)

// CollScan runs HSCAN, SSCAN or ZSCAN key cursor [MATCH pattern] [COUNT n]
// in Redis's order of checks: a bad cursor fails first, then the key's
// type; a missing key replies an empty scan before the options are parsed.
// open locks key and returns the collection's step (nil for a missing key),
// or a nil tx once it has replied WRONGTYPE.
func CollScan(c *Ctx, args [][]byte, open func(key []byte) (*store.Tx, ScanStep)) {
	cursor, ok := protocol.ParseScanCursor(args[2])
	if !ok {
		c.Err(protocol.ErrInvalidCursor)
		return
	}
	tx, step := open(args[1])
	if tx == nil {
		return
	}
	defer tx.Unlock()
	var items [][]byte
	var next uint64
	if step != nil {
		opts, errText := protocol.ParseHScanOptions(args[3:])
		if errText != "" {
			c.Err(errText)
			return
		}
		items, next = step(cursor, opts)
	}
	c.Array(2)
	c.Scratch = strconv.AppendUint(c.Scratch[:0], next, 10)
	c.Bulk(c.Scratch)
	c.Bulks(items)
}
