package kernel

import (
	"strings"

	"github.com/cached/cached/protocol"
)

// Reply helpers. Each writes one RESP value to the client's output buffer
// (flushed by redcon once per pipeline batch). The RESP3-only types fall back
// to their RESP2 forms when the client has not sent HELLO 3, as Redis does.

// OK writes the simple string OK.
func (c *Ctx) OK() { c.Conn.WriteString("OK") }

// Simple writes the simple string s (no CR or LF in it).
func (c *Ctx) Simple(s string) { c.Conn.WriteString(s) }

// Int writes the integer n.
func (c *Ctx) Int(n int64) { c.Conn.WriteInt64(n) }

// Bulk writes the bulk string b.
func (c *Ctx) Bulk(b []byte) { c.Conn.WriteBulk(b) }

// BulkString writes the bulk string s.
func (c *Ctx) BulkString(s string) { c.Conn.WriteBulkString(s) }

// Array writes the header of an array of n elements; n values follow.
func (c *Ctx) Array(n int) { c.Conn.WriteArray(n) }

// Raw writes b, already RESP-encoded, as it is.
func (c *Ctx) Raw(b []byte) { c.Conn.WriteRaw(b) }

// BoolInt writes 1 for true and 0 for false.
func (c *Ctx) BoolInt(b bool) { c.Int(BoolToInt(b)) }

// BulkOrNull writes b if ok, else the null (Null).
func (c *Ctx) BulkOrNull(b []byte, ok bool) {
	if ok {
		c.Bulk(b)
	} else {
		c.Null()
	}
}

// BoolToInt is 1 for true and 0 for false.
func BoolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Err writes an error reply (msg without '-') and counts it in errorstats
// and, for the running command, in failed_calls.
func (c *Ctx) Err(msg string) {
	c.Failed = true
	c.env.CountError(ErrorCode(msg))
	c.Conn.WriteError(msg)
}

// ErrorCode is the first word of an error message (ERR, WRONGTYPE, …).
func ErrorCode(msg string) string {
	if i := strings.IndexByte(msg, ' '); i > 0 {
		return msg[:i]
	}
	return msg
}

// Null is the null bulk string in RESP2 and the null in RESP3.
func (c *Ctx) Null() {
	if c.RESP3.Load() {
		c.Raw(protocol.AppendNull(c.Scratch[:0]))
		return
	}
	c.Conn.WriteNull()
}

// MapLen starts a map of n pairs (an array of 2n items in RESP2).
func (c *Ctx) MapLen(n int) {
	if c.RESP3.Load() {
		c.Scratch = protocol.AppendMap(c.Scratch[:0], n)
		c.Raw(c.Scratch)
		return
	}
	c.Array(2 * n)
}

// SetLen starts a set of n items (an array in RESP2).
func (c *Ctx) SetLen(n int) {
	if c.RESP3.Load() {
		c.Scratch = protocol.AppendSet(c.Scratch[:0], n)
		c.Raw(c.Scratch)
		return
	}
	c.Array(n)
}

// Double writes a floating point number (a bulk string in RESP2).
func (c *Ctx) Double(f float64) {
	if c.RESP3.Load() {
		c.Scratch = protocol.AppendDouble(c.Scratch[:0], f)
		c.Raw(c.Scratch)
		return
	}
	c.Scratch = protocol.AppendFloat(c.Scratch[:0], f)
	c.Bulk(c.Scratch)
}

// Verbatim writes a verbatim text string (a bulk string in RESP2).
func (c *Ctx) Verbatim(s string) {
	if c.RESP3.Load() {
		c.Scratch = protocol.AppendVerbatim(c.Scratch[:0], "txt", []byte(s))
		c.Raw(c.Scratch)
		return
	}
	c.BulkString(s)
}

// Bulks writes an array of bulk strings.
func (c *Ctx) Bulks(items [][]byte) {
	c.Array(len(items))
	for _, b := range items {
		c.Bulk(b)
	}
}

// Strs writes an array of bulk strings.
func (c *Ctx) Strs(items []string) {
	c.Array(len(items))
	for _, s := range items {
		c.BulkString(s)
	}
}

// NullArray is the null array in RESP2 (*-1) and the null in RESP3.
func (c *Ctx) NullArray() {
	if c.RESP3.Load() {
		c.Raw(protocol.AppendNull(c.Scratch[:0]))
		return
	}
	c.Raw([]byte("*-1\r\n"))
}

// RESPVersion is the negotiated protocol version, 2 or 3.
func (c *Ctx) RESPVersion() int {
	if c.RESP3.Load() {
		return 3
	}
	return 2
}

// HelpReply writes a HELP reply in Redis's layout: a heading line, the given
// lines, and the closing HELP line.
func (c *Ctx) HelpReply(cmd string, lines []string) {
	c.Array(len(lines) + 3)
	c.Simple(cmd + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.Simple(l)
	}
	c.Simple("HELP")
	c.Simple("    Prints this help.")
}

// maxScratch is the largest buffer KeepScratch keeps: a bigger one (a huge
// GET) is dropped so one large value does not pin its memory.
const maxScratch = 64 << 10

// KeepScratch keeps b's storage as the client's Scratch buffer if it is
// small: a handler that built a value in Scratch[:0] gives back what append
// grew.
func (c *Ctx) KeepScratch(b []byte) {
	if cap(b) <= maxScratch {
		c.Scratch = b[:0]
	}
}
