package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ParseConfig reads redis.conf-format lines ("directive arg ...", '#'
// comments, quoted arguments) from r into c. Errors give the line number and
// name the directive, as redis-server does. Besides the directives it takes
// "include path" (relative paths are relative to the working directory, as
// redis-server; glob patterns include every match in name order; includes
// nest), "rename-command" and the "# cached: name value" lines that CONFIG
// REWRITE writes for cached's own directives.
func ParseConfig(r io.Reader, c *Config) error {
	return parseConfig(r, c, 0)
}

// ParseConfigFile reads the config file at path into c (see ParseConfig).
func ParseConfigFile(path string, c *Config) error {
	return includeConfig(path, c, 0)
}

// maxIncludeDepth bounds nested includes, so a file including itself fails
// instead of recursing forever.
const maxIncludeDepth = 16

func parseConfig(r io.Reader, c *Config, depth int) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, cachedLinePrefix); ok {
			line = strings.TrimSpace(rest)
		}
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
		if err := c.applyWords(words, depth); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

// ApplyArgs applies one directive given as words (name first), as a config
// file line: it also takes include and rename-command. The command line
// (--name value ...) goes through it.
func (c *Config) ApplyArgs(words []string) error {
	return c.applyWords(words, 0)
}

func (c *Config) applyWords(words []string, depth int) error {
	switch strings.ToLower(words[0]) {
	case "include":
		if len(words) != 2 {
			return errors.New("wrong number of arguments for 'include'")
		}
		return includeConfig(words[1], c, depth+1)
	case "rename-command":
		if len(words) != 3 {
			return errors.New("wrong number of arguments for 'rename-command'")
		}
		c.Renames = append(c.Renames, Rename{From: strings.ToLower(words[1]), To: strings.ToLower(words[2])})
		return nil
	}
	return c.Set(words[0], strings.Join(words[1:], " "))
}

// includeConfig reads every file pattern names, in name order.
func includeConfig(pattern string, c *Config, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("include %s: includes nested more than %d deep", pattern, maxIncludeDepth)
	}
	paths := []string{pattern}
	if strings.ContainsAny(pattern, "*?[") {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return fmt.Errorf("include %s: %w", pattern, err)
		}
		sort.Strings(m)
		paths = m
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("can't open config file %s: %w", p, err)
		}
		err = parseConfig(f, c, depth)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// cachedLinePrefix starts the lines CONFIG REWRITE writes for directives
// redis-server does not know: redis-server reads them as comments, cached
// as directives.
const cachedLinePrefix = "# cached: "

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
