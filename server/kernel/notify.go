package kernel

// NotifyClass is a keyspace notification class (notify-keyspace-events flags).
type NotifyClass uint16

// Keyspace notification classes, as Redis's NOTIFY_* flags.
const (
	NotifyGeneric  NotifyClass = 1 << iota // g
	NotifyString                           // $
	NotifyList                             // l
	NotifySet                              // s
	NotifyHash                             // h
	NotifyZSet                             // z
	NotifyExpired                          // x
	NotifyEvicted                          // e
	NotifyStream                           // t
	NotifyKeyMiss                          // m
	NotifyModule                           // d
	NotifyNew                              // n
	NotifyKeyspace                         // K: publish __keyspace@db__:key
	NotifyKeyevent                         // E: publish __keyevent@db__:event

	// NotifyAll is the A flag: every class but m and n.
	NotifyAll = NotifyGeneric | NotifyString | NotifyList | NotifySet | NotifyHash |
		NotifyZSet | NotifyExpired | NotifyEvicted | NotifyStream | NotifyModule
)
