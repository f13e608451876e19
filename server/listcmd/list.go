package listcmd

import (
	"strconv"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/list"
)

// List commands (Redis doc group "list"): pushes and pops in this file,
// positional reads and edits in cmd_list_index.go, moves and LMPOP in
// cmd_list_move.go, the blocking forms in cmd_list_block.go. Values are
// *list.List objects behind store records.

func listCommands() []kernel.Spec {
	s := func(name string, arity int, flags string, first, last, since, summary, complexity string, fn kernel.Handler) kernel.Spec {
		f, _ := strconv.Atoi(first)
		l, _ := strconv.Atoi(last)
		step := 1
		if f == 0 {
			step = 0
		}
		return kernel.Spec{Name: name, Arity: arity, Flags: flags, First: f, Last: l, Step: step,
			Group: "list", Since: since, Summary: summary, Complexity: complexity, Fn: fn}
	}
	const o1 = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."
	const popCx = "O(N) where N is the number of elements returned"
	mpop := s("lmpop", -4, "write", "0", "0", "7.0.0", "Pop elements from a list", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", lmpopCommand).WithKeys("RW access delete | index 1 | keynum 0 1 1")
	bmpop := kernel.WithBlock(s("blmpop", -5, "write blocking", "0", "0", "7.0.0", "Pop elements from a list, or block until one is available", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", blmpopCommand).WithKeys("RW access delete | index 2 | keynum 0 1 1"), blmpopBlock)
	return []kernel.Spec{
		s("lpush", -3, "write denyoom fast", "1", "1", "1.0.0", "Prepend one or multiple elements to a list", o1, lpushCommand).WithKeys("RW insert | index 1 | range 0 1 0"),
		s("rpush", -3, "write denyoom fast", "1", "1", "1.0.0", "Append one or multiple elements to a list", o1, rpushCommand).WithKeys("RW insert | index 1 | range 0 1 0"),
		s("lpushx", -3, "write denyoom fast", "1", "1", "2.2.0", "Prepend an element to a list, only if the list exists", o1, lpushxCommand).WithKeys("RW insert | index 1 | range 0 1 0"),
		s("rpushx", -3, "write denyoom fast", "1", "1", "2.2.0", "Append an element to a list, only if the list exists", o1, rpushxCommand).WithKeys("RW insert | index 1 | range 0 1 0"),
		s("lpop", -2, "write fast", "1", "1", "1.0.0", "Remove and get the first elements in a list", popCx, lpopCommand).WithKeys("RW access delete | index 1 | range 0 1 0"),
		s("rpop", -2, "write fast", "1", "1", "1.0.0", "Remove and get the last elements in a list", popCx, rpopCommand).WithKeys("RW access delete | index 1 | range 0 1 0"),
		s("llen", 2, "readonly fast", "1", "1", "1.0.0", "Get the length of a list", "O(1)", llenCommand).WithKeys("RO | index 1 | range 0 1 0"),
		s("lrange", 4, "readonly", "1", "1", "1.0.0", "Get a range of elements from a list",
			"O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", lrangeCommand),
		s("lindex", 3, "readonly", "1", "1", "1.0.0", "Get an element from a list by its index",
			"O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", lindexCommand),
		s("lset", 4, "write denyoom", "1", "1", "1.0.0", "Set the value of an element in a list by its index",
			"O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", lsetCommand),
		s("linsert", 5, "write denyoom", "1", "1", "2.2.0", "Insert an element before or after another element in a list",
			"O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", linsertCommand).WithKeys("RW insert | index 1 | range 0 1 0"),
		s("lrem", 4, "write", "1", "1", "1.0.0", "Remove elements from a list", "O(N+M) where N is the length of the list and M is the number of elements removed.", lremCommand).WithKeys("RW delete | index 1 | range 0 1 0"),
		s("ltrim", 4, "write", "1", "1", "1.0.0", "Trim a list to the specified range", "O(N) where N is the number of elements to be removed by the operation.", ltrimCommand).WithKeys("RW delete | index 1 | range 0 1 0"),
		s("lpos", -3, "readonly", "1", "1", "6.0.6", "Return the index of matching elements on a list",
			"O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", lposCommand),
		s("lmove", 5, "write denyoom", "1", "2", "6.2.0", "Pop an element from a list, push it to another list and return it", "O(1)", lmoveCommand).WithKeys("RW access delete | index 1 | range 0 1 0", "RW insert | index 2 | range 0 1 0"),
		s("rpoplpush", 3, "write denyoom", "1", "2", "1.2.0", "Remove the last element in a list, prepend it to another list and return it", "O(1)", rpoplpushCommand).WithKeys("RW access delete | index 1 | range 0 1 0", "RW insert | index 2 | range 0 1 0"),
		mpop,
		kernel.WithBlock(s("blpop", -3, "write noscript blocking", "1", "-2", "2.0.0", "Remove and get the first element in a list, or block until one is available", "O(N) where N is the number of provided keys.", blpopCommand).WithKeys("RW access delete | index 1 | range -2 1 0"), blpopBlock),
		kernel.WithBlock(s("brpop", -3, "write noscript blocking", "1", "-2", "2.0.0", "Remove and get the last element in a list, or block until one is available", "O(N) where N is the number of provided keys.", brpopCommand).WithKeys("RW access delete | index 1 | range -2 1 0"), brpopBlock),
		kernel.WithBlock(s("blmove", 6, "write denyoom noscript blocking", "1", "2", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "O(1)", blmoveCommand).WithKeys("RW access delete | index 1 | range 0 1 0", "RW insert | index 2 | range 0 1 0"), blmoveBlock),
		kernel.WithBlock(s("brpoplpush", 4, "write denyoom noscript blocking", "1", "2", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "O(1)", brpoplpushCommand).WithKeys("RW access delete | index 1 | range 0 1 0", "RW insert | index 2 | range 0 1 0"), brpoplpushBlock),
		bmpop,
	}
}

// Command words of the effects list commands record.
var (
	listWordLPush     = []byte("LPUSH")
	listWordRPush     = []byte("RPUSH")
	listWordLPop      = []byte("LPOP")
	listWordRPop      = []byte("RPOP")
	listWordLMove     = []byte("LMOVE")
	listWordRPopLPush = []byte("RPOPLPUSH")
	listWordLeft      = []byte("LEFT")
	listWordRight     = []byte("RIGHT")
	listWordLSet      = []byte("LSET")
	listWordLInsert   = []byte("LINSERT")
	listWordBefore    = []byte("BEFORE")
	listWordAfter     = []byte("AFTER")
	listWordLRem      = []byte("LREM")
	listWordLTrim     = []byte("LTRIM")
)

// Error texts of the list commands, as Redis 7.0 words them.
const (
	listErrPositive   = "ERR value is out of range, must be positive"
	listErrIndexRange = "ERR index out of range"
	listErrNumkeys    = "ERR numkeys should be greater than 0"
	listErrCount      = "ERR count should be greater than 0"
	listErrRankZero   = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
	listErrCountNeg   = "ERR COUNT can't be negative"
	listErrMaxlenNeg  = "ERR MAXLEN can't be negative"
)

// listLookup finds key's list for a read or a write. It returns nil for a
// missing key; ok is false when the key holds another type (the WRONGTYPE
// reply is written).
func listLookup(c *kernel.Ctx, tx *store.Tx, db int, key []byte, write bool) (l *list.List, e store.Entry, ok bool) {
	var found bool
	if write {
		e, found = tx.LookupWrite(db, key)
	} else {
		e, found = tx.LookupRead(db, key)
	}
	if !found {
		return nil, e, true
	}
	l, isList := e.Object().(*list.List)
	if e.Type() != store.TypeList || !isList {
		c.Err(protocol.ErrWrongType)
		return nil, e, false
	}
	return l, e, true
}

// listSource is listLookup for a key a blocking command serves from: when
// a blocked client's command re-runs (blocking.go), a key that now holds
// another type counts as missing, as Redis 7.0 serves a woken client only
// from keys holding lists; on the first run it is WRONGTYPE as usual.
func listSource(c *kernel.Ctx, tx *store.Tx, db int, key []byte) (*list.List, store.Entry, bool) {
	if !c.Rerunning() {
		return listLookup(c, tx, db, key, true)
	}
	e, found := tx.LookupWrite(db, key)
	if !found || e.Type() != store.TypeList {
		return nil, e, true
	}
	l, _ := e.Object().(*list.List)
	return l, e, true
}

// listStore records l's new size after an in-place change, or deletes key
// (notifying "del") when l became empty, as Redis deletes empty lists.
// e is key's entry from the command's lookup.
func listStore(c *kernel.Ctx, tx *store.Tx, db int, key []byte, l *list.List, e store.Entry) {
	if l.Len() == 0 {
		tx.Delete(db, key)
		c.Notify(kernel.NotifyGeneric, "del", key)
		return
	}
	e.Resize(l.Size())
}

// listWhere parses LEFT/RIGHT (true for LEFT, the head).
func listWhere(b []byte) (front, ok bool) {
	switch {
	case kernel.KeyWordIs(b, "left"):
		return true, true
	case kernel.KeyWordIs(b, "right"):
		return false, true
	}
	return false, false
}

func lpushCommand(c *kernel.Ctx, args [][]byte)  { listPush(c, args, true, false) }
func rpushCommand(c *kernel.Ctx, args [][]byte)  { listPush(c, args, false, false) }
func lpushxCommand(c *kernel.Ctx, args [][]byte) { listPush(c, args, true, true) }
func rpushxCommand(c *kernel.Ctx, args [][]byte) { listPush(c, args, false, true) }

// listPush is LPUSH/RPUSH and, with existing, LPUSHX/RPUSHX.
func listPush(c *kernel.Ctx, args [][]byte, front, existing bool) {
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	l, e, ok := listLookup(c, tx, db, key, true)
	if !ok {
		tx.Unlock()
		return
	}
	if l == nil && existing {
		tx.Unlock()
		c.Int(0)
		return
	}
	created := l == nil
	if created {
		l = list.New()
	}
	if front {
		l.PushFrontAll(args[2:])
	} else {
		l.PushBackAll(args[2:])
	}
	if created {
		tx.SetObject(db, key, store.TypeList, l, l.Size(), 0)
	} else {
		e.Resize(l.Size())
	}
	n := l.Len()
	word, event := listWordRPush, "rpush"
	if front {
		word, event = listWordLPush, "lpush"
	}
	c.Notify(kernel.NotifyList, event, key)
	tx.Unlock()
	if c.Recording() { // the effect names the command canonically
		fx := append(make([][]byte, 0, len(args)), word)
		c.Propagate(append(fx, args[1:]...)...)
	}
	c.Int(int64(n))
}

func lpopCommand(c *kernel.Ctx, args [][]byte) { listPop(c, args, true) }
func rpopCommand(c *kernel.Ctx, args [][]byte) { listPop(c, args, false) }

// listPop is LPOP/RPOP key [count].
func listPop(c *kernel.Ctx, args [][]byte, front bool) {
	if len(args) > 3 {
		name := "rpop"
		if front {
			name = "lpop"
		}
		c.Err(protocol.WrongArity(name))
		return
	}
	hasCount := len(args) == 3
	count := int64(1)
	if hasCount {
		n, ok := protocol.ParseInt(args[2])
		if !ok || n < 0 {
			c.Err(listErrPositive)
			return
		}
		count = n
	}
	db, key := c.DB(), args[1]
	tx := c.Lock(key)
	l, e, ok := listLookup(c, tx, db, key, true)
	switch {
	case !ok:
		tx.Unlock()
		return
	case l == nil:
		tx.Unlock()
		if hasCount {
			c.NullArray()
		} else {
			c.Null()
		}
		return
	case count == 0:
		tx.Unlock()
		c.Array(0)
		return
	}
	if !hasCount { // one element, popped into Scratch: no allocation
		v := listPopTo(l, front, c.Scratch[:0])
		listPopped(c, tx, db, key, l, e, front)
		tx.Unlock()
		listPropagatePop(c, key, front, 1, false)
		c.Bulk(v)
		c.KeepScratch(v)
		return
	}
	vals := listPopN(c, tx, db, key, l, e, front, count)
	tx.Unlock()
	listPropagatePop(c, key, front, len(vals), true)
	c.Bulks(vals)
}

// listPopN pops up to count elements from one end of key's non-empty list,
// notifies, and deletes the key if it emptied. The values are copies.
func listPopN(c *kernel.Ctx, tx *store.Tx, db int, key []byte, l *list.List, e store.Entry, front bool, count int64) [][]byte {
	n := min(count, int64(l.Len()))
	vals := make([][]byte, 0, n)
	for range n {
		vals = append(vals, listPopTo(l, front, nil))
	}
	listPopped(c, tx, db, key, l, e, front)
	return vals
}

// listPopTo pops one element from a non-empty list's head (front) or tail
// and returns dst with it appended.
func listPopTo(l *list.List, front bool, dst []byte) []byte {
	if front {
		dst, _ = l.PopFrontTo(dst)
	} else {
		dst, _ = l.PopBackTo(dst)
	}
	return dst
}

// listPopped notifies a pop from key's list l and stores l (listStore).
func listPopped(c *kernel.Ctx, tx *store.Tx, db int, key []byte, l *list.List, e store.Entry, front bool) {
	if front {
		c.Notify(kernel.NotifyList, "lpop", key)
	} else {
		c.Notify(kernel.NotifyList, "rpop", key)
	}
	listStore(c, tx, db, key, l, e)
}

// listPropagatePop records the pop that happened: LPOP/RPOP key, with the
// number popped when withCount.
func listPropagatePop(c *kernel.Ctx, key []byte, front bool, n int, withCount bool) {
	word := listWordRPop
	if front {
		word = listWordLPop
	}
	if !withCount {
		c.Propagate(word, key)
		return
	}
	var num [20]byte
	c.Propagate(word, key, strconv.AppendInt(num[:0], int64(n), 10))
}

func llenCommand(c *kernel.Ctx, args [][]byte) {
	db := c.DB()
	tx := c.Lock(args[1])
	l, _, ok := listLookup(c, tx, db, args[1], false)
	n := 0
	if l != nil {
		n = l.Len()
	}
	tx.Unlock()
	if ok {
		c.Int(int64(n))
	}
}
