package protocol

import (
	"testing"
	"time"
)

func TestParseBlockTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"1", time.Second, ""},
		{"0.1", 100 * time.Millisecond, ""},
		{"0.0001", time.Millisecond, ""}, // rounded up, as Redis's ceill
		{"1e3", 1000 * time.Second, ""},
		{"-1", 0, ErrTimeoutNeg},
		{"-inf", 0, ErrTimeoutNeg},
		{"inf", 0, ErrTimeoutNeg},   // redis-server 7.0.15: "timeout is negative"
		{"1e300", 0, ErrTimeoutNeg}, // idem
		{"1e16", 0, ErrTimeoutNeg},  // 1e19 ms overflows int64
		{"9e15", 0, ""},             // fits int64 ms, not a Duration: forever
		{"abc", 0, ErrTimeoutFloat},
		{"", 0, ErrTimeoutFloat},
		{"1 ", 0, ErrTimeoutFloat},
	} {
		got, err := ParseBlockTimeout([]byte(tc.in))
		if got != tc.want || err != tc.err {
			t.Errorf("ParseBlockTimeout(%q) = %v, %q; want %v, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
