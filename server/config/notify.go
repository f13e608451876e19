package config

// notify-keyspace-events: which keyspace notifications the server publishes
// (its notify.go), as Redis's flag letters.

import "github.com/cached/cached/server/kernel"

// errNotifyFlags is Redis's error for a bad notify-keyspace-events value.
const errNotifyFlags redisConfigError = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

var _ = registerDirectives(directive{
	name: "notify-keyspace-events", def: "", mutable: true,
	doc: "keyspace notification classes published (Redis flags K E g $ l s h z x e t m d n A; empty: none)",
	// Redis shows the canonical form, in which A hides n (CONFIG GET of
	// "KEAn" is "AKE") while the n class stays on; the field keeps the n.
	get: func(c *Config) string {
		f, _ := ParseNotifyFlags(c.NotifyKeyspaceEvents)
		return FormatNotifyFlags(f)
	},
	set: func(c *Config, v string) error {
		f, err := ParseNotifyFlags(v)
		if err != nil {
			return err
		}
		c.NotifyKeyspaceEvents = FormatNotifyFlags(f)
		if f&kernel.NotifyNew != 0 && f&kernel.NotifyAll == kernel.NotifyAll {
			c.NotifyKeyspaceEvents += "n"
		}
		return nil
	},
})

// ParseNotifyFlags reads notify-keyspace-events letters, as Redis's
// keyspaceEventsStringToFlags.
func ParseNotifyFlags(s string) (kernel.NotifyClass, error) {
	var f kernel.NotifyClass
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'A':
			f |= kernel.NotifyAll
		case 'g':
			f |= kernel.NotifyGeneric
		case '$':
			f |= kernel.NotifyString
		case 'l':
			f |= kernel.NotifyList
		case 's':
			f |= kernel.NotifySet
		case 'h':
			f |= kernel.NotifyHash
		case 'z':
			f |= kernel.NotifyZSet
		case 'x':
			f |= kernel.NotifyExpired
		case 'e':
			f |= kernel.NotifyEvicted
		case 'K':
			f |= kernel.NotifyKeyspace
		case 'E':
			f |= kernel.NotifyKeyevent
		case 't':
			f |= kernel.NotifyStream
		case 'm':
			f |= kernel.NotifyKeyMiss
		case 'd':
			f |= kernel.NotifyModule
		case 'n':
			f |= kernel.NotifyNew
		default:
			return 0, errNotifyFlags
		}
	}
	return f, nil
}

// FormatNotifyFlags is the canonical form CONFIG GET shows, as Redis's
// keyspaceEventsFlagsToString (which, like Redis, folds n into A).
func FormatNotifyFlags(f kernel.NotifyClass) string {
	var b []byte
	if f&kernel.NotifyAll == kernel.NotifyAll {
		b = append(b, 'A')
	} else {
		for _, x := range []struct {
			c kernel.NotifyClass
			l byte
		}{{kernel.NotifyGeneric, 'g'}, {kernel.NotifyString, '$'}, {kernel.NotifyList, 'l'}, {kernel.NotifySet, 's'}, {kernel.NotifyHash, 'h'},
			{kernel.NotifyZSet, 'z'}, {kernel.NotifyExpired, 'x'}, {kernel.NotifyEvicted, 'e'}, {kernel.NotifyStream, 't'},
			{kernel.NotifyModule, 'd'}, {kernel.NotifyNew, 'n'}} {
			if f&x.c != 0 {
				b = append(b, x.l)
			}
		}
	}
	if f&kernel.NotifyKeyspace != 0 {
		b = append(b, 'K')
	}
	if f&kernel.NotifyKeyevent != 0 {
		b = append(b, 'E')
	}
	if f&kernel.NotifyKeyMiss != 0 {
		b = append(b, 'm')
	}
	return string(b)
}
