package bitops

// Redis 7's exact error texts (without the leading '-') returned by the
// parsers and operations of this package.
const (
	ErrSyntax       = "ERR syntax error"
	ErrNotInteger   = "ERR value is not an integer or out of range"
	ErrBitOffset    = "ERR bit offset is not an integer or out of range"
	ErrBitValue     = "ERR bit is not an integer or out of range"
	ErrBitArg       = "ERR The bit argument must be 1 or 0."
	ErrBitopNot     = "ERR BITOP NOT must be called with a single source key."
	ErrBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	ErrOverflowType = "ERR Invalid OVERFLOW type specified"
	ErrBitfieldRO   = "ERR BITFIELD_RO only supports the GET subcommand"
	ErrLCSLenAndIdx = "ERR If you want both the length and indexes, please just use IDX."
	ErrLCSTooLong   = "ERR String too long for LCS"
	ErrLCSMemory    = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
	ErrLCSKeysType  = "ERR The specified keys must contain string values" // LCS on a non-string key: the handler replies this, not WRONGTYPE
)

// DefaultMaxBulkLen is Redis's default proto-max-bulk-len (512 MiB). Bit
// offsets must address a byte below it, so the largest offset is 2^32-1.
const DefaultMaxBulkLen int64 = 512 << 20

// parseInt parses b with Redis's string2ll rules: optional '-', no '+', no
// spaces, no leading zeros (except "0" itself), and the value must fit an
// int64. "-0" is refused, as Redis refuses it.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// equalFold reports whether b equals the lower-case ASCII word s, ignoring
// ASCII case (strcasecmp).
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
