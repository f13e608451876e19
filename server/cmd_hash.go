package server

// hashCommands declares the hash commands (HSET, HGET, …).
func hashCommands() []spec { return nil }
