//go:build !race

package peer

// raceEnabled: whether the race detector is on (allocation counts skip it).
const raceEnabled = false
