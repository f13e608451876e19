package script

import (
	"bytes"
	"strings"
)

// Flags are a script's or function's flags (shebang "flags=" or
// redis.register_function's flags).
type Flags uint8

// Script flags, as Redis names them.
const (
	FlagNoWrites Flags = 1 << iota
	FlagAllowOOM
	FlagAllowStale
	FlagNoCluster
	FlagAllowCrossSlot
	// FlagCompat marks an EVAL script without a shebang line (Redis's
	// EVAL_COMPAT_MODE): the command's own flags apply.
	FlagCompat
)

// flagNames are the flags' spellings in Redis's order.
var flagNames = []struct {
	name string
	flag Flags
}{{"no-writes", FlagNoWrites}, {"allow-oom", FlagAllowOOM}, {"allow-stale", FlagAllowStale},
	{"no-cluster", FlagNoCluster}, {"allow-cross-slot-keys", FlagAllowCrossSlot}}

// ParseFlag returns the flag named name.
func ParseFlag(name string) (Flags, bool) {
	for _, f := range flagNames {
		if f.name == name {
			return f.flag, true
		}
	}
	return 0, false
}

// Names lists the set flags in Redis's order.
func (f Flags) Names() []string {
	out := []string{}
	for _, n := range flagNames {
		if f&n.flag != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// parseShebang reads the "#!lua flags=…" first line of body, as Redis's
// evalExtractShebangFlags, and returns the flags and the code to compile
// (the shebang line blanked, so line numbers stay).
func parseShebang(body []byte) (Flags, []byte, error) {
	if !bytes.HasPrefix(body, []byte("#!")) {
		return FlagCompat, body, nil
	}
	nl := bytes.IndexByte(body, '\n')
	if nl < 0 {
		return 0, nil, &Error{Msg: "ERR Invalid script shebang"}
	}
	parts := strings.Split(string(body[:nl]), " ")
	if parts[0] != "#!lua" {
		return 0, nil, &Error{Msg: "ERR Unexpected engine in script shebang: " + parts[0]}
	}
	var flags Flags
	for _, p := range parts[1:] {
		if p == "" {
			continue
		}
		list, ok := strings.CutPrefix(p, "flags=")
		if !ok {
			return 0, nil, &Error{Msg: "ERR Unknown lua shebang option: " + p}
		}
		for _, name := range strings.Split(list, ",") {
			if name == "" {
				continue
			}
			f, ok := ParseFlag(name)
			if !ok {
				return 0, nil, &Error{Msg: "ERR Unexpected flag in script shebang: " + name}
			}
			flags |= f
		}
	}
	return flags, body[nl:], nil
}
