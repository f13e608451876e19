package load

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

func TestParseCommandAndEncode(t *testing.T) {
	tests := []struct {
		spec   string
		name   string
		weight int
		read   bool
		wire   string // with key index 7 and data "vv"
	}{
		{"SET __key__ __data__", "SET", 1, false, "*3\r\n$3\r\nSET\r\n$5\r\nkey:7\r\n$2\r\nvv\r\n"},
		{"3:get __key__", "GET", 3, true, "*2\r\n$3\r\nget\r\n$5\r\nkey:7\r\n"},
		{"2:LPUSH list:__key__ __data__-__data__", "LPUSH", 2, false, "*3\r\n$5\r\nLPUSH\r\n$10\r\nlist:key:7\r\n$5\r\nvv-vv\r\n"},
		{"PING", "PING", 1, false, "*1\r\n$4\r\nPING\r\n"},
		{"HSET h __key____data__ x", "HSET", 1, false, "*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$7\r\nkey:7vv\r\n$1\r\nx\r\n"},
	}
	for _, tt := range tests {
		c, err := ParseCommand(tt.spec)
		if err != nil {
			t.Fatalf("%q: %v", tt.spec, err)
		}
		if c.Name != tt.name || c.Weight != tt.weight || c.read != tt.read {
			t.Errorf("%q: name %q weight %d read %v", tt.spec, c.Name, c.Weight, c.read)
		}
		var out bytes.Buffer
		w := protocol.NewWriter(&out)
		enc := encoder{prefix: []byte("key:")}
		enc.encode(w, &c, 7, []byte("vv"))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.wire {
			t.Errorf("%q encodes as %q, want %q", tt.spec, out.String(), tt.wire)
		}
	}
	for _, bad := range []string{"", "   ", "0:GET __key__", "-1:GET __key__"} {
		if _, err := ParseCommand(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseCommand(%q) err = %v, want ErrConfig", bad, err)
		}
	}
}

func TestEncodeAllocFree(t *testing.T) {
	c := NewCommand(1, "SET", KeyPlaceholder, DataPlaceholder, "EX", "60")
	w := protocol.NewWriter(nil)
	enc := encoder{prefix: []byte("key:")}
	data := []byte("0123456789")
	enc.encode(w, &c, 1, data) // grow buffers
	w.Reset(nil)
	allocs := testing.AllocsPerRun(100, func() {
		enc.encode(w, &c, 123456, data)
		w.Reset(nil)
	})
	if allocs != 0 {
		t.Errorf("encode allocates %.1f times, want 0", allocs)
	}
}

func TestRatioCommands(t *testing.T) {
	tests := []struct {
		set, get int
		ttl      time.Duration
		want     [][]string
	}{
		{1, 10, 0, [][]string{{"SET", KeyPlaceholder, DataPlaceholder}, {"GET", KeyPlaceholder}}},
		{1, 0, time.Minute, [][]string{{"SET", KeyPlaceholder, DataPlaceholder, "EX", "60"}}},
		{0, 1, time.Second, [][]string{{"GET", KeyPlaceholder}}},
		{2, 1, 1500 * time.Millisecond, [][]string{{"SET", KeyPlaceholder, DataPlaceholder, "PX", "1500"}, {"GET", KeyPlaceholder}}},
	}
	for _, tt := range tests {
		got := RatioCommands(tt.set, tt.get, tt.ttl)
		if len(got) != len(tt.want) {
			t.Fatalf("%d:%d: %d commands, want %d", tt.set, tt.get, len(got), len(tt.want))
		}
		for i, c := range got {
			if len(c.Args) != len(tt.want[i]) {
				t.Errorf("%d:%d: command %d = %v, want %v", tt.set, tt.get, i, c.Args, tt.want[i])
				continue
			}
			for j := range c.Args {
				if c.Args[j] != tt.want[i][j] {
					t.Errorf("%d:%d: command %d = %v, want %v", tt.set, tt.get, i, c.Args, tt.want[i])
				}
			}
		}
	}
}

func TestParseRatioAndSize(t *testing.T) {
	if s, g, err := ParseRatio("1:10"); err != nil || s != 1 || g != 10 {
		t.Errorf("ParseRatio(1:10) = %d %d %v", s, g, err)
	}
	for _, bad := range []string{"1", "a:b", "0:0", "-1:2", ""} {
		if _, _, err := ParseRatio(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseRatio(%q) err = %v", bad, err)
		}
	}
	sizes := []struct {
		in     string
		lo, hi int
		ok     bool
	}{{"32", 32, 32, true}, {"10-100", 10, 100, true}, {"0", 0, 0, true}, {"100-10", 0, 0, false}, {"x", 0, 0, false}, {"-5", 0, 0, false}}
	for _, tt := range sizes {
		lo, hi, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (lo != tt.lo || hi != tt.hi)) {
			t.Errorf("ParseSize(%q) = %d %d %v", tt.in, lo, hi, err)
		}
	}
}

func TestMixAndUniqueNames(t *testing.T) {
	cmds := []Command{NewCommand(1, "SET", "a", "b"), NewCommand(3, "GET", "a"), NewCommand(2, "SET", "c", "d")}
	uniqueNames(cmds)
	if cmds[2].Name != "SET#2" {
		t.Errorf("duplicate name = %q, want SET#2", cmds[2].Name)
	}
	m := newMix(cmds)
	counts := make([]int, len(cmds))
	for r := 0; r < m.total; r++ {
		counts[m.pick(r)]++
	}
	for i, c := range cmds {
		if counts[i] != c.Weight {
			t.Errorf("command %d picked %d of %d draws, want %d", i, counts[i], m.total, c.Weight)
		}
	}
}

func TestScheduleIsEven(t *testing.T) {
	origin := time.Unix(1000, 0)
	const rate, workers = 1000.0, 4
	var all []time.Time
	for w := 0; w < workers; w++ {
		s := newSchedule(origin, rate, w, workers)
		for k := int64(0); k < 250; k++ {
			all = append(all, s.at(k))
		}
	}
	// 1000 sends in the first second, one every millisecond across workers.
	seen := map[int64]bool{}
	for _, at := range all {
		d := at.Sub(origin)
		if d < 0 || d >= time.Second {
			t.Fatalf("send at %v outside the first second", d)
		}
		seen[d.Round(time.Microsecond).Microseconds()] = true
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct send times, want 1000", len(seen))
	}
	if got := newSchedule(origin, rate, 1, workers).at(2).Sub(origin); got != 9*time.Millisecond {
		t.Errorf("worker 1's third send at %v, want 9ms", got)
	}
}

// FuzzCommandTemplate checks that any template encodes to one well-formed
// RESP command whose arguments are the template's words with the
// placeholders filled in.
func FuzzCommandTemplate(f *testing.F) {
	for _, s := range []string{"SET __key__ __data__", "2:LPUSH l:__key__ __data____key__", "PING", "x:y z", "__data__"} {
		f.Add(s, uint64(7), []byte("vv"))
	}
	f.Fuzz(func(t *testing.T, spec string, key uint64, data []byte) {
		c, err := ParseCommand(spec)
		if err != nil {
			return
		}
		var out bytes.Buffer
		w := protocol.NewWriter(&out)
		enc := encoder{prefix: []byte("k:")}
		enc.encode(w, &c, key, data)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		v, err := protocol.NewReader(&out).ReadValue()
		if err != nil || len(v.Elems) != len(c.Args) {
			t.Fatalf("%q: decoded %d args (%v), want %d", spec, len(v.Elems), err, len(c.Args))
		}
		k := "k:" + strconv.FormatUint(key, 10)
		for i, a := range c.Args {
			if want := expand(a, k, string(data)); string(v.Elems[i].Str) != want {
				t.Errorf("%q arg %d = %q, want %q", spec, i, v.Elems[i].Str, want)
			}
		}
		if out.Len() != 0 {
			t.Errorf("%q: %d trailing bytes", spec, out.Len())
		}
	})
}

// expand is the reference expansion: the leftmost placeholder first.
func expand(a, key, data string) string {
	var b strings.Builder
	for {
		ik, id := strings.Index(a, KeyPlaceholder), strings.Index(a, DataPlaceholder)
		switch {
		case ik < 0 && id < 0:
			return b.String() + a
		case id < 0 || (ik >= 0 && ik < id):
			b.WriteString(a[:ik] + key)
			a = a[ik+len(KeyPlaceholder):]
		default:
			b.WriteString(a[:id] + data)
			a = a[id+len(DataPlaceholder):]
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"address without port", func(c *Config) { c.Addrs = []string{"localhost"} }},
		{"no clients", func(c *Config) { c.Clients = 0 }},
		{"no pipeline", func(c *Config) { c.Pipeline = 0 }},
		{"huge pipeline", func(c *Config) { c.Pipeline = maxPipeline + 1 }},
		{"no end", func(c *Config) { c.Duration, c.Requests = 0, 0 }},
		{"negative rate", func(c *Config) { c.Rate = -1 }},
		{"zero weight", func(c *Config) { c.Commands = []Command{{Name: "GET", Weight: 0}} }},
		{"empty key space", func(c *Config) { c.Keyspace = 0 }},
		{"bad distribution", func(c *Config) { c.KeyDist = KeyDist{Kind: "zipf", Param: -2} }},
		{"bad sizes", func(c *Config) { c.DataMin, c.DataMax = 10, 5 }},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tt.name, err)
		}
	}
	cfg := Config{Clients: 1, Pipeline: 1, Requests: 1, Keyspace: 1}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Addrs) != 1 || len(cfg.Commands) != 2 || cfg.Timeout <= 0 || cfg.Seed == 0 || cfg.KeyDist.Kind != "uniform" {
		t.Errorf("defaults not filled: %+v", cfg)
	}
}
