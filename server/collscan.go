package server

import (
	"slices"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// scanStep returns the items of one HSCAN/SSCAN/ZSCAN step from cursor and
// the next cursor (0 when done). Items may point into the collection: they
// are written before the key is unlocked.
type scanStep func(cursor uint64, o protocol.ScanOptions) (items [][]byte, next uint64)

// collScan runs HSCAN, SSCAN or ZSCAN key cursor [MATCH pattern] [COUNT n]
// in Redis's order of checks: a bad cursor fails first, then the key's
// type; a missing key replies an empty scan before the options are parsed.
// open locks key and returns the collection's step (nil for a missing key),
// or a nil tx once it has replied WRONGTYPE.
func collScan(c *client, args [][]byte, open func(key []byte) (*store.Tx, scanStep)) {
	cursor, ok := protocol.ParseScanCursor(args[2])
	if !ok {
		c.err(protocol.ErrInvalidCursor)
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
			c.err(errText)
			return
		}
		items, next = step(cursor, opts)
	}
	c.array(2)
	c.scratch = strconv.AppendUint(c.scratch[:0], next, 10)
	c.bulk(c.scratch)
	c.bulks(items)
}

func hscanCommand(c *client, args [][]byte) {
	collScan(c, args, func(key []byte) (*store.Tx, scanStep) {
		tx, h := hashRead(c, key)
		if h == nil {
			return tx, nil
		}
		return tx, func(cursor uint64, o protocol.ScanOptions) (out [][]byte, next uint64) {
			next = h.Scan(cursor, int(min(o.Count, maxScanCount)), func(f, v []byte) {
				if o.Match == nil || protocol.Match(o.Match, f, false) {
					out = append(out, f, v) // arena slices, valid while locked
				}
			})
			return out, next
		}
	})
}

func sscanCommand(c *client, args [][]byte) {
	collScan(c, args, func(key []byte) (*store.Tx, scanStep) {
		tx, s := setRead(c, key)
		if s == nil {
			return tx, nil
		}
		return tx, func(cursor uint64, o protocol.ScanOptions) (out [][]byte, next uint64) {
			next = s.Scan(cursor, int(min(o.Count, maxScanCount)), func(m []byte) {
				if o.Match == nil || protocol.Match(o.Match, m, false) {
					out = append(out, slices.Clone(m)) // intset members share a buffer
				}
			})
			return out, next
		}
	})
}

// zscanCommand: see zsetScan for how a big sorted set is walked.
func zscanCommand(c *client, args [][]byte) {
	collScan(c, args, func(key []byte) (*store.Tx, scanStep) {
		tx := c.lock(key)
		z, _, ok := zsetGet(c, tx, key, false)
		switch {
		case !ok:
			tx.Unlock()
			return nil, nil
		case z == nil:
			return tx, nil
		}
		return tx, func(cursor uint64, o protocol.ScanOptions) ([][]byte, uint64) { return zsetScan(z, cursor, o) }
	})
}
