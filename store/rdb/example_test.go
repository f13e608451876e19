package rdb_test

import (
	"fmt"

	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/rdb"
)

func Example() {
	h := hash.New()
	_, _ = h.Set([]byte("field"), []byte("value"))
	p, _ := rdb.AppendValue(nil, store.TypeHash, nil, h)
	fmt.Printf("type byte %d, RDB version %d\n", p[0], p[len(p)-10])

	v, err := rdb.Decode(p)
	fmt.Println(v.Type, v.Obj.Len(), v.Obj.Encoding(), err)

	p[3] ^= 1
	_, err = rdb.Decode(p)
	fmt.Println(err)
	// Output:
	// type byte 16, RDB version 10
	// hash 1 listpack <nil>
	// ERR DUMP payload version or checksum are wrong
}
