package server

// Keyspace notifications (notify-keyspace-events), as Redis's notify.c:
// a change to key in db publishes "__keyspace@<db>__:<key>" <event> (flag K)
// and "__keyevent@<db>__:<event>" <key> (flag E), for the event classes the
// directive enables.

import (
	"strconv"

	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/server/pubsub"
)

// Keyspace notification classes: see kernel.NotifyClass.
type notifyClass = kernel.NotifyClass

const (
	notifyGeneric  = kernel.NotifyGeneric
	notifyString   = kernel.NotifyString
	notifyList     = kernel.NotifyList
	notifySet      = kernel.NotifySet
	notifyHash     = kernel.NotifyHash
	notifyZSet     = kernel.NotifyZSet
	notifyExpired  = kernel.NotifyExpired
	notifyEvicted  = kernel.NotifyEvicted
	notifyStream   = kernel.NotifyStream
	notifyKeyMiss  = kernel.NotifyKeyMiss
	notifyModule   = kernel.NotifyModule
	notifyNew      = kernel.NotifyNew
	notifyKeyspace = kernel.NotifyKeyspace
	notifyKeyevent = kernel.NotifyKeyevent
	notifyAll      = kernel.NotifyAll
)

// errNotifyFlags is Redis's error for a bad notify-keyspace-events value.
const errNotifyFlags redisConfigError = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

var _ = registerDirectives(directive{
	name: "notify-keyspace-events", def: "", mutable: true,
	doc: "keyspace notification classes published (Redis flags K E g $ l s h z x e t m d n A; empty: none)",
	// Redis shows the canonical form, in which A hides n (CONFIG GET of
	// "KEAn" is "AKE") while the n class stays on; the field keeps the n.
	get: func(c *Config) string {
		f, _ := parseNotifyFlags(c.NotifyKeyspaceEvents)
		return formatNotifyFlags(f)
	},
	set: func(c *Config, v string) error {
		f, err := parseNotifyFlags(v)
		if err != nil {
			return err
		}
		c.NotifyKeyspaceEvents = formatNotifyFlags(f)
		if f&notifyNew != 0 && f&notifyAll == notifyAll {
			c.NotifyKeyspaceEvents += "n"
		}
		return nil
	},
})

// parseNotifyFlags reads notify-keyspace-events letters, as Redis's
// keyspaceEventsStringToFlags.
func parseNotifyFlags(s string) (notifyClass, error) {
	var f notifyClass
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'A':
			f |= notifyAll
		case 'g':
			f |= notifyGeneric
		case '$':
			f |= notifyString
		case 'l':
			f |= notifyList
		case 's':
			f |= notifySet
		case 'h':
			f |= notifyHash
		case 'z':
			f |= notifyZSet
		case 'x':
			f |= notifyExpired
		case 'e':
			f |= notifyEvicted
		case 'K':
			f |= notifyKeyspace
		case 'E':
			f |= notifyKeyevent
		case 't':
			f |= notifyStream
		case 'm':
			f |= notifyKeyMiss
		case 'd':
			f |= notifyModule
		case 'n':
			f |= notifyNew
		default:
			return 0, errNotifyFlags
		}
	}
	return f, nil
}

// formatNotifyFlags is the canonical form CONFIG GET shows, as Redis's
// keyspaceEventsFlagsToString (which, like Redis, folds n into A).
func formatNotifyFlags(f notifyClass) string {
	var b []byte
	if f&notifyAll == notifyAll {
		b = append(b, 'A')
	} else {
		for _, x := range []struct {
			c notifyClass
			l byte
		}{{notifyGeneric, 'g'}, {notifyString, '$'}, {notifyList, 'l'}, {notifySet, 's'}, {notifyHash, 'h'},
			{notifyZSet, 'z'}, {notifyExpired, 'x'}, {notifyEvicted, 'e'}, {notifyStream, 't'},
			{notifyModule, 'd'}, {notifyNew, 'n'}} {
			if f&x.c != 0 {
				b = append(b, x.l)
			}
		}
	}
	if f&notifyKeyspace != 0 {
		b = append(b, 'K')
	}
	if f&notifyKeyevent != 0 {
		b = append(b, 'E')
	}
	if f&notifyKeyMiss != 0 {
		b = append(b, 'm')
	}
	return string(b)
}

// keyspaceEvent publishes the notification of one event if its class is
// enabled (and anyone listens).
func (s *Server) keyspaceEvent(db int, class notifyClass, event string, key []byte) {
	flags := notifyClass(s.notifyFlags.Load())
	if flags&class == 0 || flags&(notifyKeyspace|notifyKeyevent) == 0 {
		return
	}
	if s.pubsub.Size(pubsub.Channel) == 0 && s.pubsub.Size(pubsub.Pattern) == 0 {
		return
	}
	var buf [96]byte
	if flags&notifyKeyspace != 0 {
		ch := appendEventChannel(buf[:0], "__keyspace@", db, key)
		s.publishLocal(ch, []byte(event))
	}
	if flags&notifyKeyevent != 0 {
		ch := appendEventChannel(buf[:0], "__keyevent@", db, []byte(event))
		s.publishLocal(ch, key)
	}
}

// appendEventChannel builds prefix<db>__:name.
func appendEventChannel(b []byte, prefix string, db int, name []byte) []byte {
	b = append(b, prefix...)
	b = strconv.AppendInt(b, int64(db), 10)
	b = append(b, "__:"...)
	return append(b, name...)
}
