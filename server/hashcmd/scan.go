package hashcmd

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

func hscanCommand(c *kernel.Ctx, args [][]byte) {
	kernel.CollScan(c, args, func(key []byte) (*store.Tx, kernel.ScanStep) {
		tx, h := hashRead(c, key)
		if h == nil {
			return tx, nil
		}
		return tx, func(cursor uint64, o protocol.ScanOptions) (out [][]byte, next uint64) {
			next = h.Scan(cursor, int(min(o.Count, kernel.MaxScanCount)), func(f, v []byte) {
				if o.Match == nil || protocol.Match(o.Match, f, false) {
					out = append(out, f, v) // arena slices, valid while locked
				}
			})
			return out, next
		}
	})
}
