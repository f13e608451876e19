package scenario

// data returns a random command over the data types and keys.
func (g *gen) data() []string {
	switch g.r.IntN(6) {
	case 0:
		return g.strCmd()
	case 1, 2:
		return g.listCmd()
	case 3:
		return g.hashCmd()
	case 4:
		return g.setCmd()
	}
	if g.chance(25) {
		return g.keyCmd()
	}
	return g.zsetCmd()
}

func (g *gen) strCmd() []string {
	k := g.key()
	switch g.r.IntN(16) {
	case 0, 1:
		args := []string{"SET", k, g.val()}
		if g.chance(50) {
			args = append(args, g.pick("NX", "XX", "GET", "KEEPTTL", "EX", "PX", "PXAT", "EXAT"))
			switch args[3] { // times far ahead, or in the past: nothing expires by the clock
			case "EX":
				args = append(args, g.pick("100", "100000", "0", "-5", "x"))
			case "PX":
				args = append(args, g.pick("100000", "100000000", "0", "-5", "x"))
			case "PXAT", "EXAT":
				args = append(args, g.pick("1", "1", "99999999999", "0"))
			}
		}
		return args
	case 2:
		return []string{"GET", k}
	case 3:
		return []string{"APPEND", k, g.val()}
	case 4:
		return []string{g.pick("INCR", "DECR"), k}
	case 5:
		return []string{g.pick("INCRBY", "DECRBY"), k, g.pick("1", "-3", "9223372036854775807", "x", "1.5")}
	case 6:
		return []string{"INCRBYFLOAT", k, g.pick("1.5", "-2", "1e308", "inf", "x")}
	case 7:
		return []string{g.pick("GETDEL", "STRLEN"), k}
	case 8:
		return []string{"GETSET", k, g.val()}
	case 9:
		return []string{"SETRANGE", k, g.pick("0", "3", "-1", "536870912"), g.val()}
	case 10:
		return []string{"GETRANGE", k, g.index(), g.index()}
	case 11:
		return []string{g.pick("MSET", "MSETNX"), k, g.val(), g.key(), g.val()}
	case 12:
		return []string{"MGET", k, g.key(), g.key()}
	case 13:
		return []string{"SETNX", k, g.val()}
	case 14:
		return []string{"GETEX", k, g.pick("PERSIST", "EX", "PXAT")}
	}
	return []string{"SETEX", k, g.pick("100", "0", "-1"), g.val()}
}

func (g *gen) listCmd() []string {
	k := g.key()
	switch g.r.IntN(17) {
	case 0, 1, 2:
		args := []string{g.pick("LPUSH", "RPUSH", "RPUSH", "LPUSHX", "RPUSHX"), k, g.val()}
		if g.chance(40) {
			args = append(args, g.val(), g.val())
		}
		return args
	case 3, 4:
		args := []string{g.pick("LPOP", "RPOP"), k}
		if g.chance(40) {
			args = append(args, g.count())
		}
		return args
	case 5:
		return []string{"LLEN", k}
	case 6, 7:
		return []string{"LRANGE", k, g.index(), g.pick("-1", "-1", g.index())}
	case 8:
		return []string{"LINDEX", k, g.index()}
	case 9:
		return []string{"LSET", k, g.index(), g.val()}
	case 10:
		return []string{"LREM", k, g.index(), g.val()}
	case 11:
		return []string{"LINSERT", k, g.pick("BEFORE", "AFTER", "AT"), g.val(), g.val()}
	case 12:
		return []string{"LTRIM", k, g.index(), g.index()}
	case 13:
		return []string{"LMOVE", k, g.key(), g.side(), g.side()}
	case 14:
		return []string{"RPOPLPUSH", k, g.key()}
	case 15:
		return g.withCount([]string{"LMPOP", g.pick("1", "2", "2", "0"), k, g.key(), g.pick("LEFT", "RIGHT")})
	}
	args := []string{"LPOS", k, g.val()}
	if g.chance(50) {
		args = append(args, g.pick("RANK", "COUNT", "MAXLEN"), g.index())
	}
	return args
}

func (g *gen) hashCmd() []string {
	k := g.key()
	f := g.pick("f", "g", "h", "1")
	switch g.r.IntN(14) {
	case 0, 1, 2:
		args := []string{"HSET", k, f, g.val()}
		if g.chance(40) {
			args = append(args, g.pick("g", "h"), g.val())
		}
		return args
	case 3:
		return []string{"HSETNX", k, f, g.val()}
	case 4:
		return []string{"HGET", k, f}
	case 5:
		return []string{"HMGET", k, f, "g", "zz"}
	case 6:
		return []string{"HDEL", k, f, "g"}
	case 7:
		return []string{g.pick("HLEN", "HGETALL", "HKEYS", "HVALS"), k}
	case 8:
		return []string{"HEXISTS", k, f}
	case 9:
		return []string{"HINCRBY", k, f, g.pick("1", "-2", "9223372036854775807", "x")}
	case 10:
		return []string{"HINCRBYFLOAT", k, f, g.pick("1.5", "-2", "inf", "x")}
	case 11:
		return []string{"HSTRLEN", k, f}
	case 12:
		args := []string{"HRANDFIELD", k, g.pick("100", "0", "-2", "9223372036854775807", "-9223372036854775808")}
		if g.chance(40) {
			args = append(args, "WITHVALUES")
		}
		return args
	}
	return []string{"HGETALL", k}
}

func (g *gen) setCmd() []string {
	k := g.key()
	switch g.r.IntN(12) {
	case 0, 1, 2:
		return []string{"SADD", k, g.member(), g.member()}
	case 3:
		return []string{"SREM", k, g.member(), g.member()}
	case 4:
		return []string{g.pick("SMEMBERS", "SCARD"), k}
	case 5:
		return []string{"SISMEMBER", k, g.member()}
	case 6:
		return []string{"SMISMEMBER", k, g.member(), g.member()}
	case 7:
		return []string{g.pick("SPOP", "SRANDMEMBER"), k, g.pick("100", "0", "-2", "x")}
	case 8:
		return []string{g.pick("SINTER", "SUNION", "SDIFF"), k, g.key()}
	case 9:
		return []string{g.pick("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"), g.key(), k, g.key()}
	case 10:
		return []string{"SMOVE", k, g.key(), g.member()}
	}
	return []string{"SINTERCARD", g.pick("2", "1", "0"), k, g.key(), "LIMIT", g.pick("0", "1", "-1")}
}

func (g *gen) zsetCmd() []string {
	k := g.key()
	switch g.r.IntN(16) {
	case 0, 1, 2:
		args := []string{"ZADD", k}
		if g.chance(30) {
			args = append(args, g.pick("NX", "XX", "GT", "LT", "CH", "INCR"))
		}
		return append(args, g.score(), g.member(), g.score(), g.member())
	case 3:
		return []string{"ZREM", k, g.member()}
	case 4:
		return []string{"ZSCORE", k, g.member()}
	case 5:
		return []string{"ZMSCORE", k, g.member(), g.member()}
	case 6:
		return []string{"ZINCRBY", k, g.score(), g.member()}
	case 7:
		return []string{"ZCARD", k}
	case 8:
		return []string{"ZCOUNT", k, g.pick("-inf", "1", "(1"), g.pick("+inf", "2", "(3")}
	case 9, 10:
		args := []string{"ZRANGE", k, g.index(), g.pick("-1", g.index())}
		if g.chance(30) {
			args = append(args, "REV")
		}
		if g.chance(40) {
			args = append(args, "WITHSCORES")
		}
		return args
	case 11:
		return []string{"ZRANGEBYSCORE", k, g.pick("-inf", "1", "(1"), g.pick("+inf", "2"), "WITHSCORES"}
	case 12:
		return []string{g.pick("ZRANK", "ZREVRANK"), k, g.member()}
	case 13:
		args := []string{g.pick("ZPOPMIN", "ZPOPMAX"), k}
		if g.chance(40) {
			args = append(args, g.count())
		}
		return args
	case 14:
		return g.withCount([]string{"ZMPOP", g.pick("1", "2", "2", "0"), k, g.key(), g.pick("MIN", "MAX")})
	}
	return []string{g.pick("ZUNIONSTORE", "ZINTERSTORE"), g.key(), "2", k, g.key()}
}

// keyCmd: type, existence, deletion, renames and deterministic expiry
// (times in the past delete; times far ahead never pass during a script).
func (g *gen) keyCmd() []string {
	k := g.key()
	switch g.r.IntN(12) {
	case 0:
		return []string{g.pick("DEL", "UNLINK"), k, g.key()}
	case 1:
		return []string{"EXISTS", k, g.key()}
	case 2:
		return []string{"TYPE", k}
	case 3:
		return []string{g.pick("RENAME", "RENAMENX"), k, g.key()}
	case 4:
		args := []string{"COPY", k, g.key()}
		if g.chance(50) {
			args = append(args, "REPLACE")
		}
		return args
	case 5:
		return []string{g.pick("PEXPIREAT", "EXPIREAT"), k, g.pick("1", "1", "99999999999")}
	case 6:
		args := []string{g.pick("EXPIRE", "PEXPIRE"), k, g.pick("100000", "0", "-1")}
		if g.chance(30) {
			args = append(args, g.pick("NX", "XX", "GT", "LT"))
			if (args[3] == "GT" || args[3] == "LT") && args[2] == "100000" {
				// Not a TTL another command sets (SETEX 100, EX 100000 …):
				// GT/LT against one set a moment ago would depend on whether
				// both ran in the same millisecond (seed 1734963287839703036).
				args[2] = "100001"
			}
		}
		return args
	case 7:
		return []string{"PERSIST", k}
	case 8:
		return []string{g.pick("TTL", "PTTL", "EXPIRETIME"), k}
	case 9:
		return []string{"KEYS", g.pick("*", "a*", "[ab]")}
	case 10:
		return []string{"DBSIZE"} // not RANDOMKEY: redis-server expires the keys it happens to sample
	}
	return []string{"TOUCH", k, g.key()}
}
