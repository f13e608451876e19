package server

// Keyspace notifications (notify-keyspace-events), as Redis's notify.c:
// a change to key in db publishes "__keyspace@<db>__:<key>" <event> (flag K)
// and "__keyevent@<db>__:<event>" <key> (flag E), for the event classes the
// directive (config/notify.go) enables.

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
