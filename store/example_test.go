package store_test

import (
	"fmt"

	"github.com/cached/cached/store"
)

func Example() {
	s, err := store.New(store.Config{Shards: 4, ActiveExpireHz: -1})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// Fast path for single-key strings.
	s.Set(0, []byte("greeting"), []byte("hello"), 0, 0, "set")
	v, ok, _ := s.Get(0, []byte("greeting"), nil)
	fmt.Println(string(v), ok)

	// Anything else goes through a Tx over the keys' shards.
	src, dst := []byte("greeting"), []byte("salute")
	tx := s.Lock(src, dst)
	tx.Rename(0, src, 0, dst)
	e, ok := tx.LookupRead(0, dst)
	fmt.Println(string(e.Str()), e.Type(), e.Encoding(), ok)
	tx.Unlock()
	fmt.Println(s.DBSize(0), store.KeySlot([]byte("somekey")))
	// Output:
	// hello true
	// hello string embstr true
	// 1 11058
}
