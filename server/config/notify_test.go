package config

import (
	"testing"

	"github.com/cached/cached/server/kernel"
)

func FuzzNotifyFlags(f *testing.F) {
	for _, s := range []string{"KEA", "AKEnm", "g$lshzxetdKEmn", "", "Z", "xE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseNotifyFlags(s)
		if err != nil {
			return
		}
		canon := FormatNotifyFlags(fl)
		again, err := ParseNotifyFlags(canon)
		if err != nil || FormatNotifyFlags(again) != canon {
			t.Fatalf("%q: canonical %q does not round trip (%v)", s, canon, err)
		}
		if again&^kernel.NotifyNew != fl&^kernel.NotifyNew {
			t.Fatalf("%q: flags %x, after the round trip %x", s, fl, again)
		}
	})
}
