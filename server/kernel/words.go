package kernel

// KeyWordIs reports whether b equals the lower-case ASCII word s, ignoring
// case.
func KeyWordIs(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		ch := b[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != s[i] {
			return false
		}
	}
	return true
}

// CmdDel is the name of DEL in propagated effects.
var CmdDel = []byte("DEL")

// WordReplace is the REPLACE option in propagated effects (COPY, RESTORE).
var WordReplace = []byte("REPLACE")

// MaxScanCount bounds SCAN's COUNT hint so that the store's work budget
// (10*count records per call) cannot overflow; it is far above any real
// keyspace, so a huge COUNT still means "everything in one call".
const MaxScanCount = 1 << 40

// ErrCollectionFull answers a write that would grow a collection past what one key may hold.
const ErrCollectionFull = "ERR collection exceeds 4 GiB (the most cached can store in one key)"

// ErrCountRange is getRangeLongFromObjectOrReply's text for a count outside ±(2^63-1) (HRANDFIELD and the like).
const ErrCountRange = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"

// RefuseInCluster is the cluster-mode refusal of a command that uses
// another database than 0 (MOVE, SWAPDB).
func RefuseInCluster(name string) func([][]byte) string {
	msg := "ERR " + name + " is not allowed in cluster mode"
	return func([][]byte) string { return msg }
}
