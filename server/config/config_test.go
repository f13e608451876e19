package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Port != 6379 || c.MaxMemoryPolicy != "noeviction" || c.Databases != 16 || !reflect.DeepEqual(c.Bind, []string{"127.0.0.1"}) ||
		c.Encodings.HashEntries != 512 || c.ClientOutputBufferLimit.Replica.Hard != 256<<20 || !c.LatencyTracking {
		t.Fatalf("defaults: %+v", c)
	}
	for _, d := range Directives() {
		got, ok := c.Get(d.Name)
		if !ok {
			t.Errorf("Get(%q) unknown", d.Name)
			continue
		}
		// A default reads back as itself, or as the same value in canonical form.
		n := c.Clone()
		if err := n.Set(d.Name, got); err != nil {
			t.Errorf("%s: its own value %q is refused: %v", d.Name, got, err)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSetGetAndErrors(t *testing.T) {
	c := DefaultConfig()
	for name, v := range map[string]string{"MAXMEMORY": "1mb", "hash-max-ziplist-entries": "7", "lua-time-limit": "9",
		"notify-keyspace-events": "KEA", "cluster-join": "a:1, b:2", "unixsocketperm": "700"} {
		if err := c.Set(name, v); err != nil {
			t.Fatalf("Set(%s, %s): %v", name, v, err)
		}
	}
	if c.MaxMemory != 1<<20 || c.Encodings.HashEntries != 7 || c.BusyReplyThreshold != 9 ||
		!reflect.DeepEqual(c.Cluster.Join, []string{"a:1", "b:2"}) || c.UnixSocketPerm != 0o700 {
		t.Fatalf("after Set: %+v", c)
	}
	for name, want := range map[string]string{"maxmemory": "1048576", "hash-max-listpack-entries": "7",
		"notify-keyspace-events": "AKE", "unixsocketperm": "700"} {
		if got, ok := c.Get(name); !ok || got != want {
			t.Errorf("Get(%s) = %q %v, want %q", name, got, ok, want)
		}
	}
	if _, ok := c.Get("nosuch"); ok {
		t.Error("Get of an unknown name succeeded")
	}
	if err := c.Set("nosuch", "1"); !errors.Is(err, ErrUnknownDirective) {
		t.Errorf("Set of an unknown name: %v", err)
	}
	for _, bad := range [][2]string{{"port", "70000"}, {"port", "x"}, {"maxmemory", "-1"}, {"maxmemory-policy", "lru"},
		{"cluster-enabled", "maybe"}, {"cluster-join", "nohost"}, {"cluster-secret", "short"}, {"unixsocketperm", "800"},
		{"latency-tracking-info-percentiles", "101"}, {"notify-keyspace-events", "Q"}, {"bind", " "}} {
		if err := c.Set(bad[0], bad[1]); err == nil || !strings.Contains(err.Error(), "'"+bad[0]+"'") {
			t.Errorf("Set(%s, %q) = %v, want an error naming it", bad[0], bad[1], err)
		}
	}
	c.Shards = 3
	if err := c.Validate(); err == nil {
		t.Error("shards 3 validated")
	}
}

func TestCloneShares(t *testing.T) {
	c := DefaultConfig()
	if err := c.ApplyArgs([]string{"rename-command", "DEBUG", ""}); err != nil {
		t.Fatal(err)
	}
	c.Cluster.Join = []string{"a:1"}
	n := c.Clone()
	n.Bind[0] = "x"
	n.Cluster.Join[0] = "y"
	n.LatencyPercentiles[0] = 1
	n.Renames[0].To = "z"
	if err := n.Set("save", "1 1"); err != nil {
		t.Fatal(err)
	}
	if c.Bind[0] != "127.0.0.1" || c.Cluster.Join[0] != "a:1" || c.LatencyPercentiles[0] != 50 || c.Renames[0].To != "" {
		t.Fatalf("the clone shares slices: %+v", c)
	}
	if v, _ := c.Get("save"); v != "" {
		t.Fatalf("the clone shares the inert map: save = %q", v)
	}
}

func TestLookupAndNames(t *testing.T) {
	d, ok := Lookup("ZSET-MAX-ZIPLIST-VALUE")
	if !ok || d.Name != "zset-max-listpack-value" || !d.Mutable || d.Inert {
		t.Fatalf("Lookup of an alias: %+v %v", d, ok)
	}
	if d, ok := Lookup("port"); !ok || d.Mutable || d.Default != "6379" {
		t.Fatalf("port: %+v", d)
	}
	if d, _ := Lookup("shards"); !d.CachedOnly {
		t.Error("shards is not marked cached-only")
	}
	if d, _ := Lookup("appendonly"); !d.Inert || d.CachedOnly {
		t.Errorf("appendonly: %+v", d)
	}
	if _, ok := Lookup("nosuch"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
	names := Names()
	if len(names) != len(Directives())+len(directiveAliases) {
		t.Fatalf("%d names for %d directives and %d aliases", len(names), len(Directives()), len(directiveAliases))
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Fatalf("names not sorted at %q, %q", names[i-1], names[i])
		}
	}
}

func TestIneffectiveDirectives(t *testing.T) {
	c := DefaultConfig()
	if got := c.IneffectiveDirectives(); len(got) != 0 {
		t.Fatalf("defaults ask for effects: %q", got)
	}
	for _, kv := range [][2]string{{"appendonly", "yes"}, {"io-threads", "1"}, {"save", "60 1"},
		{"hll-sparse-max-bytes", "3000"}, {"activedefrag", "yes"}} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"activedefrag yes", "appendonly yes", "save 60 1"}
	if got := c.IneffectiveDirectives(); !reflect.DeepEqual(got, want) {
		t.Fatalf("IneffectiveDirectives = %q, want %q", got, want)
	}
}
