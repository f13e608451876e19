package kernel

// Handler runs one command. args[0] is the command name as the client sent
// it; arity has been checked. It writes exactly one reply to c.
type Handler func(c *Ctx, args [][]byte)

// Spec declares a command for the server's command table: its name, Redis
// arity and flags, key positions, documentation and handler, and, when
// they apply, its key specs, tips, cross-slot split, role and blocking
// (the With builders). A command family's package returns its Specs from
// one Commands function; the server checks every entry when it builds its
// table and panics on an inconsistent one.
type Spec struct {
	Name       string // lower case
	Arity      int    // Redis arity: n exact, -n at least n (including the name)
	Flags      string // space-separated Redis flags: "write denyoom fast"
	First      int    // first key position, 0 if none
	Last       int    // last key position, -1 for the last argument
	Step       int
	ACL        string // extra ACL categories beyond those derived from flags and group, e.g. "dangerous"
	Group      string // Redis doc group: string, generic, bitmap, connection, server, …
	Since      string
	Summary    string
	Complexity string
	Fn         Handler
	Subs       []Spec // subcommands (CONFIG GET, CLIENT LIST …); fn of the parent is unused then

	KeySpecs []string // Redis 7 key specs (the server's keyspec.go); none: one built from first/last/step
	// KeyFlags gives the flags of the key of a command whose key spec has
	// variable_flags (SET with GET, BITFIELD with writes), for COMMAND
	// GETKEYSANDFLAGS.
	KeyFlags func(args [][]byte) []string
	Tips     string // command tips, space-separated (COMMAND INFO's 8th field)
	Split    SplitKind
	Role     Role
	// ClusterRefusal is the error of a command that cluster mode refuses
	// for these arguments (MOVE, SWAPDB, COPY … DB n), or "".
	ClusterRefusal func(args [][]byte) string
	// Keyspace: the command reads or changes keys it does not name (FLUSHDB,
	// SWAPDB, KEYS, SCAN, RANDOMKEY, CONFIG SET's eviction …): an EXEC
	// that queues it locks every shard.
	Keyspace bool

	// Blocking (BlockSpec): how the command waits and is served; nil
	// for a command that never blocks. Set exactly for the commands
	// flagged "blocking" (checked when the table is built).
	Block *BlockSpec
}

// WithKeyspace marks sp as reading or changing keys it does not name
// (Spec.Keyspace).
func (sp Spec) WithKeyspace() Spec {
	sp.Keyspace = true
	return sp
}

// WithKeys declares Redis 7's key specs (the server's keyspec.go) of an entry.
func (sp Spec) WithKeys(specs ...string) Spec {
	sp.KeySpecs = specs
	return sp
}

// WithTips declares an entry's command tips, space-separated.
func (sp Spec) WithTips(tips string) Spec {
	sp.Tips = tips
	return sp
}

// WithKeyFlags declares the function giving the key's flags of a command
// whose key Spec has variable_flags.
func (sp Spec) WithKeyFlags(fn func(args [][]byte) []string) Spec {
	sp.KeyFlags = fn
	return sp
}

// WithSplit declares how proxy mode splits a cross-slot call.
func (sp Spec) WithSplit(k SplitKind) Spec {
	sp.Split = k
	return sp
}

// WithRole declares what the command is to connection state.
func (sp Spec) WithRole(r Role) Spec {
	sp.Role = r
	return sp
}

// WithClusterRefusal declares when cluster mode refuses the command.
func (sp Spec) WithClusterRefusal(fn func(args [][]byte) string) Spec {
	sp.ClusterRefusal = fn
	return sp
}

// SplitKind is how proxy mode splits a command whose keys span several
// slots into parts, one per owner, and merges their replies
// (the server's cluster_split.go).
type SplitKind uint8

const (
	SplitNone   SplitKind = iota // CROSSSLOT
	SplitCount                   // every key a part; the parts' integer replies summed (DEL, EXISTS, …)
	SplitValues                  // every key a part; the values merged in the order asked (MGET)
	SplitPairs                   // every key with its value a part; OK (MSET)
)

// Role is what a command is to connection state outside its handler:
// MULTI queuing, the RESP2 subscribed context, cluster forwarding.
type Role uint16

const (
	// RoleTxRunNow runs at once inside MULTI, not queued (DISCARD, QUIT).
	RoleTxRunNow Role = 1 << iota
	// RoleTxAnswerNow runs at once inside MULTI after the maxmemory check
	// that every command in MULTI gets (MULTI, WATCH answer their error).
	RoleTxAnswerNow
	// RoleTxExec is EXEC: it runs the queued commands.
	RoleTxExec
	// RoleTxReset ends the transaction, then runs (RESET).
	RoleTxReset
	// RoleNotInExec is queued but refused when EXEC runs it (MONITOR).
	RoleNotInExec
	// RoleSubscribed may run in a RESP2 subscribed context.
	RoleSubscribed
	// RoleConnState keeps state on the connection: proxy mode never
	// forwards it to another node (WATCH, SSUBSCRIBE, SUNSUBSCRIBE).
	RoleConnState
	// RolePushReply replies with pushes (the (un)subscribe confirmations):
	// CLIENT REPLY OFF|SKIP does not mute them, as in Redis 7.
	RolePushReply
)
