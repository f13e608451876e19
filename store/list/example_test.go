package list_test

import (
	"fmt"

	"github.com/cached/cached/store/list"
)

func Example() {
	l := list.New()
	l.PushBack([]byte("b"))
	l.PushBack([]byte("c"))
	l.PushFront([]byte("a"))
	l.Insert(3, []byte("d"))
	v, _ := l.Index(-1)
	fmt.Printf("len %d, last %s\n", l.Len(), v)
	l.Range(1, 2, func(v []byte) bool { fmt.Printf("[%s]", v); return true })
	head, _ := l.PopFrontTo(nil)
	fmt.Printf("\npopped %s, %s\n", head, l.Encoding())
	// Output:
	// len 4, last d
	// [b][c]
	// popped a, quicklist
}
