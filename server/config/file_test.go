package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"":                       nil,
		"  a  b\tc ":             {"a", "b", "c"},
		`"a b" 'c d'`:            {"a b", "c d"},
		`"\x41\n\t\"\\" 'it\'s'`: {"A\n\t\"\\", "it's"},
		`"\xZZ"`:                 {"xZZ"},
	} {
		if got, err := splitArgs(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitArgs(%q) = %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"open`, `'open`, `"a"b`} {
		if _, err := splitArgs(bad); err == nil {
			t.Errorf("splitArgs(%q) accepted", bad)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c := DefaultConfig()
	conf := "# comment\n\nport 7000\nbind 127.0.0.1 ::1\nrequirepass \"a b\"\n# cached: shards 4\n" +
		"rename-command FLUSHALL \"\"\nrename-command CONFIG cfg\nmaxmemory 1mb\nmaxmemory 2mb\n"
	if err := ParseConfig(strings.NewReader(conf), &c); err != nil {
		t.Fatal(err)
	}
	if c.Port != 7000 || !reflect.DeepEqual(c.Bind, []string{"127.0.0.1", "::1"}) || c.RequirePass != "a b" ||
		c.Shards != 4 || c.MaxMemory != 2<<20 {
		t.Fatalf("parsed %+v", c)
	}
	if want := []Rename{{From: "flushall", To: ""}, {From: "config", To: "cfg"}}; !reflect.DeepEqual(c.Renames, want) {
		t.Fatalf("renames %v, want %v", c.Renames, want)
	}
	for conf, want := range map[string]string{
		"port 1\nnosuch 1\n": "line 2: unknown directive 'nosuch'",
		"port 1\n\nport x\n": "line 3: invalid value for 'port' (x)",
		"requirepass \"x\n":  "line 1: unbalanced quotes",
		"rename-command a\n": "line 1: wrong number of arguments for 'rename-command'",
		"include a b\n":      "line 1: wrong number of arguments for 'include'",
	} {
		if err := ParseConfig(strings.NewReader(conf), &c); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", conf, err, want)
		}
	}
}

func TestParseConfigFileInclude(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", "hz 20\ninclude conf.d/*.conf\nslowlog-max-len 9\n")
	write("conf.d/2.conf", "hz 40\n")
	write("conf.d/1.conf", "hz 30\nmaxmemory-samples 7\n")
	c := DefaultConfig()
	if err := ParseConfigFile("main.conf", &c); err != nil {
		t.Fatal(err)
	}
	if c.Hz != 40 || c.MaxMemorySamples != 7 || c.SlowlogMaxLen != 9 {
		t.Fatalf("hz %d samples %d slowlog-max-len %d", c.Hz, c.MaxMemorySamples, c.SlowlogMaxLen)
	}
	if err := c.ApplyArgs([]string{"include", "conf.d/1.conf"}); err != nil || c.Hz != 30 {
		t.Fatalf("ApplyArgs include: %v, hz %d", err, c.Hz)
	}
	write("loop.conf", "include loop.conf\n")
	if err := ParseConfigFile("loop.conf", &c); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("include loop: %v", err)
	}
	if err := ParseConfigFile("nothere.conf", &c); err == nil || !strings.Contains(err.Error(), "nothere.conf") {
		t.Errorf("missing file: %v", err)
	}
}
