package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/server/pubsub"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// respConn is a raw connection with a small RESP reader for exact reply checks.
type respConn struct {
	t  *testing.T
	nc net.Conn
	rd *bufio.Reader
}

func dialResp(t *testing.T, s *Server) *respConn {
	t.Helper()
	nc := dialRaw(t, s)
	return &respConn{t: t, nc: nc, rd: bufio.NewReader(nc)}
}

// send writes one command in RESP.
func (r *respConn) send(args ...string) {
	r.t.Helper()
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	sendRaw(r.t, r.nc, string(b))
}

// read returns the next value as text: arrays as [a b], pushes as >[a b],
// maps as {k:v}, nulls as nil, errors as -MSG, integers as :N.
func (r *respConn) read() string {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	v, err := readResp(r.rd)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return v
}

// expect reads one value per want and compares.
func (r *respConn) expect(want ...string) {
	r.t.Helper()
	for _, w := range want {
		if got := r.read(); got != w {
			r.t.Fatalf("got %s, want %s", got, w)
		}
	}
}

// do sends a command and returns its reply.
func (r *respConn) do(args ...string) string {
	r.t.Helper()
	r.send(args...)
	return r.read()
}

func readResp(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty line")
	}
	body := line[1:]
	switch line[0] {
	case '+', ',', '(', '#':
		return body, nil
	case '-':
		return "-" + body, nil
	case ':':
		return ":" + body, nil
	case '_':
		return "nil", nil
	case '$', '=':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return "nil", nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(rd, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	case '*', '>', '~', '%':
		n, _ := strconv.Atoi(body)
		if n < 0 {
			return "nil", nil
		}
		if line[0] == '%' {
			n *= 2
		}
		items := make([]string, n)
		for i := range items {
			if items[i], err = readResp(rd); err != nil {
				return "", err
			}
		}
		if line[0] == '%' {
			return "{" + strings.Join(items, " ") + "}", nil
		}
		prefix := ""
		if line[0] == '>' {
			prefix = ">"
		}
		return prefix + "[" + strings.Join(items, " ") + "]", nil
	}
	return "", fmt.Errorf("bad line %q", line)
}

func TestPubSubResp2Context(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	r := dialResp(t, s)
	r.send("SUBSCRIBE", "a", "b")
	r.expect("[subscribe a :1]", "[subscribe b :2]")
	r.send("PSUBSCRIBE", "n*")
	r.expect("[psubscribe n* :3]")
	r.send("SUBSCRIBE", "a") // again: same count
	r.expect("[subscribe a :3]")
	for _, tc := range []struct{ args, want []string }{
		{[]string{"GET", "k"}, []string{"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"}},
		{[]string{"CLIENT", "LIST"}, []string{"-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"}},
		{[]string{"PING"}, []string{"[pong ]"}},
		{[]string{"PING", "hi"}, []string{"[pong hi]"}},
		{[]string{"PING", "a", "b"}, []string{"-ERR wrong number of arguments for 'ping' command"}},
		{[]string{"SSUBSCRIBE", "s"}, []string{"[ssubscribe s :1]"}},
		{[]string{"SUNSUBSCRIBE"}, []string{"[sunsubscribe s :0]"}},
		{[]string{"SUNSUBSCRIBE"}, []string{"[sunsubscribe nil :0]"}},
	} {
		r.send(tc.args...)
		r.expect(tc.want...)
	}
	if n, err := rc.Publish(ctxT(t), "a", "hello").Result(); err != nil || n != 1 {
		t.Fatalf("PUBLISH = %d, %v", n, err)
	}
	r.expect("[message a hello]")
	if n := rc.Publish(ctxT(t), "nx", "m2").Val(); n != 1 {
		t.Fatalf("PUBLISH nx = %d", n)
	}
	r.expect("[pmessage n* nx m2]")
	info := mustDo(t, rc, "CLIENT", "LIST").(string)
	if !strings.Contains(info, "flags=P db=0 sub=2 psub=1 ssub=0") {
		t.Fatalf("CLIENT LIST: %s", info)
	}
	stats := rc.Info(ctxT(t), "stats").Val()
	if !strings.Contains(stats, "pubsub_channels:2\r\n") || !strings.Contains(stats, "pubsub_patterns:1\r\n") {
		t.Fatalf("INFO stats: %s", stats)
	}
	r.send("UNSUBSCRIBE")
	r.expect("[unsubscribe a :2]", "[unsubscribe b :1]")
	r.send("PUNSUBSCRIBE", "n*", "zz")
	r.expect("[punsubscribe n* :0]", "[punsubscribe zz :0]")
	r.send("UNSUBSCRIBE")
	r.expect("[unsubscribe nil :0]")
	r.send("PUNSUBSCRIBE")
	r.expect("[punsubscribe nil :0]")
	// Out of subscribed mode: every command runs again.
	if got := r.do("GET", "k"); got != "nil" {
		t.Fatalf("GET after unsubscribing = %s", got)
	}
	if got := mustDo(t, rc, "PUBSUB", "NUMPAT"); got != int64(0) {
		t.Fatalf("NUMPAT = %v", got)
	}
}

func TestPubSubResp3Push(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	r := dialResp(t, s)
	if got := r.do("HELLO", "3"); !strings.Contains(got, "proto :3") {
		t.Fatalf("HELLO 3 = %s", got)
	}
	r.send("SUBSCRIBE", "a")
	r.expect(">[subscribe a :1]")
	// RESP3: any command is allowed while subscribed.
	if got := r.do("SET", "k", "v"); got != "OK" {
		t.Fatalf("SET = %s", got)
	}
	if got := r.do("PING"); got != "PONG" {
		t.Fatalf("PING = %s", got)
	}
	rc.Publish(ctxT(t), "a", "m1")
	r.expect(">[message a m1]")
	r.send("PSUBSCRIBE", "a*")
	r.expect(">[psubscribe a* :2]")
	if n := rc.Publish(ctxT(t), "ab", "m2").Val(); n != 1 {
		t.Fatalf("PUBLISH = %d", n)
	}
	r.expect(">[pmessage a* ab m2]")
	if n := rc.Publish(ctxT(t), "a", "m3").Val(); n != 2 {
		t.Fatalf("PUBLISH = %d", n)
	}
	r.expect(">[message a m3]", ">[pmessage a* a m3]")
	r.send("SSUBSCRIBE", "s")
	r.expect(">[ssubscribe s :1]")
	if n := rc.SPublish(ctxT(t), "s", "m4").Val(); n != 1 {
		t.Fatalf("SPUBLISH = %d", n)
	}
	r.expect(">[smessage s m4]")
	if n := rc.Publish(ctxT(t), "s", "m5").Val(); n != 0 {
		t.Fatalf("PUBLISH to a shard channel = %d", n)
	}
	// RESET leaves every subscription.
	if got := r.do("RESET"); got != "RESET" {
		t.Fatalf("RESET = %s", got)
	}
	if got := mustDo(t, rc, "PUBSUB", "NUMSUB", "a"); fmt.Sprint(got) != "[a 0]" {
		t.Fatalf("NUMSUB after RESET = %v", got)
	}
	if got := mustDo(t, rc, "PUBSUB", "SHARDNUMSUB", "s"); fmt.Sprint(got) != "[s 0]" {
		t.Fatalf("SHARDNUMSUB after RESET = %v", got)
	}
	r.send("UNSUBSCRIBE")
	r.expect("[unsubscribe nil :0]") // RESET went back to RESP2
}

func TestPubSubIntrospection(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	ps := rc.Subscribe(ctx, "news.a", "news.b", "other")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	pp := rc.PSubscribe(ctx, "news.*", "x?")
	defer pp.Close()
	sp := rc.SSubscribe(ctx, "shard1", "shard2")
	defer sp.Close()
	waitUntil(t, func() bool {
		return s.pubsub.Size(pubsub.Channel) == 3 && s.pubsub.Size(pubsub.Pattern) == 2 && s.pubsub.Size(pubsub.Shard) == 2
	}, func() string { return "subscriptions" })
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"PUBSUB", "CHANNELS"}, "[news.a news.b other]"},
		{[]any{"PUBSUB", "CHANNELS", "news.*"}, "[news.a news.b]"},
		{[]any{"PUBSUB", "CHANNELS", "zz*"}, "[]"},
		{[]any{"PUBSUB", "NUMSUB"}, "[]"},
		{[]any{"PUBSUB", "NUMSUB", "news.a", "nope"}, "[news.a 1 nope 0]"},
		{[]any{"PUBSUB", "NUMPAT"}, "2"},
		{[]any{"PUBSUB", "SHARDCHANNELS"}, "[shard1 shard2]"},
		{[]any{"PUBSUB", "SHARDCHANNELS", "*2"}, "[shard2]"},
		{[]any{"PUBSUB", "SHARDNUMSUB", "shard1", "x"}, "[shard1 1 x 0]"},
	} {
		got := mustDo(t, rc, tc.args...)
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%v = %v, want %s", tc.args, got, tc.want)
		}
	}
	wantErr(t, rc, "ERR wrong number of arguments for 'pubsub|channels' command", "PUBSUB", "CHANNELS", "a", "b")
	wantErr(t, rc, "ERR wrong number of arguments for 'pubsub|numpat' command", "PUBSUB", "NUMPAT", "x")
	wantErr(t, rc, "ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.", "PUBSUB", "NOPE")
	wantErr(t, rc, "ERR wrong number of arguments for 'subscribe' command", "SUBSCRIBE")
	wantErr(t, rc, "ERR wrong number of arguments for 'publish' command", "PUBLISH", "a")
	help := mustDo(t, rc, "PUBSUB", "HELP").([]any)
	if len(help) != 14 || help[0] != "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" {
		t.Fatalf("PUBSUB HELP = %q", help)
	}
	// The go-redis typed API sees the same counts.
	if n := rc.PubSubNumSub(ctx, "news.b").Val(); n["news.b"] != 1 {
		t.Fatalf("PubSubNumSub = %v", n)
	}
	if n := rc.PubSubNumPat(ctx).Val(); n != 2 {
		t.Fatalf("PubSubNumPat = %d", n)
	}
	_ = ps.Close()
	_ = pp.Close()
	_ = sp.Close()
	waitUntil(t, func() bool {
		return s.pubsub.Size(pubsub.Channel) == 0 && s.pubsub.Size(pubsub.Pattern) == 0 && s.pubsub.Size(pubsub.Shard) == 0
	}, func() string { return "subscriptions left after the subscribers closed" })
}

// TestPubSubFanOut: many go-redis subscribers (RESP3 and RESP2, channel and
// pattern) all receive every message, in order.
func TestPubSubFanOut(t *testing.T) {
	s := startServer(t, nil)
	pub := newClient(t, s, nil)
	ctx := ctxT(t)
	const nSubs, nPats, nMsgs = 12, 4, 60
	var subs []*redis.PubSub
	for i := 0; i < nSubs+nPats; i++ {
		var rc *redis.Client
		if i%2 == 0 {
			rc = newClient(t, s, nil)
		} else {
			rc = newClient(t, s, resp2)
		}
		var ps *redis.PubSub
		if i < nSubs {
			ps = rc.Subscribe(ctx, "fan")
		} else {
			ps = rc.PSubscribe(ctx, "f*")
		}
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ps.Close() })
		subs = append(subs, ps)
	}
	for i := 0; i < nMsgs; i++ {
		if n := pub.Publish(ctx, "fan", strconv.Itoa(i)).Val(); n != nSubs+nPats {
			t.Fatalf("PUBLISH = %d, want %d", n, nSubs+nPats)
		}
	}
	for j, ps := range subs {
		ch := ps.Channel()
		for i := 0; i < nMsgs; i++ {
			select {
			case m := <-ch:
				if m.Channel != "fan" || m.Payload != strconv.Itoa(i) || (j >= nSubs) != (m.Pattern == "f*") {
					t.Fatalf("subscriber %d got %+v, want message %d", j, m, i)
				}
			case <-ctx.Done():
				t.Fatalf("subscriber %d: message %d missing", j, i)
			}
		}
	}
}

// TestPubSubSlowSubscriber: a subscriber that does not read is closed by the
// pubsub output buffer limit while the publisher keeps going.
func TestPubSubSlowSubscriber(t *testing.T) {
	for _, limit := range []string{"pubsub 256kb 0 0", "pubsub 0 128kb 0"} {
		t.Run(limit, func(t *testing.T) {
			s := startServer(t, nil)
			pub := newClient(t, s, nil)
			ctx := ctxT(t)
			mustDo(t, pub, "CONFIG", "SET", "client-output-buffer-limit", limit)
			slow := dialResp(t, s)
			slow.send("SUBSCRIBE", "firehose")
			slow.expect("[subscribe firehose :1]")
			// A subscriber that reads everything, from go-redis's channel.
			fastPS := rc3Subscriber(t, s, "firehose")
			gotLast := make(chan struct{})
			got := make(chan struct{}, 100000)
			go func() {
				for m := range fastPS.Channel() {
					if m.Payload == "last" {
						close(gotLast)
						return
					}
					got <- struct{}{}
				}
			}()
			msg := strings.Repeat("m", 4096)
			// The soft limit closes the client once it has been over it
			// for a whole second, however many messages that takes: 20,000
			// took less than that on a fast machine. Bounded by count and
			// time.
			sent, received := 0, 0
			deadline := time.Now().Add(10 * time.Second)
			for ; sent < 100000 && time.Now().Before(deadline) && s.outLimitDrops.Load() == 0; sent++ {
				pub.Publish(ctx, "firehose", msg)
				// The reading subscriber stays at most 16 messages
				// (64 KB) behind, under either limit.
				for ; received < sent-16; received++ {
					select {
					case <-got:
					case <-ctx.Done():
						t.Fatal("the reading subscriber stopped receiving")
					}
				}
			}
			// Memory stayed bounded: the slow subscriber was cut off at the
			// hard limit, or a second over the soft one, not after all
			// the messages the loop may send (400 MB).
			if s.outLimitDrops.Load() != 1 {
				t.Fatalf("slow subscriber not dropped after %d messages", sent)
			}
			waitUntil(t, func() bool { return pub.PubSubNumSub(ctx, "firehose").Val()["firehose"] == 1 },
				func() string {
					return fmt.Sprintf("slow subscriber still subscribed: %v clients %d", pub.PubSubNumSub(ctx, "firehose").Val(), s.clients.count())
				})
			expectEOF(t, slow.nc)
			// The reading subscriber is unaffected.
			pub.Publish(ctx, "firehose", "last")
			select {
			case <-gotLast:
			case <-ctx.Done():
				t.Fatal("the reading subscriber lost messages")
			}
		})
	}
}

func rc3Subscriber(t *testing.T, s *Server, channel string) *redis.PubSub {
	t.Helper()
	ps := newClient(t, s, nil).Subscribe(ctxT(t), channel)
	if _, err := ps.Receive(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return ps
}

func TestPubSubRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	got := make(chan rueidis.PubSubMessage, 16)
	done := make(chan error, 1)
	go func() {
		done <- cl.Receive(ctx, cl.B().Psubscribe().Pattern("ev.*").Build(), func(m rueidis.PubSubMessage) { got <- m })
	}()
	waitUntil(t, func() bool { return s.pubsub.Size(pubsub.Pattern) == 1 }, func() string { return "rueidis PSUBSCRIBE" })
	for i := 0; i < 3; i++ {
		n, err := cl.Do(ctx, cl.B().Publish().Channel("ev."+strconv.Itoa(i)).Message("p"+strconv.Itoa(i)).Build()).AsInt64()
		if err != nil || n != 1 {
			t.Fatalf("PUBLISH = %d, %v", n, err)
		}
	}
	for i := 0; i < 3; i++ {
		m := <-got
		if m.Pattern != "ev.*" || m.Channel != "ev."+strconv.Itoa(i) || m.Message != "p"+strconv.Itoa(i) {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	chans, err := cl.Do(ctx, cl.B().PubsubNumpat().Build()).AsInt64()
	if err != nil || chans != 1 {
		t.Fatalf("PUBSUB NUMPAT = %d, %v", chans, err)
	}
	cancel()
	<-done
}

func TestPubSubClientKillAndClose(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	var rs []*respConn
	for i := 0; i < 3; i++ {
		r := dialResp(t, s)
		r.send("SUBSCRIBE", "k"+strconv.Itoa(i), "all")
		r.expect("[subscribe k"+strconv.Itoa(i)+" :1]", "[subscribe all :2]")
		rs = append(rs, r)
	}
	rs[0].send("CLIENT", "ID") // refused in RESP2 context
	if got := rs[0].read(); !strings.HasPrefix(got, "-ERR Can't execute 'client|id'") {
		t.Fatalf("CLIENT ID = %s", got)
	}
	list := mustDo(t, rc, "CLIENT", "LIST").(string)
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if strings.Contains(line, "flags=P ") {
			ids = append(ids, strings.TrimPrefix(strings.Fields(line)[0], "id="))
		}
	}
	sort.Strings(ids)
	if len(ids) != 3 {
		t.Fatalf("CLIENT LIST:\n%s", list)
	}
	mustDo(t, rc, "CLIENT", "KILL", "ID", ids[0])
	waitUntil(t, func() bool { return rc.Publish(ctxT(t), "all", "x").Val() == 2 }, func() string { return "killed subscriber still counted" })
	_ = s.Close()
	for _, r := range rs {
		expectEOF(t, r.nc)
	}
	if n := s.pubsub.Size(pubsub.Channel); n != 0 {
		t.Fatalf("%d channels left after Close", n)
	}
}

func TestPubSubSubscribeInPipelineAndQuit(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	r := dialResp(t, s)
	// Commands pipelined with the first SUBSCRIBE keep their order.
	sendRaw(t, r.nc, "SET a 1\r\nSUBSCRIBE c\r\nPING\r\nUNSUBSCRIBE\r\nGET a\r\nQUIT\r\n")
	r.expect("OK", "[subscribe c :1]", "[pong ]", "[unsubscribe c :0]", "1", "OK")
	expectEOF(t, r.nc)
	waitUntil(t, func() bool { return s.clients.count() == 0 }, func() string { return "quit subscriber still registered" })
	if n := rc.Publish(ctxT(t), "c", "x").Val(); n != 0 {
		t.Fatalf("PUBLISH after QUIT = %d", n)
	}
}

// BenchmarkPublishFanOut publishes 64-byte messages to 10 RESP2 subscribers
// that read and discard them (the hub and session costs, no publisher
// network round trip).
func BenchmarkPublishFanOut(b *testing.B) {
	s := startServer(b, nil)
	const subs = 10
	for i := 0; i < subs; i++ {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = nc.Close() })
		if _, err := nc.Write([]byte("SUBSCRIBE bench\r\n")); err != nil {
			b.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, nc) }() // ends when the connection closes
	}
	waitUntil(b, func() bool { return s.pubsub.NumSub(pubsub.Channel, [][]byte{[]byte("bench")})[0] == subs },
		func() string { return "subscribers" })
	ch, msg := []byte("bench"), []byte(strings.Repeat("m", 64))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := s.publishLocal(ch, msg); n != subs {
			b.Fatalf("delivered to %d", n)
		}
	}
}

// TestPubSubClientType: CLIENT LIST/KILL TYPE pubsub select subscribed clients.
func TestPubSubClientType(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	sub := rc.Subscribe(ctxT(t), "news")
	defer sub.Close()
	if _, err := sub.Receive(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		out, _ := rc.Do(ctxT(t), "CLIENT", "LIST", "TYPE", "pubsub").Text()
		return strings.Count(out, "\n") == 1 && strings.Contains(out, "sub=1")
	}, func() string { return "one pubsub client in CLIENT LIST TYPE pubsub" })
	normal, err := rc.Do(ctxT(t), "CLIENT", "LIST", "TYPE", "normal").Text()
	if err != nil || strings.Contains(normal, "sub=1") || strings.Count(normal, "\n") != 1 {
		t.Fatalf("TYPE normal = %q, %v", normal, err)
	}
	n, err := rc.Do(ctxT(t), "CLIENT", "KILL", "TYPE", "pubsub").Int()
	if err != nil || n != 1 {
		t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v", n, err)
	}
}
