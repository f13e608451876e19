package server

// listCommands declares the list commands (LPUSH, LRANGE, BLPOP, …).
func listCommands() []spec { return nil }
