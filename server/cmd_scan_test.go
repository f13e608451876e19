package server

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/store"
)

// keysScanAll runs a full SCAN iteration with go-redis's ScanType and returns
// every key returned (with repeats) and the number of calls.
func keysScanAll(t *testing.T, rc *redis.Client, match string, count int64, typ string) ([]string, int) {
	t.Helper()
	ctx := ctxT(t)
	var all []string
	var cursor uint64
	calls := 0
	for {
		keys, next, err := rc.ScanType(ctx, cursor, match, count, typ).Result()
		if err != nil {
			t.Fatalf("SCAN %d: %v", cursor, err)
		}
		calls++
		if calls > 100000 {
			t.Fatal("SCAN does not terminate")
		}
		all = append(all, keys...)
		if next == 0 {
			return all, calls
		}
		cursor = next
	}
}

// keysSameKeys asserts that got holds exactly the keys of want, each at least once.
func keysSameKeys(t *testing.T, what string, got []string, want []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, k := range got {
		seen[k] = true
	}
	wantSet := map[string]bool{}
	for _, k := range want {
		wantSet[k] = true
		if !seen[k] {
			t.Fatalf("%s: key %q never returned (%d keys returned)", what, k, len(got))
		}
	}
	for k := range seen {
		if !wantSet[k] {
			t.Fatalf("%s: unexpected key %q", what, k)
		}
	}
}

// keysSeedScan fills db 0 with users (strings), lists and one expired key,
// and db 1 with keys SCAN of db 0 must not see. It returns the key names.
func keysSeedScan(s *Server) (users, lists []string) {
	for i := range 300 {
		k := "user:" + strconv.Itoa(i)
		keysSeed(s, 0, k, "v", 0)
		users = append(users, k)
	}
	for i := range 40 {
		k := "list:" + strconv.Itoa(i)
		keysSeedObj(s, 0, k, store.TypeList, newKeysObj("x"), 0)
		lists = append(lists, k)
	}
	keysSeedObj(s, 0, "user:hash", store.TypeHash, newKeysObj("f"), 0)
	keysSeed(s, 0, "user:expired", "v", 1)
	keysSeed(s, 1, "user:db1", "v", 0)
	return users, lists
}

func TestKeysScanFullIteration(t *testing.T) {
	s := startServer(t, nil)
	users, lists := keysSeedScan(s)
	all := append(append(slices.Clone(users), lists...), "user:hash")
	usersAndHash := append(slices.Clone(users), "user:hash")
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			for _, tc := range []struct {
				match string
				count int64
				typ   string
				want  []string
			}{
				{"", 0, "", all},
				{"*", 1, "", all},
				{"", 7, "", all},
				{"", 100000, "", all},
				{"user:*", 10, "", usersAndHash},
				{"user:*", 13, "string", users},
				{"", 5, "LIST", lists},
				{"", 50, "hash", []string{"user:hash"}},
				{"list:1?", 9, "", lists[10:20]},
				{"", 10, "zset", nil},
				{"", 10, "nosuchtype", nil},
				{"nomatch*", 10, "", nil},
			} {
				got, calls := keysScanAll(t, rc, tc.match, tc.count, tc.typ)
				keysSameKeys(t, fmt.Sprintf("SCAN MATCH %q COUNT %d TYPE %q", tc.match, tc.count, tc.typ), got, tc.want)
				if tc.count == 100000 && calls != 1 {
					t.Fatalf("SCAN COUNT 100000 took %d calls", calls)
				}
				if tc.count == 1 && calls < 50 {
					t.Fatalf("SCAN COUNT 1 took only %d calls", calls)
				}
			}
		})
	}
}

// TestKeysScanConcurrentWriter scans while another goroutine adds and
// deletes keys: every key present for the whole scan must be returned.
func TestKeysScanConcurrentWriter(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	var stable []string
	for i := range 500 {
		k := "stable:" + strconv.Itoa(i)
		keysSeed(s, 0, k, "v", 0)
		stable = append(stable, k)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	// The writer is stopped on every exit path, a failing one included.
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
	go func() { // writer: owned by this test, stopped by stop
		defer wg.Done()
		st := s.Store()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			runtime.Gosched() // share a single CPU with the server (go test -cpu 1)
			k := []byte("churn:" + strconv.Itoa(i%2000))
			if i%3 == 2 {
				tx := st.Lock(k)
				tx.Delete(0, k)
				tx.Unlock()
			} else {
				st.Set(0, k, []byte("x"), 0, 0, "set")
			}
		}
	}()
	for round := range 3 {
		got, _ := keysScanAll(t, rc, "", int64(3+round*20), "")
		seen := map[string]bool{}
		for _, k := range got {
			seen[k] = true
		}
		for _, k := range stable {
			if !seen[k] {
				t.Fatalf("round %d: stable key %q missed", round, k)
			}
		}
		stableOnly, _ := keysScanAll(t, rc, "stable:*", 25, "string")
		keysSameKeys(t, "MATCH stable:*", stableOnly, stable)
	}
}

func TestKeysScanReplyAndErrors(t *testing.T) {
	s := startServer(t, nil)
	keysSeed(s, 0, "a", "v", 0)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			v := mustDo(t, rc, "scan", "0", "count", "1000")
			reply, ok := v.([]any)
			if !ok || len(reply) != 2 || reply[0] != "0" {
				t.Fatalf("SCAN reply = %#v, want [\"0\", [a]]", v)
			}
			if keys, ok := reply[1].([]any); !ok || len(keys) != 1 || keys[0] != "a" {
				t.Fatalf("SCAN keys = %#v", reply[1])
			}
			// Cursor forms Redis accepts: leading zeros, empty string.
			for _, cur := range []string{"00", ""} {
				if v := mustDo(t, rc, "scan", cur, "COUNT", "1000"); v.([]any)[0] != "0" {
					t.Fatalf("SCAN %q = %v", cur, v)
				}
			}
			// A cursor past the end finishes the scan.
			if v := mustDo(t, rc, "scan", "18446744073709551615"); v.([]any)[0] != "0" {
				t.Fatalf("SCAN max cursor = %v", v)
			}
			for _, tc := range []struct {
				msg  string
				args []any
			}{
				{"ERR invalid cursor", []any{"scan", "abc"}},
				{"ERR invalid cursor", []any{"scan", "1.5"}},
				{"ERR invalid cursor", []any{"scan", " 1"}},
				{"ERR invalid cursor", []any{"scan", "18446744073709551616"}},
				{"ERR syntax error", []any{"scan", "0", "count", "0"}},
				{"ERR syntax error", []any{"scan", "0", "count", "-1"}},
				{"ERR value is not an integer or out of range", []any{"scan", "0", "count", "x"}},
				{"ERR syntax error", []any{"scan", "0", "match"}},
				{"ERR syntax error", []any{"scan", "0", "type"}},
				{"ERR syntax error", []any{"scan", "0", "foo", "bar"}},
				{"ERR wrong number of arguments for 'scan' command", []any{"scan"}},
			} {
				wantErr(t, rc, tc.msg, tc.args...)
			}
		})
	}
}

func TestKeysKeysPatterns(t *testing.T) {
	s := startServer(t, nil)
	names := []string{"hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "H[ae]llo", "user:1", "user:2", "user:10", "x"}
	for _, k := range names {
		keysSeed(s, 0, k, "v", 0)
	}
	keysSeed(s, 0, "hexpired", "v", 1)
	keysSeed(s, 1, "hello-db1", "v", 0)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			for _, tc := range []struct {
				pattern string
				want    []string
			}{
				{"*", names},
				{"h?llo", []string{"hello", "hallo", "hxllo", "h*llo"}},
				{"h*llo", []string{"hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"}},
				{"h[ae]llo", []string{"hello", "hallo"}},
				{"h[^e]llo", []string{"hallo", "hxllo", "h*llo"}},
				{"h[a-b]llo", []string{"hallo"}},
				{`h\*llo`, []string{"h*llo"}},
				{`H\[ae]llo`, []string{"H[ae]llo"}},
				{"user:?", []string{"user:1", "user:2"}},
				{"user:*", []string{"user:1", "user:2", "user:10"}},
				{"x", []string{"x"}},
				{"nothing*", nil},
				{"hexpired", nil},
			} {
				got, err := rc.Keys(ctx, tc.pattern).Result()
				if err != nil {
					t.Fatalf("KEYS %q: %v", tc.pattern, err)
				}
				sort.Strings(got)
				want := slices.Clone(tc.want)
				sort.Strings(want)
				if !slices.Equal(got, want) {
					t.Fatalf("KEYS %q = %v, want %v", tc.pattern, got, want)
				}
			}
			wantErr(t, rc, "ERR wrong number of arguments for 'keys' command", "keys")
			wantErr(t, rc, "ERR wrong number of arguments for 'keys' command", "keys", "a", "b")
		})
	}
}

// TestKeysKeysMany returns more keys than one store step visits.
func TestKeysKeysMany(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	want := make([]string, 0, 5000)
	for i := range 5000 {
		k := "k" + strconv.Itoa(i)
		keysSeed(s, 0, k, "v", 0)
		want = append(want, k)
	}
	got, err := rc.Keys(ctxT(t), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("KEYS * returned %d keys, want %d (exactly once each)", len(got), len(want))
	}
}
