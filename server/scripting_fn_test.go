package server

import (
	"strings"
	"testing"
)

const fnLib = "#!lua name=lib\n" +
	"redis.register_function{function_name='f', callback=function(keys, args) return {keys[1], args[1]} end, flags={'no-writes'}, description='desc'}\n" +
	"redis.register_function('w', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n" +
	"redis.register_function('k', function(keys, args) return KEYS end)\n" +
	"redis.register_function('e', function(keys, args) return redis.call('incr', keys[1]) end)"

// TestFunctionVsRedis compares FUNCTION LOAD's errors, FCALL, FCALL_RO
// and the FUNCTION subcommands with redis-server, in RESP2 and RESP3.
func TestFunctionVsRedis(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		p := newVsRedisPair(t, resp3)
		p.same(t, "FUNCTION", "FLUSH")
		for _, code := range []string{"return 1", "#!lua\nreturn 1", "#!lua name=\nreturn 1", "#!lua name=a-b\nreturn 1",
			"#!lua name=lib foo=bar\nreturn 1", "#!python name=lib\nreturn 1", "#!lua name=lib\nreturn 1",
			"#!lua name=l\nredis.register_function('g')", "#!lua name=l\nredis.register_function('a-b', function() end)",
			"#!lua name=l\nredis.register_function{function_name='g', callback=function() end, flags={'bad'}}",
			"#!lua name=l\nredis.register_function{function_name='g', callback=function() end, flags='no-writes'}",
			"#!lua name=l\nredis.register_function{function_name='g', callback=function() end, foo=1}",
			"#!lua name=l\nredis.register_function{function_name='g'}", "#!lua name=l\nredis.register_function{callback=function() end}",
			"#!lua name=l\nredis.register_function('g', 1)", "#!lua name=l\nredis.register_function('g', function() end, 3)",
			"#!lua name=l\nredis.register_function('g', function() end) redis.register_function('g', function() end)",
			"#!lua name=l\nredis.call('ping')", "#!lua name=l\nerror('x')", "#!lua name=l\nx = 1", "#!lua name=l\nreturn KEYS",
			fnLib, fnLib,
			"#!lua name=lib2\nredis.register_function('f', function() return 1 end)",
		} {
			p.same(t, "FUNCTION", "LOAD", code)
		}
		for _, c := range [][]string{
			{"FUNCTION", "LOAD", "REPLACE", fnLib}, {"FUNCTION", "LOAD", "BAD", fnLib},
			{"FCALL", "f", "1", "a", "b"}, {"FCALL", "nope", "0"}, {"FCALL", "f", "-1"}, {"FCALL", "f", "2", "a"},
			{"FCALL_RO", "w", "1", "x", "y"}, {"FCALL_RO", "f", "1", "x", "y"}, {"FCALL", "w", "1", "x", "y"}, {"GET", "x"},
			{"FCALL", "k", "0"}, {"FCALL", "e", "1", "x"}, {"FUNCTION", "DELETE", "nope"}, {"FUNCTION", "STATS"},
			{"FUNCTION", "LIST", "bad"}, {"FUNCTION", "LIST", "LIBRARYNAME"}, {"FUNCTION", "RESTORE", "abc"},
			{"FUNCTION", "FLUSH", "bad"}, {"FUNCTION", "KILL"},
			{"MULTI"}, {"FCALL", "w", "1", "y", "1"}, {"FCALL", "e", "1", "y"}, {"EXEC"},
			{"FUNCTION", "DELETE", "lib"}, {"FCALL", "f", "0"}, {"FUNCTION", "STATS"},
			// One function per library: Redis lists a library's functions in its hash order.
			{"FUNCTION", "LOAD", "#!lua name=one\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={'no-writes', 'allow-oom'}, description='d'}"},
			{"FUNCTION", "LOAD", "#!lua name=two\nredis.register_function('f2', function() return 2 end)"},
			{"FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "one"}, {"FUNCTION", "LIST", "LIBRARYNAME", "t*"},
			{"FUNCTION", "LIST", "LIBRARYNAME", "nomatch"}, {"FUNCTION", "FLUSH"}, {"FUNCTION", "LIST"}, {"FUNCTION", "DUMP"},
		} {
			p.same(t, c...)
		}
		// A dump from redis-server restores here and the other way round.
		p.same(t, "FUNCTION", "LOAD", fnLib)
		for _, from := range []*listRaw{p.theirs, p.ours} {
			dump := from.do(t, "FUNCTION", "DUMP")
			payload := dump[strings.Index(dump, "\r\n")+2 : len(dump)-2]
			for _, c := range [][]string{{"FUNCTION", "RESTORE", payload}, {"FUNCTION", "RESTORE", payload, "REPLACE"},
				{"FUNCTION", "RESTORE", payload, "BAD"}, {"FUNCTION", "FLUSH"}, {"FUNCTION", "RESTORE", payload, "FLUSH"},
				{"FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "nomatch"}, {"FCALL", "f", "1", "a", "b"}, {"FCALL", "e", "1", "z"}} {
				p.same(t, c...)
			}
		}
	}
}
