// Package scenario is a differential scenario fuzzer: it generates random
// scripts of commands over several client connections (blocking commands,
// MULTI/EXEC/WATCH, pub/sub, expiry, type changes, the data types with valid
// and invalid arguments), runs each script step by step against an
// in-process cached server and a real redis-server 7 side by side, and
// compares the raw RESP replies byte for byte.
//
// # Determinism
//
// Both servers run the same step at the same time (lockstep). After every
// step the runner waits until each server has settled: every connection that
// has a command outstanding has either answered or is reported blocked by
// CLIENT LIST (flag b). redis-server serves woken clients before it answers
// the command that woke them, so its settled state is exact; cached's is
// polled until it matches redis-server's or a deadline passes (then the
// difference is reported). A blocking command with a small timeout is waited
// for before the next step, so a timeout never races another step. Pub/sub
// messages are collected with a PING barrier on every subscribed connection.
// Key expiry is made deterministic with DEBUG SET-ACTIVE-EXPIRE 0 on both
// servers, expiry times in the past and PERSIST; nothing depends on a clock.
//
// # What is normalised
//
// Everything is compared byte for byte except what Redis itself leaves to
// chance, listed in one place (normalise.go): the order of set members and
// hash fields, and the choice of a random element. Connection IDs never
// appear in replies: a script names a connection (CLIENT UNBLOCK <conn 2>)
// and the runner substitutes that server's ID. Known divergences that cannot
// be fixed in this package are listed in exclude.go, each with its
// minimised reproduction and reason.
//
// # Running
//
//	go test -race -count=1 ./server/scenario/             # fixed seeds (CI)
//	CACHED_SCENARIO_SECONDS=600 go test -count=1 -timeout 0 -run TestScenarioVsRedis ./server/scenario/
//	CACHED_SCENARIO_SEED=1234 go test -count=1 -run TestScenarioVsRedis ./server/scenario/ -v
//
// CACHED_SCENARIO_NO_EXCLUSIONS=1 turns the exclusion list off (to see
// whether a known difference is fixed), CACHED_SCENARIO_VERBOSE=1 logs
// every script with both servers' replies, CACHED_SCENARIO_TIMES=1 the time
// each script took.
//
// A failing script is minimised (delta debugging over its steps) and printed
// as `conn N: CMD args` lines with both servers' replies, with its seed.
package scenario
