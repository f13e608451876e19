package set_test

import (
	"fmt"

	"github.com/cached/cached/store/set"
)

func Example() {
	s := set.New()
	for _, m := range []string{"3", "1", "2"} {
		s.Add([]byte(m))
	}
	var ms []string
	s.Each(func(m []byte) bool { ms = append(ms, string(m)); return true })
	fmt.Println(ms, s.Encoding())

	s.Add([]byte("not a number"))
	fmt.Println(s.Len(), s.Encoding())
	// Output:
	// [1 2 3] intset
	// 4 listpack
}
