package keycmd

import (
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
)

// The expire family: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, EXPIRETIME,
// PEXPIRETIME, TTL, PTTL and PERSIST.

func expireCommands() []kernel.Spec {
	g := func(name string, arity int, flags, since, summary string, fn kernel.Handler) kernel.Spec {
		return kernel.Spec{Name: name, Arity: arity, Flags: flags, First: 1, Last: 1, Step: 1,
			Group: "generic", Since: since, Summary: summary, Complexity: "O(1)", Fn: fn}
	}
	return []kernel.Spec{
		g("expire", -3, "write fast", "1.0.0", "Sets the expiration time of a key in seconds.",
			func(c *kernel.Ctx, args [][]byte) { expireGeneric(c, args, "expire", protocol.ExpireEX) }),
		g("pexpire", -3, "write fast", "2.6.0", "Sets the expiration time of a key in milliseconds.",
			func(c *kernel.Ctx, args [][]byte) { expireGeneric(c, args, "pexpire", protocol.ExpirePX) }),
		g("expireat", -3, "write fast", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.",
			func(c *kernel.Ctx, args [][]byte) { expireGeneric(c, args, "expireat", protocol.ExpireEXAT) }),
		g("pexpireat", -3, "write fast", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.",
			func(c *kernel.Ctx, args [][]byte) { expireGeneric(c, args, "pexpireat", protocol.ExpirePXAT) }),
		g("expiretime", 2, "readonly fast", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.",
			func(c *kernel.Ctx, args [][]byte) { ttlGeneric(c, args[1], true, false) }),
		g("pexpiretime", 2, "readonly fast", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.",
			func(c *kernel.Ctx, args [][]byte) { ttlGeneric(c, args[1], true, true) }),
		g("ttl", 2, "readonly fast", "1.0.0", "Returns the expiration time in seconds of a key.",
			func(c *kernel.Ctx, args [][]byte) { ttlGeneric(c, args[1], false, false) }).WithTips("nondeterministic_output"),
		g("pttl", 2, "readonly fast", "2.6.0", "Returns the expiration time in milliseconds of a key.",
			func(c *kernel.Ctx, args [][]byte) { ttlGeneric(c, args[1], false, true) }).WithTips("nondeterministic_output"),
		g("persist", 2, "write fast", "2.2.0", "Removes the expiration time of a key.", persistCommand),
	}
}

// expireGeneric is Redis 7.0's expireGenericCommand. kind says how args[2]
// is read (protocol.ExpireEX seconds from now, ExpirePX ms from now,
// ExpireEXAT unix seconds, ExpirePXAT unix ms); name is the command's table
// name for the overflow error. Order of checks as Redis: flags, integer,
// overflow, key, NX/XX/GT/LT (a key without TTL counts as an infinite TTL),
// then a time not in the future deletes the key (effect DEL) and any other
// sets it (effect PEXPIREAT key abs-ms).
func expireGeneric(c *kernel.Ctx, args [][]byte, name string, kind byte) {
	flags, errText := protocol.ParseExpireFlags(args[3:])
	if errText != "" {
		c.Err(errText)
		return
	}
	v, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	when, ok := protocol.AbsExpireMs(kind, v, c.Now()) // the command's time, as SET EX's TTL
	if !ok {
		c.Err(protocol.InvalidExpire(name))
		return
	}
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	e, ok := tx.LookupWrite(db, key)
	if !ok || !expireAllowed(flags, e.ExpireAt(), when) {
		tx.Unlock()
		c.Int(0)
		return
	}
	if when <= tx.Now() {
		tx.Delete(db, key)
		tx.Unlock()
		c.Propagate(kernel.CmdDel, key)
		c.Notify(kernel.NotifyGeneric, "del", key)
		c.Int(1)
		return
	}
	tx.SetExpire(db, key, when)
	tx.Unlock()
	c.Scratch = strconv.AppendInt(c.Scratch[:0], when, 10)
	c.Propagate(cmdPExpireAt, key, c.Scratch)
	c.Notify(kernel.NotifyGeneric, "expire", key)
	c.Int(1)
}

// expireAllowed applies EXPIRE's NX, XX, GT and LT to a key whose current
// expiry is cur (absolute ms, 0 = none, which counts as infinite) and a new
// expiry when.
func expireAllowed(f protocol.ExpireFlags, cur, when int64) bool {
	switch {
	case f.NX && cur != 0:
		return false
	case f.XX && cur == 0:
		return false
	case f.GT && (cur == 0 || when <= cur):
		return false
	case f.LT && cur != 0 && when >= cur:
		return false
	}
	return true
}

// ttlGeneric is TTL (abs, ms false), PTTL, EXPIRETIME and PEXPIRETIME: -2
// for a missing key, -1 for a key without TTL, else the remaining time or
// the absolute expiry, seconds rounded to the nearest as Redis does. The
// key's access time and the hit/miss counters are not touched.
func ttlGeneric(c *kernel.Ctx, key []byte, abs, ms bool) {
	tx := c.Lock(key)
	e, ok := tx.LookupReadNoTouch(c.DB(), key)
	var exp, now int64
	if ok {
		exp, now = e.ExpireAt(), tx.Now()
	}
	tx.Unlock()
	switch {
	case !ok:
		c.Int(-2)
		return
	case exp == 0:
		c.Int(-1)
		return
	}
	t := exp
	if !abs {
		t = max(exp-now, 0)
	}
	if !ms {
		t = (t + 500) / 1000
	}
	c.Int(t)
}

// persistCommand removes a key's TTL: 1 if there was one (effect PERSIST),
// 0 if the key is missing or has none.
func persistCommand(c *kernel.Ctx, args [][]byte) {
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	ok := false
	if _, exists := tx.LookupWrite(db, key); exists {
		ok = tx.Persist(db, key)
	}
	tx.Unlock()
	if ok {
		c.Propagate(cmdPersist, key)
		c.Notify(kernel.NotifyGeneric, "persist", key)
	}
	c.BoolInt(ok)
}
