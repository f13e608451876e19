package script

// cmsgpack: lua-cmsgpack as Redis ships it. pack(...) encodes each
// argument and concatenates them; unpack(s) returns every value in s;
// unpack_one(s[, offset]) and unpack_limit(s, limit[, offset]) return the
// offset after what they read (-1 at the end) and the values.
//
// Numbers that hold an integer are packed as the smallest integer type,
// others as float32 when that is exact, else float64. A table whose keys
// are exactly 1..n is an array, any other a map; nesting deeper than 16
// packs nil.

import (
	"encoding/binary"
	"math"

	lua "github.com/yuin/gopher-lua"
)

const msgpackMaxNesting = 16

// cmsgpackLib builds the cmsgpack table.
func cmsgpackLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	L.SetFuncs(t, map[string]lua.LGFunction{
		"pack": mpPack,
		"unpack": func(L *lua.LState) int {
			return mpUnpack(L, L.CheckString(1), 0, 0, false)
		},
		"unpack_one": func(L *lua.LState) int {
			return mpUnpack(L, L.CheckString(1), 1, L.OptInt(2, 0), true)
		},
		"unpack_limit": func(L *lua.LState) int {
			return mpUnpack(L, L.CheckString(1), L.CheckInt(2), L.OptInt(3, 0), true)
		},
	})
	return t
}

func mpPack(L *lua.LState) int {
	n := L.GetTop()
	if n == 0 {
		raisef(L, "MessagePack pack needs input.")
	}
	var buf []byte
	for i := 1; i <= n; i++ {
		buf = mpEncode(buf, L.Get(i), 0)
	}
	L.Push(lua.LString(buf))
	return 1
}

func mpEncode(b []byte, v lua.LValue, depth int) []byte {
	switch v := v.(type) {
	case lua.LBool:
		if v {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case lua.LNumber:
		return mpNumber(b, float64(v))
	case lua.LString:
		return mpString(b, string(v))
	case *lua.LTable:
		if depth >= msgpackMaxNesting {
			return append(b, 0xc0)
		}
		if n, ok := mpArrayLen(v); ok {
			b = mpHeader(b, n, 0x90, 0xdc, 0xdd)
			for i := 1; i <= n; i++ {
				b = mpEncode(b, v.RawGetInt(i), depth+1)
			}
			return b
		}
		n := 0
		v.ForEach(func(_, _ lua.LValue) { n++ })
		b = mpHeader(b, n, 0x80, 0xde, 0xdf)
		v.ForEach(func(k, val lua.LValue) {
			b = mpEncode(b, k, depth+1)
			b = mpEncode(b, val, depth+1)
		})
		return b
	}
	return append(b, 0xc0)
}

// mpArrayLen reports whether t's keys are exactly 1..n.
func mpArrayLen(t *lua.LTable) (int, bool) {
	count, maxKey := 0, 0
	ok := true
	t.ForEach(func(k, _ lua.LValue) {
		n, isNum := k.(lua.LNumber)
		if !isNum || float64(n) <= 0 || float64(n) != math.Floor(float64(n)) {
			ok = false
			return
		}
		count++
		if int(n) > maxKey {
			maxKey = int(n)
		}
	})
	return count, ok && count == maxKey
}

func mpHeader(b []byte, n int, fix, b16, b32 byte) []byte {
	switch {
	case n < 16:
		return append(b, fix|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, b32), uint32(n))
}

func mpString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= 0xff:
		b = append(b, 0xd9, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func mpNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && f >= -9.223372036854775808e18 && f < 9.223372036854775807e18 && !math.IsInf(f, 0) {
		return mpInt(b, int64(f))
	}
	if f32 := float32(f); float64(f32) == f || math.IsNaN(f) {
		return binary.BigEndian.AppendUint32(append(b, 0xca), math.Float32bits(f32))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
}

func mpInt(b []byte, n int64) []byte {
	switch {
	case n >= 0 && n <= 127:
		return append(b, byte(n))
	case n >= 0 && n <= 0xff:
		return append(b, 0xcc, byte(n))
	case n >= 0 && n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n >= 0 && n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	case n >= 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	case n >= -32:
		return append(b, byte(int8(n)))
	case n >= -128:
		return append(b, 0xd0, byte(int8(n)))
	case n >= -32768:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(n)))
	case n >= -2147483648:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// mpUnpack decodes up to limit values (0: all) of s from offset. With
// withOffset it returns the offset after them first (-1 at the end).
func mpUnpack(L *lua.LState, s string, limit, offset int, withOffset bool) int {
	if offset < 0 || limit < 0 {
		raisef(L, "Invalid request to unpack with offset of %d and limit of %d.", offset, limit)
	}
	if offset > len(s) {
		raisef(L, "Start offset %d greater than input length %d.", offset, len(s))
	}
	d := mpDecoder{L: L, s: s, i: offset}
	var vals []lua.LValue
	for d.i < len(s) && (limit == 0 || len(vals) < limit) {
		vals = append(vals, d.value(0))
	}
	if withOffset {
		next := d.i
		if next >= len(s) {
			next = -1
		}
		L.Push(lua.LNumber(next))
	}
	for _, v := range vals {
		L.Push(v)
	}
	if withOffset {
		return len(vals) + 1
	}
	return len(vals)
}

type mpDecoder struct {
	L *lua.LState
	s string
	i int
}

// take returns the next n bytes, raising on missing input.
func (d *mpDecoder) take(n int) string {
	if n < 0 || len(d.s)-d.i < n {
		raisef(d.L, "Missing bytes in input.")
	}
	out := d.s[d.i : d.i+n]
	d.i += n
	return out
}

func (d *mpDecoder) uint(n int) uint64 {
	var v uint64
	for _, c := range []byte(d.take(n)) {
		v = v<<8 | uint64(c)
	}
	return v
}

func (d *mpDecoder) value(depth int) lua.LValue {
	if depth > 1000 {
		raisef(d.L, "Bad data format in input.")
	}
	c := d.take(1)[0]
	switch {
	case c <= 0x7f:
		return lua.LNumber(c)
	case c >= 0xe0:
		return lua.LNumber(int8(c))
	case c&0xe0 == 0xa0:
		return lua.LString(d.take(int(c & 0x1f)))
	case c&0xf0 == 0x90:
		return d.array(int(c&0x0f), depth)
	case c&0xf0 == 0x80:
		return d.mapping(int(c&0x0f), depth)
	}
	switch c {
	case 0xc0:
		return lua.LNil
	case 0xc2:
		return lua.LFalse
	case 0xc3:
		return lua.LTrue
	case 0xcc, 0xcd, 0xce, 0xcf:
		return lua.LNumber(float64(d.uint(1 << (c - 0xcc))))
	case 0xd0:
		return lua.LNumber(int8(d.uint(1)))
	case 0xd1:
		return lua.LNumber(int16(d.uint(2)))
	case 0xd2:
		return lua.LNumber(int32(d.uint(4)))
	case 0xd3:
		return lua.LNumber(float64(int64(d.uint(8))))
	case 0xca:
		return lua.LNumber(math.Float32frombits(uint32(d.uint(4))))
	case 0xcb:
		return lua.LNumber(math.Float64frombits(d.uint(8)))
	case 0xd9:
		return lua.LString(d.take(int(d.uint(1))))
	case 0xda:
		return lua.LString(d.take(int(d.uint(2))))
	case 0xdb:
		return lua.LString(d.take(int(d.uint(4))))
	case 0xdc:
		return d.array(int(d.uint(2)), depth)
	case 0xdd:
		return d.array(int(d.uint(4)), depth)
	case 0xde:
		return d.mapping(int(d.uint(2)), depth)
	case 0xdf:
		return d.mapping(int(d.uint(4)), depth)
	}
	raisef(d.L, "Bad data format in input.")
	return lua.LNil
}

func (d *mpDecoder) array(n, depth int) lua.LValue {
	if n > len(d.s)-d.i { // every item takes at least one byte
		raisef(d.L, "Missing bytes in input.")
	}
	t := d.L.CreateTable(n, 0)
	for i := 1; i <= n; i++ {
		t.RawSetInt(i, d.value(depth+1))
	}
	return t
}

func (d *mpDecoder) mapping(n, depth int) lua.LValue {
	if 2*n > len(d.s)-d.i {
		raisef(d.L, "Missing bytes in input.")
	}
	t := d.L.CreateTable(0, n)
	for i := 0; i < n; i++ {
		k := d.value(depth + 1)
		v := d.value(depth + 1)
		if k != lua.LNil {
			t.RawSet(k, v)
		}
	}
	return t
}
