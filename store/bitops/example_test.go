package bitops_test

import (
	"fmt"

	"github.com/cached/cached/store/bitops"
)

func ExampleBitCount() {
	r, errText := bitops.ParseBitCount([][]byte{[]byte("5"), []byte("30"), []byte("BIT")})
	if errText != "" {
		fmt.Println(errText)
		return
	}
	fmt.Println(bitops.BitCount([]byte("foobar"), r))
	// Output: 17
}

func ExampleApplyInPlace() {
	argv := [][]byte{[]byte("INCRBY"), []byte("i5"), []byte("100"), []byte("1"), []byte("GET"), []byte("u4"), []byte("0")}
	ops, errText := bitops.ParseBitfield(argv, false)
	if errText != "" {
		fmt.Println(errText)
		return
	}
	v := make([]byte, bitops.WriteExtent(ops)) // a missing key, grown for the writes
	results, changed := bitops.ApplyInPlace(v, ops)
	fmt.Println(len(v), results, changed)
	// Output: 14 [{1 false} {0 false}] true
}

func ExampleLCS() {
	o, _ := bitops.ParseLCS([][]byte{[]byte("IDX"), []byte("WITHMATCHLEN")})
	r, errText := bitops.LCS([]byte("ohmytext"), []byte("mynewtext"), o, 0)
	if errText != "" {
		fmt.Println(errText)
		return
	}
	fmt.Println(r.Len, r.Matches)
	// Output: 6 [{[4 7] [5 8] 4} {[2 3] [0 1] 2}]
}

func ExampleSetBit() {
	v, old := bitops.SetBit(nil, 7, 1)
	fmt.Printf("%q %d %d\n", v, old, bitops.GetBit(v, 7))
	// Output: "\x01" 0 1
}
