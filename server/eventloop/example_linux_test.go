//go:build linux

package eventloop_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"

	"github.com/cached/cached/server/eventloop"
)

// upper answers every read with its bytes upper-cased.
type upper struct {
	k      *eventloop.Conn
	closed chan error
}

func (h *upper) Serve(read bool) (eventloop.Next, error) {
	var b [512]byte
	n, err := h.k.Read(b[:])
	if err == eventloop.ErrWouldBlock {
		return eventloop.Wait, nil
	}
	if err != nil {
		return eventloop.Close, err
	}
	if _, err := h.k.Write(bytes.ToUpper(b[:n])); err != nil {
		return eventloop.Close, err
	}
	return eventloop.Wait, nil
}

func (h *upper) Park()                   {}
func (h *upper) HandedOff([]byte, error) {}
func (h *upper) Closed(err error)        { h.closed <- err }

// A loop serves an accepted TCP connection: the handler reads once per
// readiness and writes without waiting; the client's close ends it.
func Example() {
	set, err := eventloop.Start(1, eventloop.NoHost{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer set.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	sc, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	h := &upper{closed: make(chan error, 1)}
	k, err := set.Adopt(sc.(*net.TCPConn), h) // sc is closed: k is the socket now
	if err != nil {
		fmt.Println(err)
		return
	}
	h.k = k
	k.Start()

	_, _ = client.Write([]byte("hello\n"))
	line, _ := bufio.NewReader(client).ReadString('\n')
	fmt.Print(line)
	_ = client.Close()
	fmt.Println(<-h.closed)
	// Output:
	// HELLO
	// <nil>
}
