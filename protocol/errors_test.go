package protocol

import (
	"strings"
	"testing"
)

func TestErrorTexts(t *testing.T) {
	x200 := strings.Repeat("x", 200)
	x100 := strings.Repeat("y", 100)
	tests := []struct{ got, want string }{
		{WrongArity("get"), "ERR wrong number of arguments for 'get' command"},
		{WrongArity("config|get"), "ERR wrong number of arguments for 'config|get' command"},
		{InvalidExpire("set"), "ERR invalid expire time in 'set' command"},
		{UnsupportedOption([]byte("foo")), "ERR Unsupported option foo"},
		{ExpectedDollar('x'), "ERR Protocol error: expected '$', got 'x'"},
		{Moved(3999, "127.0.0.1:6381"), "MOVED 3999 127.0.0.1:6381"},
		{Ask(1, "h:1"), "ASK 1 h:1"},
		{UnknownCommand([]byte("foo"), nil),
			"ERR unknown command 'foo', with args beginning with: "},
		{UnknownCommand([]byte("foo"), [][]byte{[]byte("a"), []byte("b")}),
			"ERR unknown command 'foo', with args beginning with: 'a' 'b' "},
		{UnknownCommand([]byte(x200), nil),
			"ERR unknown command '" + x200[:128] + "', with args beginning with: "},
		{UnknownCommand([]byte("f"), [][]byte{[]byte(x200), []byte("more")}),
			"ERR unknown command 'f', with args beginning with: '" + x200[:128] + "' "},
		// The second argument gets the 128-103 = 25 bytes left of the budget.
		{UnknownCommand([]byte("f"), [][]byte{[]byte(x100), []byte(x100), []byte("z")}),
			"ERR unknown command 'f', with args beginning with: '" + x100 + "' '" + x100[:25] + "' "},
		{UnknownCommand([]byte("f\x00g"), [][]byte{[]byte("a\x00b")}),
			"ERR unknown command 'f', with args beginning with: 'a' "},
		{UnknownSubcommand([]byte("foo"), "config"), "ERR unknown subcommand 'foo'. Try CONFIG HELP."},
		{SubcommandSyntax([]byte("get"), "config"),
			"ERR unknown subcommand or wrong number of arguments for 'get'. Try CONFIG HELP."},
		{PubSubContext("get"),
			"ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q\nwant %q", i, tt.got, tt.want)
		}
	}
}
