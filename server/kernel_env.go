package server

import (
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

// The server's side of the command kernel: the kernel.Env a client's Ctx
// calls, and the adapters between the table's specs and the families'
// kernel.Specs.

// env is the kernel.Env of a server: what a command context needs from it.
type env struct{ s *Server }

// CountError counts an error reply by its code (INFO errorstats).
func (e env) CountError(code string) { e.s.stats.countError(code) }

// keyMissEvent publishes a "keymiss" event (class m) for a key GET's fast
// path did not find; reads through a Tx report their misses from the store
// (ChangeMiss). Unlike a change it does not touch WATCH or blocked clients.
func (s *Server) keyMissEvent(db int, key []byte) {
	if notifyClass(s.notifyFlags.Load())&notifyKeyMiss != 0 {
		s.keyspaceEvent(db, notifyKeyMiss, "keymiss", key)
	}
}

// KeyMiss publishes a keymiss event (kernel.Env).
func (e env) KeyMiss(db int, key []byte) { e.s.keyMissEvent(db, key) }

// MaxBulkLen is proto-max-bulk-len (kernel.Env).
func (e env) MaxBulkLen() int64 { return e.s.maxBulkLen.Load() }

// Rerunning reports whether k's client is re-running a woken blocking
// command (kernel.Env).
func (e env) Rerunning(k *kernel.Ctx) bool { return clientOf(k).rerunning() }

// BlockFor makes k's client wait for the running command's keys
// (kernel.Env).
func (e env) BlockFor(k *kernel.Ctx, args [][]byte) { clientOf(k).blockFor(args) }

// clientOf returns the client whose command context k is.
func clientOf(k *kernel.Ctx) *client { return k.Owner().(*client) }

// FlushReplicated is kernel.Env's.
func (e env) FlushReplicated(tx *store.Tx) bool { return e.s.flushReplicated(tx) }

// pick is the table's handler of sp: a family's, or a server handler
// wrapped.
func pick(sp spec) kernel.Handler {
	if sp.kfn != nil {
		return sp.kfn
	}
	return wrap(sp.fn)
}

// wrap adapts a server handler, which sees the whole client, to the
// table's kernel.Handler.
func wrap(fn handlerFunc) kernel.Handler {
	if fn == nil {
		return nil
	}
	return func(k *kernel.Ctx, args [][]byte) { fn(clientOf(k), args) }
}

// fromKernel turns a command family's declarations into the table's specs.
func fromKernel(ks []kernel.Spec) []spec {
	out := make([]spec, len(ks))
	for i, k := range ks {
		out[i] = spec{
			name:           k.Name,
			arity:          k.Arity,
			flags:          k.Flags,
			first:          k.First,
			last:           k.Last,
			step:           k.Step,
			acl:            k.ACL,
			group:          k.Group,
			since:          k.Since,
			summary:        k.Summary,
			complexity:     k.Complexity,
			kfn:            k.Fn,
			subs:           fromKernel(k.Subs),
			keySpecs:       k.KeySpecs,
			keyFlags:       k.KeyFlags,
			tips:           k.Tips,
			split:          k.Split,
			role:           k.Role,
			clusterRefusal: k.ClusterRefusal,
			keyspace:       k.Keyspace,
			block:          k.Block,
		}
	}
	return out
}
