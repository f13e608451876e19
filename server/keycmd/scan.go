package keycmd

import (
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

// KEYS and SCAN: keyspace iteration.

// keysBatch is how many keys KEYS asks the store for per step; each step
// holds one shard lock at a time, so writers are never stopped for long.
const keysBatch = 1024

func scanCommands() []kernel.Spec {
	return []kernel.Spec{
		kernel.Spec{Name: "keys", Arity: 2, Flags: "readonly", ACL: "dangerous", Group: "generic", Since: "1.0.0",
			Summary:    "Returns all key names that match a pattern.",
			Complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
			Fn:         keysCommand}.WithTips("request_policy:all_shards nondeterministic_output_order").WithKeyspace(),
		kernel.Spec{Name: "scan", Arity: -2, Flags: "readonly", Group: "generic", Since: "2.8.0",
			Summary:    "Iterates over the key names in the database.",
			Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
			Fn:         scanCommand}.WithTips("nondeterministic_output request_policy:special").WithKeyspace(),
	}
}

// keysCommand returns every unexpired key of the current database matching
// the glob pattern args[1]. It walks the store shard by shard, not under a
// global lock: a key present for the whole call is returned once; keys
// written meanwhile may or may not be.
func keysCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	pattern := args[1]
	all := len(pattern) == 1 && pattern[0] == '*'
	var out [][]byte
	var cursor uint64
	for {
		cursor = c.View().Scan(db, cursor, keysBatch, func(key []byte, _ store.Type) bool {
			if all || protocol.Match(pattern, key, false) {
				out = append(out, append([]byte(nil), key...))
			}
			return true
		})
		if cursor == 0 {
			break
		}
	}
	c.Bulks(out)
}

// scanCommand is SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The
// reply is [next-cursor as a bulk string, [keys]] in both protocols. As in
// Redis, MATCH and TYPE filter the keys a step visited, so a call may return
// fewer than COUNT keys (even none) before the cursor comes back to 0.
func scanCommand(c *kernel.Ctx, args [][]byte) {
	cursor, ok := protocol.ParseScanCursor(args[1])
	if !ok {
		c.Err(protocol.ErrInvalidCursor)
		return
	}
	opts, errText := protocol.ParseScanOptions(args[2:])
	if errText != "" {
		c.Err(errText)
		return
	}
	var out [][]byte
	next := c.View().Scan(c.DB(), cursor, int(min(opts.Count, kernel.MaxScanCount)),
		func(key []byte, t store.Type) bool {
			if opts.Type != nil && !typeNameIs(opts.Type, t) {
				return true
			}
			if opts.Match != nil && !protocol.Match(opts.Match, key, false) {
				return true
			}
			out = append(out, append([]byte(nil), key...))
			return true
		})
	c.Array(2)
	c.Scratch = strconv.AppendUint(c.Scratch[:0], next, 10)
	c.Bulk(c.Scratch)
	c.Bulks(out)
}

// typeNameIs reports whether name is t's TYPE name, ignoring case (Redis
// compares with strcasecmp).
func typeNameIs(name []byte, t store.Type) bool {
	return kernel.KeyWordIs(name, t.String())
}
