package load_test

import (
	"fmt"

	"github.com/cached/cached/bench/load"
)

func ExampleParseCommand() {
	c, err := load.ParseCommand("3:LPUSH list:__key__ __data__")
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Name, c.Weight, c.Args)
	// Output: LPUSH 3 [LPUSH list:__key__ __data__]
}

func ExampleRatioCommands() {
	for _, c := range load.RatioCommands(1, 10, 60e9) {
		fmt.Println(c.Weight, c.Args)
	}
	// Output:
	// 1 [SET __key__ __data__ EX 60]
	// 10 [GET __key__]
}

func ExampleParseKeyDist() {
	d, _ := load.ParseKeyDist("zipf:1.2")
	fmt.Println(d.Kind, d.Param, d)
	// Output: zipf 1.2 zipf:1.2
}
