package zsetcmd

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

// zscanCommand: see zsetScan for how a big sorted set is walked.
func zscanCommand(c *kernel.Ctx, args [][]byte) {
	kernel.CollScan(c, args, func(key []byte) (*store.Tx, kernel.ScanStep) {
		tx := c.Lock(key)
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
