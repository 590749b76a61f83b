package console

import (
	"sync"
	"time"
)

// Limiter slows down guessing: after FreeFailures failed sign-ins for a
// key (a user name, a client address), the next attempt for that key must
// wait, twice as long after each further failure, up to MaxDelay.
type Limiter struct {
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration

	mu  sync.Mutex
	m   map[string]*limitEntry
	now func() time.Time
}

type limitEntry struct {
	failures int
	until    time.Time // no attempt before this
	last     time.Time
}

// NewLimiter returns a limiter with printerd's defaults: 3 free failures,
// then 1 s, 2 s, 4 s ... up to 15 min.
func NewLimiter() *Limiter {
	return &Limiter{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, m: map[string]*limitEntry{}, now: time.Now}
}

// Wait returns how long the caller must still wait before an attempt on
// any of keys is allowed (0: go ahead).
func (l *Limiter) Wait(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var w time.Duration
	for _, k := range keys {
		if e, ok := l.m[k]; ok && e.until.After(now) {
			w = max(w, e.until.Sub(now))
		}
	}
	return w
}

// Fail records a failed attempt on each key.
func (l *Limiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweepLocked(now)
	for _, k := range keys {
		e := l.m[k]
		if e == nil {
			e = &limitEntry{}
			l.m[k] = e
		}
		e.failures++
		e.last = now
		if n := e.failures - l.FreeFailures; n > 0 {
			d := l.BaseDelay << min(n-1, 30)
			if d <= 0 || d > l.MaxDelay {
				d = l.MaxDelay
			}
			e.until = now.Add(d)
		}
	}
}

// Succeed forgets the failures of key (the user who signed in; the
// address keeps its record).
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}

// sweepLocked forgets keys quiet for longer than MaxDelay and a day.
func (l *Limiter) sweepLocked(now time.Time) {
	if len(l.m) < 1024 {
		return
	}
	for k, e := range l.m {
		if now.Sub(e.last) > l.MaxDelay+24*time.Hour {
			delete(l.m, k)
		}
	}
}
