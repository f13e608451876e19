package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Deadlines of the runner. settleTimeout bounds how long a server may take
// to reach the state redis-server reached after a step; it is only spent
// when the servers differ.
const (
	settleTimeout = 3 * time.Second
	ctlTimeout    = 10 * time.Second
	pollInterval  = time.Millisecond
)

// target is one server under test with its script connections and a
// control connection (CLIENT LIST, FLUSHALL, INFO) that is not part of the
// script.
type target struct {
	name    string
	network string
	addr    string
	ctl     *conn
	cs      []*client
	nonce   int
}

// client is the runner's view of one script connection on one server.
type client struct {
	c        *conn
	id       string
	pend     *pending // the command outstanding, nil if none
	inMulti  bool
	queue    [][]string // commands queued in MULTI
	maybeSub bool       // has sent (P)SUBSCRIBE: replies may be preceded by messages
	resp3    bool
	lost     bool
}

// pending is a command sent whose reply is not complete yet.
type pending struct {
	step    int
	args    []string
	queue   [][]string // for EXEC: the commands it runs
	barrier string     // PING argument sent after it, "" if none
	frames  []string
}

func newTarget(name, network, addr string) (*target, error) {
	ctl, err := dial(network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t := &target{name: name, network: network, addr: addr, ctl: ctl}
	if _, err := t.ctlDo("DEBUG", "SET-ACTIVE-EXPIRE", "0"); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// ctlDo runs a command on the control connection; an error reply is an error.
func (t *target) ctlDo(args ...string) (string, error) {
	r, err := t.ctl.do(ctlTimeout, args...)
	if err != nil {
		return r, fmt.Errorf("%s: %s: %w", t.name, strings.Join(args, " "), err)
	}
	if strings.HasPrefix(r, "-") {
		return r, fmt.Errorf("%s: %s: %s", t.name, strings.Join(args, " "), strings.TrimSpace(r))
	}
	return r, nil
}

// open empties the server, resets what a script may have configured and
// opens the script's connections (HELLO 3 on its RESP3 ones).
func (t *target) open(sc Script) error {
	for _, cmd := range [][]string{{"FLUSHALL"}, {"CONFIG", "SET", "notify-keyspace-events", ""}} {
		if _, err := t.ctlDo(cmd...); err != nil {
			return err
		}
	}
	for i := range sc.Conns {
		c, err := dial(t.network, t.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		cl := &client{c: c, resp3: sc.resp3(i)}
		t.cs = append(t.cs, cl)
		if cl.resp3 {
			if r, err := c.do(ctlTimeout, "HELLO", "3"); err != nil || !strings.HasPrefix(r, "%") {
				return fmt.Errorf("%s: HELLO 3: %q %v", t.name, r, err)
			}
		}
		r, err := c.do(ctlTimeout, "CLIENT", "ID")
		if err != nil || !strings.HasPrefix(r, ":") {
			return fmt.Errorf("%s: CLIENT ID: %q %v", t.name, r, err)
		}
		cl.id = strings.TrimSpace(r[1:])
	}
	return nil
}

// shut closes the script connections and waits until the server has
// forgotten them (no client blocked, none but the control connection
// connected), so that nothing of this script reaches the next.
func (t *target) shut() error {
	for _, cl := range t.cs {
		cl.c.close()
	}
	t.cs = nil
	deadline := time.Now().Add(ctlTimeout)
	for {
		info, err := t.ctlDo("INFO", "clients")
		if err != nil {
			return err
		}
		if infoField(info, "connected_clients") == "1" && infoField(info, "blocked_clients") == "0" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: closed connections still known after %v: %s", t.name, ctlTimeout, show(info))
		}
		time.Sleep(pollInterval) // polling the server's state, bounded by deadline
	}
}

func (t *target) close() {
	for _, cl := range t.cs {
		cl.c.close()
	}
	t.cs = nil
	t.ctl.close()
}

func infoField(info, name string) string {
	for _, line := range strings.Split(parseFrame(info).body, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}

// blocked returns the script connections that the server reports blocked
// (CLIENT LIST flag b), among those with a command outstanding.
func (t *target) blocked() (map[int]bool, error) {
	args := []string{"CLIENT", "LIST", "ID"}
	byID := map[string]int{}
	for i, cl := range t.cs {
		if cl.pend != nil {
			args = append(args, cl.id)
			byID[cl.id] = i
		}
	}
	out := map[int]bool{}
	if len(byID) == 0 {
		return out, nil
	}
	r, err := t.ctlDo(args...)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(parseFrame(r).body, "\n") {
		var id, flags string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			} else if v, ok := strings.CutPrefix(f, "flags="); ok {
				flags = v
			}
		}
		if i, ok := byID[id]; ok && strings.Contains(flags, "b") {
			out[i] = true
		}
	}
	return out, nil
}

// subst replaces "$conn:N" arguments with connection N's client ID.
func (t *target) subst(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if n, ok := strings.CutPrefix(a, connRef); ok {
			if j, err := strconv.Atoi(n); err == nil && j >= 0 && j < len(t.cs) {
				out[i] = t.cs[j].id
			}
		}
	}
	return out
}

// nextBarrier returns a new PING argument that marks the end of a
// connection's replies.
func (t *target) nextBarrier() string {
	t.nonce++
	return "scenario-barrier-" + strconv.Itoa(t.nonce)
}

// isBarrier reports whether raw is the reply to PING barrier, in either
// form (a bulk string, or ["pong", barrier] while subscribed).
func isBarrier(raw, barrier string) bool {
	bulk := "$" + strconv.Itoa(len(barrier)) + "\r\n" + barrier + "\r\n"
	return raw == bulk || raw == "*2\r\n$4\r\npong\r\n"+bulk || raw == ">2\r\n$4\r\npong\r\n"+bulk
}

// state reports, per script connection, the command it is blocked in (nil
// if none), whether it is inside MULTI and whether it may be subscribed.
func (t *target) state() (blocked [][]string, inMulti, sub []bool) {
	for _, cl := range t.cs {
		var b []string
		if cl.pend != nil {
			b = cl.pend.args
		}
		blocked, inMulti, sub = append(blocked, b), append(inMulti, cl.inMulti), append(sub, cl.maybeSub)
	}
	return blocked, inMulti, sub
}
