package hash_test

import (
	"fmt"
	"strings"

	"github.com/cached/cached/store/hash"
)

func Example() {
	h := hash.New()
	h.Set([]byte("name"), []byte("cached"))
	h.Set([]byte("lang"), []byte("go"))
	v, _ := h.Get([]byte("name"))
	fmt.Println(string(v), h.Len(), h.Encoding())

	h.Set([]byte("long"), []byte(strings.Repeat("x", hash.MaxListpackValue+1)))
	fmt.Println(h.Encoding())
	// Output:
	// cached 2 listpack
	// hashtable
}
