package bitcmd

import (
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/server/stringcmd"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/bitops"
)

// Bitmap commands (Redis doc group "bitmap"). The bit semantics live in
// store/bitops; handlers lock, read the string, call bitops, store the new
// value and reply.

func bitmapCommands() []kernel.Spec {
	b := func(name string, arity int, flags string, first, last int, since, summary, complexity string, fn kernel.Handler) kernel.Spec {
		return kernel.Spec{Name: name, Arity: arity, Flags: flags, First: first, Last: last, Step: 1,
			Group: "bitmap", Since: since, Summary: summary, Complexity: complexity, Fn: fn}
	}
	return []kernel.Spec{
		b("setbit", 4, "write denyoom", 1, 1, "2.2.0", "Sets or clears the bit at offset in the string value stored at key", "O(1)", setbitCommand).WithKeys("RW access update | index 1 | range 0 1 0"),
		b("getbit", 3, "readonly fast", 1, 1, "2.2.0", "Returns the bit value at offset in the string value stored at key", "O(1)", getbitCommand),
		b("bitcount", -2, "readonly", 1, 1, "2.6.0", "Count set bits in a string", "O(N)", bitcountCommand),
		b("bitpos", -3, "readonly", 1, 1, "2.8.7", "Find first bit set or clear in a string", "O(N)", bitposCommand),
		b("bitop", -4, "write denyoom", 2, -1, "2.6.0", "Perform bitwise operations between strings", "O(N)", bitopCommand).WithKeys("OW update | index 2 | range 0 1 0", "RO access | index 3 | range -1 1 0"),
		b("bitfield", -2, "write denyoom", 1, 1, "3.2.0", "Perform arbitrary bitfield integer operations on strings",
			"O(1) for each subcommand specified", bitfieldCommand).WithKeys("RW access update variable_flags | index 1 | range 0 1 0 | This command allows both access and modification of the key").WithKeyFlags(bitfieldKeyFlags),
		b("bitfield_ro", -2, "readonly fast", 1, 1, "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
			"O(1) for each subcommand specified", bitfieldROCommand),
	}
}

var strWordBitfield = []byte("BITFIELD")

// bitValue returns a string entry's bytes, nil for a missing key.
func bitValue(e store.Entry, found bool) []byte {
	if !found {
		return nil
	}
	return e.Str()
}

func setbitCommand(c *kernel.Ctx, args [][]byte) {
	off, errText := bitops.ParseBitOffset(args[2], c.MaxBulkLen())
	if errText != "" {
		c.Err(errText)
		return
	}
	bit, errText := bitops.ParseBit(args[3])
	if errText != "" {
		c.Err(errText)
		return
	}
	tx, e, found := stringcmd.LookupString(c, args[1], true)
	if tx == nil {
		return
	}
	v := bitValue(e, found)
	old := bitops.GetBit(v, off)
	changed := !found || int(off>>3) >= len(v) || old != bit
	if changed {
		// In place: setting bits of a large bitmap does not copy it, and a
		// new key's zeros are not written (their pages stay out of RSS).
		bitops.SetBitInPlace(stringcmd.GrowValue(c, tx, args[1], found, int(off>>3)+1), off, bit)
	}
	tx.Unlock()
	if changed {
		c.Propagate(args...)
		c.Notify(kernel.NotifyString, "setbit", args[1])
	}
	c.Int(int64(old))
}

func getbitCommand(c *kernel.Ctx, args [][]byte) {
	off, errText := bitops.ParseBitOffset(args[2], c.MaxBulkLen())
	if errText != "" {
		c.Err(errText)
		return
	}
	tx, e, found := stringcmd.LookupString(c, args[1], false)
	if tx == nil {
		return
	}
	bit := bitops.GetBit(bitValue(e, found), off)
	tx.Unlock()
	c.Int(int64(bit))
}

// bitcountCommand follows redis-server 7.0's order: the key (a missing key
// counts 0 whatever the arguments), its type, then the range.
func bitcountCommand(c *kernel.Ctx, args [][]byte) {
	tx, e, found := stringcmd.LookupString(c, args[1], false)
	if tx == nil {
		return
	}
	if !found {
		tx.Unlock()
		c.Int(0)
		return
	}
	r, errText := bitops.ParseBitCount(args[2:])
	if errText != "" {
		tx.Unlock()
		c.Err(errText)
		return
	}
	n := bitops.BitCount(e.Str(), r)
	tx.Unlock()
	c.Int(n)
}

// bitposCommand follows redis-server 7.0's order: the bit argument, then a
// missing key's answer, then the type, then the range.
func bitposCommand(c *kernel.Ctx, args [][]byte) {
	bit, errText := bitops.ParseBitArg(args[2])
	if errText != "" {
		c.Err(errText)
		return
	}
	tx, e, found := stringcmd.LookupString(c, args[1], false)
	if tx == nil {
		return
	}
	if !found {
		tx.Unlock()
		c.Int(bitops.BitPos(nil, false, bitops.BitPosArgs{Bit: bit}))
		return
	}
	a, errText := bitops.ParseBitPos(args[2:])
	if errText != "" {
		tx.Unlock()
		c.Err(errText)
		return
	}
	n := bitops.BitPos(e.Str(), true, a)
	tx.Unlock()
	c.Int(n)
}

func bitopCommand(c *kernel.Ctx, args [][]byte) {
	op, errText := bitops.ParseOp(args[1], len(args)-3)
	if errText != "" {
		c.Err(errText)
		return
	}
	db := c.DB()
	tx := c.Lock(args[2:]...)
	srcs := make([][]byte, 0, len(args)-3)
	for _, k := range args[3:] {
		e, ok := tx.LookupRead(db, k)
		if ok && e.Type() != store.TypeString {
			tx.Unlock()
			c.Err(protocol.ErrWrongType)
			return
		}
		srcs = append(srcs, bitValue(e, ok))
	}
	res := bitops.Compute(op, srcs)
	changed := true
	if len(res) > 0 {
		tx.SetString(db, args[2], res, 0)
	} else {
		changed = tx.Delete(db, args[2])
	}
	tx.Unlock()
	if changed {
		if len(res) > 0 { // the effect is the result, keyed by the destination
			c.Propagate(stringcmd.WordSet, args[2], res)
			c.Notify(kernel.NotifyString, "set", args[2])
		} else {
			c.Propagate(kernel.CmdDel, args[2])
			c.Notify(kernel.NotifyGeneric, "del", args[2])
		}
	}
	c.Int(int64(len(res)))
}

func bitfieldCommand(c *kernel.Ctx, args [][]byte)   { bitfieldGeneric(c, args, false) }
func bitfieldROCommand(c *kernel.Ctx, args [][]byte) { bitfieldGeneric(c, args, true) }

// bitfieldGeneric runs BITFIELD and BITFIELD_RO. Without SET or INCRBY the
// key is only read (a missing key stays missing); with them it is created
// or grown, and the command is recorded when the value changed.
func bitfieldGeneric(c *kernel.Ctx, args [][]byte, readOnly bool) {
	ops, errText := bitops.ParseBitfieldMax(args[2:], readOnly, c.MaxBulkLen())
	if errText != "" {
		c.Err(errText)
		return
	}
	write := bitops.HasWrite(ops)
	tx, e, found := stringcmd.LookupString(c, args[1], write)
	if tx == nil {
		return
	}
	v, grown := bitValue(e, found), false
	if write { // in place, as SETBIT: grown first to the farthest byte written
		need := bitops.WriteExtent(ops)
		grown = need > len(v) // need >= 1: a missing key grows too
		v = stringcmd.GrowValue(c, tx, args[1], found, need)
	}
	results, changed := bitops.ApplyInPlace(v, ops)
	changed = changed || grown
	tx.Unlock()
	if write && changed {
		c.PropagateAs(strWordBitfield, args) // BITFIELD_RO never writes, but keep one name
		c.Notify(kernel.NotifyString, "setbit", args[1])
	}
	c.Array(len(results))
	for _, r := range results {
		if r.Null {
			c.Null()
		} else {
			c.Int(r.Value)
		}
	}
}

// bitfieldKeyFlags are BITFIELD's key flags for COMMAND GETKEYSANDFLAGS, as
// Redis's bitfieldGetKeys: read-only when it only has GET (and OVERFLOW).
func bitfieldKeyFlags(args [][]byte) []string {
	for i := 2; i < len(args); i++ {
		rem := len(args) - i - 1
		switch w := string(args[i]); {
		case strings.EqualFold(w, "get") && rem >= 2:
			i += 2
		case strings.EqualFold(w, "overflow") && rem >= 1:
			i++
		default: // SET, INCRBY or a syntax error: assume a write, as Redis
			return []string{"RW", "access", "update"}
		}
	}
	return []string{"RO", "access"}
}
