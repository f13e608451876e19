package server

import (
	"strings"

	"github.com/cached/cached/protocol"
)

// Reply helpers. Each writes one RESP value to the client's output buffer
// (flushed by redcon once per pipeline batch). The RESP3-only types fall back
// to their RESP2 forms when the client has not sent HELLO 3, as Redis does.

func (c *client) ok()                 { c.conn.WriteString("OK") }
func (c *client) simple(s string)     { c.conn.WriteString(s) }
func (c *client) int(n int64)         { c.conn.WriteInt64(n) }
func (c *client) bulk(b []byte)       { c.conn.WriteBulk(b) }
func (c *client) bulkString(s string) { c.conn.WriteBulkString(s) }
func (c *client) array(n int)         { c.conn.WriteArray(n) }
func (c *client) raw(b []byte)        { c.conn.WriteRaw(b) }
func (c *client) boolInt(b bool)      { c.int(boolToInt(b)) }
func (c *client) bulkOrNull(b []byte, ok bool) {
	if ok {
		c.bulk(b)
	} else {
		c.null()
	}
}

func boolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// err writes an error reply (msg without '-') and counts it in errorstats
// and, for the running command, in failed_calls.
func (c *client) err(msg string) {
	c.failed = true
	c.s.stats.countError(errorCode(msg))
	c.conn.WriteError(msg)
}

// errorCode is the first word of an error message (ERR, WRONGTYPE, …).
func errorCode(msg string) string {
	if i := strings.IndexByte(msg, ' '); i > 0 {
		return msg[:i]
	}
	return msg
}

// null is the null bulk string in RESP2 and the null in RESP3.
func (c *client) null() {
	if c.resp3.Load() {
		c.raw(protocol.AppendNull(c.scratch[:0]))
		return
	}
	c.conn.WriteNull()
}

// mapLen starts a map of n pairs (an array of 2n items in RESP2).
func (c *client) mapLen(n int) {
	if c.resp3.Load() {
		c.scratch = protocol.AppendMap(c.scratch[:0], n)
		c.raw(c.scratch)
		return
	}
	c.array(2 * n)
}

// setLen starts a set of n items (an array in RESP2).
func (c *client) setLen(n int) {
	if c.resp3.Load() {
		c.scratch = protocol.AppendSet(c.scratch[:0], n)
		c.raw(c.scratch)
		return
	}
	c.array(n)
}

// double writes a floating point number (a bulk string in RESP2).
func (c *client) double(f float64) {
	if c.resp3.Load() {
		c.scratch = protocol.AppendDouble(c.scratch[:0], f)
		c.raw(c.scratch)
		return
	}
	c.scratch = protocol.AppendFloat(c.scratch[:0], f)
	c.bulk(c.scratch)
}

// verbatim writes a verbatim text string (a bulk string in RESP2).
func (c *client) verbatim(s string) {
	if c.resp3.Load() {
		c.scratch = protocol.AppendVerbatim(c.scratch[:0], "txt", []byte(s))
		c.raw(c.scratch)
		return
	}
	c.bulkString(s)
}

// bulks writes an array of bulk strings.
func (c *client) bulks(items [][]byte) {
	c.array(len(items))
	for _, b := range items {
		c.bulk(b)
	}
}

// strs writes an array of bulk strings.
func (c *client) strs(items []string) {
	c.array(len(items))
	for _, s := range items {
		c.bulkString(s)
	}
}

// nullArray is the null array in RESP2 (*-1) and the null in RESP3.
func (c *client) nullArray() {
	if c.resp3.Load() {
		c.raw(protocol.AppendNull(c.scratch[:0]))
		return
	}
	c.raw([]byte("*-1\r\n"))
}
