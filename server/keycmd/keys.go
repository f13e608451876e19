package keycmd

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
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

// ErrLFUNotSelected is OBJECT FREQ's reply under a policy that is not LFU,
// ErrLFUSelected OBJECT IDLETIME's under an LFU policy.
const (
	ErrLFUNotSelected = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
	ErrLFUSelected = "ERR An LFU maxmemory policy is selected, idle time not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// Command names used in effects.
var (
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
)

func keyCommands() []kernel.Spec {
	g := func(name string, arity int, flags string, first, last int, since, summary, complexity string, fn kernel.Handler) kernel.Spec {
		step := 0
		if first > 0 {
			step = 1
		}
		return kernel.Spec{Name: name, Arity: arity, Flags: flags, First: first, Last: last, Step: step,
			Group: "generic", Since: since, Summary: summary, Complexity: complexity, Fn: fn}
	}
	specs := []kernel.Spec{
		g("del", -2, "write", 1, -1, "1.0.0", "Deletes one or more keys.",
			"O(N) where N is the number of keys that will be removed.", delCommand).WithSplit(kernel.SplitCount).WithKeys("RM delete | index 1 | range -1 1 0").WithTips("request_policy:multi_shard response_policy:agg_sum"),
		g("unlink", -2, "write fast", 1, -1, "4.0.0", "Asynchronously deletes one or more keys.",
			"O(1) for each key removed regardless of its size.", delCommand).WithSplit(kernel.SplitCount).WithKeys("RM delete | index 1 | range -1 1 0").WithTips("request_policy:multi_shard response_policy:agg_sum"),
		g("exists", -2, "readonly fast", 1, -1, "1.0.0", "Determines whether one or more keys exist.",
			"O(N) where N is the number of keys to check.", existsCommand).WithSplit(kernel.SplitCount).WithKeys("RO | index 1 | range -1 1 0").WithTips("request_policy:multi_shard response_policy:agg_sum"),
		g("type", 2, "readonly fast", 1, 1, "1.0.0", "Determines the type of value stored at a key.",
			"O(1)", typeCommand).WithKeys("RO | index 1 | range 0 1 0"),
		g("touch", -2, "readonly fast", 1, -1, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
			"O(N) where N is the number of keys that will be touched.", touchCommand).WithSplit(kernel.SplitCount).WithKeys("RO | index 1 | range -1 1 0").WithTips("request_policy:multi_shard response_policy:agg_sum"),
		g("rename", 3, "write", 1, 2, "1.0.0", "Renames a key and overwrites the destination.",
			"O(1)", renameCommand).WithKeys("RW access delete | index 1 | range 0 1 0", "OW update | index 2 | range 0 1 0"),
		g("renamenx", 3, "write fast", 1, 2, "1.0.0", "Renames a key only when the target key name doesn't exist.",
			"O(1)", renamenxCommand).WithKeys("RW access delete | index 1 | range 0 1 0", "OW insert | index 2 | range 0 1 0"),
		g("copy", -3, "write denyoom", 1, 2, "6.2.0", "Copies the value of a key to a new key.",
			"O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", copyCommand).WithClusterRefusal(copyClusterRefusal).WithKeys("RO access | index 1 | range 0 1 0", "OW update | index 2 | range 0 1 0"),
		g("move", 3, "write fast", 1, 1, "1.0.0", "Moves a key to another database.",
			"O(1)", moveCommand).WithClusterRefusal(kernel.RefuseInCluster("MOVE")).WithKeys("RW access update | index 1 | range 0 1 0"),
		g("randomkey", 1, "readonly", 0, 0, "1.0.0", "Returns a random key name from the database.",
			"O(1)", randomkeyCommand).WithTips("request_policy:all_shards nondeterministic_output").WithKeyspace(),
		kernel.Spec{Name: "swapdb", Arity: 3, Flags: "write fast", ACL: "keyspace dangerous", Group: "server", Since: "4.0.0",
			Summary: "Swaps two Redis databases.", Complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.",
			Fn: swapdbCommand}.WithClusterRefusal(kernel.RefuseInCluster("SWAPDB")).WithKeyspace(),
		kernel.Spec{Name: "dbsize", Arity: 1, Flags: "readonly fast", ACL: "keyspace", Group: "server", Since: "1.0.0",
			Summary: "Returns the number of keys in the database.", Complexity: "O(1)", Fn: dbsizeCommand}.WithTips("request_policy:all_shards response_policy:agg_sum"),
		kernel.Spec{Name: "flushdb", Arity: -1, Flags: "write", ACL: "keyspace dangerous", Group: "server", Since: "1.0.0",
			Summary: "Removes all keys from the current database.", Complexity: "O(N) where N is the number of keys in the selected database",
			Fn: flushdbCommand}.WithTips("request_policy:all_shards response_policy:all_succeeded").WithKeyspace(),
		kernel.Spec{Name: "flushall", Arity: -1, Flags: "write", ACL: "keyspace dangerous", Group: "server", Since: "1.0.0",
			Summary: "Removes all keys from all databases.", Complexity: "O(N) where N is the total number of keys in all databases",
			Fn: flushallCommand}.WithTips("request_policy:all_shards response_policy:all_succeeded").WithKeyspace(),
		objectSpec(),
	}
	specs = append(specs, expireCommands()...)
	return append(specs, scanCommands()...)
}

func objectSpec() kernel.Spec {
	sub := func(name string, summary string, fn kernel.Handler) kernel.Spec {
		return kernel.Spec{Name: name, Arity: 3, Flags: "readonly", First: 2, Last: 2, Step: 1,
			Group: "generic", Since: "2.2.3", Summary: summary, Complexity: "O(1)", Fn: fn}.
			WithKeys("RO | index 2 | range 0 1 0").WithTips("nondeterministic_output")
	}
	return kernel.Spec{Name: "object", Arity: -2, Group: "generic", Since: "2.2.3",
		Summary: "A container for object introspection commands.", Complexity: "Depends on subcommand.",
		Subs: []kernel.Spec{
			sub("encoding", "Returns the internal encoding of a Redis object.", objectEncodingCommand),
			sub("freq", "Returns the logarithmic access frequency counter of a Redis object.", objectFreqCommand),
			sub("idletime", "Returns the time since the last access to a Redis object.", objectIdletimeCommand),
			sub("refcount", "Returns the reference count of a value of a key.", objectRefcountCommand),
			{Name: "help", Arity: 2, Flags: "loading stale", Group: "generic", Since: "6.2.0",
				Summary: "Returns helpful text about the different subcommands.", Complexity: "O(1)", Fn: objectHelpCommand},
		}}
}

// delCommand is DEL and UNLINK (both free synchronously). Each deleted key
// records one DEL effect; repeated or missing keys record nothing.
func delCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	keys := args[1:]
	tx := c.Lock(keys...)
	tx.Warm(db, keys)
	var n int64
	for _, k := range keys {
		if tx.Delete(db, k) {
			n++
			c.Propagate(kernel.CmdDel, k)
			c.Notify(kernel.NotifyGeneric, "del", k)
		}
	}
	tx.Unlock()
	c.Int(n)
}

// existsCommand counts the keys that exist; a key named twice counts twice.
func existsCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	keys := args[1:]
	tx := c.Lock(keys...)
	tx.Warm(db, keys)
	var n int64
	for _, k := range keys {
		if _, ok := tx.LookupReadNoTouch(db, k); ok {
			n++
		}
	}
	tx.Unlock()
	c.Int(n)
}

// touchCommand counts the existing keys and updates their access time.
func touchCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	keys := args[1:]
	tx := c.Lock(keys...)
	tx.Warm(db, keys)
	var n int64
	for _, k := range keys {
		if _, ok := tx.LookupRead(db, k); ok {
			n++
		}
	}
	tx.Unlock()
	c.Int(n)
}

func typeCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx := c.Lock(args[1])
	t := store.TypeNone
	if e, ok := tx.LookupReadNoTouch(db, args[1]); ok {
		t = e.Type()
	}
	tx.Unlock()
	c.Simple(t.String())
}

func renameCommand(c *kernel.Ctx, args [][]byte)   { renameGeneric(c, args, false) }
func renamenxCommand(c *kernel.Ctx, args [][]byte) { renameGeneric(c, args, true) }

// renameGeneric is RENAME (nx false) and RENAMENX, as Redis's
// renameGenericCommand: a missing source is an error even when both names
// are the same; renaming a key to itself changes nothing.
func renameGeneric(c *kernel.Ctx, args [][]byte, nx bool) {
	db := c.DB()
	src, dst := args[1], args[2]
	tx := c.Lock(src, dst)
	if _, ok := tx.LookupWrite(db, src); !ok {
		tx.Unlock()
		c.Err(protocol.ErrNoSuchKey)
		return
	}
	if bytes.Equal(src, dst) {
		tx.Unlock()
		if nx {
			c.Int(0)
		} else {
			c.OK()
		}
		return
	}
	if _, exists := tx.LookupWrite(db, dst); exists && nx {
		tx.Unlock()
		c.Int(0)
		return
	}
	tx.Rename(db, src, db, dst)
	tx.Unlock()
	c.Notify(kernel.NotifyGeneric, "rename_from", src)
	c.Notify(kernel.NotifyGeneric, "rename_to", dst)
	if nx {
		c.Propagate(cmdRenameNX, src, dst)
		c.Int(1)
		return
	}
	c.Propagate(cmdRename, src, dst)
	c.OK()
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
func parseDBIndex(c *kernel.Ctx, b []byte) (int, string) {
	n, ok := parseInt32(b)
	if !ok {
		return 0, protocol.ErrNotInteger
	}
	if n < 0 || n >= c.Store().Databases() {
		return 0, protocol.ErrDBIndex
	}
	return n, ""
}

// copyCommand is COPY source destination [DB n] [REPLACE], as Redis 7.0:
// options are parsed first, then the same-object check, then the keys.
func copyCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	dstDB, replace := db, false
	for i := 3; i < len(args); i++ {
		switch {
		case kernel.KeyWordIs(args[i], "replace"):
			replace = true
		case kernel.KeyWordIs(args[i], "db") && i+1 < len(args):
			n, errText := parseDBIndex(c, args[i+1])
			if errText != "" {
				c.Err(errText)
				return
			}
			dstDB = n
			i++
		default:
			c.Err(protocol.ErrSyntax)
			return
		}
	}
	src, dst := args[1], args[2]
	if db == dstDB && bytes.Equal(src, dst) {
		c.Err(errSameObject)
		return
	}
	tx := c.Lock(src, dst)
	_, ok := tx.LookupRead(db, src)
	if !ok {
		tx.Unlock()
		c.Int(0)
		return
	}
	if _, exists := tx.LookupWrite(dstDB, dst); exists && !replace {
		tx.Unlock()
		c.Int(0)
		return
	}
	copied := tx.Copy(db, src, dstDB, dst)
	tx.Unlock()
	if !copied {
		c.Err(errNotCopyable)
		return
	}
	fx := [][]byte{cmdCopy, src, dst}
	if dstDB != db {
		fx = append(fx, wordDB, strconv.AppendInt(nil, int64(dstDB), 10))
	}
	if replace {
		fx = append(fx, kernel.WordReplace)
	}
	c.Propagate(fx...)
	c.NotifyDB(dstDB, kernel.NotifyGeneric, "copy_to", dst)
	c.Int(1)
}

// moveCommand is MOVE key db: 1 if moved, 0 if the key is missing or
// already exists in the target database.
func moveCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	dstDB, errText := parseDBIndex(c, args[2])
	if errText != "" {
		c.Err(errText)
		return
	}
	if dstDB == db {
		c.Err(errSameObject)
		return
	}
	key := args[1]
	tx := c.Lock(key)
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
		c.Propagate(cmdMove, key, strconv.AppendInt(nil, int64(dstDB), 10))
		c.Notify(kernel.NotifyGeneric, "move_from", key)
		c.NotifyDB(dstDB, kernel.NotifyGeneric, "move_to", key)
	}
	c.BoolInt(ok)
}

// swapdbCommand is SWAPDB index1 index2; the swap is atomic for every other
// client. As Redis, both numbers are parsed before either range is checked.
func swapdbCommand(c *kernel.Ctx, args [][]byte) {
	a, ok := parseInt32(args[1])
	if !ok {
		c.Err("ERR invalid first DB index")
		return
	}
	b, ok := parseInt32(args[2])
	if !ok {
		c.Err("ERR invalid second DB index")
		return
	}
	n := c.Store().Databases()
	if a < 0 || a >= n || b < 0 || b >= n {
		c.Err(protocol.ErrDBIndex)
		return
	}
	tx := c.LockAll()
	tx.SwapDB(a, b)
	c.PropagateKeyless(cmdSwapDB, strconv.AppendInt(nil, int64(a), 10), strconv.AppendInt(nil, int64(b), 10))
	tx.Unlock()
	c.OK()
}

func randomkeyCommand(c *kernel.Ctx, args [][]byte) {
	k, ok := c.View().RandomKey(c.DB())
	c.BulkOrNull(k, ok)
}

func dbsizeCommand(c *kernel.Ctx, args [][]byte) {
	c.Int(c.Store().DBSize(c.DB()))
}

// flushOption checks FLUSHDB's and FLUSHALL's optional ASYNC or SYNC.
// Both are accepted and both flush synchronously here: the store drops a
// database in one pass under its locks, so there is no background free.
func flushOption(args [][]byte) bool {
	switch len(args) {
	case 1:
		return true
	case 2:
		return kernel.KeyWordIs(args[1], "async") || kernel.KeyWordIs(args[1], "sync")
	}
	return false
}

// flushdbCommand is FLUSHDB [ASYNC|SYNC]; ASYNC is accepted but the flush
// is synchronous (see flushOption).
func flushdbCommand(c *kernel.Ctx, args [][]byte) {
	if !flushOption(args) {
		c.Err(protocol.ErrSyntax)
		return
	}
	tx := c.LockAll()
	if !c.FlushReplicated(tx) { // repl_flush.go
		tx.FlushDB(c.DB())
		c.PropagateKeyless(cmdFlushDB)
	}
	tx.Unlock()
	c.OK()
}

// flushallCommand is FLUSHALL [ASYNC|SYNC]; ASYNC is accepted but the flush
// is synchronous (see flushOption).
func flushallCommand(c *kernel.Ctx, args [][]byte) {
	if !flushOption(args) {
		c.Err(protocol.ErrSyntax)
		return
	}
	tx := c.LockAll()
	if !c.FlushReplicated(tx) { // repl_flush.go
		tx.FlushAll()
		c.PropagateKeyless(cmdFlushAll)
	}
	tx.Unlock()
	c.OK()
}

// objectLookup runs fn on args[2]'s entry without touching its access time
// or the keyspace statistics, as Redis's objectCommandLookup. It reports
// false (and fn does not run) for a missing key.
func objectLookup(c *kernel.Ctx, args [][]byte, fn func(e store.Entry)) bool {
	tx := c.Lock(args[2])
	defer tx.Unlock()
	e, ok := tx.LookupReadNoNotify(c.DB(), args[2])
	if ok {
		fn(e)
	}
	return ok
}

func objectEncodingCommand(c *kernel.Ctx, args [][]byte) {
	var enc string
	if !objectLookup(c, args, func(e store.Entry) { enc = e.Encoding() }) {
		c.Null()
		return
	}
	c.BulkString(enc)
}

// objectIdletimeCommand: under an LFU policy the access field holds the
// LFU counter, so, as Redis, an existing key gets an error.
func objectIdletimeCommand(c *kernel.Ctx, args [][]byte) {
	var idle int64
	if !objectLookup(c, args, func(e store.Entry) { idle = e.IdleMs() / 1000 }) {
		c.Null()
		return
	}
	if c.Store().Policy().IsLFU() {
		c.Err(ErrLFUSelected)
		return
	}
	c.Int(idle)
}

// objectFreqCommand replies the key's LFU counter decayed to now, or, when
// no LFU policy is selected, Redis's error.
func objectFreqCommand(c *kernel.Ctx, args [][]byte) {
	var freq int
	if !objectLookup(c, args, func(e store.Entry) { freq = e.Freq() }) {
		c.Null()
		return
	}
	if !c.Store().Policy().IsLFU() {
		c.Err(ErrLFUNotSelected)
		return
	}
	c.Int(int64(freq))
}

// objectRefcountCommand: values are never shared, so the count is 1.
func objectRefcountCommand(c *kernel.Ctx, args [][]byte) {
	if !objectLookup(c, args, func(store.Entry) {}) {
		c.Null()
		return
	}
	c.Int(1)
}

func objectHelpCommand(c *kernel.Ctx, args [][]byte) {
	c.HelpReply("OBJECT", []string{
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

// copyClusterRefusal refuses COPY … DB n with n != 0 in cluster mode.
func copyClusterRefusal(args [][]byte) string {
	for i := 3; i+1 < len(args); i++ {
		if strings.EqualFold(string(args[i]), "db") {
			if n, ok := protocol.ParseInt(args[i+1]); ok && n != 0 {
				return "ERR Copying to another database is not allowed in cluster mode"
			}
		}
	}
	return ""
}
