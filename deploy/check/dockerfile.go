package check

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// dockerInstr is one Dockerfile instruction with its continuation lines
// joined.
type dockerInstr struct {
	Cmd  string // upper case: FROM, RUN, COPY, …
	Args string
}

// parseDockerfile splits a Dockerfile into instructions (comments and
// blank lines dropped, backslash continuations joined).
func parseDockerfile(file string) ([]dockerInstr, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []dockerInstr
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out, sc.Err()
}

// execForm decodes a JSON-array (exec form) argument, or nil.
func execForm(s string) []string {
	var v []string
	if json.Unmarshal([]byte(s), &v) != nil {
		return nil
	}
	return v
}

var goImage = regexp.MustCompile(`^golang:(\d+\.\d+(\.\d+)?)`)

// CheckDockerfile checks the image recipe: a Go builder of the module's Go
// version running scripts/build-static.sh, a distroless-static or scratch
// run stage, a non-root USER, a HEALTHCHECK running `cached healthcheck`
// on the config file the image ships, and an ENTRYPOINT on the binary.
// goVersion is go.mod's go directive.
func CheckDockerfile(file, goVersion string) []error {
	var e errs
	ins, err := parseDockerfile(file)
	if err != nil {
		e.add("Dockerfile: %v", err)
		return e
	}
	var froms []string
	var user, bin, conf string
	var health, entry []string
	built := false
	for _, in := range ins {
		switch in.Cmd {
		case "FROM":
			froms = append(froms, strings.Fields(in.Args)[0])
		case "RUN":
			built = built || strings.Contains(in.Args, "scripts/build-static.sh")
		case "COPY":
			f := strings.Fields(in.Args)
			if len(f) == 2 && f[0] == "deploy/docker/cached.conf" {
				conf = f[1]
			}
			if len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
				bin = f[2]
			}
		case "USER":
			user = in.Args
		case "HEALTHCHECK":
			if _, cmd, ok := strings.Cut(in.Args, "CMD "); ok {
				health = execForm(cmd)
			}
		case "ENTRYPOINT":
			entry = execForm(in.Args)
		}
	}
	if len(froms) != 2 {
		e.add("Dockerfile: %d stages, want 2 (build, run)", len(froms))
		return e
	}
	if m := goImage.FindStringSubmatch(froms[0]); m == nil || m[1] != goVersion {
		e.add("Dockerfile: builder %s, want golang:%s (go.mod)", froms[0], goVersion)
	}
	if !built {
		e.add("Dockerfile: the build stage does not run scripts/build-static.sh (what CI checks)")
	}
	if run := froms[1]; run != "scratch" && !strings.HasPrefix(run, "gcr.io/distroless/static") {
		e.add("Dockerfile: run stage %s, want scratch or distroless/static", run)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		e.add("Dockerfile: USER %q: the image must not run as root", user)
	}
	if len(entry) != 1 || entry[0] != bin {
		e.add("Dockerfile: ENTRYPOINT %v, want [%s] (the copied binary)", entry, bin)
	}
	if len(health) != 3 || health[0] != bin || health[1] != "healthcheck" || health[2] != conf || conf == "" {
		e.add("Dockerfile: HEALTHCHECK %v, want [%s healthcheck %s]", health, bin, conf)
	}
	return e
}

// StaticELF checks that file is an ELF executable needing no dynamic
// loader and no shared library, so it runs on scratch or distroless.
func StaticELF(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("%s: has a %v program header: dynamically linked", file, p.Type)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	if len(libs) > 0 {
		return fmt.Errorf("%s: needs shared libraries %v", file, libs)
	}
	return nil
}
