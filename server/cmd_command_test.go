package server

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// introFlags lists a command's flag names as COMMAND reports them.
func introFlags(c *command) []string {
	var out []string
	for _, n := range flagReplyOrder {
		if c.flags&(1<<indexOf(flagNames, n)) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func TestIntroCommandGoRedisTyped(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range introClients(t, s) {
		infos, err := rc.Command(ctxT(t)).Result()
		if err != nil {
			t.Fatalf("%s COMMAND: %v", name, err)
		}
		if len(infos) != len(s.cmds.m) {
			t.Errorf("%s COMMAND: %d entries, table has %d", name, len(infos), len(s.cmds.m))
		}
		for cname, cmd := range s.cmds.m {
			ci := infos[cname]
			if ci == nil {
				t.Errorf("%s: %s missing from COMMAND", name, cname)
				continue
			}
			first, last, step := cmd.first, cmd.last, cmd.step
			if int(ci.Arity) != cmd.arity || int(ci.FirstKeyPos) != first || int(ci.LastKeyPos) != last || int(ci.StepCount) != step {
				t.Errorf("%s %s: arity %d keys %d/%d/%d, want %d %d/%d/%d", name, cname, ci.Arity,
					ci.FirstKeyPos, ci.LastKeyPos, ci.StepCount, cmd.arity, first, last, step)
			}
			if want := introFlags(cmd); !reflect.DeepEqual(ci.Flags, want) && len(want)+len(ci.Flags) > 0 {
				t.Errorf("%s %s: flags %v, want %v", name, cname, ci.Flags, want)
			}
			if ci.ReadOnly != (cmd.flags&flagReadonly != 0) {
				t.Errorf("%s %s: ReadOnly %v", name, cname, ci.ReadOnly)
			}
			want := aclReplyOrder(cmd.acl)
			// Containers are @slow plus what they declare, as redis-server
			// 7.0.15 answers: COMMAND @slow @connection, CONFIG @slow.
			switch cname {
			case "command":
				want = []string{"@slow", "@connection"}
			case "config", "client", "object", "memory", "slowlog", "latency":
				want = []string{"@slow"}
			}
			if !reflect.DeepEqual(ci.ACLFlags, want) {
				t.Errorf("%s %s: ACL %v, want %v", name, cname, ci.ACLFlags, want)
			}
		}
		// Commands whose shape Redis fixes, when the table has them.
		want := map[string][4]int{"get": {2, 1, 1, 1}, "set": {-3, 1, 1, 1}, "mset": {-3, 1, -1, 2},
			"mget": {-2, 1, -1, 1}, "del": {-2, 1, -1, 1}, "info": {-1, 0, 0, 0}, "command": {-1, 0, 0, 0},
			"config": {-2, 0, 0, 0}, "memory": {-2, 0, 0, 0}, "time": {1, 0, 0, 0}}
		for cname, w := range want {
			ci := infos[cname]
			if ci == nil {
				if cname == "info" || cname == "command" || cname == "time" {
					t.Errorf("%s: %s missing", name, cname)
				}
				continue
			}
			if got := [4]int{int(ci.Arity), int(ci.FirstKeyPos), int(ci.LastKeyPos), int(ci.StepCount)}; got != w {
				t.Errorf("%s %s = %v, want %v", name, cname, got, w)
			}
		}
		if ci := infos["get"]; ci != nil && (!ci.ReadOnly || strings.Join(ci.Flags, " ") != "readonly fast") {
			t.Errorf("%s get flags %v", name, ci.Flags)
		}
		if ci := infos["info"]; ci == nil || strings.Join(ci.Flags, " ") != "loading stale" ||
			!reflect.DeepEqual(ci.ACLFlags, []string{"@slow", "@dangerous"}) {
			t.Errorf("%s info: %+v", name, ci)
		}
		if ci := infos["info"]; ci == nil || ci.CommandPolicy == nil {
			t.Errorf("%s info has no command policy", name)
		} else if _, ok := ci.CommandPolicy.Tips["nondeterministic_output"]; !ok {
			t.Errorf("%s info tips: %+v", name, ci.CommandPolicy)
		}
	}
}

// introMap converts a RESP3 map or a RESP2 flat array to map[string]any.
func introMap(t *testing.T, v any) map[string]any {
	t.Helper()
	out := map[string]any{}
	switch x := v.(type) {
	case map[any]any:
		for k, v := range x {
			out[k.(string)] = v
		}
	case []any:
		if len(x)%2 != 0 {
			t.Fatalf("odd flat map: %v", x)
		}
		for i := 0; i < len(x); i += 2 {
			out[x[i].(string)] = x[i+1]
		}
	default:
		t.Fatalf("not a map: %T %v", v, v)
	}
	return out
}

// introStrings converts a RESP3 set or array (of strings) to a []string.
func introStrings(t *testing.T, v any) []string {
	t.Helper()
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case map[any]bool:
		for k := range x {
			items = append(items, k)
		}
	case map[any]struct{}:
		for k := range x {
			items = append(items, k)
		}
	default:
		t.Fatalf("not a list: %T %v", v, v)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.(string)
	}
	sort.Strings(out)
	return out
}

func TestIntroCommandInfoFormat(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range introClients(t, s) {
		v := mustDo(t, rc, "COMMAND", "INFO", "memory|usage", "nosuch", "CONFIG|GET", "config|nosuch")
		list := v.([]any)
		if len(list) != 4 || list[1] != nil || list[3] != nil {
			t.Fatalf("%s: COMMAND INFO = %v", name, list)
		}
		mu := list[0].([]any)
		if len(mu) != 10 || mu[0] != "memory|usage" || mu[1] != int64(-3) || mu[3] != int64(2) || mu[4] != int64(2) || mu[5] != int64(1) {
			t.Fatalf("%s: memory|usage = %v", name, mu)
		}
		if got := introStrings(t, mu[2]); !reflect.DeepEqual(got, []string{"readonly"}) {
			t.Errorf("%s: flags %v", name, got)
		}
		if got := introStrings(t, mu[6]); !reflect.DeepEqual(got, []string{"@read", "@slow"}) {
			t.Errorf("%s: acl %v", name, got)
		}
		specs := mu[8].([]any)
		if len(specs) != 1 {
			t.Fatalf("%s: key specs %v", name, specs)
		}
		ks := introMap(t, specs[0])
		if got := introStrings(t, ks["flags"]); !reflect.DeepEqual(got, []string{"RO"}) {
			t.Errorf("%s: key spec flags %v", name, got)
		}
		bs, fk := introMap(t, ks["begin_search"]), introMap(t, ks["find_keys"])
		if bs["type"] != "index" || introMap(t, bs["spec"])["index"] != int64(2) {
			t.Errorf("%s: begin_search %v", name, bs)
		}
		fs := introMap(t, fk["spec"])
		if fk["type"] != "range" || fs["lastkey"] != int64(0) || fs["keystep"] != int64(1) || fs["limit"] != int64(0) {
			t.Errorf("%s: find_keys %v", name, fk)
		}
		cg := list[2].([]any)
		if cg[0] != "config|get" || len(cg[8].([]any)) != 0 {
			t.Errorf("%s: config|get = %v", name, cg)
		}
		// Containers list their subcommands, in the same format.
		for cname, n := range map[string]int{"config": 5, "memory": 6, "command": 7} {
			c := mustDo(t, rc, "COMMAND", "INFO", cname).([]any)[0].([]any)
			subs := c[9].([]any)
			if len(subs) != n {
				t.Errorf("%s: %s has %d subcommands, want %d", name, cname, len(subs), n)
				continue
			}
			for _, sub := range subs {
				e := sub.([]any)
				if len(e) != 10 || !strings.HasPrefix(e[0].(string), cname+"|") {
					t.Errorf("%s: %s subcommand %v", name, cname, e)
				}
			}
		}
		all := mustDo(t, rc, "COMMAND", "INFO").([]any)
		if len(all) != len(s.cmds.m) {
			t.Errorf("%s: COMMAND INFO with no name: %d entries", name, len(all))
		}
	}
}

func TestIntroCommandCountListDocs(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	if n := mustDo(t, rc, "COMMAND", "COUNT"); n != int64(len(s.cmds.m)) {
		t.Errorf("COMMAND COUNT = %v, want %d", n, len(s.cmds.m))
	}
	all, err := rc.CommandList(ctx, nil).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"info", "config", "config|get", "memory|usage", "command", "command|info"} {
		if indexOf(all, want) < 0 {
			t.Errorf("COMMAND LIST lacks %s", want)
		}
	}
	filters := []struct {
		f    *redis.FilterBy
		want string
	}{
		{&redis.FilterBy{Pattern: "config*"}, "config config|get config|help config|resetstat config|rewrite config|set"},
		{&redis.FilterBy{Pattern: "MEMORY|U*"}, "memory|usage"},
		{&redis.FilterBy{Module: "json"}, ""},
	}
	for _, tt := range filters {
		got, err := rc.CommandList(ctx, tt.f).Result()
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != tt.want {
			t.Errorf("COMMAND LIST %+v = %v, want %s", tt.f, got, tt.want)
		}
	}
	admin, _ := rc.CommandList(ctx, &redis.FilterBy{ACLCat: "admin"}).Result()
	if indexOf(admin, "config|set") < 0 || indexOf(admin, "time") >= 0 || indexOf(admin, "config|help") >= 0 {
		t.Errorf("ACLCAT admin = %v", admin)
	}
	wantErr(t, rc, "ERR syntax error", "COMMAND", "LIST", "FILTERBY", "nope", "x")
	wantErr(t, rc, "ERR syntax error", "COMMAND", "LIST", "FILTERBY", "pattern")

	docs := introMap(t, mustDo(t, rc, "COMMAND", "DOCS", "config", "nosuch", "time"))
	if len(docs) != 2 {
		t.Fatalf("COMMAND DOCS = %v", docs)
	}
	td := introMap(t, docs["time"])
	if td["group"] != "server" || td["since"] != "2.6.0" || td["summary"] != "Returns the server time." || td["complexity"] != "O(1)" {
		t.Errorf("time docs %v", td)
	}
	cd := introMap(t, docs["config"])
	subs := introMap(t, cd["subcommands"])
	if len(subs) != 5 || introMap(t, subs["config|rewrite"])["since"] != "2.8.0" {
		t.Errorf("config docs %v", cd)
	}
	alld := introMap(t, mustDo(t, rc, "COMMAND", "DOCS"))
	if len(alld) != len(s.cmds.m) {
		t.Errorf("COMMAND DOCS: %d entries", len(alld))
	}
	r2 := newClient(t, s, resp2)
	if flat := mustDo(t, r2, "COMMAND", "DOCS", "time").([]any); len(flat) != 2 || flat[0] != "time" || len(flat[1].([]any)) != 8 {
		t.Errorf("RESP2 COMMAND DOCS = %v", flat)
	}
}

func TestIntroCommandGetKeys(t *testing.T) {
	s := startServer(t, nil)
	for name, rc := range introClients(t, s) {
		ctx := ctxT(t)
		keys, err := rc.CommandGetKeys(ctx, "memory", "usage", "k1", "samples", "5").Result()
		if err != nil || !reflect.DeepEqual(keys, []string{"k1"}) {
			t.Errorf("%s GETKEYS memory usage = %v (%v)", name, keys, err)
		}
		kf, err := rc.CommandGetKeysAndFlags(ctx, "MEMORY", "USAGE", "k1").Result()
		if err != nil || len(kf) != 1 || kf[0].Key != "k1" || !reflect.DeepEqual(kf[0].Flags, []string{"RO"}) {
			t.Errorf("%s GETKEYSANDFLAGS = %+v (%v)", name, kf, err)
		}
		if s.cmds.m["mset"] != nil {
			keys, err := rc.CommandGetKeys(ctx, "mset", "a", "1", "b", "2").Result()
			if err != nil || !reflect.DeepEqual(keys, []string{"a", "b"}) {
				t.Errorf("%s GETKEYS mset = %v (%v)", name, keys, err)
			}
		}
		errs := []struct {
			msg  string
			args []any
		}{
			{"ERR Invalid command specified", []any{"nosuch", "a"}},
			{"ERR Invalid command specified", []any{"config", "nosuch"}},
			{"ERR wrong number of arguments for 'command|getkeys' command", []any{"time"}},
			{"ERR The command has no key arguments", []any{"time", "x"}},
			{"ERR The command has no key arguments", []any{"config", "get", "x"}},
			{"ERR The command has no key arguments", []any{"memory", "help"}},
			{"ERR Invalid command specified", []any{"memory", "x"}},
			{"ERR Invalid number of arguments specified for command", []any{"memory", "usage"}},
			{"ERR wrong number of arguments for 'command|getkeys' command", nil},
		}
		for _, e := range errs {
			wantErr(t, rc, e.msg, append([]any{"COMMAND", "GETKEYS"}, e.args...)...)
		}
		wantErr(t, rc, "ERR unknown subcommand 'FOO'. Try COMMAND HELP.", "COMMAND", "FOO")
		wantErr(t, rc, "ERR wrong number of arguments for 'command|count' command", "COMMAND", "COUNT", "x")
		help, err := rc.Do(ctx, "COMMAND", "HELP").StringSlice()
		if err != nil || len(help) != 21 || !strings.HasPrefix(help[0], "COMMAND <subcommand>") {
			t.Errorf("%s COMMAND HELP = %q (%v)", name, help, err)
		}
	}
}

func TestIntroCommandRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl := introRueidis(t, s)
	ctx := context.Background()
	n, err := cl.Do(ctx, cl.B().CommandCount().Build()).AsInt64()
	if err != nil || n != int64(len(s.cmds.m)) {
		t.Fatalf("rueidis COMMAND COUNT = %d (%v)", n, err)
	}
	keys, err := cl.Do(ctx, cl.B().CommandGetkeys().Command("memory").Arg("usage", "kk").Build()).AsStrSlice()
	if err != nil || !reflect.DeepEqual(keys, []string{"kk"}) {
		t.Fatalf("rueidis GETKEYS = %v (%v)", keys, err)
	}
	arr, err := cl.Do(ctx, cl.B().Command().Build()).ToArray()
	if err != nil || len(arr) != len(s.cmds.m) {
		t.Fatalf("rueidis COMMAND: %d entries (%v)", len(arr), err)
	}
}
