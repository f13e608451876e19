package server

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cached/cached/server/config"
)

// FuzzRequest sends arbitrary bytes as a client's whole input stream, then
// half-closes; the server must answer what it can, close the connection, and
// keep serving others (checked with PING on a separate connection).
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		"PING\r\n",
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*2\r\n$3\r\nGET\r\n$-1\r\n",
		"*1\r\n$999999999999\r\n",
		"*-1\r\n*0\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nab",
		"SET \"a b\r\n",
		"SET k v EX 0\r\nSET k v PX -1\r\nSET k v EX 9223372036854775807\r\n",
		"INCRBYFLOAT k inf\r\nINCR k\r\nSETRANGE k 536870912 x\r\n",
		"SETBIT k 4294967295 1\r\nBITFIELD k SET i64 0 1 INCRBY u63 0 1\r\n",
		"CLIENT KILL ID 1\r\nCLIENT SETNAME \"a b\"\r\nHELLO 4\r\nHELLO 3 AUTH\r\n",
		"CONFIG SET maxmemory 1gb maxmemory 2gb\r\nCONFIG GET *\r\nCOMMAND GETKEYS SET\r\n",
		"SCAN 0 COUNT 0\r\nSCAN x\r\nKEYS [\r\nKEYS *a*a*a*a*a*a*a*a*b\r\n",
		"LCS a b IDX MINMATCHLEN -1 WITHMATCHLEN\r\nGETEX k PERSIST EX 1\r\n",
		"\x00\x01\x02\r\n",
	} {
		f.Add([]byte(seed))
	}
	s := startServer(f, func(c *config.Config) { c.ProtoMaxBulkLen = 1 << 20; c.Databases = 4 })
	s.cfgMu.Lock()
	base := s.cfg.Clone()
	s.cfgMu.Unlock()
	f.Fuzz(func(t *testing.T, in []byte) {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := nc.Write(in); err != nil {
			return // the server may close early on a protocol error
		}
		_ = nc.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, nc); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("server neither answered nor closed within 30s for %q", in)
			}
		}
		// Undo what the input may have configured (requirepass, maxclients…),
		// then check the node still serves a new client.
		s.cfgMu.Lock()
		s.cfg = base.Clone()
		s.applyHotConfig(&s.cfg)
		s.cfgMu.Unlock()
		ctl, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatalf("control dial after %q: %v", in, err)
		}
		defer ctl.Close()
		_ = ctl.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := ctl.Write([]byte("PING\r\n")); err != nil {
			t.Fatalf("control connection: %v", err)
		}
		if line, err := bufio.NewReader(ctl).ReadString('\n'); err != nil || line != "+PONG\r\n" {
			t.Fatalf("control PING after %q: %q %v", in, line, err)
		}
	})
}
