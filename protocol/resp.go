package protocol

import (
	"strconv"

	"github.com/cached/cached/internal/bigcopy"
)

// This file holds the RESP2/RESP3 reply and request encoders. Every function
// appends to dst and returns the extended slice, as strconv.Append* do; none
// of them retains dst or its arguments.

const crlf = "\r\n"

func appendPrefixed(dst []byte, prefix byte, n int64) []byte {
	dst = append(dst, prefix)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, crlf...)
}

// AppendArray appends a RESP array header "*n\r\n".
func AppendArray(dst []byte, n int) []byte { return appendPrefixed(dst, '*', int64(n)) }

// AppendBulk appends b as a RESP bulk string "$len\r\nb\r\n".
func AppendBulk(dst []byte, b []byte) []byte {
	dst = bigcopy.Grow(dst, 24+len(b)) // header, b and CRLF: one growth
	dst = appendPrefixed(dst, '$', int64(len(b)))
	dst = bigcopy.Append(dst, b)
	return append(dst, crlf...)
}

// AppendBulk2 appends the concatenation of a and b as one RESP bulk string.
func AppendBulk2(dst, a, b []byte) []byte {
	dst = bigcopy.Grow(dst, 24+len(a)+len(b))
	dst = appendPrefixed(dst, '$', int64(len(a)+len(b)))
	dst = bigcopy.Append(bigcopy.Append(dst, a), b)
	return append(dst, crlf...)
}

// AppendBulkString appends s as a RESP bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = appendPrefixed(dst, '$', int64(len(s)))
	dst = append(dst, s...)
	return append(dst, crlf...)
}

// AppendInt appends a RESP integer ":n\r\n".
func AppendInt(dst []byte, n int64) []byte { return appendPrefixed(dst, ':', n) }

// AppendSimple appends a RESP simple string "+s\r\n". CR and LF in s are
// replaced by spaces so the reply stays one line.
func AppendSimple(dst []byte, s string) []byte {
	dst = append(dst, '+')
	dst = appendLine(dst, s)
	return append(dst, crlf...)
}

// AppendError appends a RESP error "-s\r\n"; s is given without the leading
// '-' (for example ErrSyntax). CR and LF in s are replaced by spaces, as Redis
// does in addReplyErrorLength.
func AppendError(dst []byte, s string) []byte {
	dst = append(dst, '-')
	dst = appendLine(dst, s)
	return append(dst, crlf...)
}

// appendLine appends s with every '\r' and '\n' replaced by a space.
func appendLine(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// AppendNullBulk appends the RESP2 null bulk string "$-1\r\n".
func AppendNullBulk(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

// AppendNullArray appends the RESP2 null array "*-1\r\n".
func AppendNullArray(dst []byte) []byte { return append(dst, "*-1\r\n"...) }

// AppendNull appends the RESP3 null "_\r\n".
func AppendNull(dst []byte) []byte { return append(dst, "_\r\n"...) }

// AppendMap appends a RESP3 map header "%n\r\n"; n is the number of pairs.
func AppendMap(dst []byte, n int) []byte { return appendPrefixed(dst, '%', int64(n)) }

// AppendSet appends a RESP3 set header "~n\r\n".
func AppendSet(dst []byte, n int) []byte { return appendPrefixed(dst, '~', int64(n)) }

// AppendPush appends a RESP3 push header ">n\r\n".
func AppendPush(dst []byte, n int) []byte { return appendPrefixed(dst, '>', int64(n)) }

// AppendDouble appends a RESP3 double ",f\r\n" in Redis 7.0's %.17g form,
// with ",inf", ",-inf" and ",nan" for the special values.
func AppendDouble(dst []byte, f float64) []byte {
	dst = append(dst, ',')
	dst = AppendFloat(dst, f)
	return append(dst, crlf...)
}

// AppendBool appends a RESP3 boolean "#t\r\n" or "#f\r\n".
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "#t\r\n"...)
	}
	return append(dst, "#f\r\n"...)
}

// AppendVerbatim appends a RESP3 verbatim string "=len\r\nfmt:s\r\n". format
// must be three bytes ("txt" or "mkd"); it is padded or cut to three.
func AppendVerbatim(dst []byte, format string, s []byte) []byte {
	dst = appendPrefixed(dst, '=', int64(len(s)+4))
	for i := 0; i < 3; i++ {
		if i < len(format) {
			dst = append(dst, format[i])
		} else {
			dst = append(dst, ' ')
		}
	}
	dst = append(dst, ':')
	dst = append(dst, s...)
	return append(dst, crlf...)
}

// AppendCommand appends a request in the multibulk form clients send:
// "*n\r\n" then each argument as a bulk string.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = AppendArray(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}
