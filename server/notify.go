package server

// notifyClass is a keyspace notification class (notify-keyspace-events flags).
type notifyClass uint16

// Keyspace notification classes, as Redis's NOTIFY_* flags.
const (
	notifyGeneric notifyClass = 1 << iota // g
	notifyString                          // $
	notifyList                            // l
	notifySet                             // s
	notifyHash                            // h
	notifyZSet                            // z
	notifyExpired                         // x
	notifyEvicted                         // e
	notifyStream                          // t
	notifyKeyMiss                         // m
	notifyModule                          // d
	notifyNew                             // n
)

// notify reports that the running command changed key in the client's
// database: it invalidates WATCHes of the key, wakes clients blocked on it
// (they re-check it) and, if notify-keyspace-events enables the class,
// publishes __keyspace@db__:key and __keyevent@db__:event.
// Handlers call it once per changed key, after the change, as Redis calls
// notifyKeyspaceEvent.
func (c *client) notify(class notifyClass, event string, key []byte) {
	c.s.notifyDB(int(c.db.Load()), class, event, key)
}

// notifyDB is notify for a database given explicitly (MOVE, COPY … DB,
// expiry and eviction). It may run with a store shard lock held: it never
// blocks and never calls the store.
func (s *Server) notifyDB(db int, class notifyClass, event string, key []byte) {
	s.touchWatched(db, key)
	s.signalReady(db, key)
}
