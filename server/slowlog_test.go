package server

import (
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
)

func TestSlowlogCommands(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.SlowlogLogSlowerThan = 0; c.SlowlogMaxLen = 3; c.MetricsAddr = "" })
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	mustDo(t, rc, "SLOWLOG", "RESET")
	mustDo(t, rc, "CLIENT", "SETNAME", "obs")
	long := strings.Repeat("x", 200)
	mustDo(t, rc, "SET", "k", long)
	entries, err := rc.SlowLogGet(ctx, 10).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: CLIENT SETNAME's entry and SLOWLOG RESET's... RESET cleared
	// itself before being logged, so the log holds RESET, SETNAME, SET (max 3).
	if len(entries) != 3 {
		t.Fatalf("got %d entries, want 3: %+v", len(entries), entries)
	}
	e := entries[0]
	if len(e.Args) != 3 || e.Args[0] != "SET" || e.Args[2] != strings.Repeat("x", 128)+"... (72 more bytes)" {
		t.Fatalf("newest entry args %q", e.Args)
	}
	if e.ClientName != "obs" || e.ClientAddr == "" || e.ID <= entries[1].ID {
		t.Fatalf("newest entry %+v", e)
	}
	if got := mustDo(t, rc, "SLOWLOG", "LEN"); got != int64(3) {
		t.Fatalf("LEN = %v, want 3 (max len)", got)
	}
	one, err := rc.SlowLogGet(ctx, 1).Result()
	if err != nil || len(one) != 1 {
		t.Fatalf("GET 1 = %v %v", one, err)
	}
	if all, err := rc.SlowLogGet(ctx, -1).Result(); err != nil || len(all) != 3 {
		t.Fatalf("GET -1 = %d entries %v", len(all), err)
	}
	wantErr(t, rc, "ERR count should be greater than or equal to -1", "SLOWLOG", "GET", "-2")
	wantErr(t, rc, "ERR count should be greater than or equal to -1", "SLOWLOG", "GET", "x")
	help := mustDo(t, rc, "SLOWLOG", "HELP").([]any)
	if len(help) != len(slowlogHelp) {
		t.Fatalf("HELP has %d lines", len(help))
	}
	mustDo(t, rc, "SLOWLOG", "RESET")
	// SLOWLOG RESET itself is logged after it ran (threshold 0).
	if got := mustDo(t, rc, "SLOWLOG", "LEN"); got != int64(1) {
		t.Fatalf("LEN after RESET = %v, want 1", got)
	}
	// Disabled by a negative threshold, set at run time.
	mustDo(t, rc, "CONFIG", "SET", "slowlog-log-slower-than", "-1")
	mustDo(t, rc, "SLOWLOG", "RESET")
	mustDo(t, rc, "GET", "k")
	if got := mustDo(t, rc, "SLOWLOG", "LEN"); got != int64(0) {
		t.Fatalf("LEN with logging disabled = %v, want 0", got)
	}
	if got := mustDo(t, rc, "CONFIG", "GET", "slowlog-max-len"); got == nil {
		t.Fatal("CONFIG GET slowlog-max-len returned nothing")
	}
}

func TestSlowlogTrimsArgs(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.SlowlogLogSlowerThan = 0; c.MetricsAddr = "" })
	rc := newClient(t, s, resp2)
	args := []any{"DEL"}
	for i := 0; i < 40; i++ {
		args = append(args, "k")
	}
	mustDo(t, rc, args...)
	entries, err := rc.SlowLogGet(ctxT(t), 1).Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("%v %v", entries, err)
	}
	a := entries[0].Args
	if len(a) != 32 || a[31] != "... (10 more arguments)" {
		t.Fatalf("args %d, last %q", len(a), a[len(a)-1])
	}
}
