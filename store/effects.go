package store

import "slices"

// Effects collects the write effects of one command, in order: each is the
// command (name and arguments) that reproduces the write on another node.
// The zero value is ready. Not safe for concurrent use.
type Effects struct {
	buf  []byte // all argument bytes
	ends []int  // end offset in buf of each argument
	cmds []int  // index in ends of each command's first argument
}

// Add appends one command; it copies args.
func (fx *Effects) Add(args ...[]byte) { fx.AddAs(args[0], args[1:]) }

// AddAs appends the command named name with arguments args (the name not
// among them); it copies both.
func (fx *Effects) AddAs(name []byte, args [][]byte) {
	fx.cmds = append(fx.cmds, len(fx.ends))
	fx.buf = append(fx.buf, name...)
	fx.ends = append(fx.ends, len(fx.buf))
	for _, a := range args {
		fx.buf = append(fx.buf, a...)
		fx.ends = append(fx.ends, len(fx.buf))
	}
}

// Len returns the number of commands recorded.
func (fx *Effects) Len() int { return len(fx.cmds) }

// At returns command i's arguments, in a new outer slice whose byte slices
// share the Effects' buffer: valid until the next Add or Reset.
func (fx *Effects) At(i int) [][]byte { return fx.AppendAt(nil, i) }

// AppendAt appends command i's arguments to dst and returns the extended
// slice; the byte slices share the Effects' buffer, as At's do.
func (fx *Effects) AppendAt(dst [][]byte, i int) [][]byte {
	lo, hi := fx.cmds[i], len(fx.ends)
	if i+1 < len(fx.cmds) {
		hi = fx.cmds[i+1]
	}
	dst = slices.Grow(dst, hi-lo)
	start := 0
	if lo > 0 {
		start = fx.ends[lo-1]
	}
	for _, end := range fx.ends[lo:hi] {
		dst = append(dst, fx.buf[start:end:end])
		start = end
	}
	return dst
}

// Reset empties the list, keeping its buffers.
func (fx *Effects) Reset() {
	fx.buf, fx.ends, fx.cmds = fx.buf[:0], fx.ends[:0], fx.cmds[:0]
}
