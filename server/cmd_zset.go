package server

// zsetCommands declares the sorted set commands (ZADD, ZRANGE, BZPOPMIN, …).
func zsetCommands() []spec { return nil }
