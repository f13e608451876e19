package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// connRef is the argument prefix that names a connection of the script in
// place of its client ID, which differs between servers: "$conn:2" is the
// ID of connection 2 on the server that runs the step.
const connRef = "$conn:"

// Step is one command sent on one connection of a script.
type Step struct {
	Conn int      // connection index, 0-based
	Args []string // command and arguments; "$conn:N" stands for connection N's ID
	// Wait, if not zero, is the timeout of a blocking command: the runner
	// waits for its reply (up to Wait plus a margin) before the next step, so
	// that the timeout never races another step.
	Wait time.Duration
}

// Script is a generated scenario: Conns connections and the steps they run.
type Script struct {
	Seed  uint64
	Conns int
	// RESP3 lists the connections that speak RESP3 (HELLO 3 when opened);
	// the others speak RESP2.
	RESP3 []int
	Steps []Step
}

// resp3 reports whether connection i speaks RESP3.
func (sc Script) resp3(i int) bool { return slices.Contains(sc.RESP3, i) }

// String renders the step as `conn N: CMD args`, quoting arguments that
// need it.
func (s Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "conn %d:", s.Conn)
	for _, a := range s.Args {
		b.WriteByte(' ')
		b.WriteString(showArg(a))
	}
	if s.Wait > 0 {
		b.WriteString("   (reply awaited)")
	}
	return b.String()
}

func showArg(a string) string {
	if n, ok := strings.CutPrefix(a, connRef); ok {
		return "<id of conn " + n + ">"
	}
	if a == "" || strings.ContainsAny(a, " \"\\\r\n\t") || strconv.Quote(a) != `"`+a+`"` {
		return strconv.Quote(a)
	}
	if len(a) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", a[:20], len(a))
	}
	return a
}

// withSteps returns a copy of sc with the given steps.
func (sc Script) withSteps(steps []Step) Script {
	sc.Steps = steps
	return sc
}
