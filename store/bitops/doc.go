// Package bitops owns the value semantics of Redis 7's bitmap commands
// (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO) and of
// LCS over plain []byte string values, together with their argument parsing.
//
// It knows nothing about keys, locking, types or RESP: a server handler
// locks the key, reads the string value, calls a function here, writes the
// returned value back and encodes the reply. Parsers take the command
// arguments that follow the key(s) and return an error text, which is ""
// on success or Redis's exact error message (without the leading '-') that
// the server writes verbatim.
//
// # Ownership
//
// No function modifies a value passed in but those named InPlace
// ([SetBitInPlace], [ApplyInPlace]), which write into the value the caller
// gives them. Functions that return a new value ([SetBit], [Op]) return a
// fresh slice, or the input itself when nothing changed, as each function
// documents.
//
// # Usage
//
//	args, errText := bitops.ParseBitCount(argv[2:])
//	if errText != "" { reply error }
//	n := bitops.BitCount(value, args) // value is nil for a missing key
//
// # Handler order
//
// redis-server 7.0.15 (checked against it, see compare_test.go) checks
// arguments and keys in this order; handlers should do the same:
//
//   - SETBIT: ParseBitOffset, ParseBit, then the key (WRONGTYPE), SetBit;
//     store nv when len(nv) != len(v) || old != bit.
//   - GETBIT: ParseBitOffset, then the key; missing key replies 0.
//   - BITCOUNT: the key first (missing: 0 whatever the arguments; WRONGTYPE),
//     then ParseBitCount, BitCount. (Redis 7.2+ parses first.)
//   - BITPOS: ParseBitArg, the key (missing: BitPos(nil, false, ...);
//     WRONGTYPE), then ParseBitPos, BitPos. (Redis 7.2+ parses first.)
//   - BITOP: ParseOp, then every source (WRONGTYPE), Compute; an empty
//     result deletes the destination, otherwise it is stored without TTL;
//     reply len(result).
//   - BITFIELD / BITFIELD_RO: ParseBitfield (which also yields the _RO
//     error), then the key (WRONGTYPE); when HasWrite(ops) grow the value
//     (creating the key, even if every write then fails, as Redis does) to
//     WriteExtent(ops), then ApplyInPlace; propagate when the value grew or
//     changed; reply results (Null as a null bulk / RESP3 null).
//   - LCS: both keys first (a non-string is ErrLCSKeysType, not
//     WRONGTYPE; missing keys are ""), then ParseLCS, LCS.
//
// All functions are safe for concurrent use: they keep no state.
package bitops
