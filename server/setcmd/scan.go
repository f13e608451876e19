package setcmd

import (
	"slices"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

func sscanCommand(c *kernel.Ctx, args [][]byte) {
	kernel.CollScan(c, args, func(key []byte) (*store.Tx, kernel.ScanStep) {
		tx, s := setRead(c, key)
		if s == nil {
			return tx, nil
		}
		return tx, func(cursor uint64, o protocol.ScanOptions) (out [][]byte, next uint64) {
			next = s.Scan(cursor, int(min(o.Count, kernel.MaxScanCount)), func(m []byte) {
				if o.Match == nil || protocol.Match(o.Match, m, false) {
					out = append(out, slices.Clone(m)) // intset members share a buffer
				}
			})
			return out, next
		}
	})
}
