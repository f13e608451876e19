package slowlog

import (
	"strings"
	"testing"
	"time"
)

func TestLogRingAndTrim(t *testing.T) {
	var l Log
	l.Configure(10, 2)
	if l.Threshold() != 10*time.Microsecond {
		t.Fatalf("threshold %v", l.Threshold())
	}
	long := []byte(strings.Repeat("x", maxArgLen+5))
	l.Add([][]byte{[]byte("SET"), []byte("a"), long}, time.Millisecond, "127.0.0.1:1", "n")
	l.Add([][]byte{[]byte("GET"), []byte("a")}, 2*time.Millisecond, "127.0.0.1:2", "")
	l.Add([][]byte{[]byte("GET"), []byte("b")}, 3*time.Millisecond, "127.0.0.1:3", "")
	got := l.Get(-1)
	if len(got) != 2 || got[0].ID != 2 || got[1].ID != 1 || got[0].Args[1] != "b" || got[0].Micros != 3000 {
		t.Fatalf("ring of 2 after 3 adds: %+v", got)
	}
	l.Configure(10, 5)
	l.Reset()
	if l.Len() != 0 {
		t.Fatal("Reset kept entries")
	}
	l.Add([][]byte{[]byte("SET"), []byte("a"), long}, time.Millisecond, "127.0.0.1:1", "n")
	e := l.Get(1)[0]
	if e.ID != 3 || e.Args[2] != strings.Repeat("x", maxArgLen)+"... (5 more bytes)" || e.Name != "n" || e.Addr != "127.0.0.1:1" {
		t.Fatalf("entry after reset: %+v", e)
	}
	l.Configure(-1, 5)
	if l.Threshold() < time.Duration(1<<62) {
		t.Fatalf("a negative threshold must disable the log: %v", l.Threshold())
	}
}
