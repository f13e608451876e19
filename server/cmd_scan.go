package server

import (
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// KEYS and SCAN: keyspace iteration.

// maxScanCount bounds SCAN's COUNT hint so that the store's work budget
// (10*count records per call) cannot overflow; it is far above any real
// keyspace, so a huge COUNT still means "everything in one call".
const maxScanCount = 1 << 40

// keysBatch is how many keys KEYS asks the store for per step; each step
// holds one shard lock at a time, so writers are never stopped for long.
const keysBatch = 1024

func scanCommands() []spec {
	return []spec{
		spec{name: "keys", arity: 2, flags: "readonly", acl: "dangerous", group: "generic", since: "1.0.0",
			summary:    "Returns all key names that match a pattern.",
			complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
			fn:         keysCommand}.withTips("request_policy:all_shards nondeterministic_output_order").withKeyspace(),
		spec{name: "scan", arity: -2, flags: "readonly", group: "generic", since: "2.8.0",
			summary:    "Iterates over the key names in the database.",
			complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
			fn:         scanCommand}.withTips("nondeterministic_output request_policy:special").withKeyspace(),
	}
}

// keysCommand returns every unexpired key of the current database matching
// the glob pattern args[1]. It walks the store shard by shard, not under a
// global lock: a key present for the whole call is returned once; keys
// written meanwhile may or may not be.
func keysCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	pattern := args[1]
	all := len(pattern) == 1 && pattern[0] == '*'
	var out [][]byte
	var cursor uint64
	for {
		cursor = c.view().Scan(db, cursor, keysBatch, func(key []byte, _ store.Type) bool {
			if all || protocol.Match(pattern, key, false) {
				out = append(out, append([]byte(nil), key...))
			}
			return true
		})
		if cursor == 0 {
			break
		}
	}
	c.bulks(out)
}

// scanCommand is SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The
// reply is [next-cursor as a bulk string, [keys]] in both protocols. As in
// Redis, MATCH and TYPE filter the keys a step visited, so a call may return
// fewer than COUNT keys (even none) before the cursor comes back to 0.
func scanCommand(c *client, args [][]byte) {
	cursor, ok := protocol.ParseScanCursor(args[1])
	if !ok {
		c.err(protocol.ErrInvalidCursor)
		return
	}
	opts, errText := protocol.ParseScanOptions(args[2:])
	if errText != "" {
		c.err(errText)
		return
	}
	var out [][]byte
	next := c.view().Scan(int(c.db.Load()), cursor, int(min(opts.Count, maxScanCount)),
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
	c.array(2)
	c.scratch = strconv.AppendUint(c.scratch[:0], next, 10)
	c.bulk(c.scratch)
	c.bulks(out)
}

// typeNameIs reports whether name is t's TYPE name, ignoring case (Redis
// compares with strcasecmp).
func typeNameIs(name []byte, t store.Type) bool {
	return keyWordIs(name, t.String())
}
