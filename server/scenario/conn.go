package scenario

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cached/cached/protocol"
)

// errNoReply is returned by conn.next when no reply came before the deadline.
var errNoReply = errors.New("no reply before the deadline")

// frame is one reply read from a server, or the error that ended reading.
type frame struct {
	raw string
	err error
}

// conn is one client connection. Its reader goroutine (owned by the conn,
// stopped by close) reads replies into frames as they arrive, so that a
// reply can be waited for with a deadline or looked for without waiting.
type conn struct {
	nc     net.Conn
	frames chan frame
	quit   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	dead   error // the error that ended the reader, once seen
}

func dial(network, addr string) (*conn, error) {
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, frames: make(chan frame, 256), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.read()
	return c, nil
}

func (c *conn) read() {
	defer c.wg.Done()
	defer close(c.frames)
	br := bufio.NewReader(c.nc)
	for {
		raw, err := readFrame(br)
		select {
		case c.frames <- frame{raw, err}:
		case <-c.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// send writes one command.
func (c *conn) send(args []string) error {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(protocol.AppendCommand(nil, bs...))
	return err
}

// next waits up to d for the next reply.
func (c *conn) next(d time.Duration) (string, error) {
	if c.dead != nil {
		return "", c.dead
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f, ok := <-c.frames:
		return c.got(f, ok)
	case <-t.C:
		return "", errNoReply
	}
}

// poll returns the next reply if one has arrived (ok false if none has).
func (c *conn) poll() (raw string, ok bool, err error) {
	if c.dead != nil {
		return "", true, c.dead
	}
	select {
	case f, open := <-c.frames:
		raw, err = c.got(f, open)
		return raw, true, err
	default:
		return "", false, nil
	}
}

func (c *conn) got(f frame, open bool) (string, error) {
	if !open {
		f.err = errors.New("connection closed")
	}
	if f.err != nil {
		c.dead = fmt.Errorf("connection lost: %w", f.err)
		return f.raw, c.dead
	}
	return f.raw, nil
}

// do sends a command and waits up to d for its reply.
func (c *conn) do(d time.Duration, args ...string) (string, error) {
	if err := c.send(args); err != nil {
		return "", err
	}
	return c.next(d)
}

// close closes the connection and stops the reader.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.quit)
		_ = c.nc.Close()
		c.wg.Wait()
	})
}
