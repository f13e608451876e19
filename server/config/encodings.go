package config

import "math"

// EncodingLimits are the thresholds at which collections leave their
// compact encodings, under redis-server's directive names and defaults.
// The store packages keep them process-wide (redis-server's are
// server-wide): every server applies its own at start and on CONFIG SET, so
// servers in one process with different values share the last applied.
type EncodingLimits struct {
	HashEntries, HashValue int // hash-max-listpack-entries (512), hash-max-listpack-value (64)
	ListSize               int // list-max-listpack-size (-2: 8 KB nodes)
	SetInts                int // set-max-intset-entries (512)
	SetEntries, SetValue   int // set-max-listpack-entries (128), set-max-listpack-value (64), as Redis 7.2
	ZSetEntries, ZSetValue int // zset-max-listpack-entries (128), zset-max-listpack-value (64)
}

var _ = registerDirectives(
	intDirective("hash-max-listpack-entries", "512", true, 0, math.MaxInt64, "most fields of a listpack-encoded hash",
		func(c *Config) *int { return &c.Encodings.HashEntries }),
	intDirective("hash-max-listpack-value", "64", true, 0, math.MaxInt64, "longest field or value of a listpack-encoded hash",
		func(c *Config) *int { return &c.Encodings.HashValue }),
	intDirective("list-max-listpack-size", "-2", true, math.MinInt32, math.MaxInt32,
		"list node limit: -1..-5 = 4..64 KB, n > 0 = n elements (within 8 KB)", func(c *Config) *int { return &c.Encodings.ListSize }),
	intDirective("set-max-intset-entries", "512", true, 0, math.MaxInt64, "most members of an intset-encoded set",
		func(c *Config) *int { return &c.Encodings.SetInts }),
	intDirective("set-max-listpack-entries", "128", true, 0, math.MaxInt64, "most members of a listpack-encoded set (Redis 7.2)",
		func(c *Config) *int { return &c.Encodings.SetEntries }),
	intDirective("set-max-listpack-value", "64", true, 0, math.MaxInt64, "longest member of a listpack-encoded set (Redis 7.2)",
		func(c *Config) *int { return &c.Encodings.SetValue }),
	intDirective("zset-max-listpack-entries", "128", true, 0, math.MaxInt64, "most members of a listpack-encoded sorted set",
		func(c *Config) *int { return &c.Encodings.ZSetEntries }),
	intDirective("zset-max-listpack-value", "64", true, 0, math.MaxInt64, "longest member of a listpack-encoded sorted set",
		func(c *Config) *int { return &c.Encodings.ZSetValue }),
)
