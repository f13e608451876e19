// Package freeport picks ports for tests that start servers in other
// processes (cached binaries, redis-server), which must be told a port
// before they bind it.
//
// A port the kernel picks for a listener on port 0 comes from its
// ephemeral range (ip_local_port_range, 32768-60999 by default), the range
// it also takes outgoing connections' ports from: between the test closing
// its probe listener and the server binding the port, any connection the
// machine opens may take it, and the server fails with "address already
// in use" (the likely cause of CI run 93's failure, where a soak's joining
// node never answered; its output was not kept, so it is not proven). So
// Get picks below that range, where the kernel hands out nothing by itself.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// low is the first port of the range Get picks from.
const low = 10000

// Get returns a port on 127.0.0.1 on which nothing listens now, for TCP or
// UDP (memberlist's gossip port takes both), below the kernel's ephemeral
// range. Where that range starts at or below low, it falls back to a
// port the kernel picks.
func Get() (int, error) {
	high := ephemeralStart()
	if high <= low {
		return kernelPick()
	}
	for range 200 {
		p := low + rand.IntN(high-low)
		if free(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("freeport: no free port in [%d, %d) after 200 tries", low, high)
}

// free reports whether p can be bound on 127.0.0.1 for TCP and UDP.
func free(p int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

// ephemeralStart returns the first port of the kernel's ephemeral range
// (Linux's ip_local_port_range), or 32768, the usual one, where it cannot
// be read.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// kernelPick returns a port the kernel picks for a listener on port 0.
func kernelPick() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
