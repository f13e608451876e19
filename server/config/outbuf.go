package config

// client-output-buffer-limit: how much output a detached client (the
// server's session.go) may have queued before it is closed, per client
// class, as Redis's "<class> <hard> <soft> <soft-seconds>" directive.

import (
	"strconv"
	"strings"

	"github.com/cached/cached/protocol"
)

// OutputBufferLimit is one client class's output buffer limit: the client is
// closed when its queued output reaches Hard bytes, or stays at or over Soft
// bytes for more than SoftSeconds. 0 disables a limit.
type OutputBufferLimit struct {
	Hard        int64
	Soft        int64
	SoftSeconds int64
}

// OutputBufferLimits are the limits of the three client classes of the
// client-output-buffer-limit directive.
type OutputBufferLimits struct {
	Normal  OutputBufferLimit
	Replica OutputBufferLimit // class "replica" (or "slave")
	PubSub  OutputBufferLimit // clients subscribed to a channel or pattern
}

// OutputClass indexes a client class of OutputBufferLimits.
type OutputClass int

// The client classes.
const (
	ClassNormal OutputClass = iota
	ClassReplica
	ClassPubSub
)

// defaultOutputBufferLimits is redis-server 7's default.
const defaultOutputBufferLimits = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"

// redisConfigError is a directive error whose text is Redis's, verbatim
// (capitalized, with its final period), as CONFIG SET reports it.
type redisConfigError string

func (e redisConfigError) Error() string { return string(e) }

// Redis's errors for a bad client-output-buffer-limit value.
const (
	errOBLArgs   redisConfigError = "Wrong number of arguments in buffer limit configuration."
	errOBLClass  redisConfigError = "Invalid client class specified in buffer limit configuration."
	errOBLValues redisConfigError = "Error in hard, soft or soft_seconds setting in buffer limit configuration."
)

var _ = registerDirectives(directive{
	name: "client-output-buffer-limit", def: defaultOutputBufferLimits, mutable: true,
	doc: "per client class (normal, replica, pubsub): hard limit, soft limit, soft seconds of queued output",
	get: func(c *Config) string { return formatOutputLimits(c.ClientOutputBufferLimit) },
	set: func(c *Config, v string) error {
		lim, err := parseOutputLimits(c.ClientOutputBufferLimit, v)
		if err != nil {
			return err
		}
		c.ClientOutputBufferLimit = lim
		return nil
	},
})

// At returns the limit of a class.
func (l *OutputBufferLimits) At(class OutputClass) *OutputBufferLimit {
	switch class {
	case ClassReplica:
		return &l.Replica
	case ClassPubSub:
		return &l.PubSub
	}
	return &l.Normal
}

// parseOutputLimits applies a "<class> <hard> <soft> <soft-seconds> …" value
// to cur, as Redis: only the classes named change, and any error refuses the
// whole value.
func parseOutputLimits(cur OutputBufferLimits, v string) (OutputBufferLimits, error) {
	f := strings.Fields(v)
	if len(f)%4 != 0 {
		return cur, errOBLArgs
	}
	next := cur
	for i := 0; i < len(f); i += 4 {
		var class OutputClass
		switch strings.ToLower(f[i]) {
		case "normal":
			class = ClassNormal
		case "replica", "slave":
			class = ClassReplica
		case "pubsub":
			class = ClassPubSub
		default:
			return cur, errOBLClass
		}
		hard, err1 := protocol.ParseMemory(f[i+1])
		soft, err2 := protocol.ParseMemory(f[i+2])
		secs, err3 := strconv.ParseInt(f[i+3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || hard < 0 || soft < 0 || secs < 0 {
			return cur, errOBLValues
		}
		*next.At(class) = OutputBufferLimit{Hard: hard, Soft: soft, SoftSeconds: secs}
	}
	return next, nil
}

// formatOutputLimits is CONFIG GET's form, in bytes, with Redis's class names.
func formatOutputLimits(l OutputBufferLimits) string {
	var b strings.Builder
	for i, name := range []string{"normal", "slave", "pubsub"} {
		lim := l.At(OutputClass(i))
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name + " " + strconv.FormatInt(lim.Hard, 10) + " " +
			strconv.FormatInt(lim.Soft, 10) + " " + strconv.FormatInt(lim.SoftSeconds, 10))
	}
	return b.String()
}
