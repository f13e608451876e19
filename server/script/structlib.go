package script

// struct: Roberto Ierusalimschy's struct library as Redis ships it.
// Formats: '<' '>' '=' byte order (little endian native), '!n' alignment,
// 'x' pad byte, 'b' 'B' 'h' 'H' 'l' 'L' 'T' 'i[n]' 'I[n]' integers, 'f'
// 'd' floats, 'c[n]' a fixed string (c0 in unpack: length from the
// previous value), 's' a zero-terminated string.

import (
	"encoding/binary"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

func structLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	L.SetFuncs(t, map[string]lua.LGFunction{
		"pack":   structPack,
		"unpack": structUnpack,
		"size":   structSize,
	})
	return t
}

// structItem is one parsed format option.
type structItem struct {
	op   byte
	size int // bytes; for 'c' the declared length (0: c0)
}

type structFormat struct {
	L      *lua.LState
	f      string
	i      int
	little bool
	align  int
}

// next returns the next option, handling byte order and alignment
// options itself; ok is false at the end.
func (p *structFormat) next() (structItem, bool) {
	for p.i < len(p.f) {
		c := p.f[p.i]
		p.i++
		switch c {
		case ' ':
		case '<', '=':
			p.little = true
		case '>':
			p.little = false
		case '!':
			p.align = p.num(8)
		case 'x':
			return structItem{op: 'x', size: 1}, true
		case 'b', 'B':
			return structItem{op: c, size: 1}, true
		case 'h', 'H':
			return structItem{op: c, size: 2}, true
		case 'l', 'L', 'T':
			return structItem{op: c, size: 8}, true
		case 'i', 'I':
			n := p.num(4)
			if n < 1 || n > 8 {
				raisef(p.L, "integral size %d is larger than limit of %d", n, 8)
			}
			return structItem{op: c, size: n}, true
		case 'f':
			return structItem{op: 'f', size: 4}, true
		case 'd':
			return structItem{op: 'd', size: 8}, true
		case 'c':
			return structItem{op: 'c', size: p.num(1)}, true
		case 's':
			return structItem{op: 's'}, true
		default:
			raisef(p.L, "invalid format option '%c'", c)
		}
	}
	return structItem{}, false
}

// num reads the digits after an option, def if none.
func (p *structFormat) num(def int) int {
	j := p.i
	for j < len(p.f) && p.f[j] >= '0' && p.f[j] <= '9' {
		j++
	}
	if j == p.i {
		return def
	}
	n, _ := strconv.Atoi(p.f[p.i:j])
	p.i = j
	return n
}

// pad is the padding before an item of size at offset (alignment '!').
func (p *structFormat) pad(it structItem, off int) int {
	a := it.size
	if it.op == 'c' || it.op == 's' || it.op == 'x' || a <= 1 || p.align <= 1 {
		return 0
	}
	if a > p.align {
		a = p.align
	}
	return (a - off%a) % a
}

func (p *structFormat) putInt(b []byte, v uint64, n int) []byte {
	for i := 0; i < n; i++ {
		shift := 8 * i
		if !p.little {
			shift = 8 * (n - 1 - i)
		}
		b = append(b, byte(v>>shift))
	}
	return b
}

func structPack(L *lua.LState) int {
	p := structFormat{L: L, f: L.CheckString(1), little: true}
	arg := 2
	var b []byte
	for {
		it, ok := p.next()
		if !ok {
			break
		}
		for n := p.pad(it, len(b)); n > 0; n-- {
			b = append(b, 0)
		}
		switch it.op {
		case 'x':
			b = append(b, 0)
			continue
		case 'f':
			b = p.putInt(b, uint64(math.Float32bits(float32(L.CheckNumber(arg)))), 4)
		case 'd':
			b = p.putInt(b, math.Float64bits(float64(L.CheckNumber(arg))), 8)
		case 'c', 's':
			s := L.CheckString(arg)
			if it.op == 'c' && it.size > 0 {
				if len(s) < it.size {
					raisef(L, "bad argument #%d to 'pack' (string too short)", arg)
				}
				s = s[:it.size]
			}
			b = append(b, s...)
			if it.op == 's' {
				b = append(b, 0)
			}
		default:
			b = p.putInt(b, uint64(int64(L.CheckNumber(arg))), it.size)
		}
		arg++
	}
	L.Push(lua.LString(b))
	return 1
}

func structUnpack(L *lua.LState) int {
	p := structFormat{L: L, f: L.CheckString(1), little: true}
	data := L.CheckString(2)
	pos := L.OptInt(3, 1) - 1
	if pos < 0 || pos > len(data) {
		raisef(L, "bad argument #3 to 'unpack' (offset must be 1 or greater)")
	}
	n := 0
	var last lua.LNumber
	for {
		it, ok := p.next()
		if !ok {
			break
		}
		pos += p.pad(it, pos)
		size := it.size
		if it.op == 'c' && size == 0 {
			size = int(last)
		}
		if it.op == 's' {
			size = 0
			for pos+size < len(data) && data[pos+size] != 0 {
				size++
			}
		}
		if pos+size > len(data) || size < 0 {
			raisef(L, "data string too short")
		}
		raw := data[pos : pos+size]
		pos += size
		var v lua.LValue
		switch it.op {
		case 'x':
			continue
		case 'c':
			v = lua.LString(raw)
		case 's':
			v = lua.LString(raw)
			pos++ // the terminating zero
		case 'f':
			v = lua.LNumber(math.Float32frombits(uint32(p.getInt(raw))))
		case 'd':
			v = lua.LNumber(math.Float64frombits(p.getInt(raw)))
		default:
			v = p.intValue(it, p.getInt(raw))
		}
		if num, ok := v.(lua.LNumber); ok {
			last = num
		}
		L.Push(v)
		n++
	}
	L.Push(lua.LNumber(pos + 1))
	return n + 1
}

func (p *structFormat) getInt(raw string) uint64 {
	buf := make([]byte, 8)
	if p.little {
		copy(buf, raw)
		return binary.LittleEndian.Uint64(buf)
	}
	copy(buf[8-len(raw):], raw)
	return binary.BigEndian.Uint64(buf)
}

// intValue sign-extends v for the signed options.
func (p *structFormat) intValue(it structItem, v uint64) lua.LValue {
	signed := it.op == 'b' || it.op == 'h' || it.op == 'l' || it.op == 'i'
	if signed && it.size < 8 && v&(1<<(8*it.size-1)) != 0 {
		v |= ^uint64(0) << (8 * it.size)
	}
	if signed {
		return lua.LNumber(float64(int64(v)))
	}
	return lua.LNumber(float64(v))
}

func structSize(L *lua.LState) int {
	p := structFormat{L: L, f: L.CheckString(1), little: true}
	size := 0
	for {
		it, ok := p.next()
		if !ok {
			break
		}
		if it.op == 's' || it.op == 'c' && it.size == 0 {
			raisef(L, "options 'c0' - 's' have undefined sizes")
		}
		size += p.pad(it, size) + it.size
	}
	L.Push(lua.LNumber(size))
	return 1
}
