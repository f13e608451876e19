package protocol

import "testing"

// The expected sums are redis-server 7.0.15's INCRBYFLOAT replies on x86-64.
func TestLongDoubleIncr(t *testing.T) {
	for _, tc := range []struct{ cur, incr, want string }{
		{"10.50", "0.1", "10.6"},
		{"0.1", "0.2", "0.3"},
		{"5.0e3", "2.0e2", "5200"},
		{"3", "1.5", "4.5"},
		{"0", "-0", "0"},
		{"-1.5", "1.5", "0"},
		{"1", "0x10", "17"},
		{"1e300", "1e300", "2000000000000000000017994648159118387741047888546581495876520164642531293192361871511698304167500994380700745017228549671807185112369345967826192521041497292574654271283687306588168510215212033579453305864740061102765895241989080589545563779241212358535223254194821301134374772211380178849830208012288"},
		{"1.1", "2.2", "3.3"},
		{"0.3333333333333333333", "0", "0.33333333333333333"},
		{"9007199254740993", "0", "9007199254740993"}, // exact in long double, not in float64
	} {
		cur, ok1 := ParseLongDouble([]byte(tc.cur))
		incr, ok2 := ParseLongDouble([]byte(tc.incr))
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q: %v %v", tc.cur, tc.incr, ok1, ok2)
		}
		sum, ok := AddLongDouble(cur, incr)
		if !ok {
			t.Fatalf("%s+%s: not finite", tc.cur, tc.incr)
		}
		if got := string(AppendLongDouble(nil, sum)); got != tc.want {
			t.Errorf("%s+%s = %s, want %s", tc.cur, tc.incr, got, tc.want)
		}
	}
}

func TestParseLongDoubleRejects(t *testing.T) {
	for _, s := range []string{"", " 1", "1 ", "nan", "NaN", "1e5000", "-1e5000", "1e-5000", "abc", "1.2.3", "--1", "0x", "1_000"} {
		if _, ok := ParseLongDouble([]byte(s)); ok {
			t.Errorf("ParseLongDouble(%q) accepted", s)
		}
	}
	for _, s := range []string{"inf", "-INF", "+Infinity", "1e4000", "0", "-0.0", ".5", "5.", "0x1.8p3"} {
		if _, ok := ParseLongDouble([]byte(s)); !ok {
			t.Errorf("ParseLongDouble(%q) refused", s)
		}
	}
	inf, _ := ParseLongDouble([]byte("inf"))
	one, _ := ParseLongDouble([]byte("1"))
	if _, ok := AddLongDouble(inf, one); ok {
		t.Error("inf+1 accepted")
	}
	big, _ := ParseLongDouble([]byte("1e4932"))
	if _, ok := AddLongDouble(big, big); ok {
		t.Error("overflowing sum accepted")
	}
}
