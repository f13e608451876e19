package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestGet: the port is below the ephemeral range and can be bound, and a
// port something listens on is not free.
func TestGet(t *testing.T) {
	high := ephemeralStart()
	for range 20 {
		p, err := Get()
		if err != nil {
			t.Fatal(err)
		}
		if high > low && (p < low || p >= high) {
			t.Fatalf("port %d outside [%d, %d)", p, low, high)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		if free(p) {
			t.Fatalf("port %d reported free while listened on", p)
		}
		ln.Close()
	}
}
