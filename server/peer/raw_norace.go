//go:build !race

package peer

// rawReads: a loop reads peer sockets with raw system calls
// (loopread_linux.go).
const rawReads = true
