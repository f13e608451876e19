package load

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cached/cached/protocol"
)

// Placeholders a command template may contain, alone or inside an argument.
const (
	KeyPlaceholder  = "__key__"
	DataPlaceholder = "__data__"
)

// Command is one weighted operation of the workload mix: a template such as
// "LPUSH __key__ __data__" whose placeholders are filled per request.
type Command struct {
	// Name labels the operation in reports: the upper-cased command name,
	// made unique by Config.Validate when two templates share it.
	Name string
	// Weight is the command's share of the mix relative to the others' (> 0).
	Weight int
	// Args are the template's words; Args[0] is the command name.
	Args []string

	parts  []argTemplate // compiled Args
	read   bool          // a read whose nil reply is a miss
	hasKey bool
	fill   bool // Config.CacheAside's SET after a miss: weight 0, never drawn
}

// fillCommand is the SET Config.CacheAside sends after a miss, last in
// Config.Commands with weight 0, so the mix never draws it.
func fillCommand(ttl time.Duration) Command {
	c := NewCommand(1, append([]string{"SET", KeyPlaceholder, DataPlaceholder}, ttlArgs(ttl)...)...)
	c.Name, c.Weight, c.fill = "FILL", 0, true
	return c
}

// argTemplate is one argument split into literal, key and data segments.
type argTemplate struct {
	lit  []byte    // the whole argument when it has no placeholder
	segs []segment // otherwise
}

type segment struct {
	kind byte // 'l' literal, 'k' key, 'd' data
	lit  []byte
}

// readCommands are reads whose nil reply means a cache miss, for the hit ratio.
var readCommands = map[string]bool{
	"GET": true, "GETEX": true, "GETDEL": true, "HGET": true, "LINDEX": true,
	"ZSCORE": true, "LPOP": true, "RPOP": true, "SPOP": true, "SRANDMEMBER": true,
}

// ParseCommand parses "[WEIGHT:]TEMPLATE", for example "INCR __key__" or
// "3:LPUSH __key__ __data__". Words are separated by spaces; the weight
// defaults to 1.
func ParseCommand(spec string) (Command, error) {
	weight := 1
	if i := strings.IndexByte(spec, ':'); i > 0 {
		if w, err := strconv.Atoi(strings.TrimSpace(spec[:i])); err == nil {
			if w <= 0 {
				return Command{}, fmt.Errorf("%w: command weight must be positive in %q", ErrConfig, spec)
			}
			weight, spec = w, spec[i+1:]
		}
	}
	args := strings.Fields(spec)
	if len(args) == 0 {
		return Command{}, fmt.Errorf("%w: empty command template", ErrConfig)
	}
	return NewCommand(weight, args...), nil
}

// NewCommand builds a command from template words.
func NewCommand(weight int, args ...string) Command {
	c := Command{Name: strings.ToUpper(args[0]), Weight: weight, Args: args}
	c.read = readCommands[c.Name]
	for _, a := range args {
		c.parts = append(c.parts, compileArg(a))
		if strings.Contains(a, KeyPlaceholder) {
			c.hasKey = true
		}
	}
	return c
}

func compileArg(a string) argTemplate {
	if !strings.Contains(a, KeyPlaceholder) && !strings.Contains(a, DataPlaceholder) {
		return argTemplate{lit: []byte(a)}
	}
	var t argTemplate
	for a != "" {
		ik, id := strings.Index(a, KeyPlaceholder), strings.Index(a, DataPlaceholder)
		i, kind, plen := ik, byte('k'), len(KeyPlaceholder)
		if ik < 0 || (id >= 0 && id < ik) {
			i, kind, plen = id, 'd', len(DataPlaceholder)
		}
		if i < 0 {
			t.segs = append(t.segs, segment{kind: 'l', lit: []byte(a)})
			break
		}
		if i > 0 {
			t.segs = append(t.segs, segment{kind: 'l', lit: []byte(a[:i])})
		}
		t.segs = append(t.segs, segment{kind: kind})
		a = a[i+plen:]
	}
	return t
}

// RatioCommands returns the SET and GET templates of a memtier-style ratio
// SET:GET; ttl, if positive, adds EX (or PX below a whole second) to SET.
// A zero weight leaves that command out.
func RatioCommands(set, get int, ttl time.Duration) []Command {
	var out []Command
	if set > 0 {
		args := []string{"SET", KeyPlaceholder, DataPlaceholder}
		args = append(args, ttlArgs(ttl)...)
		out = append(out, NewCommand(set, args...))
	}
	if get > 0 {
		out = append(out, NewCommand(get, "GET", KeyPlaceholder))
	}
	return out
}

// ttlArgs returns SET's expiry options for ttl.
func ttlArgs(ttl time.Duration) []string {
	switch {
	case ttl <= 0:
		return nil
	case ttl%time.Second == 0:
		return []string{"EX", strconv.FormatInt(int64(ttl/time.Second), 10)}
	default:
		return []string{"PX", strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)}
	}
}

// ParseRatio parses "SET:GET" weights such as "1:10".
func ParseRatio(s string) (set, get int, err error) {
	a, b, ok := strings.Cut(s, ":")
	set, err1 := strconv.Atoi(strings.TrimSpace(a))
	get, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || set < 0 || get < 0 || set+get == 0 {
		return 0, 0, fmt.Errorf("%w: bad ratio %q, want SET:GET such as 1:10", ErrConfig, s)
	}
	return set, get, nil
}

// encoder fills templates into a protocol.Writer. Not safe for concurrent use.
type encoder struct {
	prefix  []byte
	key     []byte // scratch: prefix + decimal key index
	scratch []byte // scratch for mixed arguments
}

// keyBytes formats key index k; the result is valid until the next call.
func (e *encoder) keyBytes(k uint64) []byte {
	e.key = strconv.AppendUint(append(e.key[:0], e.prefix...), k, 10)
	return e.key
}

// encode appends c with key index k and value data to w.
func (e *encoder) encode(w *protocol.Writer, c *Command, k uint64, data []byte) {
	key := e.keyBytes(k)
	w.WriteArray(len(c.parts))
	for i := range c.parts {
		p := &c.parts[i]
		if p.segs == nil {
			w.WriteBulk(p.lit)
			continue
		}
		if len(p.segs) == 1 {
			if p.segs[0].kind == 'k' {
				w.WriteBulk(key)
			} else {
				w.WriteBulk(data)
			}
			continue
		}
		e.scratch = e.scratch[:0]
		for _, s := range p.segs {
			switch s.kind {
			case 'k':
				e.scratch = append(e.scratch, key...)
			case 'd':
				e.scratch = append(e.scratch, data...)
			default:
				e.scratch = append(e.scratch, s.lit...)
			}
		}
		w.WriteBulk(e.scratch)
	}
}

// uniqueNames renames commands that share a name ("SET", "SET#2") so each
// has its own line in the reports.
func uniqueNames(cmds []Command) {
	seen := map[string]int{}
	for i := range cmds {
		n := cmds[i].Name
		seen[n]++
		if seen[n] > 1 {
			cmds[i].Name = n + "#" + strconv.Itoa(seen[n])
		}
	}
}

// mix picks commands by weight with one random draw.
type mix struct {
	cum   []int // cumulative weights
	total int
}

func newMix(cmds []Command) mix {
	m := mix{cum: make([]int, len(cmds))}
	for i, c := range cmds {
		m.total += c.Weight
		m.cum[i] = m.total
	}
	return m
}

// pick maps r in [0, total) to a command index.
func (m mix) pick(r int) int {
	for i, c := range m.cum {
		if r < c {
			return i
		}
	}
	return len(m.cum) - 1
}
