// Package protocol holds the RESP details that the network library leaves to
// cached: reply encoders, Redis 7's exact error texts, number parsing and
// formatting with Redis semantics, glob matching, option parsers for SET,
// GETEX, EXPIRE and SCAN, CRC16 key slots with {hash tags}, and a streaming
// guard that refuses malformed request framing before memory is reserved.
//
// It is pure functions over bytes and imports nothing of the project.
//
// # Usage
//
// Replies are built by appending to a byte slice:
//
//	out = protocol.AppendArray(out, 2)
//	out = protocol.AppendBulkString(out, "a")
//	out = protocol.AppendInt(out, 42)
//
// Option parsers return the parsed options and an error text, which is ""
// on success or the exact text Redis would reply with (without the '-').
package protocol
