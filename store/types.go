package store

import (
	"errors"
	"strings"
)

// Type is a value's type tag.
type Type uint8

// Value types, in the order Redis names them.
const (
	TypeNone Type = iota // no such key
	TypeString
	TypeList
	TypeHash
	TypeSet
	TypeZSet
)

var typeNames = [...]string{"none", "string", "list", "hash", "set", "zset"}

// String returns the name Redis's TYPE command replies with.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "none"
}

// Policy is a maxmemory-policy.
type Policy uint8

// Eviction policies, as Redis names them.
const (
	NoEviction     Policy = iota // refuse writes over maxmemory (ErrOOM)
	AllKeysLRU                   // evict the least recently used key of a shard
	VolatileLRU                  // evict the least recently used key that has a TTL
	AllKeysRandom                // evict a random key
	VolatileRandom               // evict a random key that has a TTL
	VolatileTTL                  // evict the key with the nearest expiry (sampled)
	AllKeysLFU                   // evict the least frequently used key (sampled, see lfu.go)
	VolatileLFU                  // evict the least frequently used key that has a TTL
)

var policyNames = [...]string{"noeviction", "allkeys-lru", "volatile-lru", "allkeys-random", "volatile-random", "volatile-ttl",
	"allkeys-lfu", "volatile-lfu"}

// String returns the policy's Redis name.
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "unknown"
}

// ParsePolicy parses a Redis maxmemory-policy name, case-insensitively.
// Unknown names return ErrUnsupportedPolicy.
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if strings.EqualFold(s, n) {
			return Policy(i), nil
		}
	}
	return NoEviction, ErrUnsupportedPolicy
}

// Clock gives the time in Unix milliseconds. Tests inject a fake one.
type Clock interface{ NowMs() int64 }

// WallClock is the Clock of the real time (see Mono and MonoMs).
type WallClock struct{}

// NowMs returns the current Unix time in milliseconds: MonoMs(Mono()).
func (WallClock) NowMs() int64 { return MonoMs(Mono()) }

// Errors returned by the store.
var (
	// ErrWrongType is returned by Get when the value is not a string; the
	// server maps it to WRONGTYPE.
	ErrWrongType = errors.New("store: wrong type")
	// ErrOOM is returned by FreeMemory when it cannot get under maxmemory
	// (noeviction, or volatile-* with no volatile keys).
	ErrOOM = errors.New("store: out of memory")
	// ErrFenced is returned by GetAt for a key of a fenced slot (fence.go);
	// the caller retries through a Tx.
	ErrFenced = errors.New("store: slot fenced")
	// ErrNoSuchKey is for callers (RENAME etc.) that report a missing key.
	ErrNoSuchKey = errors.New("store: no such key")
	// ErrUnsupportedPolicy is returned by ParsePolicy for unknown policies.
	ErrUnsupportedPolicy = errors.New("store: unsupported policy")
	// ErrBadConfig is returned (wrapped) by New for invalid configuration.
	ErrBadConfig = errors.New("store: bad config")
)

// KeepTTL as an expireAt argument keeps the key's current TTL.
const KeepTTL int64 = -1

// Slots is the number of cluster hash slots.
const Slots = 16384

// Cloner is implemented by collection objects so that Tx.Copy can deep-copy them.
type Cloner interface{ Clone() any }

// Value is what every collection object given to Tx.SetObject implements
// (store/hash, store/list, store/set and store/zset do): its element count,
// the bytes it costs, Redis's OBJECT ENCODING name, and a deep copy. The
// binary form of a value (Redis's DUMP payload) lives in store/rdb, which
// knows the concrete collection types.
type Value interface {
	Len() int
	Size() int64
	Encoding() string
	Cloner
}
