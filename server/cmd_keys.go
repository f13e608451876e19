package server

import (
	"bytes"
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// Keyspace ("generic") commands: DEL, EXISTS, TYPE, RENAME, COPY, MOVE,
// SWAPDB, RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL and OBJECT. The expire family
// lives in cmd_expire.go, KEYS and SCAN in cmd_scan.go.

// errSameObject is Redis's shared.sameobjecterr (MOVE, COPY).
const errSameObject = "ERR source and destination objects are the same"

// errNotCopyable answers COPY of a collection whose object cannot be cloned;
// it only happens if a collection type forgets store.Cloner.
const errNotCopyable = "ERR the value of this key cannot be copied"

// errLFUNotSelected is OBJECT FREQ's reply under a policy that is not LFU,
// errLFUSelected OBJECT IDLETIME's under an LFU policy.
const (
	errLFUNotSelected = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
	errLFUSelected = "ERR An LFU maxmemory policy is selected, idle time not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// Command names used in effects.
var (
	cmdDel       = []byte("DEL")
	cmdPExpireAt = []byte("PEXPIREAT")
	cmdPersist   = []byte("PERSIST")
	cmdRename    = []byte("RENAME")
	cmdRenameNX  = []byte("RENAMENX")
	cmdCopy      = []byte("COPY")
	cmdMove      = []byte("MOVE")
	cmdSwapDB    = []byte("SWAPDB")
	cmdFlushDB   = []byte("FLUSHDB")
	cmdFlushAll  = []byte("FLUSHALL")
	wordDB       = []byte("DB")
	wordReplace  = []byte("REPLACE")
)

func keyCommands() []spec {
	g := func(name string, arity int, flags string, first, last int, since, summary, complexity string, fn handlerFunc) spec {
		step := 0
		if first > 0 {
			step = 1
		}
		return spec{name: name, arity: arity, flags: flags, first: first, last: last, step: step,
			group: "generic", since: since, summary: summary, complexity: complexity, fn: fn}
	}
	specs := []spec{
		g("del", -2, "write", 1, -1, "1.0.0", "Deletes one or more keys.",
			"O(N) where N is the number of keys that will be removed.", delCommand).withSplit(splitCount).withKeys("RM delete | index 1 | range -1 1 0").withTips("request_policy:multi_shard response_policy:agg_sum"),
		g("unlink", -2, "write fast", 1, -1, "4.0.0", "Asynchronously deletes one or more keys.",
			"O(1) for each key removed regardless of its size.", delCommand).withSplit(splitCount).withKeys("RM delete | index 1 | range -1 1 0").withTips("request_policy:multi_shard response_policy:agg_sum"),
		g("exists", -2, "readonly fast", 1, -1, "1.0.0", "Determines whether one or more keys exist.",
			"O(N) where N is the number of keys to check.", existsCommand).withSplit(splitCount).withKeys("RO | index 1 | range -1 1 0").withTips("request_policy:multi_shard response_policy:agg_sum"),
		g("type", 2, "readonly fast", 1, 1, "1.0.0", "Determines the type of value stored at a key.",
			"O(1)", typeCommand).withKeys("RO | index 1 | range 0 1 0"),
		g("touch", -2, "readonly fast", 1, -1, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
			"O(N) where N is the number of keys that will be touched.", touchCommand).withSplit(splitCount).withKeys("RO | index 1 | range -1 1 0").withTips("request_policy:multi_shard response_policy:agg_sum"),
		g("rename", 3, "write", 1, 2, "1.0.0", "Renames a key and overwrites the destination.",
			"O(1)", renameCommand).withKeys("RW access delete | index 1 | range 0 1 0", "OW update | index 2 | range 0 1 0"),
		g("renamenx", 3, "write fast", 1, 2, "1.0.0", "Renames a key only when the target key name doesn't exist.",
			"O(1)", renamenxCommand).withKeys("RW access delete | index 1 | range 0 1 0", "OW insert | index 2 | range 0 1 0"),
		g("copy", -3, "write denyoom", 1, 2, "6.2.0", "Copies the value of a key to a new key.",
			"O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", copyCommand).withClusterRefusal(copyClusterRefusal).withKeys("RO access | index 1 | range 0 1 0", "OW update | index 2 | range 0 1 0"),
		g("move", 3, "write fast", 1, 1, "1.0.0", "Moves a key to another database.",
			"O(1)", moveCommand).withClusterRefusal(refuseInCluster("MOVE")).withKeys("RW access update | index 1 | range 0 1 0"),
		g("randomkey", 1, "readonly", 0, 0, "1.0.0", "Returns a random key name from the database.",
			"O(1)", randomkeyCommand).withTips("request_policy:all_shards nondeterministic_output").withKeyspace(),
		spec{name: "swapdb", arity: 3, flags: "write fast", acl: "keyspace dangerous", group: "server", since: "4.0.0",
			summary: "Swaps two Redis databases.", complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.",
			fn: swapdbCommand}.withClusterRefusal(refuseInCluster("SWAPDB")).withKeyspace(),
		spec{name: "dbsize", arity: 1, flags: "readonly fast", acl: "keyspace", group: "server", since: "1.0.0",
			summary: "Returns the number of keys in the database.", complexity: "O(1)", fn: dbsizeCommand}.withTips("request_policy:all_shards response_policy:agg_sum"),
		spec{name: "flushdb", arity: -1, flags: "write", acl: "keyspace dangerous", group: "server", since: "1.0.0",
			summary: "Removes all keys from the current database.", complexity: "O(N) where N is the number of keys in the selected database",
			fn: flushdbCommand}.withTips("request_policy:all_shards response_policy:all_succeeded").withKeyspace(),
		spec{name: "flushall", arity: -1, flags: "write", acl: "keyspace dangerous", group: "server", since: "1.0.0",
			summary: "Removes all keys from all databases.", complexity: "O(N) where N is the total number of keys in all databases",
			fn: flushallCommand}.withTips("request_policy:all_shards response_policy:all_succeeded").withKeyspace(),
		objectSpec(),
	}
	specs = append(specs, expireCommands()...)
	return append(specs, scanCommands()...)
}

func objectSpec() spec {
	sub := func(name string, summary string, fn handlerFunc) spec {
		return spec{name: name, arity: 3, flags: "readonly", first: 2, last: 2, step: 1,
			group: "generic", since: "2.2.3", summary: summary, complexity: "O(1)", fn: fn}.
			withKeys("RO | index 2 | range 0 1 0").withTips("nondeterministic_output")
	}
	return spec{name: "object", arity: -2, group: "generic", since: "2.2.3",
		summary: "A container for object introspection commands.", complexity: "Depends on subcommand.",
		subs: []spec{
			sub("encoding", "Returns the internal encoding of a Redis object.", objectEncodingCommand),
			sub("freq", "Returns the logarithmic access frequency counter of a Redis object.", objectFreqCommand),
			sub("idletime", "Returns the time since the last access to a Redis object.", objectIdletimeCommand),
			sub("refcount", "Returns the reference count of a value of a key.", objectRefcountCommand),
			{name: "help", arity: 2, flags: "loading stale", group: "generic", since: "6.2.0",
				summary: "Returns helpful text about the different subcommands.", complexity: "O(1)", fn: objectHelpCommand},
		}}
}

// delCommand is DEL and UNLINK (both free synchronously). Each deleted key
// records one DEL effect; repeated or missing keys record nothing.
func delCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	keys := args[1:]
	tx := c.lock(keys...)
	var n int64
	for _, k := range keys {
		if tx.Delete(db, k) {
			n++
			c.propagate(cmdDel, k)
			c.notify(notifyGeneric, "del", k)
		}
	}
	tx.Unlock()
	c.int(n)
}

// existsCommand counts the keys that exist; a key named twice counts twice.
func existsCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	keys := args[1:]
	tx := c.lock(keys...)
	var n int64
	for _, k := range keys {
		if _, ok := tx.LookupReadNoTouch(db, k); ok {
			n++
		}
	}
	tx.Unlock()
	c.int(n)
}

// touchCommand counts the existing keys and updates their access time.
func touchCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	keys := args[1:]
	tx := c.lock(keys...)
	var n int64
	for _, k := range keys {
		if _, ok := tx.LookupRead(db, k); ok {
			n++
		}
	}
	tx.Unlock()
	c.int(n)
}

func typeCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	tx := c.lock(args[1])
	t := store.TypeNone
	if e, ok := tx.LookupReadNoTouch(db, args[1]); ok {
		t = e.Type()
	}
	tx.Unlock()
	c.simple(t.String())
}

func renameCommand(c *client, args [][]byte)   { renameGeneric(c, args, false) }
func renamenxCommand(c *client, args [][]byte) { renameGeneric(c, args, true) }

// renameGeneric is RENAME (nx false) and RENAMENX, as Redis's
// renameGenericCommand: a missing source is an error even when both names
// are the same; renaming a key to itself changes nothing.
func renameGeneric(c *client, args [][]byte, nx bool) {
	db := int(c.db.Load())
	src, dst := args[1], args[2]
	tx := c.lock(src, dst)
	if _, ok := tx.LookupWrite(db, src); !ok {
		tx.Unlock()
		c.err(protocol.ErrNoSuchKey)
		return
	}
	if bytes.Equal(src, dst) {
		tx.Unlock()
		if nx {
			c.int(0)
		} else {
			c.ok()
		}
		return
	}
	if _, exists := tx.LookupWrite(db, dst); exists && nx {
		tx.Unlock()
		c.int(0)
		return
	}
	tx.Rename(db, src, db, dst)
	tx.Unlock()
	c.notify(notifyGeneric, "rename_from", src)
	c.notify(notifyGeneric, "rename_to", dst)
	if nx {
		c.propagate(cmdRenameNX, src, dst)
		c.int(1)
		return
	}
	c.propagate(cmdRename, src, dst)
	c.ok()
}

// parseInt32 parses a C int as Redis's getIntFromObject: an integer
// (string2ll rules) within the int32 range.
func parseInt32(b []byte) (int, bool) {
	n, ok := protocol.ParseInt(b)
	if !ok || n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return int(n), true
}

// parseDBIndex parses a database number as Redis's getIntFromObjectOrReply
// followed by selectDb: an int (ErrNotInteger), then within
// [0, databases) (ErrDBIndex).
func (c *client) parseDBIndex(b []byte) (int, string) {
	n, ok := parseInt32(b)
	if !ok {
		return 0, protocol.ErrNotInteger
	}
	if n < 0 || n >= c.s.store.Databases() {
		return 0, protocol.ErrDBIndex
	}
	return n, ""
}

// copyCommand is COPY source destination [DB n] [REPLACE], as Redis 7.0:
// options are parsed first, then the same-object check, then the keys.
func copyCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	dstDB, replace := db, false
	for i := 3; i < len(args); i++ {
		switch {
		case keyWordIs(args[i], "replace"):
			replace = true
		case keyWordIs(args[i], "db") && i+1 < len(args):
			n, errText := c.parseDBIndex(args[i+1])
			if errText != "" {
				c.err(errText)
				return
			}
			dstDB = n
			i++
		default:
			c.err(protocol.ErrSyntax)
			return
		}
	}
	src, dst := args[1], args[2]
	if db == dstDB && bytes.Equal(src, dst) {
		c.err(errSameObject)
		return
	}
	tx := c.lock(src, dst)
	_, ok := tx.LookupRead(db, src)
	if !ok {
		tx.Unlock()
		c.int(0)
		return
	}
	if _, exists := tx.LookupWrite(dstDB, dst); exists && !replace {
		tx.Unlock()
		c.int(0)
		return
	}
	copied := tx.Copy(db, src, dstDB, dst)
	tx.Unlock()
	if !copied {
		c.err(errNotCopyable)
		return
	}
	fx := [][]byte{cmdCopy, src, dst}
	if dstDB != db {
		fx = append(fx, wordDB, strconv.AppendInt(nil, int64(dstDB), 10))
	}
	if replace {
		fx = append(fx, wordReplace)
	}
	c.propagate(fx...)
	c.notifyDB(dstDB, notifyGeneric, "copy_to", dst)
	c.int(1)
}

// moveCommand is MOVE key db: 1 if moved, 0 if the key is missing or
// already exists in the target database.
func moveCommand(c *client, args [][]byte) {
	db := int(c.db.Load())
	dstDB, errText := c.parseDBIndex(args[2])
	if errText != "" {
		c.err(errText)
		return
	}
	if dstDB == db {
		c.err(errSameObject)
		return
	}
	key := args[1]
	tx := c.lock(key)
	_, ok := tx.LookupWrite(db, key)
	if ok {
		if _, exists := tx.LookupWrite(dstDB, key); exists {
			ok = false
		}
	}
	if ok {
		tx.Rename(db, key, dstDB, key)
	}
	tx.Unlock()
	if ok {
		c.propagate(cmdMove, key, strconv.AppendInt(nil, int64(dstDB), 10))
		c.notify(notifyGeneric, "move_from", key)
		c.notifyDB(dstDB, notifyGeneric, "move_to", key)
	}
	c.boolInt(ok)
}

// swapdbCommand is SWAPDB index1 index2; the swap is atomic for every other
// client. As Redis, both numbers are parsed before either range is checked.
func swapdbCommand(c *client, args [][]byte) {
	a, ok := parseInt32(args[1])
	if !ok {
		c.err("ERR invalid first DB index")
		return
	}
	b, ok := parseInt32(args[2])
	if !ok {
		c.err("ERR invalid second DB index")
		return
	}
	n := c.s.store.Databases()
	if a < 0 || a >= n || b < 0 || b >= n {
		c.err(protocol.ErrDBIndex)
		return
	}
	tx := c.lockAll()
	tx.SwapDB(a, b)
	c.propagateKeyless(cmdSwapDB, strconv.AppendInt(nil, int64(a), 10), strconv.AppendInt(nil, int64(b), 10))
	tx.Unlock()
	c.ok()
}

func randomkeyCommand(c *client, args [][]byte) {
	k, ok := c.view().RandomKey(int(c.db.Load()))
	c.bulkOrNull(k, ok)
}

func dbsizeCommand(c *client, args [][]byte) {
	c.int(c.s.store.DBSize(int(c.db.Load())))
}

// flushOption checks FLUSHDB's and FLUSHALL's optional ASYNC or SYNC.
// Both are accepted and both flush synchronously here: the store drops a
// database in one pass under its locks, so there is no background free.
func flushOption(args [][]byte) bool {
	switch len(args) {
	case 1:
		return true
	case 2:
		return keyWordIs(args[1], "async") || keyWordIs(args[1], "sync")
	}
	return false
}

// flushdbCommand is FLUSHDB [ASYNC|SYNC]; ASYNC is accepted but the flush
// is synchronous (see flushOption).
func flushdbCommand(c *client, args [][]byte) {
	if !flushOption(args) {
		c.err(protocol.ErrSyntax)
		return
	}
	tx := c.lockAll()
	if !c.s.flushReplicated(tx) { // repl_flush.go
		tx.FlushDB(int(c.db.Load()))
		c.propagateKeyless(cmdFlushDB)
	}
	tx.Unlock()
	c.ok()
}

// flushallCommand is FLUSHALL [ASYNC|SYNC]; ASYNC is accepted but the flush
// is synchronous (see flushOption).
func flushallCommand(c *client, args [][]byte) {
	if !flushOption(args) {
		c.err(protocol.ErrSyntax)
		return
	}
	tx := c.lockAll()
	if !c.s.flushReplicated(tx) { // repl_flush.go
		tx.FlushAll()
		c.propagateKeyless(cmdFlushAll)
	}
	tx.Unlock()
	c.ok()
}

// objectLookup runs fn on args[2]'s entry without touching its access time
// or the keyspace statistics, as Redis's objectCommandLookup. It reports
// false (and fn does not run) for a missing key.
func objectLookup(c *client, args [][]byte, fn func(e store.Entry)) bool {
	tx := c.lock(args[2])
	defer tx.Unlock()
	e, ok := tx.LookupReadNoNotify(int(c.db.Load()), args[2])
	if ok {
		fn(e)
	}
	return ok
}

func objectEncodingCommand(c *client, args [][]byte) {
	var enc string
	if !objectLookup(c, args, func(e store.Entry) { enc = e.Encoding() }) {
		c.null()
		return
	}
	c.bulkString(enc)
}

// objectIdletimeCommand: under an LFU policy the access field holds the
// LFU counter, so, as Redis, an existing key gets an error.
func objectIdletimeCommand(c *client, args [][]byte) {
	var idle int64
	if !objectLookup(c, args, func(e store.Entry) { idle = e.IdleMs() / 1000 }) {
		c.null()
		return
	}
	if c.s.store.Policy().IsLFU() {
		c.err(errLFUSelected)
		return
	}
	c.int(idle)
}

// objectFreqCommand replies the key's LFU counter decayed to now, or, when
// no LFU policy is selected, Redis's error.
func objectFreqCommand(c *client, args [][]byte) {
	var freq int
	if !objectLookup(c, args, func(e store.Entry) { freq = e.Freq() }) {
		c.null()
		return
	}
	if !c.s.store.Policy().IsLFU() {
		c.err(errLFUNotSelected)
		return
	}
	c.int(int64(freq))
}

// objectRefcountCommand: values are never shared, so the count is 1.
func objectRefcountCommand(c *client, args [][]byte) {
	if !objectLookup(c, args, func(store.Entry) {}) {
		c.null()
		return
	}
	c.int(1)
}

func objectHelpCommand(c *client, args [][]byte) {
	c.helpReply("OBJECT", []string{
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
	})
}

// keyWordIs reports whether b equals the lower-case ASCII word s, ignoring
// case.
func keyWordIs(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		ch := b[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != s[i] {
			return false
		}
	}
	return true
}
