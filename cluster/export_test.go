package cluster

// CatchUps returns how many times n pushed its table to a member outside
// it that was heard from again (reach.go, catchUpLocked); for the
// external tests.
func CatchUps(n *Node) int64 { return n.catchUps.Load() }
