// Package script is the Lua side of scripting: Redis 7's Lua 5.1
// environment on gopher-lua, the conversion of replies between RESP and
// Lua in both directions, the script cache and the libraries Redis ships
// (cjson, cmsgpack, bit, struct).
//
// It knows nothing about the server: a running script reaches the data
// only through a Host, which runs one command for redis.call and
// redis.pcall and returns its reply as RESP bytes. The server (package
// server) implements Host on an internal client that shares the script's
// locked store transaction.
//
// # Layout
//
// An Engine holds the compiled scripts by SHA1 (EVAL's cache, SCRIPT
// LOAD) and a pool of interpreter states. A state is made once: the
// libraries are opened, os, io, loadfile and dofile are absent, and the
// globals are read-only as in Redis 7 (reading a missing global or
// assigning one is an error). A run borrows a state (taking it and
// registering the run is one lock section), refills KEYS and ARGV (they
// stay in the state's globals between EVALs), calls the compiled function
// with the state's context, converts the value it returns to RESP and
// gives the state back.
//
// # Usage
//
//	e := script.New(script.Config{})
//	defer e.Close()
//	sc, err := e.Load([]byte("return redis.call('incr', KEYS[1])"))
//	reply, rerr := e.Eval(nil, sc, &script.Run{Host: h, Keys: keys, Resp: 2})
//
// # Long scripts
//
// Every run is watched by the Engine's one goroutine (started by New,
// stopped by Close), which ticks every 5 ms while runs start or go on and
// sleeps once an interval passed without any: past Config.BusyThreshold a
// run is marked busy (Busy, so the server answers BUSY to other clients);
// Kill stops the busy runs that have not written; a run whose Go heap
// growth passes Config.MaxMemory is stopped with an error. The
// interpreter checks its context before every instruction, so a stopped
// run ends at once.
package script
