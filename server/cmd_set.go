package server

// setCommands declares the set commands (SADD, SMEMBERS, …).
func setCommands() []spec { return nil }
