package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"", "plain", "a b", `q"uote`, `back\slash`, "tab\there", "nl\nx", "\x01\xff", "it's"} {
		line := directiveLine(lookupDirective("syslog-ident"), v)
		words, err := splitArgs(line)
		if err != nil || len(words) != 2 || words[1] != v {
			t.Errorf("%q -> %q -> %q (%v)", v, line, words, err)
		}
	}
}

// FuzzQuote checks that any value CONFIG REWRITE writes reads
// back unchanged.
func FuzzQuote(f *testing.F) {
	for _, v := range []string{"", "a b", `"x"`, "\\", "\x00\xff", "it's", "#c"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		line := directiveLine(lookupDirective("syslog-ident"), v)
		words, err := splitArgs(line)
		if err != nil || len(words) != 2 || words[1] != v {
			t.Fatalf("%q -> %q -> %q (%v)", v, line, words, err)
		}
	})
}

// TestRewriteFile: comments, includes and rename-command lines stay; a
// directive's first line gets the current value and its repeats go;
// changed directives not in the file are appended under the marker, the
// cached-only ones as "# cached: " lines, and bind and save too (their
// defaults differ from redis-server's); the file reads back the same.
func TestRewriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cached.conf")
	old := "# mine\nport 7000\nrename-command DEBUG \"\"\nhz 20\nhz 30\n# cached: shards 2\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := ParseConfigFile(path, &c); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"hz", "50"}, {"shards", "8"}, {"maxmemory", "1mb"}, {"gc-min-heap", "1mb"}, {"syslog-ident", "a b"}} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := RewriteFile(path, &c); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# mine\nport 7000\nrename-command DEBUG \"\"\nhz 50\n# cached: shards 8\n" + rewriteMarker + "\n" +
		"bind 127.0.0.1\n# cached: gc-min-heap 1048576\nmaxmemory 1048576\nsave \"\"\nsyslog-ident \"a b\"\n"
	if string(data) != want {
		t.Fatalf("rewritten:\n%s\nwant:\n%s", data, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after rewrite: %v %v", fi, err)
	}
	back := DefaultConfig()
	if err := ParseConfigFile(path, &back); err != nil {
		t.Fatal(err)
	}
	back.SetConfigFile(path)
	c.SetConfigFile(path)
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("read back %+v, want %+v", back, c)
	}
}
