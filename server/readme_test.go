package server

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryCommand keeps the README's compatibility table true:
// every command (and subcommand) in the table must be named there.
func TestREADMEListsEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, c := range newCommandTable().sorted() {
		if !strings.Contains(readme, "`"+strings.ToUpper(c.name)+"`") {
			t.Errorf("README lacks command %s", strings.ToUpper(c.name))
		}
		for name := range c.subs {
			if !strings.Contains(readme, "`"+strings.ToUpper(name)+"`") {
				t.Errorf("README lacks subcommand %s %s", strings.ToUpper(c.name), strings.ToUpper(name))
			}
		}
	}
}
