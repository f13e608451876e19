package kernel

import "github.com/cached/cached/store"

// BlockSpec describes how a blocking command waits for keys and how it is
// served once one of them is ready. The command table holds one for each
// command flagged "blocking" (Spec.Block); the blocking layer knows the
// commands only through it.
type BlockSpec struct {
	// keys returns the keys the command waits on, in the command's order,
	// repeats included (the server keeps the first of each). args passed the
	// handler's checks.
	Keys func(args [][]byte) [][]byte
	// timeout is the index of the timeout argument (in seconds, as a
	// float); negative counts from the end: -1 is the last argument.
	Timeout int
	// want is the type of value the command serves from.
	Want store.Type
	// serve serves the command from key alone (one of keys), as Redis
	// serves a blocked client from the key that became ready: it writes
	// the reply and reports true, or reports false, writing nothing, when
	// key holds no value of type want to serve from.
	Serve func(c *Ctx, args [][]byte, key []byte) bool
	// timedOut writes the reply on timeout (and CLIENT UNBLOCK … TIMEOUT).
	TimedOut func(c *Ctx)
	// noWait writes the reply when the command finds nothing but may not
	// block (inside MULTI/EXEC).
	NoWait func(c *Ctx)
}

// WithBlock returns sp with its blocking descriptor set.
func WithBlock(sp Spec, bs *BlockSpec) Spec {
	sp.Block = bs
	return sp
}

// TimeoutArg returns the timeout argument of args.
func (bs *BlockSpec) TimeoutArg(args [][]byte) []byte {
	if bs.Timeout < 0 {
		return args[len(args)+bs.Timeout]
	}
	return args[bs.Timeout]
}

// KeysUntilLast returns a keys function for the arguments from first to the
// one before the last (BLPOP key [key …] timeout).
func KeysUntilLast(first int) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte { return args[first : len(args)-1] }
}

// KeyAt returns a keys function for the single key at position i (BLMOVE's
// source).
func KeyAt(i int) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte { return args[i : i+1] }
}
