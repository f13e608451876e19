package scenario

import (
	"slices"
	"strconv"
	"strings"
)

// This file is the one place where replies are normalised before they are
// compared. Everything else is compared byte for byte. What is normalised is
// what Redis documents as unspecified or random:
//
//   - the order of set members and hash fields (SMEMBERS, SINTER, SUNION,
//     SDIFF, HKEYS, HVALS, HGETALL, KEYS, PUBSUB CHANNELS): sorted;
//   - SRANDMEMBER, SPOP, HRANDFIELD and ZRANDMEMBER: with a count of 0 or
//     more the reply is a set of distinct elements (the generator asks for
//     more than the collection holds, so it is the whole collection):
//     sorted; without a count or with a negative count the elements are
//     chosen at random: only the reply's shape (nil, or how many elements)
//     is compared;
//   - pub/sub: the pmessages one PUBLISH delivers to one connection through
//     several of its patterns come in the order of redis-server's pattern
//     dict, which is seeded at random per process: a run of pmessages of
//     the same channel and payload is sorted;
//   - UNSUBSCRIBE and PUNSUBSCRIBE without arguments name the connection's
//     channels in the order of its dict (seeded at random): the names are
//     sorted, the counts stay where they are;
//   - RANDOMKEY: only nil-or-not (the generator does not write it: redis-
//     server expires the logically expired keys it happens to sample, so
//     its side effects are random);
//   - TTL, PTTL, EXPIRETIME, PEXPIRETIME: a positive value depends on the
//     clock: only that it is positive (-1 and -2 exactly);
//   - EXEC: each queued command's reply is normalised as that command's.
//
// Connection IDs never reach a reply: scripts name connections ($conn:N) and
// the runner substitutes each server's ID. Replies whose content is
// implementation detail (INFO, CLIENT LIST, OBJECT ENCODING, SCAN cursors,
// HELLO) are not generated at all.

// mode says how a reply is compared.
type mode uint8

const (
	exact  mode = iota
	sorted      // the elements of the top-level aggregate in any order
	pairs       // the (field, value) pairs of the top-level aggregate in any order
	shape       // only nil-or-not and the number of elements
	clock       // a positive integer (a TTL or an expiry time) only as positive
)

// modeOf is the comparison mode of a command's reply.
func modeOf(args []string) mode {
	if len(args) == 0 {
		return exact
	}
	name := strings.ToUpper(args[0])
	switch name {
	case "SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS", "KEYS":
		return sorted
	case "HGETALL":
		return pairs
	case "PUBSUB":
		if len(args) > 1 && strings.EqualFold(args[1], "CHANNELS") {
			return sorted
		}
	case "SRANDMEMBER", "SPOP", "HRANDFIELD", "ZRANDMEMBER":
		return randomMode(args)
	case "RANDOMKEY":
		return shape
	case "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME":
		return clock
	}
	return exact
}

func randomMode(args []string) mode {
	if len(args) < 3 {
		return shape
	}
	n, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil || n < 0 {
		return shape
	}
	if len(args) > 3 {
		return pairs // WITHVALUES / WITHSCORES
	}
	return sorted
}

// canonical is the form in which a command's replies are compared.
func canonical(args []string, queue [][]string, frames []string) string {
	if len(args) == 1 && (strings.EqualFold(args[0], "UNSUBSCRIBE") || strings.EqualFold(args[0], "PUNSUBSCRIBE")) {
		frames = sortUnsubscribed(frames)
	}
	if len(frames) != 1 || len(args) == 0 {
		return strings.Join(sortPatternRuns(frames), "")
	}
	n := parseFrame(frames[0])
	if strings.EqualFold(args[0], "EXEC") && len(n.kids) == len(queue) && n.head[0] == '*' {
		for i := range n.kids {
			n.kids[i] = normalise(modeOf(queue[i]), n.kids[i])
		}
		return n.raw()
	}
	return normalise(modeOf(args), n).raw()
}

func normalise(m mode, n node) node {
	if n.head == "" || strings.HasPrefix(n.head, "?") || m == exact {
		return n
	}
	switch n.head[0] {
	case '-', '!', '_':
		return n
	case ':':
		if m == clock && !strings.HasPrefix(n.head, ":-") && n.head != ":0" {
			return node{head: ":+"}
		}
		return n
	case '$':
		if m == shape && n.head != "$-1" {
			return node{head: "$?", body: "?"}
		}
		return n
	}
	if !strings.ContainsRune("*~%", rune(n.head[0])) {
		return n
	}
	switch m {
	case sorted:
		n.kids = sortedKids(n.kids, 1)
	case pairs:
		if len(n.kids) > 0 && n.kids[0].head[0] == '*' {
			n.kids = sortedKids(n.kids, 1) // RESP3: [[field, value], …]
		} else {
			n.kids = sortedKids(n.kids, 2)
		}
	case shape:
		for i := range n.kids {
			n.kids[i] = node{head: "$?", body: "?"}
		}
	}
	return n
}

// sortedKids sorts kids in groups of size (1: elements, 2: pairs; a pair
// may also be one nested two-element array, as RESP3 gives them).
func sortedKids(kids []node, size int) []node {
	if len(kids)%size != 0 {
		return kids
	}
	groups := make([][]node, 0, len(kids)/size)
	for i := 0; i < len(kids); i += size {
		groups = append(groups, kids[i:i+size])
	}
	text := func(g []node) string {
		var b strings.Builder
		for _, k := range g {
			k.write(&b)
		}
		return b.String()
	}
	slices.SortFunc(groups, func(a, b []node) int { return strings.Compare(text(a), text(b)) })
	out := make([]node, 0, len(kids))
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// sortPatternRuns sorts each run of consecutive pmessage frames that carry
// the same channel and payload (one PUBLISH seen through several patterns).
func sortPatternRuns(frames []string) []string {
	out := slices.Clone(frames)
	runKey := func(raw string) (string, bool) {
		n := parseFrame(raw)
		if len(n.kids) != 4 || n.kids[0].body != "pmessage" {
			return "", false
		}
		return n.kids[2].raw() + n.kids[3].raw(), true
	}
	for i := 0; i < len(out); {
		k, ok := runKey(out[i])
		j := i + 1
		for ok && j < len(out) {
			if k2, ok2 := runKey(out[j]); !ok2 || k2 != k {
				break
			}
			j++
		}
		slices.Sort(out[i:j])
		i = j
	}
	return out
}

// sortUnsubscribed sorts the channel names of the [unsubscribe, name,
// count] frames, leaving every other frame and the counts in place.
func sortUnsubscribed(frames []string) []string {
	out := slices.Clone(frames)
	var at []int
	var names []node
	var parsed []node
	for i, raw := range out {
		n := parseFrame(raw)
		if len(n.kids) == 3 && strings.HasSuffix(n.kids[0].body, "unsubscribe") {
			at, names, parsed = append(at, i), append(names, n.kids[1]), append(parsed, n)
		}
	}
	slices.SortFunc(names, func(a, b node) int { return strings.Compare(a.raw(), b.raw()) })
	for j, i := range at {
		parsed[j].kids[1] = names[j]
		out[i] = parsed[j].raw()
	}
	return out
}
