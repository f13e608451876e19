package config

import "testing"

func TestQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{"", "plain", "a b", `q"uote`, `back\slash`, "tab\there", "nl\nx", "\x01\xff", "it's"} {
		line := directiveLine(lookupDirective("syslog-ident"), v)
		words, err := splitArgs(line)
		if err != nil || len(words) != 2 || words[1] != v {
			t.Errorf("%q -> %q -> %q (%v)", v, line, words, err)
		}
	}
}

// FuzzQuote checks that any value CONFIG REWRITE writes reads
// back unchanged.
func FuzzQuote(f *testing.F) {
	for _, v := range []string{"", "a b", `"x"`, "\\", "\x00\xff", "it's", "#c"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		line := directiveLine(lookupDirective("syslog-ident"), v)
		words, err := splitArgs(line)
		if err != nil || len(words) != 2 || words[1] != v {
			t.Fatalf("%q -> %q -> %q (%v)", v, line, words, err)
		}
	})
}

