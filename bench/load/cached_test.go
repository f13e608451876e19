package load

import (
	"testing"

	"github.com/cached/cached/server"
	"github.com/cached/cached/server/config"
)

// startCached starts an in-process cached node on a free port.
func startCached(t *testing.T) string {
	t.Helper()
	cfg := config.DefaultConfig()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.LogLevel = "warning"
	cfg.MetricsAddr = "" // no metrics listener: tests run in parallel packages
	s, err := server.Start(cfg)
	if err != nil {
		t.Fatalf("start cached: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

// targets are the real servers the integration tests run against.
var targets = []struct {
	name  string
	start func(t *testing.T) string
}{
	{"redis-server", func(t *testing.T) string { return startRedis(t) }},
	{"cached", startCached},
}
