package script

// cjson: lua-cjson 2.1 as Redis ships it. encode writes numbers with
// %.14g, escapes '/', encodes an empty table as {}, a table whose keys are
// the integers 1..n (holes allowed unless excessively sparse) as an array,
// anything else as an object; decode maps null to cjson.null.

import (
	"math"
	"strconv"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

const cjsonMaxDepth = 1000

// cjsonLib builds the cjson table.
func cjsonLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	null := L.NewUserData()
	t.RawSetString("null", null)
	L.SetFuncs(t, map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				L.ArgError(1, "expected 1 argument")
			}
			enc := jsonEncoder{L: L, null: null}
			enc.value(L.Get(1), 0)
			L.Push(lua.LString(enc.buf))
			return 1
		},
		"decode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				L.ArgError(1, "expected 1 argument")
			}
			s := L.CheckString(1)
			d := jsonDecoder{L: L, s: s, null: null}
			d.skipSpace()
			v := d.value(0)
			d.skipSpace()
			if d.i < len(d.s) {
				d.fail("the end", d.i)
			}
			L.Push(v)
			return 1
		},
		"encode_keep_buffer":      cjsonSetting(lua.LTrue),
		"encode_max_depth":        cjsonSetting(lua.LNumber(cjsonMaxDepth)),
		"decode_max_depth":        cjsonSetting(lua.LNumber(cjsonMaxDepth)),
		"encode_number_precision": cjsonSetting(lua.LNumber(14)),
		"encode_invalid_numbers":  cjsonSetting(lua.LFalse),
		"decode_invalid_numbers":  cjsonSetting(lua.LTrue),
		"encode_sparse_array": func(L *lua.LState) int {
			L.Push(lua.LFalse)
			L.Push(lua.LNumber(2))
			L.Push(lua.LNumber(10))
			return 3
		},
	})
	return t
}

// cjsonSetting is a configuration function that keeps its default.
func cjsonSetting(v lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		L.Push(v)
		return 1
	}
}

type jsonEncoder struct {
	L    *lua.LState
	null lua.LValue
	buf  []byte
}

func (e *jsonEncoder) value(v lua.LValue, depth int) {
	switch v := v.(type) {
	case lua.LString:
		e.str(string(v))
	case lua.LNumber:
		e.number(float64(v))
	case lua.LBool:
		if v {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case *lua.LTable:
		e.table(v, depth+1)
	default:
		if v == lua.LNil || v == e.null {
			e.buf = append(e.buf, "null"...)
			return
		}
		raisef(e.L, "Cannot serialise %s: type not supported", v.Type().String())
	}
}

func (e *jsonEncoder) number(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		raisef(e.L, "Cannot serialise number: must not be NaN or Inf")
	}
	e.buf = appendG14(e.buf, f)
}

// appendG14 is C's %.14g.
func appendG14(dst []byte, f float64) []byte {
	return strconv.AppendFloat(dst, f, 'g', 14, 64)
}

func (e *jsonEncoder) str(s string) {
	const hex = "0123456789abcdef"
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			e.buf = append(e.buf, `\"`...)
		case '\\':
			e.buf = append(e.buf, `\\`...)
		case '/':
			e.buf = append(e.buf, `\/`...)
		case '\b':
			e.buf = append(e.buf, `\b`...)
		case '\f':
			e.buf = append(e.buf, `\f`...)
		case '\n':
			e.buf = append(e.buf, `\n`...)
		case '\r':
			e.buf = append(e.buf, `\r`...)
		case '\t':
			e.buf = append(e.buf, `\t`...)
		default:
			if c < 0x20 || c == 0x7f {
				e.buf = append(e.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			} else {
				e.buf = append(e.buf, c)
			}
		}
	}
	e.buf = append(e.buf, '"')
}

// arrayLen is lua-cjson's lua_array_length: the largest key if every key
// is a positive integer (-1 otherwise), refusing excessively sparse arrays.
func (e *jsonEncoder) arrayLen(t *lua.LTable) int {
	maxKey, items := 0, 0
	isArray := true
	t.ForEach(func(k, _ lua.LValue) {
		n, ok := k.(lua.LNumber)
		if !ok || float64(n) < 1 || float64(n) != math.Floor(float64(n)) {
			isArray = false
			return
		}
		if int(n) > maxKey {
			maxKey = int(n)
		}
		items++
	})
	if !isArray {
		return -1
	}
	if maxKey > 10 && maxKey > items*2 {
		raisef(e.L, "Cannot serialise table: excessively sparse array")
	}
	return maxKey
}

func (e *jsonEncoder) table(t *lua.LTable, depth int) {
	if depth > cjsonMaxDepth {
		raisef(e.L, "Cannot serialise, excessive nesting (%d)", depth)
	}
	if n := e.arrayLen(t); n > 0 {
		e.buf = append(e.buf, '[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				e.buf = append(e.buf, ',')
			}
			e.value(t.RawGetInt(i), depth)
		}
		e.buf = append(e.buf, ']')
		return
	}
	e.buf = append(e.buf, '{')
	first := true
	t.ForEach(func(k, v lua.LValue) {
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		switch k := k.(type) {
		case lua.LString:
			e.str(string(k))
		case lua.LNumber:
			e.buf = append(e.buf, '"')
			e.buf = appendG14(e.buf, float64(k))
			e.buf = append(e.buf, '"')
		default:
			raisef(e.L, "Cannot serialise %s: table key must be a number or string", k.Type().String())
		}
		e.buf = append(e.buf, ':')
		e.value(v, depth)
	})
	e.buf = append(e.buf, '}')
}

type jsonDecoder struct {
	L    *lua.LState
	s    string
	i    int
	null lua.LValue
}

// fail raises lua-cjson's "Expected X but found invalid token at
// character N".
func (d *jsonDecoder) fail(what string, at int) {
	raisef(d.L, "Expected %s but found invalid token at character %d", what, at+1)
}

func (d *jsonDecoder) skipSpace() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) lua.LValue {
	if d.i >= len(d.s) {
		raisef(d.L, "Expected value but found T_END at character %d", d.i+1)
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return lua.LString(d.str())
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	for _, lit := range []struct {
		text string
		v    lua.LValue
	}{{"true", lua.LTrue}, {"false", lua.LFalse}, {"null", d.null}} {
		if len(d.s)-d.i >= len(lit.text) && d.s[d.i:d.i+len(lit.text)] == lit.text {
			d.i += len(lit.text)
			return lit.v
		}
	}
	d.fail("value", d.i)
	return lua.LNil
}

func (d *jsonDecoder) number() lua.LValue {
	j := d.i
	for j < len(d.s) && (d.s[j] == '-' || d.s[j] == '+' || d.s[j] == '.' || d.s[j] == 'e' ||
		d.s[j] == 'E' || d.s[j] >= '0' && d.s[j] <= '9') {
		j++
	}
	f, err := strconv.ParseFloat(d.s[d.i:j], 64)
	if err != nil && !isRangeErr(err) {
		d.fail("value", d.i)
	}
	d.i = j
	return lua.LNumber(f)
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (d *jsonDecoder) str() string {
	d.i++ // opening quote
	var out []byte
	for {
		if d.i >= len(d.s) {
			raisef(d.L, "Expected value but found unterminated string at character %d", d.i+1)
		}
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out)
		case c == '\\':
			out = d.escape(out)
		default:
			out = append(out, c)
			d.i++
		}
	}
}

// escape decodes the escape sequence at d.i.
func (d *jsonDecoder) escape(out []byte) []byte {
	if d.i+1 >= len(d.s) {
		d.fail("value", d.i)
	}
	c := d.s[d.i+1]
	d.i += 2
	switch c {
	case '"', '\\', '/':
		return append(out, c)
	case 'b':
		return append(out, '\b')
	case 'f':
		return append(out, '\f')
	case 'n':
		return append(out, '\n')
	case 'r':
		return append(out, '\r')
	case 't':
		return append(out, '\t')
	case 'u':
		r := d.hex4()
		if r >= 0xd800 && r < 0xdc00 && d.i+1 < len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
			d.i += 2
			lo := d.hex4()
			r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
		}
		return utf8.AppendRune(out, rune(r))
	}
	d.fail("value", d.i-2)
	return out
}

func (d *jsonDecoder) hex4() int {
	if d.i+4 > len(d.s) {
		d.fail("value", d.i)
	}
	n, err := strconv.ParseUint(d.s[d.i:d.i+4], 16, 32)
	if err != nil {
		d.fail("value", d.i)
	}
	d.i += 4
	return int(n)
}

func (d *jsonDecoder) checkDepth(depth int) {
	if depth > cjsonMaxDepth {
		raisef(d.L, "Found too many nested data structures (%d) at character %d", depth, d.i+1)
	}
}

func (d *jsonDecoder) array(depth int) lua.LValue {
	d.checkDepth(depth)
	d.i++
	t := d.L.NewTable()
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return t
	}
	for n := 1; ; n++ {
		d.skipSpace()
		t.RawSetInt(n, d.value(depth))
		d.skipSpace()
		if d.i >= len(d.s) {
			d.fail("comma or array end", d.i)
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return t
		default:
			d.fail("comma or array end", d.i)
		}
	}
}

func (d *jsonDecoder) object(depth int) lua.LValue {
	d.checkDepth(depth)
	d.i++
	t := d.L.NewTable()
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return t
	}
	for {
		d.skipSpace()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			d.fail("object key string", d.i)
		}
		k := d.str()
		d.skipSpace()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			d.fail("colon", d.i)
		}
		d.i++
		d.skipSpace()
		t.RawSetString(k, d.value(depth))
		d.skipSpace()
		if d.i >= len(d.s) {
			d.fail("comma or object end", d.i)
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return t
		default:
			d.fail("comma or object end", d.i)
		}
	}
}
