//go:build !linux

package peer

import (
	"errors"
	"net"
)

// Elsewhere than Linux there are no event loops: a goroutine reads every
// connection's replies.

var errAgain = errors.New("peer: would block")

func dupSocket(net.Conn) (int, error) { return -1, errors.New("peer: no event loops") }

func shutdownSocket(net.Conn) {}

func closeFD(int) {}

func readFD(int, []byte) (int, error) { return 0, errAgain }

// rawWriter cannot write without waiting here: FlushNow leaves it all to
// the writer.
type rawWriter struct{}

func (*rawWriter) write(net.Conn, []byte) (int, error) { return 0, errAgain }
