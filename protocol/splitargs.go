package protocol

// SplitArgs splits an inline request line into arguments as Redis's
// sdssplitargs does, appending them to args: arguments are separated by
// blanks; "double quotes" take \n \r \t \b \a, \xHH and \<any> escapes;
// 'single quotes' take only \'; a closing quote must be followed by a blank
// or the end. It works in place: the unescaped arguments are written over
// line (never longer than what they came from) and point into it. ok is
// false for unbalanced quotes.
func SplitArgs(line []byte, args [][]byte) (out [][]byte, ok bool) {
	for j, c := range line {
		if c == 0 { // the line is a C string to Redis: it ends at a NUL
			line = line[:j]
			break
		}
	}
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			return args, true
		}
		start, w := i, i // the argument is written at line[start:w]
		inq, insq := false, false
		for done := false; !done; {
			switch {
			case inq:
				if i >= len(line) {
					return args, false
				}
				c := line[i]
				switch {
				case c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					line[w] = byte(hexVal(line[i+2])<<4 | hexVal(line[i+3]))
					i += 3
				case c == '\\' && i+1 < len(line):
					i++
					line[w] = unescape(line[i])
				case c == '"':
					if i+1 < len(line) && !isBlank(line[i+1]) {
						return args, false // a closing quote must be followed by a blank
					}
					done = true
					w-- // nothing written for the quote
				default:
					line[w] = c
				}
				w++
				i++
			case insq:
				if i >= len(line) {
					return args, false
				}
				c := line[i]
				switch {
				case c == '\\' && i+1 < len(line) && line[i+1] == '\'':
					i++
					line[w] = '\''
				case c == '\'':
					if i+1 < len(line) && !isBlank(line[i+1]) {
						return args, false
					}
					done = true
					w--
				default:
					line[w] = c
				}
				w++
				i++
			default:
				if i >= len(line) {
					done = true
					break
				}
				switch c := line[i]; c {
				case ' ', '\n', '\r', '\t':
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					line[w] = c
					w++
				}
				i++
			}
		}
		args = append(args, line[start:w:w])
	}
}

// isBlank is C's isspace, as sdssplitargs skips blanks with it.
func isBlank(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'
}

func isHex(c byte) bool { return hexVal(c) >= 0 }

// unescape is the byte a backslash escape in double quotes stands for.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
