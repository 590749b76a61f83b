package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// Session is one browser's session, kept on the server; the cookie holds
// only its random id. A session without User is a visitor's (the sign-in
// page's CSRF token lives in it).
type Session struct {
	ID      string
	CSRF    string
	User    string
	Role    string
	Created time.Time
	Seen    time.Time
}

// Sessions is the server-side session store: random 256-bit ids, an idle
// and an absolute expiry.
type Sessions struct {
	mu   sync.Mutex
	m    map[string]*Session
	idle time.Duration
	max  time.Duration
	now  func() time.Time
}

// Session lifetimes.
const (
	DefaultIdle     = 30 * time.Minute
	DefaultLifetime = 10 * time.Hour
	visitorLifetime = 30 * time.Minute
)

// NewSessions returns an empty store.
func NewSessions(idle, lifetime time.Duration) *Sessions {
	return &Sessions{m: map[string]*Session{}, idle: idle, max: lifetime, now: time.Now}
}

// randomToken returns 32 random bytes in URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("console: crypto/rand failed: " + err.Error()) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// New makes a session (a visitor's when user is empty).
func (s *Sessions) New(user, role string) *Session {
	now := s.now()
	ss := &Session{ID: randomToken(), CSRF: randomToken(), User: user, Role: role, Created: now, Seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if len(s.m) >= maxSessions {
		s.evictVisitorLocked()
	}
	s.m[ss.ID] = ss
	return ss
}

// maxSessions bounds the store: anyone can make a visitor's session by
// opening the sign-in page.
const maxSessions = 10000

// evictVisitorLocked drops the oldest visitor's session (signed-in people
// keep theirs).
func (s *Sessions) evictVisitorLocked() {
	var oldest *Session
	for _, ss := range s.m {
		if ss.User == "" && (oldest == nil || ss.Created.Before(oldest.Created)) {
			oldest = ss
		}
	}
	if oldest != nil {
		delete(s.m, oldest.ID)
	}
}

// Get returns a live session and marks it seen; an expired one is gone.
func (s *Sessions) Get(id string) (Session, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return Session{}, false
	}
	if s.expiredLocked(ss, now) {
		delete(s.m, id)
		return Session{}, false
	}
	ss.Seen = now
	return *ss, true
}

// Delete ends a session.
func (s *Sessions) Delete(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (s *Sessions) expiredLocked(ss *Session, now time.Time) bool {
	max := s.max
	if ss.User == "" {
		max = visitorLifetime
	}
	return now.Sub(ss.Seen) > s.idle || now.Sub(ss.Created) > max
}

// sweepLocked drops expired sessions (called when one is made, so the
// store cannot grow without bound from visitors).
func (s *Sessions) sweepLocked(now time.Time) {
	for id, ss := range s.m {
		if s.expiredLocked(ss, now) {
			delete(s.m, id)
		}
	}
}

// CheckCSRF reports whether token is the session's CSRF token (constant
// time).
func (ss Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ss.CSRF)) == 1
}
