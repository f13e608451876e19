package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseConfig reads redis.conf-format lines ("directive arg ...", '#'
// comments, quoted arguments) from r into c. Errors give the line number and
// name the directive, as redis-server does.
func ParseConfig(r io.Reader, c *Config) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		words, err := splitArgs(line)
		if err != nil {
			return fmt.Errorf("line %d: %w: %s", n, err, line)
		}
		if len(words) == 0 {
			continue
		}
		if err := c.Set(words[0], strings.Join(words[1:], " ")); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

var errUnbalanced = errors.New("unbalanced quotes in configuration line")

// splitArgs splits a config line into words as Redis's sdssplitargs does:
// spaces separate words; "double quotes" take \n \r \t \" \\ and \xHH
// escapes; 'single quotes' take only \'.
func splitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		var w strings.Builder
		switch line[i] {
		case '"':
			i++
			for ; ; i++ {
				if i >= len(line) {
					return nil, errUnbalanced
				}
				ch := line[i]
				if ch == '"' {
					i++
					break
				}
				if ch == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						ch = '\n'
					case 'r':
						ch = '\r'
					case 't':
						ch = '\t'
					case 'x':
						if i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
							ch = unhex(line[i+1])<<4 | unhex(line[i+2])
							i += 2
						} else {
							ch = 'x'
						}
					default:
						ch = line[i]
					}
				}
				w.WriteByte(ch)
			}
		case '\'':
			i++
			for ; ; i++ {
				if i >= len(line) {
					return nil, errUnbalanced
				}
				ch := line[i]
				if ch == '\'' {
					i++
					break
				}
				if ch == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					ch = '\''
				}
				w.WriteByte(ch)
			}
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				w.WriteByte(line[i])
				i++
			}
			out = append(out, w.String())
			continue
		}
		if i < len(line) && line[i] != ' ' && line[i] != '\t' {
			return nil, errUnbalanced // a closing quote must be followed by a space
		}
		out = append(out, w.String())
	}
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func unhex(b byte) byte {
	switch {
	case '0' <= b && b <= '9':
		return b - '0'
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10
	}
	return b - 'A' + 10
}
