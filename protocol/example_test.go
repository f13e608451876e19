package protocol_test

import (
	"fmt"

	"github.com/cached/cached/protocol"
)

func ExampleFrameChecker_Filter() {
	f := protocol.NewFrameChecker(protocol.DefaultFrameLimits())
	// A request arrives in two reads; an empty "*0" request is dropped.
	out, errText := f.Filter(nil, []byte("*0\r\n*1\r\n$4\r\nPI"))
	fmt.Printf("%q %q\n", out, errText)
	out, errText = f.Filter(out, []byte("NG\r\n*1\r\n$-5\r\n"))
	fmt.Printf("%q %q\n", out, errText)
	// Output:
	// "*1\r\n$4\r\nPI" ""
	// "*1\r\n$4\r\nPING\r\n*1\r\n" "ERR Protocol error: invalid bulk length"
}

func ExampleKeySlot() {
	fmt.Println(protocol.KeySlot([]byte("somekey")))
	fmt.Println(protocol.KeySlot([]byte("{user1000}.following")) ==
		protocol.KeySlot([]byte("{user1000}.followers")))
	// Output:
	// 11058
	// true
}

func ExampleMatch() {
	fmt.Println(protocol.Match([]byte("user:*:na[lm]e"), []byte("user:42:name"), false))
	fmt.Println(protocol.Match([]byte("USER:*"), []byte("user:42"), true))
	// Output:
	// true
	// true
}

func ExampleParseSetOptions() {
	args := [][]byte{[]byte("NX"), []byte("EX"), []byte("10")}
	opts, errText := protocol.ParseSetOptions(args)
	fmt.Printf("%+v %q\n", opts, errText)
	_, errText = protocol.ParseSetOptions([][]byte{[]byte("EX"), []byte("0")})
	fmt.Println(errText)
	// Output:
	// {NX:true XX:false Get:false KeepTTL:false ExpireKind:69 Expire:10} ""
	// ERR invalid expire time in 'set' command
}

func ExampleAppendCommand() {
	out := protocol.AppendCommand(nil, []byte("GET"), []byte("k"))
	out = protocol.AppendError(out, protocol.ErrSyntax)
	fmt.Printf("%q\n", out)
	// Output:
	// "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n-ERR syntax error\r\n"
}
