package server

import (
	"os"
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
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

// TestREADMEDirectiveTable keeps the README's directive table true: every
// real (not inert) directive has a row with its default and whether CONFIG
// SET may change it.
func TestREADMEDirectiveTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[name] = []string{strings.Trim(strings.TrimSpace(cells[2]), "`"), strings.TrimSpace(cells[3])}
	}
	for _, d := range config.Directives() {
		if d.Inert {
			continue
		}
		row, ok := rows[d.Name]
		if !ok {
			t.Errorf("README directive table lacks %s", d.Name)
			continue
		}
		def := d.Default
		if def == "" {
			def = `""`
		}
		mut := map[bool]string{true: "yes", false: "no"}[d.Mutable]
		if row[0] != def || row[1] != mut {
			t.Errorf("README row %s = default %s, CONFIG SET %s; registry says %s, %s", d.Name, row[0], row[1], def, mut)
		}
	}
}
