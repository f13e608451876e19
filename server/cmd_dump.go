package server

import (
	"math"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store/rdb"
)

// DUMP and RESTORE: a value's serialized form is Redis 7.0's DUMP payload
// (store/rdb), so values move between cached and redis-server both ways.

// Redis 7.0's RESTORE errors (cluster.c restoreCommand and shared.busykeyerr).
const (
	errBusyKey      = "BUSYKEY Target key name already exists."
	errRestoreTTL   = "ERR Invalid TTL value, must be >= 0"
	errRestoreIdle  = "ERR Invalid IDLETIME value, must be >= 0"
	errRestoreFreq  = "ERR Invalid FREQ value, must be >= 0 and <= 255"
	errDumpInternal = "ERR the value of this key cannot be serialized"
)

var (
	cmdRestore  = []byte("RESTORE")
	wordAbsTTL  = []byte("ABSTTL")
	zeroTTLWord = []byte("0")
)

func dumpCommands() []spec {
	return []spec{
		spec{name: "dump", arity: 2, flags: "readonly", first: 1, last: 1, step: 1, group: "generic", since: "2.6.0",
			summary: "Return a serialized version of the value stored at the specified key.",
			complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of " +
				"Redis objects composing the value and M their average size. For small string values the time " +
				"complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
			fn: dumpCommand}.withTips("nondeterministic_output"),
		spec{name: "restore", arity: -4, flags: "write denyoom", first: 1, last: 1, step: 1, acl: "dangerous",
			group: "generic", since: "2.6.0",
			summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
			complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, " +
				"where N is the number of Redis objects composing the value and M their average size. For small " +
				"string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However " +
				"for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets " +
				"is O(log(N)).",
			fn: restoreCommand}.withKeys("OW update | index 1 | range 0 1 0"),
	}
}

// dumpCommand is DUMP key: the payload, or a null for a missing key. It is
// a read (keyspace hit or miss, LRU touched), as in Redis.
func dumpCommand(c *client, args [][]byte) {
	db := int(c.Selected.Load())
	tx := c.Lock(args[1])
	e, ok := tx.LookupRead(db, args[1])
	var p []byte
	var err error
	if ok {
		p, err = rdb.Dump(e)
	}
	tx.Unlock()
	switch {
	case !ok:
		c.Null()
	case err != nil:
		c.Err(errDumpInternal)
	default:
		c.Bulk(p)
	}
}

// restoreOpts are RESTORE's options after the payload.
type restoreOpts struct {
	replace, absTTL bool
	idle            int64 // seconds, -1 none
	freq            int64 // -1 none
}

// parseRestoreOpts parses [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] as
// Redis 7.0 does: IDLETIME and FREQ exclude each other (the second is a
// syntax error), and a bad number answers at once.
func parseRestoreOpts(args [][]byte) (restoreOpts, string) {
	o := restoreOpts{idle: -1, freq: -1}
	for i := 0; i < len(args); i++ {
		more := i+1 < len(args)
		switch {
		case kernel.KeyWordIs(args[i], "replace"):
			o.replace = true
		case kernel.KeyWordIs(args[i], "absttl"):
			o.absTTL = true
		case kernel.KeyWordIs(args[i], "idletime") && more && o.freq == -1:
			n, ok := protocol.ParseInt(args[i+1])
			if !ok {
				return o, protocol.ErrNotInteger
			}
			if n < 0 {
				return o, errRestoreIdle
			}
			o.idle, i = n, i+1
		case kernel.KeyWordIs(args[i], "freq") && more && o.idle == -1:
			n, ok := protocol.ParseInt(args[i+1])
			if !ok {
				return o, protocol.ErrNotInteger
			}
			if n < 0 || n > 255 {
				return o, errRestoreFreq
			}
			o.freq, i = n, i+1
		default:
			return o, protocol.ErrSyntax
		}
	}
	return o, ""
}

// restoreCommand is RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s]
// [FREQ f], with Redis 7.0's order of checks: options, then BUSYKEY, then
// the TTL, then the payload. The payload is decoded before the key's lock
// is taken; errors found then are reported in that order. FREQ is checked
// and, as Redis does under an LRU policy, has no effect (cached has no LFU
// policy). The effect is RESTORE key absolute-ms payload REPLACE [ABSTTL].
func restoreCommand(c *client, args [][]byte) {
	o, errText := parseRestoreOpts(args[4:])
	if errText != "" {
		c.Err(errText)
		return
	}
	key := args[1]
	ttl, ttlOK := protocol.ParseInt(args[2])
	v, decErr := rdb.Decode(args[3])
	db := int(c.Selected.Load())
	tx := c.Lock(key)
	_, exists := tx.LookupWrite(db, key)
	switch {
	case exists && !o.replace:
		errText = errBusyKey
	case !ttlOK:
		errText = protocol.ErrNotInteger
	case ttl < 0:
		errText = errRestoreTTL
	case decErr != nil:
		errText = decErr.Error()
	}
	if errText != "" {
		tx.Unlock()
		c.Err(errText)
		return
	}
	expireAt := restoreExpireAt(ttl, o.absTTL, tx.Now())
	if !rdb.Restore(tx, db, key, v, expireAt) {
		if exists {
			c.Propagate(kernel.CmdDel, key)
			c.Notify(notifyGeneric, "del", key)
		}
		tx.Unlock()
		c.OK()
		return
	}
	if o.idle >= 0 {
		tx.SetIdle(db, key, idleMs(o.idle))
	}
	c.propagateRestore(key, expireAt, args[3])
	c.Notify(notifyGeneric, "restore", key)
	tx.Unlock()
	c.OK()
}

// restoreExpireAt turns RESTORE's ttl into an absolute Unix ms expiry (0:
// none). A relative ttl that overflows is in the past, as the wrapped sum
// is for redis-server.
func restoreExpireAt(ttl int64, abs bool, now int64) int64 {
	if ttl == 0 || abs {
		return ttl
	}
	if ttl > math.MaxInt64-now {
		return 1 // long past: stores nothing
	}
	return ttl + now
}

// idleMs converts IDLETIME seconds to ms, saturating.
func idleMs(s int64) int64 {
	if s > math.MaxInt64/1000 {
		return math.MaxInt64
	}
	return s * 1000
}

// propagateRestore records RESTORE's effect with its expiry absolute and
// REPLACE, so that applying it anywhere gives the same key.
func (c *client) propagateRestore(key []byte, expireAt int64, payload []byte) {
	if expireAt == 0 {
		c.Propagate(cmdRestore, key, zeroTTLWord, payload, kernel.WordReplace)
		return
	}
	c.Propagate(cmdRestore, key, strconv.AppendInt(nil, expireAt, 10), payload, kernel.WordReplace, wordAbsTTL)
}
