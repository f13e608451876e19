package scenario

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxFrame bounds one reply read from a server, so that a runaway reply is
// an error, not unbounded memory.
const maxFrame = 8 << 20

// readFrame reads one whole RESP2/RESP3 reply from r and returns its exact
// bytes.
func readFrame(r *bufio.Reader) (string, error) {
	var b strings.Builder
	if err := copyFrame(r, &b, 0); err != nil {
		return b.String(), err
	}
	return b.String(), nil
}

func copyFrame(r *bufio.Reader, b *strings.Builder, depth int) error {
	if depth > 32 {
		return errors.New("reply nested too deep")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	b.WriteString(line)
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return fmt.Errorf("bad reply line %q", line)
	}
	if b.Len() > maxFrame {
		return errors.New("reply too large")
	}
	n, _ := strconv.Atoi(line[1 : len(line)-2])
	switch line[0] {
	case '$', '=', '!':
		if n < 0 {
			return nil
		}
		if n > maxFrame {
			return errors.New("bulk too large")
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		b.Write(buf)
	case '*', '~', '>', '%', '|':
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range max(n, 0) {
			if err := copyFrame(r, b, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// node is a parsed reply: head is its first line without CRLF ("+OK", "$3",
// "*2"), body the content of a bulk, kids the elements of an aggregate.
type node struct {
	head string
	body string
	kids []node
}

// parseFrame parses a reply read by readFrame. Input that is not one whole
// reply gives a node holding it as text.
func parseFrame(raw string) node {
	n, rest, ok := parseNode(raw)
	if !ok || rest != "" {
		return node{head: "?" + raw}
	}
	return n
}

func parseNode(s string) (node, string, bool) {
	i := strings.Index(s, "\r\n")
	if i < 1 {
		return node{}, s, false
	}
	nd := node{head: s[:i]}
	s = s[i+2:]
	cnt, _ := strconv.Atoi(nd.head[1:])
	switch nd.head[0] {
	case '$', '=', '!':
		if cnt < 0 {
			return nd, s, true
		}
		if len(s) < cnt+2 {
			return nd, s, false
		}
		nd.body, s = s[:cnt], s[cnt+2:]
	case '*', '~', '>', '%', '|':
		if nd.head[0] == '%' || nd.head[0] == '|' {
			cnt *= 2
		}
		for range max(cnt, 0) {
			k, rest, ok := parseNode(s)
			if !ok {
				return nd, rest, false
			}
			nd.kids, s = append(nd.kids, k), rest
		}
	}
	return nd, s, true
}

// raw encodes n back to RESP.
func (n node) raw() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n node) write(b *strings.Builder) {
	if strings.HasPrefix(n.head, "?") {
		b.WriteString(n.head[1:])
		return
	}
	b.WriteString(n.head)
	b.WriteString("\r\n")
	switch n.head[0] {
	case '$', '=', '!':
		if n.head != "$-1" {
			b.WriteString(n.body)
			b.WriteString("\r\n")
		}
	}
	for _, k := range n.kids {
		k.write(b)
	}
}

// show renders a reply for people: +OK, -ERR text, :1, "bulk", (nil),
// [a, b] for arrays (~[...] sets, %[...] maps, >[...] pushes).
func show(raw string) string {
	var b strings.Builder
	parseFrame(raw).show(&b)
	return b.String()
}

func (n node) show(b *strings.Builder) {
	switch {
	case strings.HasPrefix(n.head, "?"):
		fmt.Fprintf(b, "<bad reply %q>", n.head[1:])
	case n.head == "$-1" || n.head == "*-1" || n.head == "_":
		b.WriteString("(nil)")
	case n.head[0] == '$' || n.head[0] == '=' || n.head[0] == '!':
		b.WriteString(strconv.Quote(n.body))
	case strings.ContainsRune("*~%>|", rune(n.head[0])):
		if n.head[0] != '*' {
			b.WriteByte(n.head[0])
		}
		b.WriteByte('[')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(", ")
			}
			k.show(b)
		}
		b.WriteByte(']')
	default:
		b.WriteString(n.head)
	}
}
