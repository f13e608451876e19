//go:build !linux

package eventloop

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// Event loops are Linux only: elsewhere Start returns a nil Set, and the
// user serves every connection with goroutines.

// Set stands for the event loops; it is always nil here.
type Set struct{}

// Start returns a nil Set: there are no event loops here.
func Start(int, Host) (*Set, error) { return nil, nil }

// Len returns 0.
func (s *Set) Len() int { return 0 }

// Adopt fails: there are no event loops here.
func (s *Set) Adopt(*net.TCPConn, Handler) (*Conn, error) { return nil, errUnsupported }

// Stop does nothing.
func (s *Set) Stop() {}

var errUnsupported = errors.New("eventloop: event loops are Linux only")

// Conn stands for a loop socket; there is none here.
type Conn struct{}

// Start does nothing.
func (k *Conn) Start() {}

// Resume does nothing.
func (k *Conn) Resume() {}

// Pending returns 0.
func (k *Conn) Pending() int64 { return 0 }

// State returns StateClosed.
func (k *Conn) State() State { return StateClosed }

// Loop returns 0.
func (k *Conn) Loop() int { return 0 }

// Read fails.
func (k *Conn) Read([]byte) (int, error) { return 0, errUnsupported }

// Write fails.
func (k *Conn) Write([]byte) (int, error) { return 0, errUnsupported }

// Close does nothing.
func (k *Conn) Close() error { return nil }

// LocalAddr returns nil.
func (k *Conn) LocalAddr() net.Addr { return nil }

// RemoteAddr returns nil.
func (k *Conn) RemoteAddr() net.Addr { return nil }

// SetDeadline does nothing.
func (k *Conn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing.
func (k *Conn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing.
func (k *Conn) SetWriteDeadline(time.Time) error { return nil }

// DupSocket fails: there are no event loops here.
func DupSocket(syscall.Conn) (int, error) { return -1, errUnsupported }

// Watch fails: there are no event loops here.
func (s *Set) Watch(int, Watcher) error { return errUnsupported }
