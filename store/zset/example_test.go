package zset_test

import (
	"fmt"

	"github.com/cached/cached/store/zset"
)

func Example() {
	z := zset.New(0, 0)
	z.Set([]byte("carol"), 30)
	z.Set([]byte("alice"), 10)
	z.Set([]byte("bob"), 20)
	z.Set([]byte("alice"), 25) // update

	rank, score, _ := z.Rank([]byte("alice"))
	fmt.Println("alice:", rank, score, z.Encoding())

	// Members with 20 <= score < 30, highest first.
	first, last := z.ScoreRank(20, false), z.ScoreRank(30, false)
	n := last - first
	z.Walk(last-1, true, func(m []byte, s float64) bool {
		fmt.Println(string(m), s)
		n--
		return n > 0
	})
	// Output:
	// alice: 1 25 listpack
	// alice 25
	// bob 20
}
