//go:build race

package peer

// rawReads: a loop reads peer sockets through package syscall under the
// race detector (loopread_linux.go).
const rawReads = false
