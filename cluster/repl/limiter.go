package repl

import (
	"sync"
	"time"
)

// limiter spreads snapshot bytes over time: a token bucket of rate bytes
// per second holding at most one second of tokens. A caller takes its bytes
// at once and sleeps off any debt, so the long-run rate is the limit while
// each write stays whole. Safe for concurrent use; the zero rate means no
// limit.
type limiter struct {
	rate float64 // bytes per second; 0 = unlimited

	mu     sync.Mutex // protects tokens and last
	tokens float64
	last   time.Time
}

func newLimiter(bytesPerSec int64) *limiter {
	return &limiter{rate: float64(bytesPerSec), tokens: float64(bytesPerSec)}
}

// delay takes n bytes and returns how long the caller must wait before
// sending them.
func (l *limiter) delay(n int, now time.Time) time.Duration {
	if l.rate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.rate {
			l.tokens = l.rate
		}
	}
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// wait takes n bytes and sleeps until they may be sent; it returns false
// if stop was closed first.
func (l *limiter) wait(n int, stop <-chan struct{}) bool {
	d := l.delay(n, time.Now())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
