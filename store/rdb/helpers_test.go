package rdb

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"strconv"

	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/list"
	"github.com/cached/cached/store/set"
	"github.com/cached/cached/store/zset"
)

// canon lists a value's contents in a comparable form: the string; list
// elements in order; set members and hash "field\x00value" pairs sorted;
// zset "member\x00score" in order, scores in Go's shortest form.
func canon(v Value) []string {
	var out []string
	switch o := v.Obj.(type) {
	case nil:
		out = []string{string(v.Str)}
	case *list.List:
		for _, e := range o.Values() {
			out = append(out, string(e))
		}
	case *set.Set:
		o.Each(func(m []byte) bool { out = append(out, string(m)); return true })
		slices.Sort(out)
	case *hash.Hash:
		o.Each(func(f, v []byte) bool { out = append(out, string(f)+"\x00"+string(v)); return true })
		slices.Sort(out)
	case *zset.ZSet:
		o.Walk(0, false, func(m []byte, s float64) bool {
			out = append(out, string(m)+"\x00"+fmtScore(s))
			return true
		})
	}
	return out
}

func fmtScore(s float64) string {
	switch {
	case math.IsInf(s, 1):
		return "+Inf"
	case math.IsInf(s, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(s, 'g', -1, 64)
}

func hexAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = hex.EncodeToString([]byte(s))
	}
	return out
}

// seal appends an RDB version and the right CRC to body.
func seal(body []byte, version uint16) []byte {
	p := binary.LittleEndian.AppendUint16(slices.Clone(body), version)
	return binary.LittleEndian.AppendUint64(p, crc64(0, p))
}

// dumpValue is AppendValue of a decoded Value.
func dumpValue(v Value) ([]byte, error) {
	var obj any
	if v.Obj != nil {
		obj = v.Obj
	}
	return AppendValue(nil, v.Type, v.Str, obj)
}

var typeNamesForTest = map[store.Type]string{store.TypeString: "string", store.TypeList: "list",
	store.TypeSet: "set", store.TypeHash: "hash", store.TypeZSet: "zset"}
