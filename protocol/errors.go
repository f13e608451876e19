package protocol

import (
	"bytes"
	"strconv"
	"strings"
)

// Redis 7.0's exact error texts, without the leading '-'. Reply them with
// AppendError. Handlers and the server pick the one Redis would send.
const (
	ErrSyntax        = "ERR syntax error"
	ErrNotInteger    = "ERR value is not an integer or out of range"
	ErrNotFloat      = "ERR value is not a valid float"
	ErrWrongType     = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrNoAuth        = "NOAUTH Authentication required."
	ErrWrongPass     = "WRONGPASS invalid username-password pair or user is disabled."
	ErrAuthNoPass    = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	ErrOOM           = "OOM command not allowed when used memory > 'maxmemory'."
	ErrOverflow      = "ERR increment or decrement would overflow"
	ErrNaNInf        = "ERR increment would produce NaN or Infinity"
	ErrNoSuchKey     = "ERR no such key"
	ErrDBIndex       = "ERR DB index is out of range"
	ErrInvalidExpire = "ERR invalid expire time in '%s' command" // format of InvalidExpire
	ErrBitOffset     = "ERR bit offset is not an integer or out of range"
	ErrBitValue      = "ERR bit is not an integer or out of range"
	ErrStringTooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	ErrOutOfRange    = "ERR value is out of range, must be positive"
	ErrIndexRange    = "ERR index out of range"
	ErrMinMaxFloat   = "ERR min or max is not a float"
	ErrTimeoutFloat  = "ERR timeout is not a float or out of range"
	ErrTimeoutNeg    = "ERR timeout is negative"
	ErrInvalidCursor = "ERR invalid cursor"
	ErrNoProto       = "NOPROTO unsupported protocol version"
	ErrClientName    = "ERR Client names cannot contain spaces, newlines or special characters."
	ErrMaxClients    = "ERR max number of clients reached"

	// Transactions.
	ErrMultiNested  = "ERR MULTI calls can not be nested"
	ErrExecNoMulti  = "ERR EXEC without MULTI"
	ErrDiscardMulti = "ERR DISCARD without MULTI"
	ErrExecAbort    = "EXECABORT Transaction discarded because of previous errors."
	ErrWatchInMulti = "ERR WATCH inside MULTI is not allowed"

	// Cluster.
	ErrCrossSlot       = "CROSSSLOT Keys in request don't hash to the same slot"
	ErrClusterDown     = "CLUSTERDOWN The cluster is down"
	ErrSlotNotServed   = "CLUSTERDOWN Hash slot not served"
	ErrReadOnly        = "READONLY You can't write against a read only replica."
	ErrClusterDisabled = "ERR This instance has cluster support disabled"
	ErrSelectCluster   = "ERR SELECT is not allowed in cluster mode"

	// Request framing, sent by the server when FrameChecker refuses input.
	ErrProtoMultibulkLen = "ERR Protocol error: invalid multibulk length"
	ErrProtoBulkLen      = "ERR Protocol error: invalid bulk length"
	ErrProtoBigInline    = "ERR Protocol error: too big inline request"
	ErrProtoBigMbulk     = "ERR Protocol error: too big mbulk count string"
	ErrProtoBigBulk      = "ERR Protocol error: too big bulk count string"
	ErrProtoQuotes       = "ERR Protocol error: unbalanced quotes in request"
	ErrProtoUnauthMbulk  = "ERR Protocol error: unauthenticated multibulk length"
	ErrProtoUnauthBulk   = "ERR Protocol error: unauthenticated bulk length"
	// ErrQueryBufferLimit is our text (Redis sends no reply) for a request
	// larger than client-query-buffer-limit; the server closes the connection.
	ErrQueryBufferLimit = "ERR Protocol error: query buffer limit"
)

// ExpectedDollar returns the framing error for byte c found where a bulk
// header ('$') was expected: "ERR Protocol error: expected '$', got 'c'".
func ExpectedDollar(c byte) string {
	return "ERR Protocol error: expected '$', got '" + string([]byte{c}) + "'"
}

// WrongArity returns "ERR wrong number of arguments for 'cmd' command"; cmd
// is the command table's lower-case full name ("get", "config|get").
func WrongArity(cmd string) string {
	return "ERR wrong number of arguments for '" + cmd + "' command"
}

// InvalidExpire returns "ERR invalid expire time in 'cmd' command".
func InvalidExpire(cmd string) string {
	return "ERR invalid expire time in '" + cmd + "' command"
}

// UnsupportedOption returns "ERR Unsupported option opt", EXPIRE's reply to
// an unknown flag.
func UnsupportedOption(opt []byte) string {
	return "ERR Unsupported option " + string(cString(opt))
}

// Moved returns the cluster redirection "MOVED slot addr".
func Moved(slot int, addr string) string {
	return "MOVED " + strconv.Itoa(slot) + " " + addr
}

// Ask returns the cluster redirection "ASK slot addr".
func Ask(slot int, addr string) string {
	return "ASK " + strconv.Itoa(slot) + " " + addr
}

// PubSubContext returns the error for command cmd sent by a RESP2 client in
// subscribed state.
func PubSubContext(cmd string) string {
	return "ERR Can't execute '" + cmd + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
}

// cString returns b up to its first NUL byte, as C's "%s" prints it.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// truncate returns at most n bytes of b, as C's "%.ns" prints a C string.
func truncate(b []byte, n int) []byte {
	b = cString(b)
	if n < 0 {
		n = 0
	}
	if len(b) > n {
		return b[:n]
	}
	return b
}

// UnknownCommand returns Redis 7.0's reply to an unknown command name with
// its arguments args (argv[1:]):
// "ERR unknown command 'name', with args beginning with: 'a' 'b' ".
// As Redis does, the name is cut to 128 bytes and arguments are appended,
// each quoted and followed by a space, while the list is shorter than 128
// bytes, each cut so that its content fits the remaining budget.
func UnknownCommand(name []byte, args [][]byte) string {
	var list []byte
	for i := 0; i < len(args) && len(list) < 128; i++ {
		budget := 128 - len(list) // "%.*s" precision, taken before the quote
		list = append(list, '\'')
		list = append(list, truncate(args[i], budget)...)
		list = append(list, '\'', ' ')
	}
	return "ERR unknown command '" + string(truncate(name, 128)) +
		"', with args beginning with: " + string(list)
}

// UnknownSubcommand returns the reply to an unknown subcommand sub of the
// container command cmd: "ERR unknown subcommand 'sub'. Try CMD HELP."
func UnknownSubcommand(sub []byte, cmd string) string {
	return "ERR unknown subcommand '" + string(truncate(sub, 128)) +
		"'. Try " + strings.ToUpper(cmd) + " HELP."
}

// SubcommandSyntax returns the reply handlers send when a subcommand's
// arguments do not fit: "ERR unknown subcommand or wrong number of arguments
// for 'sub'. Try CMD HELP."
func SubcommandSyntax(sub []byte, cmd string) string {
	return "ERR unknown subcommand or wrong number of arguments for '" +
		string(truncate(sub, 128)) + "'. Try " + strings.ToUpper(cmd) + " HELP."
}
