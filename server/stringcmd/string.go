package stringcmd

import (
	"math"
	"strconv"
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

// String commands (Redis doc group "string"): GET/SET and their variants in
// this file, the counters in cmd_string_counter.go, ranges, APPEND and LCS
// in cmd_string_range.go.

func stringCommands() []kernel.Spec {
	s := func(name string, arity int, flags string, first, last, step int, since, summary, complexity string, fn kernel.Handler) kernel.Spec {
		return kernel.Spec{Name: name, Arity: arity, Flags: flags, First: first, Last: last, Step: step,
			Group: "string", Since: since, Summary: summary, Complexity: complexity, Fn: fn}
	}
	o1 := "O(1)"
	const rangeCx = "O(N) where N is the length of the returned string."
	return []kernel.Spec{
		s("get", 2, "readonly fast", 1, 1, 1, "1.0.0", "Get the value of a key", o1, getCommand),
		s("set", -3, "write denyoom", 1, 1, 1, "1.0.0", "Set the string value of a key", o1, setCommand).WithKeys("RW access update variable_flags | index 1 | range 0 1 0 | RW and ACCESS due to the optional `GET` argument").WithKeyFlags(setKeyFlags),
		s("setnx", 3, "write denyoom fast", 1, 1, 1, "1.0.0", "Set the value of a key, only if the key does not exist", o1, setnxCommand).WithKeys("OW insert | index 1 | range 0 1 0"),
		s("setex", 4, "write denyoom", 1, 1, 1, "2.0.0", "Set the value and expiration of a key", o1, setexCommand).WithKeys("OW update | index 1 | range 0 1 0"),
		s("psetex", 4, "write denyoom", 1, 1, 1, "2.6.0", "Set the value and expiration in milliseconds of a key", o1, psetexCommand).WithKeys("OW update | index 1 | range 0 1 0"),
		s("getset", 3, "write denyoom fast", 1, 1, 1, "1.0.0", "Set the string value of a key and return its old value", o1, getsetCommand).WithKeys("RW access update | index 1 | range 0 1 0"),
		s("getdel", 2, "write fast", 1, 1, 1, "6.2.0", "Get the value of a key and delete the key", o1, getdelCommand).WithKeys("RW access delete | index 1 | range 0 1 0"),
		s("getex", -2, "write fast", 1, 1, 1, "6.2.0", "Get the value of a key and optionally set its expiration", o1, getexCommand).WithKeys("RW access update | index 1 | range 0 1 0 | RW and UPDATE because it changes the TTL"),
		s("mget", -2, "readonly fast", 1, -1, 1, "1.0.0", "Get the values of all the given keys", "O(N) where N is the number of keys to retrieve.", mgetCommand).WithSplit(kernel.SplitValues).WithTips("request_policy:multi_shard"),
		s("mset", -3, "write denyoom", 1, -1, 2, "1.0.1", "Set multiple keys to multiple values", "O(N) where N is the number of keys to set.", msetCommand).WithSplit(kernel.SplitPairs).WithKeys("OW update | index 1 | range -1 2 0").WithTips("request_policy:multi_shard response_policy:all_succeeded"),
		s("msetnx", -3, "write denyoom", 1, -1, 2, "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist", "O(N) where N is the number of keys to set.", msetnxCommand).WithKeys("OW insert | index 1 | range -1 2 0").WithTips("request_policy:multi_shard response_policy:agg_min"),
		s("append", 3, "write denyoom fast", 1, 1, 1, "2.0.0", "Append a value to a key", "O(1) amortized", appendCommand).WithKeys("RW insert | index 1 | range 0 1 0"),
		s("strlen", 2, "readonly fast", 1, 1, 1, "2.2.0", "Get the length of the value stored in a key", o1, strlenCommand).WithKeys("RO | index 1 | range 0 1 0"),
		s("incr", 2, "write denyoom fast", 1, 1, 1, "1.0.0", "Increment the integer value of a key by one", o1, incrCommand).WithKeys("RW access update | index 1 | range 0 1 0"),
		s("decr", 2, "write denyoom fast", 1, 1, 1, "1.0.0", "Decrement the integer value of a key by one", o1, decrCommand).WithKeys("RW access update | index 1 | range 0 1 0"),
		s("incrby", 3, "write denyoom fast", 1, 1, 1, "1.0.0", "Increment the integer value of a key by the given amount", o1, incrbyCommand).WithKeys("RW access update | index 1 | range 0 1 0"),
		s("decrby", 3, "write denyoom fast", 1, 1, 1, "1.0.0", "Decrement the integer value of a key by the given number", o1, decrbyCommand).WithKeys("RW access update | index 1 | range 0 1 0"),
		s("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, "2.6.0", "Increment the float value of a key by the given amount", o1, incrbyfloatCommand).WithKeys("RW access update | index 1 | range 0 1 0"),
		s("getrange", 4, "readonly", 1, 1, 1, "2.4.0", "Get a substring of the string stored at a key", rangeCx, getrangeCommand),
		s("substr", 4, "readonly", 1, 1, 1, "1.0.0", "Get a substring of the string stored at a key", rangeCx, getrangeCommand),
		s("setrange", 4, "write denyoom", 1, 1, 1, "2.2.0", "Overwrite part of a string at key starting at the specified offset",
			"O(1), not counting the time taken to copy the new string in place; otherwise O(M) with M the length of the value argument.", setrangeCommand),
		s("lcs", -3, "readonly", 1, 2, 1, "7.0.0", "Find longest common substring", "O(N*M) where N and M are the lengths of s1 and s2, respectively", lcsCommand),
	}
}

// Argument words of the effects handlers record.
var (
	// WordSet is the name of SET in propagated effects.
	WordSet          = []byte("SET")
	strWordMSet      = []byte("MSET")
	strWordDel       = []byte("DEL")
	strWordPXAT      = []byte("PXAT")
	strWordKeepTTL   = []byte("KEEPTTL")
	strWordPExpireAt = []byte("PEXPIREAT")
	strWordPersist   = []byte("PERSIST")
)

// strPropagatePXAT records SET key val PXAT at.
func strPropagatePXAT(c *kernel.Ctx, key, val []byte, at int64) {
	var num [20]byte
	c.Propagate(WordSet, key, val, strWordPXAT, strconv.AppendInt(num[:0], at, 10))
}

func getCommand(c *kernel.Ctx, args [][]byte) {
	v, ok, err := c.GetString(args[1], c.Scratch[:0])
	switch {
	case err != nil:
		c.Err(protocol.ErrWrongType)
	case !ok:
		c.KeyMiss(args[1])
		c.Null()
	default:
		c.Bulk(v)
		c.KeepScratch(v)
	}
}

func setCommand(c *kernel.Ctx, args [][]byte) {
	if len(args) == 3 { // the hot path: no options, no allocation
		c.SetString(args)
		c.OK()
		return
	}
	o, errText := protocol.ParseSetOptions(args[3:])
	if errText != "" {
		c.Err(errText)
		return
	}
	r, ok := strSet(c, args[1], args[2], o, "set")
	switch {
	case !ok:
	case o.Get:
		c.BulkOrNull(r.old, r.found)
	case r.wrote:
		c.OK()
	default:
		c.Null()
	}
}

// strSetResult tells what strSet did: whether it wrote and, with the GET
// option, the old value (in c.Scratch, valid until the next reply helper
// that uses it).
type strSetResult struct {
	wrote bool
	found bool // the key held a value (a string, when GET was given)
	old   []byte
}

// strSet is SET's logic after option parsing, shared by SETNX, SETEX,
// PSETEX and GETSET, in Redis's order: the expire value, then GET's type
// check, then NX/XX. ok is false when it replied an error. cmd names the
// command in the invalid expire error.
func strSet(c *kernel.Ctx, key, val []byte, o protocol.SetOptions, cmd string) (r strSetResult, ok bool) {
	db := c.DB()
	tx := c.Lock(key)
	at := int64(0)
	if o.ExpireKind != protocol.ExpireNone {
		var valid bool
		if at, valid = protocol.AbsExpireMs(o.ExpireKind, o.Expire, tx.Now()); !valid || at <= 0 {
			tx.Unlock()
			c.Err(protocol.InvalidExpire(cmd))
			return r, false
		}
	} else if o.KeepTTL {
		at = store.KeepTTL
	}
	var e store.Entry
	if o.Get {
		e, r.found = tx.LookupRead(db, key)
		if r.found && e.Type() != store.TypeString {
			tx.Unlock()
			c.Err(protocol.ErrWrongType)
			return r, false
		}
		if r.found {
			r.old = append(c.Scratch[:0], e.Str()...)
		}
	} else if o.NX || o.XX {
		_, r.found = tx.LookupWrite(db, key)
	}
	if (o.NX && r.found) || (o.XX && !r.found) {
		tx.Unlock()
		return r, true
	}
	tx.SetString(db, key, val, at)
	tx.Unlock()
	r.wrote = true
	c.Notify(kernel.NotifyString, "set", key)
	if at > 0 {
		c.Notify(kernel.NotifyGeneric, "expire", key)
	}
	switch {
	case !c.Recording():
	case at > 0:
		strPropagatePXAT(c, key, val, at)
	case at == store.KeepTTL:
		c.Propagate(WordSet, key, val, strWordKeepTTL)
	default:
		c.Propagate(WordSet, key, val)
	}
	if r.old != nil {
		c.KeepScratch(r.old)
	}
	return r, true
}

func setnxCommand(c *kernel.Ctx, args [][]byte) {
	if r, ok := strSet(c, args[1], args[2], protocol.SetOptions{NX: true}, "setnx"); ok {
		c.BoolInt(r.wrote)
	}
}

func setexCommand(c *kernel.Ctx, args [][]byte)  { strSetEx(c, args, protocol.ExpireEX, "setex") }
func psetexCommand(c *kernel.Ctx, args [][]byte) { strSetEx(c, args, protocol.ExpirePX, "psetex") }

// strSetEx runs SETEX/PSETEX key time value.
func strSetEx(c *kernel.Ctx, args [][]byte, kind byte, cmd string) {
	v, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if v <= 0 || (kind == protocol.ExpireEX && v > math.MaxInt64/1000) {
		c.Err(protocol.InvalidExpire(cmd))
		return
	}
	if _, ok := strSet(c, args[1], args[3], protocol.SetOptions{ExpireKind: kind, Expire: v}, cmd); ok {
		c.OK()
	}
}

func getsetCommand(c *kernel.Ctx, args [][]byte) {
	if r, ok := strSet(c, args[1], args[2], protocol.SetOptions{Get: true}, "getset"); ok {
		c.BulkOrNull(r.old, r.found)
	}
}

// GrowValue returns key's string value grown with zero bytes to at least n
// bytes, for the caller to write into where it lies (store.Tx.GrowString:
// within its allocation while it has room, so writing into a large value
// does not copy it), after creating the key empty when the caller's
// lookup did not find it. SETRANGE, SETBIT and BITFIELD write this way.
func GrowValue(c *kernel.Ctx, tx *store.Tx, key []byte, found bool, n int) []byte {
	if !found {
		tx.SetString(c.DB(), key, nil, store.KeepTTL)
	}
	v, _ := tx.GrowString(c.DB(), key, n)
	return v
}

// LookupString locks key and finds it for reading. It replies WRONGTYPE
// (and unlocks) for a non-string; tx is nil then. found false is a missing
// key, with tx still locked.
func LookupString(c *kernel.Ctx, key []byte, write bool) (tx *store.Tx, e store.Entry, found bool) {
	tx = c.Lock(key)
	if write {
		e, found = tx.LookupWrite(c.DB(), key)
	} else {
		e, found = tx.LookupRead(c.DB(), key)
	}
	if found && e.Type() != store.TypeString {
		tx.Unlock()
		c.Err(protocol.ErrWrongType)
		return nil, e, false
	}
	return tx, e, found
}

func getdelCommand(c *kernel.Ctx, args [][]byte) {
	tx, e, found := LookupString(c, args[1], false)
	if tx == nil {
		return
	}
	if !found {
		tx.Unlock()
		c.Null()
		return
	}
	old := append(c.Scratch[:0], e.Str()...)
	tx.Delete(c.DB(), args[1])
	tx.Unlock()
	c.Propagate(strWordDel, args[1])
	c.Notify(kernel.NotifyGeneric, "del", args[1])
	c.Bulk(old)
	c.KeepScratch(old)
}

func getexCommand(c *kernel.Ctx, args [][]byte) {
	o, errText := protocol.ParseGetExOptions(args[2:])
	if errText != "" {
		c.Err(errText)
		return
	}
	tx, e, found := LookupString(c, args[1], false)
	if tx == nil {
		return
	}
	if !found {
		tx.Unlock()
		c.Null()
		return
	}
	if o.ExpireErr != "" {
		tx.Unlock()
		c.Err(o.ExpireErr)
		return
	}
	val := append(c.Scratch[:0], e.Str()...)
	if !getexApplyLocked(c, tx, args[1], o) {
		tx.Unlock()
		return
	}
	tx.Unlock()
	c.Bulk(val)
	c.KeepScratch(val)
}

// getexApplyLocked changes key's TTL as GETEX's options say and records the
// effect: PEXPIREAT, DEL for an absolute time already past, or PERSIST. It
// reports false after replying an invalid expire error.
func getexApplyLocked(c *kernel.Ctx, tx *store.Tx, key []byte, o protocol.GetExOptions) bool {
	db := c.DB()
	switch {
	case o.ExpireKind != protocol.ExpireNone:
		now := tx.Now()
		at, ok := protocol.AbsExpireMs(o.ExpireKind, o.Expire, now)
		if !ok || at <= 0 {
			c.Err(protocol.InvalidExpire("getex"))
			return false
		}
		if (o.ExpireKind == protocol.ExpireEXAT || o.ExpireKind == protocol.ExpirePXAT) && at <= now {
			tx.Delete(db, key)
			c.Propagate(strWordDel, key)
			c.Notify(kernel.NotifyGeneric, "del", key)
			return true
		}
		tx.SetExpire(db, key, at)
		if c.Recording() {
			var num [20]byte
			c.Propagate(strWordPExpireAt, key, strconv.AppendInt(num[:0], at, 10))
		}
		c.Notify(kernel.NotifyGeneric, "expire", key)
	case o.Persist:
		if tx.Persist(db, key) {
			c.Propagate(strWordPersist, key)
			c.Notify(kernel.NotifyGeneric, "persist", key)
		}
	}
	return true
}

// strKeys appends args[1], args[1+step], … (the keys of MSET, MSETNX) to
// dst and returns it.
func strKeys(dst, args [][]byte, step int) [][]byte {
	for i := 1; i < len(args); i += step {
		dst = append(dst, args[i])
	}
	return dst
}

func mgetCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx := c.Lock(args[1:]...)
	tx.Warm(db, args[1:])
	c.Array(len(args) - 1)
	for _, k := range args[1:] {
		// Replies are buffered, so writing them under the lock avoids copies.
		if e, ok := tx.LookupRead(db, k); ok && e.Type() == store.TypeString {
			c.Bulk(e.Str())
		} else {
			c.Null()
		}
	}
	tx.Unlock()
}

func msetCommand(c *kernel.Ctx, args [][]byte) {
	if len(args)%2 == 0 {
		c.Err(protocol.WrongArity("mset"))
		return
	}
	strMSet(c, args, false)
}

func msetnxCommand(c *kernel.Ctx, args [][]byte) {
	if len(args)%2 == 0 {
		c.Err(protocol.WrongArity("msetnx"))
		return
	}
	strMSet(c, args, true)
}

// strMSet sets every key/value pair of args, all under one lock; with nx
// only if none of the keys exists. The effect is an MSET.
func strMSet(c *kernel.Ctx, args [][]byte, nx bool) {
	db := c.DB()
	var kb [16][]byte // most MSETs: no allocation
	keys := strKeys(kb[:0], args, 2)
	tx := c.Lock(keys...)
	tx.Warm(db, keys)
	if nx {
		for i := 1; i < len(args); i += 2 {
			if _, ok := tx.LookupWrite(db, args[i]); ok {
				tx.Unlock()
				c.Int(0)
				return
			}
		}
	}
	for i := 1; i < len(args); i += 2 {
		tx.SetString(db, args[i], args[i+1], 0)
		c.Notify(kernel.NotifyString, "set", args[i]) // per key, as Redis: "new k1", "set k1", "new k2", …
	}
	tx.Unlock()
	c.PropagateAs(strWordMSet, args) // MSETNX's too
	if nx {
		c.Int(1)
	} else {
		c.OK()
	}
}

// setKeyFlags are SET's key flags for COMMAND GETKEYSANDFLAGS, as Redis's
// setGetKeys: with GET the old value is read.
func setKeyFlags(args [][]byte) []string {
	for _, a := range args[min(3, len(args)):] {
		if strings.EqualFold(string(a), "get") {
			return []string{"RW", "access", "update"}
		}
	}
	return []string{"OW", "update"}
}
