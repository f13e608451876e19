package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cached/cached/server/config"
)

type action int

const (
	actionRun action = iota
	actionHelp
	actionVersion
)

// parseArgs turns redis-server style arguments into a Config: an optional
// config file first (or --config FILE anywhere), then --directive value...
// pairs, which override the file. A directive may take several words
// (--save 900 1 300 10): everything up to the next --name belongs to it.
func parseArgs(args []string) (config.Config, action, error) {
	cfg := config.DefaultConfig()
	if len(args) == 1 {
		switch args[0] {
		case "-h", "--help", "help":
			return cfg, actionHelp, nil
		case "-v", "--version", "version":
			return cfg, actionVersion, nil
		}
	}
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "--") {
		file, args = args[0], args[1:]
	}
	var pairs [][]string
	for i := 0; i < len(args); {
		a := args[i]
		if !strings.HasPrefix(a, "--") || len(a) == 2 {
			return cfg, actionRun, fmt.Errorf("unexpected argument %q (directives are --name value)", a)
		}
		name := strings.ToLower(a[2:])
		if name == "help" {
			return cfg, actionHelp, nil
		}
		if name == "version" {
			return cfg, actionVersion, nil
		}
		j := i + 1
		for j < len(args) && !strings.HasPrefix(args[j], "--") {
			j++
		}
		if name == "config" {
			file = strings.Join(args[i+1:j], " ")
		} else {
			pairs = append(pairs, append([]string{name}, args[i+1:j]...))
		}
		i = j
	}
	if file != "" {
		if err := config.ParseConfigFile(file, &cfg); err != nil {
			return cfg, actionRun, fmt.Errorf("config file: %w", err)
		}
		abs, err := filepath.Abs(file) // CONFIG REWRITE works after a chdir too
		if err != nil {
			abs = file
		}
		cfg.SetConfigFile(abs)
	}
	for _, p := range pairs {
		if err := cfg.ApplyArgs(p); err != nil {
			return cfg, actionRun, fmt.Errorf("--%s: %w", p[0], err)
		}
	}
	return cfg, actionRun, nil
}
