package script

import (
	"strconv"
	"testing"
)

// intHost answers every command with the integer 1, as INCR of a new key
// and EXPIRE do (one reply slice: the engine reads it before the next
// call).
type intHost struct{}

var intReply = []byte(":1\r\n")

func (intHost) Call(*Run, [][]byte, int) []byte { return intReply }
func (intHost) Log(int, string)                 {}

// BenchmarkEval runs the EVALSHA benchmark's script (INCR and EXPIRE of
// KEYS[1]) in the engine alone, a different key each run, so what it
// measures is the engine's cost per run: state, KEYS/ARGV, redis.call's
// conversions both ways, the reply.
func BenchmarkEval(b *testing.B) {
	e := New(Config{})
	defer e.Close()
	sc, err := e.Load([]byte("redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], ARGV[1]) return 1"))
	if err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(100000+i))
	}
	args := [][]byte{[]byte("100")}
	var run Run
	var out []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		run = Run{Host: intHost{}, Keys: keys[i%len(keys) : i%len(keys)+1], Args: args, Resp: 2, Name: sc.SHA}
		var rerr *Error
		out, rerr = e.Eval(out[:0], sc, &run)
		if rerr != nil || string(out) != ":1\r\n" {
			b.Fatalf("reply %q %v", out, rerr)
		}
	}
}
