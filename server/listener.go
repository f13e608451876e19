package server

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/cached/cached/protocol"
)

// guardListener wraps each accepted connection in a guardConn.
type guardListener struct {
	net.Listener
	s *Server
}

func (l *guardListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		if ka := l.s.tcpKeepAlive.Load(); ka > 0 {
			_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: time.Duration(ka) * time.Second})
		}
	}
	return &guardConn{Conn: nc, s: l.s}, nil
}

// guardConn sits between the socket and the connection's request reader:
// it applies the idle timeout and counts network bytes. The request
// framing limits (a huge bulk or multibulk length, an endless inline line,
// a request larger than client-query-buffer-limit, refused before memory
// is reserved for them) are checked by the reader itself, with the
// protocol.FrameChecker serveListener gives it.
type guardConn struct {
	net.Conn
	s *Server
}

func (g *guardConn) Read(p []byte) (int, error) {
	if t := g.s.idleTimeout.Load(); t > 0 {
		_ = g.Conn.SetReadDeadline(time.Now().Add(time.Duration(t) * time.Second))
	}
	n, err := g.Conn.Read(p)
	g.s.stats.netInput.Add(uint64(n))
	return n, err
}

// errProtocolClosed ends a connection after a framing error was sent.
type errProtocolClosed string

func (e errProtocolClosed) Error() string { return string(e) }

// framingFailed answers the framing error fe the request reader returned
// (nothing for the query buffer limit, as Redis) by writing straight to
// the socket, and returns the error that ends the connection.
func framingFailed(nc net.Conn, fe protocol.FrameError) error {
	if fe != protocol.ErrQueryBufferLimit {
		_, _ = nc.Write(protocol.AppendError(nil, string(fe)))
	}
	return errProtocolClosed(fe)
}

func (g *guardConn) Write(p []byte) (int, error) {
	n, err := g.Conn.Write(p)
	g.s.stats.netOutput.Add(uint64(n))
	return n, err
}

// listenUnix serves RESP on the unixsocket path too, if set, as redis-server:
// a stale socket file is removed first, the file gets unixsocketperm, and
// Shutdown removes it.
func (s *Server) listenUnix() error {
	path := s.cfg.UnixSocket
	if path == "" {
		return nil
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("server: unixsocket: %w", err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // closeUnix removes it, after the listener
	}
	if perm := s.cfg.UnixSocketPerm; perm != 0 {
		if err := os.Chmod(path, os.FileMode(perm)); err != nil {
			_ = ln.Close()
			_ = os.Remove(path)
			return fmt.Errorf("server: unixsocketperm: %w", err)
		}
	}
	s.unixLn, s.unixPath = ln, path
	s.log.Info("listening", "unixsocket", path)
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := s.serveListener(&guardListener{Listener: ln, s: s}); err != nil && !s.closing() {
			s.fatal(fmt.Errorf("serving %s: %w", path, err))
		}
	}()
	return nil
}

// closeUnix closes the Unix socket listener and removes its file.
func (s *Server) closeUnix() {
	if s.unixLn == nil {
		return
	}
	_ = s.unixLn.Close()
	_ = os.Remove(s.unixPath)
}
