package server

import (
	"strings"
	"testing"
)

// scriptCases are scripts run with EVAL script 1 k (after the setup
// below) against cached and redis-server 7.0.15, replies compared byte
// for byte in RESP2 and RESP3.
var scriptCases = []string{
	// values and their conversion
	"return 1", "return -1.9", "return 1.9", "return 0/0", "return 1/0", "return 'x'", "return ''",
	"return true", "return false", "return nil", "return {1,2,3.7,'x',nil,4}", "return {1,{2,{3}}}",
	"return {true,false,'a'}", "return {}", "return {double=3.14}", "return {double=3}",
	"return {map={a=1}}", "return {set={a=true}}", "return {big_number='123'}",
	"return {verbatim_string={format='txt', string='hi'}}", "return {ok='a\\nb'}", "return {err='a\\nb'}",
	"return {err='x'}", "return {ok='FINE'}", "return {err=1}", "return {ok=1}",
	"return redis.error_reply('MY err')", "return redis.error_reply('boom')", "return redis.status_reply('FINE')",
	"return redis.error_reply()", "return redis.status_reply(1)",
	// errors and the sandbox
	"return x", "error('boom')", "error({err='MYERR custom'})", "error('boom', 0)", "x = 1", "function f() end",
	"redis.call = 1", "string.upper = 1", "rawset(_G,'x',1) return x", "setmetatable(_G, nil)",
	"return getmetatable(_G)", "return _VERSION",
	"return type(getfenv)", "return type(print)", "return type(os)", "return type(io)", "return type(debug)",
	"return type(loadfile)", "return type(dofile)", "return type(require)", "return type(loadstring)",
	"return type(unpack)", "return type(coroutine)", "return type(collectgarbage)",
	"local t = {} t.x = 1 return t.x",
	"\n\nerror('line three')",
	// redis.call and redis.pcall
	"return redis.call('incr', KEYS[1])", "return redis.call('incr', 'str')", "return redis.pcall('incr', 'str')",
	"return redis.call('nosuch')", "return redis.pcall('nosuch')", "return redis.call()", "return redis.call('get')",
	"return redis.call({})", "return redis.call('get', {})", "return redis.call('eval', 'return 1', 0)",
	"return redis.call('set', KEYS[1], 1.5)", "redis.call('set', KEYS[1], 0.1) return redis.call('get', KEYS[1])",
	"redis.call('set', KEYS[1], 100) return redis.call('get', KEYS[1])",
	"redis.call('set', KEYS[1], 1e20) return redis.call('get', KEYS[1])",
	"return redis.call('get', 'nokey')", "return redis.call('hgetall', 'h')", "return redis.call('smembers', 's1')",
	"return redis.call('zscore', 'z', 'm')", "return redis.call('zrange', 'z', 0, -1, 'withscores')",
	"return redis.call('ping')", "return redis.call('set', 'str', 'abc')", "return redis.call('lpush', 'str', 'a')",
	"return redis.pcall('lpush', 'str', 'a')", "return redis.call('del', 'nokey')",
	"return redis.call('blpop', 'nolist', 0)", "return redis.call('multi')", "return redis.call('subscribe', 'c')",
	"return redis.call('client', 'nosuchsub')", "return redis.call('config')", "return redis.call('select', 1)",
	"local ok, err = pcall(redis.call, 'incr', 'str') return err",
	"local ok, err = pcall(function() redis.call('nosuch') end) return err",
	"local r = redis.pcall('incr', 'str') return r.err",
	"return redis.call('exists', KEYS[1], 'str')",
	// RESP3 inside the script
	"redis.setresp(3) return redis.call('hgetall', 'h')", "redis.setresp(3) return redis.call('smembers', 's1')",
	"redis.setresp(3) return redis.call('zscore', 'z', 'm')", "redis.setresp(3) return redis.call('get', 'nokey')",
	"redis.setresp(3) return {redis.call('get', 'nokey')}", "redis.setresp(3) return true",
	"redis.setresp(3) return false", "redis.setresp(3) local v = redis.call('zscore', 'z', 'm') return v.double",
	"redis.setresp(3) return redis.call('hgetall', 'nokey')",
	"redis.setresp(3) return type(redis.call('get', 'nokey'))", "return type(redis.call('get', 'nokey'))",
	"redis.setresp()", "redis.setresp(4)",
	// the rest of the redis library
	"redis.set_repl()", "redis.set_repl(9)", "return redis.set_repl(redis.REPL_ALL)", "return redis.REPL_REPLICA",
	"redis.log()", "redis.log('a', 'b')", "redis.log(9, 'b')", "return redis.log(redis.LOG_DEBUG, 'x', 1)",
	"return redis.sha1hex()", "return redis.sha1hex('')", "return redis.sha1hex('abc')", "return redis.sha1hex(1)",
	"return redis.replicate_commands()", "return redis.REDIS_VERSION", "return redis.REDIS_VERSION_NUM",
	"return redis.breakpoint()", "return redis.acl_check_cmd('get', 'x')", "return redis.acl_check_cmd('nope')",
	"return KEYS[1]", "return ARGV[1]", "return #ARGV", "return {KEYS[1], ARGV[1], ARGV[2]}",
	// libraries
	"return cjson.encode({1, 2, {a = 'x/y'}})", "return cjson.encode({})", "return cjson.encode('a\"b\\\\c\\n')",
	"return cjson.encode(0.1)", "return cjson.encode(1e20)", "return cjson.encode({[1]=1, [3]=3})",
	"return cjson.encode({[1]=1, [20]=3})", "return cjson.encode(cjson.null)", "return cjson.encode(true)",
	"return cjson.encode({1/0})", "return cjson.encode(function() end)",
	"return cjson.decode('[1,2,{\"a\":null}]')[3].a == cjson.null", "return cjson.decode('{\"a\":[1,2,3]}').a",
	"return cjson.decode('\"\\\\u00e9\\\\n\"')", "return cjson.decode('3.5')", "return cjson.decode('[]')",
	"return cjson.decode('[1,')", "return cjson.decode('')", "return cjson.decode('{\"a\":1, \"b\":[true,false]}').b",
	"return cmsgpack.unpack(cmsgpack.pack({1, 2, 3}, 'abc', 1.5, -200, 70000, -70000, 3.14159))",
	"return cmsgpack.pack({1, 2, 3}, 'abc', 1.5, -200, 70000, -70000, 3.14159, true, false)",
	"return cmsgpack.pack({a = 1})", "return cmsgpack.pack(string.rep('x', 40))", "return cmsgpack.pack(2^40, -2^40)",
	"return cmsgpack.unpack(cmsgpack.pack({a = {b = {1, 2}}})).a.b", "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
	"return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}", "return cmsgpack.unpack('\\196')",
	"return bit.tohex(bit.bxor(0xff, 0x0f))", "return bit.band(-1, 0xffff)", "return bit.tobit(2^32 + 5)",
	"return bit.lshift(1, 31)", "return bit.rshift(-1, 28)", "return bit.arshift(-256, 4)", "return bit.rol(0x12345678, 8)",
	"return bit.ror(0x12345678, 8)", "return bit.bswap(0x12345678)", "return bit.tohex(-1, -4)", "return bit.bnot(0)",
	"return bit.tobit(1.5)", "return bit.tobit(2.5)",
	"return {struct.unpack('>I2', struct.pack('>I2', 513))}", "return struct.pack('<i4', -2)",
	"return struct.pack('>hBs', 300, 7, 'ab')", "return struct.size('>i4hd')", "return {struct.unpack('<bc3', '\\255abc')}",
	"return struct.pack('!4 b i4', 1, 2)",
	// string and math libraries as Lua 5.1
	"return string.format('%d %s %5.2f', 3, 'x', 1.5)", "return tostring(1e15)", "return tostring(0.1)",
	"return string.rep('ab', 3)", "return tonumber('0x10')", "return math.floor(-1.5)", "return #'abc'",
	"return string.byte('A')", "return table.concat({1, 2, 3}, ',')", "return select('#', 1, 2, 3)",
	"local t = {3, 1, 2} table.sort(t) return t", "return {string.find('hello', 'l+')}", "return string.gsub('hello', 'l', 'L')",
}

// scriptSetup makes the keys the cases read.
var scriptSetup = [][]string{
	{"FLUSHALL"}, {"SET", "str", "abc"}, {"HSET", "h", "f", "v"}, {"SADD", "s1", "m"}, {"ZADD", "z", "1.5", "m"},
}

func TestScriptEvalVsRedis(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		p := newVsRedisPair(t, resp3)
		for _, src := range scriptCases {
			for _, c := range scriptSetup {
				p.same(t, c...)
			}
			p.same(t, "EVAL", src, "1", "k", "a1", "a2")
		}
	}
}

// TestScriptCommandsVsRedis compares EVALSHA, the _RO forms, SCRIPT and
// the numkeys and shebang errors.
func TestScriptCommandsVsRedis(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		p := newVsRedisPair(t, resp3)
		for _, c := range [][]string{
			{"SCRIPT", "FLUSH"}, {"SCRIPT", "LOAD", "return 'loaded'"},
			{"EVALSHA", "ba1c2a4b5a0f4bd1d0e9bd4d5a9d3e9a21f0c0d1", "0"},
			{"EVALSHA", "e8d5e8a1b0b2c1f0e8d5e8a1b0b2c1f0e8d5e8a1", "0"},
			{"SCRIPT", "EXISTS", "e8d5e8a1b0b2c1f0e8d5e8a1b0b2c1f0e8d5e8a1", "x"},
			{"EVAL", "return 1", "-1"}, {"EVAL", "return 1", "3", "a"}, {"EVAL", "return 1", "x"}, {"EVAL", "return 1"},
			{"EVAL", "return 'abc'", "0"}, {"EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"},
			{"EVALSHA", "short", "0"}, {"EVALSHA_RO", "ffffffffffffffffffffffffffffffffffffffff", "0"},
			{"EVAL_RO", "return redis.call('set', KEYS[1], '1')", "1", "a"},
			{"EVAL_RO", "return redis.call('get', KEYS[1])", "1", "a"},
			{"EVAL_RO", "return redis.pcall('publish', 'c', 'm')", "0"},
			{"EVAL", "#!lua\nreturn 1", "0"}, {"EVAL", "#!lua flags=no-writes,allow-oom\nreturn 1", "0"},
			{"EVAL", "#!lua flags=bad\nreturn 1", "0"}, {"EVAL", "#!lua foo=bar\nreturn 1", "0"},
			{"EVAL", "#!python\nreturn 1", "0"}, {"EVAL", "#!lua flags=\nreturn 1", "0"}, {"EVAL", "#!lua", "0"},
			{"EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', '1')", "0"},
			{"EVAL", "#!lua\nreturn redis.call('set', KEYS[1], '1')", "1", "k"},
			{"SCRIPT", "FLUSH", "ASYNC"}, {"SCRIPT", "FLUSH", "SYNC"}, {"SCRIPT", "FLUSH", "bad"},
			{"SCRIPT", "EXISTS", "a"}, {"SCRIPT", "KILL"}, {"SCRIPT", "NOPE"}, {"SCRIPT"}, {"SCRIPT", "LOAD"},
			{"FLUSHALL"},
		} {
			p.same(t, c...)
		}
		// gopher-lua's parser words its errors otherwise (README): the
		// reply's form and the line must match.
		for _, bad := range []string{"retur 1 +", "return 1 +", "\n\nlocal x = = 1"} {
			o, r := p.both(t, "SCRIPT", "LOAD", bad)
			line := r[:strings.Index(r, ": ")+len(": ")+len("user_script:1:")]
			if !strings.HasPrefix(o, line) {
				t.Errorf("SCRIPT LOAD %q: cached %q, redis %q", bad, o, r)
			}
		}
		sha := p.same(t, "SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])")
		sha = strings.TrimSuffix(sha[strings.Index(sha, "\n")+1:], "\r\n")
		p.same(t, "EVALSHA", sha, "1", "counter")
		p.same(t, "EVALSHA", strings.ToUpper(sha), "1", "counter")
		p.same(t, "EVALSHA_RO", sha, "1", "counter")
		p.same(t, "SCRIPT", "EXISTS", sha, strings.ToUpper(sha), "nope")
	}
}
