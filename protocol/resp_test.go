package protocol

import (
	"math"
	"testing"
)

func TestAppenders(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"array", AppendArray(nil, 3), "*3\r\n"},
		{"array0", AppendArray(nil, 0), "*0\r\n"},
		{"bulk", AppendBulk(nil, []byte("foo")), "$3\r\nfoo\r\n"},
		{"bulk empty", AppendBulk(nil, nil), "$0\r\n\r\n"},
		{"bulk binary", AppendBulk(nil, []byte("a\r\nb")), "$4\r\na\r\nb\r\n"},
		{"bulkstring", AppendBulkString(nil, "hello"), "$5\r\nhello\r\n"},
		{"bulk2", AppendBulk2(nil, []byte("ab"), []byte("cd")), "$4\r\nabcd\r\n"},
		{"bulk2 empty", AppendBulk2(nil, nil, nil), "$0\r\n\r\n"},
		{"int", AppendInt(nil, -42), ":-42\r\n"},
		{"int min", AppendInt(nil, math.MinInt64), ":-9223372036854775808\r\n"},
		{"simple", AppendSimple(nil, "OK"), "+OK\r\n"},
		{"simple newline", AppendSimple(nil, "a\r\nb"), "+a  b\r\n"},
		{"error", AppendError(nil, ErrSyntax), "-ERR syntax error\r\n"},
		{"error newline", AppendError(nil, "ERR a\nb"), "-ERR a b\r\n"},
		{"nullbulk", AppendNullBulk(nil), "$-1\r\n"},
		{"nullarray", AppendNullArray(nil), "*-1\r\n"},
		{"null", AppendNull(nil), "_\r\n"},
		{"map", AppendMap(nil, 2), "%2\r\n"},
		{"set", AppendSet(nil, 1), "~1\r\n"},
		{"push", AppendPush(nil, 3), ">3\r\n"},
		{"double", AppendDouble(nil, 1.5), ",1.5\r\n"},
		{"double inf", AppendDouble(nil, math.Inf(1)), ",inf\r\n"},
		{"double -inf", AppendDouble(nil, math.Inf(-1)), ",-inf\r\n"},
		{"double 0.1", AppendDouble(nil, 0.1), ",0.10000000000000001\r\n"},
		{"bool t", AppendBool(nil, true), "#t\r\n"},
		{"bool f", AppendBool(nil, false), "#f\r\n"},
		{"verbatim", AppendVerbatim(nil, "txt", []byte("hi")), "=6\r\ntxt:hi\r\n"},
		{"verbatim short fmt", AppendVerbatim(nil, "md", []byte("x")), "=5\r\nmd :x\r\n"},
		{"command", AppendCommand(nil, []byte("SET"), []byte("k"), []byte("v")),
			"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"},
		{"appends", AppendInt([]byte("x"), 1), "x:1\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	args := [][]byte{[]byte("SET"), []byte("key:000000000001"), make([]byte, 32)}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendCommand(buf[:0], args...)
	}
}
