package protocol

import "math"

// Expire kinds, as stored in SetOptions.ExpireKind and GetExOptions.ExpireKind.
const (
	ExpireNone byte = 0   // no expire option
	ExpireEX   byte = 'E' // EX seconds, relative
	ExpirePX   byte = 'P' // PX milliseconds, relative
	ExpireEXAT byte = 'e' // EXAT unix seconds
	ExpirePXAT byte = 'p' // PXAT unix milliseconds
)

// SetOptions are SET's options after the key and value.
type SetOptions struct {
	NX, XX, Get, KeepTTL bool
	// ExpireKind is ExpireNone, ExpireEX, ExpirePX, ExpireEXAT or ExpirePXAT.
	ExpireKind byte
	// Expire is the option's value in its own unit, > 0; turn it into an
	// absolute time with AbsExpireMs.
	Expire int64
}

// GetExOptions are GETEX's options after the key.
type GetExOptions struct {
	Persist    bool
	ExpireKind byte
	Expire     int64
	// ExpireErr is "" or the error text for a bad expire value. Redis checks
	// the value only after it found the key and checked its type, so the
	// handler replies ExpireErr only then (a missing key gets nil).
	ExpireErr string
}

// ExpireFlags are EXPIRE's (and PEXPIRE's, EXPIREAT's, PEXPIREAT's) flags.
type ExpireFlags struct{ NX, XX, GT, LT bool }

// ScanOptions are SCAN's options after the cursor.
type ScanOptions struct {
	// Match is the MATCH pattern, nil when absent or "*" (matches all).
	Match []byte
	// Count is the COUNT hint, 10 by default.
	Count int64
	// Type is the TYPE filter or nil. Redis 7.0 does not check the name: an
	// unknown type simply matches no key.
	Type []byte
}

// option flags used while parsing SET and GETEX, as Redis's OBJ_* flags.
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT
	optExpires = optEX | optPX | optEXAT | optPXAT
)

// parseStringOptions follows Redis 7.0's parseExtendedStringArgumentsOrReply:
// each option is accepted unless a conflicting one was seen; repeating an
// option is allowed (the last value wins). isSet selects SET's options
// (NX, XX, GET, KEEPTTL) over GETEX's (PERSIST).
func parseStringOptions(args [][]byte, isSet bool) (flags int, kind byte, val []byte, ok bool) {
	for j := 0; j < len(args); j++ {
		opt := cString(args[j]) // Redis compares C strings
		hasNext := j+1 < len(args)
		switch {
		case isSet && equalFold(opt, "nx") && flags&optXX == 0:
			flags |= optNX
		case isSet && equalFold(opt, "xx") && flags&optNX == 0:
			flags |= optXX
		case isSet && equalFold(opt, "get"):
			flags |= optGet
		case isSet && equalFold(opt, "keepttl") && flags&(optPersist|optExpires) == 0:
			flags |= optKeepTTL
		case !isSet && equalFold(opt, "persist") && flags&(optExpires|optKeepTTL) == 0:
			flags |= optPersist
		case hasNext && equalFold(opt, "ex") && flags&(optKeepTTL|optPersist|optExpires&^optEX) == 0:
			flags, kind, val = flags|optEX, ExpireEX, args[j+1]
			j++
		case hasNext && equalFold(opt, "px") && flags&(optKeepTTL|optPersist|optExpires&^optPX) == 0:
			flags, kind, val = flags|optPX, ExpirePX, args[j+1]
			j++
		case hasNext && equalFold(opt, "exat") && flags&(optKeepTTL|optPersist|optExpires&^optEXAT) == 0:
			flags, kind, val = flags|optEXAT, ExpireEXAT, args[j+1]
			j++
		case hasNext && equalFold(opt, "pxat") && flags&(optKeepTTL|optPersist|optExpires&^optPXAT) == 0:
			flags, kind, val = flags|optPXAT, ExpirePXAT, args[j+1]
			j++
		default:
			return 0, 0, nil, false
		}
	}
	return flags, kind, val, true
}

// expireValue checks an expire option's value as Redis's
// getExpireMillisecondsOrReply does before adding the time base: an integer
// (ErrNotInteger), > 0 and, in seconds, convertible to milliseconds
// (InvalidExpire(cmd)).
func expireValue(kind byte, val []byte, cmd string) (int64, string) {
	v, ok := ParseInt(val)
	if !ok {
		return 0, ErrNotInteger
	}
	if v <= 0 || ((kind == ExpireEX || kind == ExpireEXAT) && v > math.MaxInt64/1000) {
		return 0, InvalidExpire(cmd)
	}
	return v, ""
}

// ParseSetOptions parses SET's arguments after the key and value with Redis
// 7.0's rules: NX/XX conflict, EX/PX/EXAT/PXAT/KEEPTTL exclude each other,
// GET combines with anything, an option missing its value or any unknown
// word is ErrSyntax. The expire value must be an integer (ErrNotInteger),
// positive and not overflow in milliseconds (InvalidExpire("set")); the
// overflow after adding the current time is AbsExpireMs's job.
func ParseSetOptions(args [][]byte) (SetOptions, string) {
	flags, kind, val, ok := parseStringOptions(args, true)
	if !ok {
		return SetOptions{}, ErrSyntax
	}
	o := SetOptions{
		NX: flags&optNX != 0, XX: flags&optXX != 0,
		Get: flags&optGet != 0, KeepTTL: flags&optKeepTTL != 0,
	}
	if kind != ExpireNone {
		v, errText := expireValue(kind, val, "set")
		if errText != "" {
			return SetOptions{}, errText
		}
		o.ExpireKind, o.Expire = kind, v
	}
	return o, ""
}

// ParseGetExOptions parses GETEX's arguments after the key: PERSIST, or one
// of EX/PX/EXAT/PXAT with its value. A syntax error is returned as the
// second result; a bad expire value is left in ExpireErr (see there).
func ParseGetExOptions(args [][]byte) (GetExOptions, string) {
	flags, kind, val, ok := parseStringOptions(args, false)
	if !ok {
		return GetExOptions{}, ErrSyntax
	}
	o := GetExOptions{Persist: flags&optPersist != 0}
	if kind != ExpireNone {
		o.ExpireKind = kind
		o.Expire, o.ExpireErr = expireValue(kind, val, "getex")
	}
	return o, ""
}

// AbsExpireMs turns an expire value of the given kind into an absolute unix
// time in milliseconds, nowMs being the command's time. It reports false
// when the conversion or the addition overflows, which handlers answer with
// InvalidExpire(cmd). It accepts negative values as EXPIRE does; for
// EXPIRE/PEXPIRE use ExpireEX/ExpirePX, for EXPIREAT/PEXPIREAT ExpireEXAT/
// ExpirePXAT.
func AbsExpireMs(kind byte, v int64, nowMs int64) (int64, bool) {
	if kind == ExpireEX || kind == ExpireEXAT {
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return 0, false
		}
		v *= 1000
	}
	if kind == ExpireEX || kind == ExpirePX {
		if (nowMs > 0 && v > math.MaxInt64-nowMs) || (nowMs < 0 && v < math.MinInt64-nowMs) {
			return 0, false
		}
		v += nowMs
	}
	return v, true
}

// ParseExpireFlags parses the flags after EXPIRE's key and time: NX, XX, GT,
// LT in any case, repeatable. Errors, in Redis 7.0's order: an unknown word
// (UnsupportedOption), NX with any other ("ERR NX and XX, GT or LT options
// at the same time are not compatible"), GT with LT.
func ParseExpireFlags(args [][]byte) (ExpireFlags, string) {
	var f ExpireFlags
	for _, a := range args {
		switch a := cString(a); {
		case equalFold(a, "nx"):
			f.NX = true
		case equalFold(a, "xx"):
			f.XX = true
		case equalFold(a, "gt"):
			f.GT = true
		case equalFold(a, "lt"):
			f.LT = true
		default:
			return ExpireFlags{}, UnsupportedOption(a)
		}
	}
	if f.NX && (f.XX || f.GT || f.LT) {
		return ExpireFlags{}, "ERR NX and XX, GT or LT options at the same time are not compatible"
	}
	if f.GT && f.LT {
		return ExpireFlags{}, "ERR GT and LT options at the same time are not compatible"
	}
	return f, ""
}

// ParseScanOptions parses SCAN's arguments after the cursor: MATCH pattern,
// COUNT n, TYPE name, each repeatable (the last wins). A word without its
// value or an unknown word is ErrSyntax; a COUNT that is not an integer is
// ErrNotInteger, one below 1 ErrSyntax. The cursor itself is parsed with
// ParseScanCursor.
func ParseScanOptions(args [][]byte) (ScanOptions, string) {
	return parseScan(args, true)
}

// ParseHScanOptions parses HSCAN's, SSCAN's and ZSCAN's options after the
// cursor: as ParseScanOptions, but TYPE is a syntax error.
func ParseHScanOptions(args [][]byte) (ScanOptions, string) {
	return parseScan(args, false)
}

func parseScan(args [][]byte, allowType bool) (ScanOptions, string) {
	o := ScanOptions{Count: 10}
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return ScanOptions{}, ErrSyntax
		}
		val, word := args[i+1], cString(args[i])
		switch {
		case equalFold(word, "count"):
			n, ok := ParseInt(val)
			if !ok {
				return ScanOptions{}, ErrNotInteger
			}
			if n < 1 {
				return ScanOptions{}, ErrSyntax
			}
			o.Count = n
		case equalFold(word, "match"):
			o.Match = val
			if len(val) == 1 && val[0] == '*' {
				o.Match = nil
			}
		case allowType && equalFold(word, "type"):
			o.Type = val
		default:
			return ScanOptions{}, ErrSyntax
		}
	}
	return o, ""
}
