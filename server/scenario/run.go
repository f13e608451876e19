package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// event is something a connection showed after a step: the reply to the
// step's command, the reply of a command woken by the step, messages, or
// that its command is still blocked.
type event struct {
	conn   int
	what   string // "reply", "woken", "messages", "blocked", "skipped"
	args   []string
	queue  [][]string
	frames []string
	note   string // connection lost, no reply…
}

// key is the event as compared: normalised replies (normalise.go).
func (e event) key() string {
	return fmt.Sprintf("%d %s %s %s", e.conn, e.what, canonical(e.args, e.queue, e.frames), e.note)
}

// String renders the event for people.
func (e event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "conn %d %s", e.conn, e.what)
	if e.what == "woken" || e.what == "blocked" {
		fmt.Fprintf(&b, " (%s)", strings.Join(e.args, " "))
	}
	for i, f := range e.frames {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(" | ")
		}
		b.WriteString(show(f))
	}
	if e.note != "" {
		b.WriteString(" <" + e.note + ">")
	}
	return b.String()
}

// outcome is everything one server showed after one step, in connection order.
type outcome []event

func (o outcome) keys() []string {
	k := make([]string, len(o))
	for i, e := range o {
		k[i] = e.key()
	}
	return k
}

func (o outcome) String() string {
	parts := make([]string, len(o))
	for i, e := range o {
		parts[i] = e.String()
	}
	return strings.Join(parts, "; ")
}

// completed is the set of "conn what" of the events that ended a command.
func (o outcome) completed() []string {
	var out []string
	for _, e := range o {
		if e.what == "reply" || e.what == "woken" {
			out = append(out, fmt.Sprintf("%d %s", e.conn, e.what))
		}
	}
	slices.Sort(out)
	return out
}

func (o *outcome) sort() {
	slices.SortStableFunc(*o, func(a, b event) int { return a.conn - b.conn })
}

// step runs step i on t and returns what the server showed. ref, if not
// nil, is redis-server's outcome for the same step: t is polled until it
// completed the same commands (or settleTimeout passes).
func (t *target) step(i int, s Step, ref outcome) outcome {
	var out outcome
	if s.Conn < 0 || s.Conn >= len(t.cs) {
		return outcome{{conn: s.Conn, what: "skipped", note: "no such connection"}}
	}
	cl := t.cs[s.Conn]
	switch {
	case cl.lost:
		out = append(out, event{conn: s.Conn, what: "skipped", note: "connection lost"})
	case cl.pend != nil:
		out = append(out, event{conn: s.Conn, what: "skipped", note: "connection blocked"})
	case len(s.Args) == 0:
		out = append(out, event{conn: s.Conn, what: "skipped", note: "empty command"})
	default:
		t.start(i, cl, s.Args)
		t.settle(i, s, ref, &out)
	}
	t.drainSubscribers(&out)
	for j, c := range t.cs {
		if c.pend != nil {
			out = append(out, event{conn: j, what: "blocked", args: c.pend.args})
		}
	}
	out.sort()
	return out
}

// start sends the step's command, followed by a PING barrier when the
// number of its replies is not known.
func (t *target) start(i int, cl *client, args []string) {
	p := &pending{step: i, args: args}
	name := strings.ToUpper(args[0])
	if cl.inMulti && name == "EXEC" {
		p.queue = cl.queue
	}
	if isSubscribe(name) {
		cl.maybeSub = true
	}
	// Messages published before this step were collected after it (by
	// drainSubscribers), so one reply is expected, except from the commands
	// that answer once per channel, alone or inside EXEC, and on a
	// subscribed RESP3 connection, where the command's own keyspace
	// notifications may come with its reply.
	switch {
	case cl.inMulti && name == "EXEC":
		if cl.maybeSub {
			p.barrier = t.nextBarrier()
		}
	case cl.inMulti || name == "MULTI":
	case isSubscribe(name), cl.maybeSub && cl.resp3:
		p.barrier = t.nextBarrier()
	}
	cl.pend = p
	if err := cl.c.send(t.subst(args)); err != nil {
		cl.lost = true
		return
	}
	if p.barrier != "" {
		_ = cl.c.send([]string{"PING", p.barrier})
	}
}

func isSubscribe(name string) bool {
	switch name {
	case "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SSUBSCRIBE", "SUNSUBSCRIBE":
		return true
	}
	return false
}

// settle waits until every outstanding command has answered or is reported
// blocked (and, with ref, until the same commands as in ref completed).
func (t *target) settle(i int, s Step, ref outcome, out *outcome) {
	deadline := time.Now().Add(settleTimeout + s.Wait)
	stepConn := t.cs[s.Conn]
	for {
		t.collect(i, out, stepConn, pollInterval)
		if t.settled(stepConn, s, ref, *out) || time.Now().After(deadline) {
			break
		}
	}
	// Past the deadline: what is still partial is reported as it is.
	for j, cl := range t.cs {
		if p := cl.pend; p != nil && !onlyPushes(p.frames) {
			*out = append(*out, event{conn: j, what: "partial", args: p.args, frames: p.frames, note: "reply incomplete"})
			cl.pend = nil
		}
	}
}

// settled reports whether the state after the step is final.
func (t *target) settled(stepConn *client, s Step, ref outcome, out outcome) bool {
	if s.Wait > 0 && stepConn.pend != nil {
		return false
	}
	if ref != nil && !slices.Equal(ref.completed(), out.completed()) {
		return false
	}
	waiting := false
	for _, cl := range t.cs {
		if cl.pend != nil {
			if !onlyPushes(cl.pend.frames) {
				return false
			}
			waiting = true
		}
	}
	if !waiting {
		return true
	}
	b, err := t.blocked()
	if err != nil {
		return false
	}
	for j, cl := range t.cs {
		if cl.pend != nil && !b[j] {
			return false
		}
	}
	return true
}

// collect reads the replies that have arrived on connections with a command
// outstanding; on stepConn it waits up to d for one.
func (t *target) collect(i int, out *outcome, stepConn *client, d time.Duration) {
	waited := false
	for j, cl := range t.cs {
		for cl.pend != nil {
			var raw string
			var ok bool
			var err error
			if cl == stepConn && !waited {
				waited = true
				raw, err = cl.c.next(d)
				ok = err != errNoReply
				if !ok {
					err = nil
				}
			} else {
				raw, ok, err = cl.c.poll()
			}
			if !ok {
				break
			}
			t.received(i, j, cl, raw, err, out)
		}
	}
	if !waited {
		time.Sleep(d) // nothing to wait on: poll again shortly
	}
}

// received adds one reply to cl's outstanding command and, when that is
// complete, records the event and updates the connection's state.
func (t *target) received(i, j int, cl *client, raw string, err error, out *outcome) {
	p := cl.pend
	if err != nil {
		cl.lost, cl.pend = true, nil
		if raw != "" {
			p.frames = append(p.frames, raw)
		}
		*out = append(*out, event{conn: j, what: whatOf(p, i), args: p.args, frames: p.frames, note: "connection lost"})
		return
	}
	if p.barrier != "" {
		if !isBarrier(raw, p.barrier) {
			p.frames = append(p.frames, raw)
			return
		}
	} else {
		p.frames = append(p.frames, raw)
	}
	cl.pend = nil
	e := event{conn: j, what: whatOf(p, i), args: p.args, queue: p.queue, frames: p.frames}
	*out = append(*out, e)
	cl.update(p)
}

func whatOf(p *pending, i int) string {
	if p.step == i {
		return "reply"
	}
	return "woken"
}

// update follows MULTI/EXEC state from a completed command's reply.
func (cl *client) update(p *pending) {
	name := strings.ToUpper(p.args[0])
	r := ""
	if len(p.frames) > 0 {
		r = p.frames[len(p.frames)-1]
	}
	switch {
	case name == "RESET":
		cl.inMulti, cl.queue = false, nil
	case cl.inMulti && (name == "EXEC" || name == "DISCARD"):
		cl.inMulti, cl.queue = false, nil
	case cl.inMulti && r == "+QUEUED\r\n":
		cl.queue = append(cl.queue, p.args)
		if isSubscribe(name) {
			cl.maybeSub = true
		}
	case name == "MULTI" && r == "+OK\r\n":
		cl.inMulti, cl.queue = true, nil
	}
}

// drainSubscribers collects the pub/sub messages that connections which may
// be subscribed received, up to a PING barrier on each.
func (t *target) drainSubscribers(out *outcome) {
	for j, cl := range t.cs {
		if !cl.maybeSub || cl.pend != nil || cl.inMulti || cl.lost {
			continue
		}
		b := t.nextBarrier()
		if err := cl.c.send([]string{"PING", b}); err != nil {
			cl.lost = true
			continue
		}
		var frames []string
		note := ""
		for {
			raw, err := cl.c.next(settleTimeout)
			if err != nil {
				note = err.Error()
				cl.lost = true // a late barrier reply would be taken for the next command's
				break
			}
			if isBarrier(raw, b) {
				break
			}
			frames = append(frames, raw)
		}
		if len(frames) > 0 || note != "" {
			*out = append(*out, event{conn: j, what: "messages", frames: frames, note: note})
		}
	}
}

// onlyPushes reports whether frames are all RESP3 pushes: messages a
// blocked RESP3 connection received. They stay with its command and are
// reported, in the order they came, with its reply (the order of frames on
// one connection is deterministic; the step in which a push crosses the
// network is not).
func onlyPushes(frames []string) bool {
	for _, f := range frames {
		if !strings.HasPrefix(f, ">") {
			return false
		}
	}
	return true
}
