package console

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

var cheap = Params{Time: 1, Memory: 8 * 1024, Threads: 1}

// testConsole is a console on a real nats-server with no daemon behind
// it: enough for sign-in, sessions, CSRF and role checks, which the
// console decides before it asks any daemon. asked receives every request
// that reached the services' subjects.
type testConsole struct {
	srv   *Server
	ts    *httptest.Server
	asked chan string
	nc    *nats.Conn
}

func newTestConsole(t *testing.T) *testConsole {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	tc := &testConsole{asked: make(chan string, 16)}
	if _, err := nc.Subscribe("printerd.>", func(m *nats.Msg) { tc.asked <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	for _, u := range [][3]string{{"clara", RoleClerk, "clerk-password-1"}, {"tomas", RoleTechnician, "technician-password-1"}} {
		if err := AddUser(path, u[0], u[1], u[2], cheap); err != nil {
			t.Fatal(err)
		}
	}
	us, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := LoadCertificate("", "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc.srv, err = New(Config{NC: nc, Users: us, Certificate: cert, Timeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tc.nc = nc
	if err := tc.srv.subscribe(); err != nil {
		t.Fatal(err)
	}
	tc.ts = httptest.NewUnstartedServer(tc.srv.Handler())
	tc.ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tc.ts.StartTLS()
	t.Cleanup(tc.ts.Close)
	return tc
}

// client is a browser-like client: a cookie jar, no redirects followed.
func (tc *testConsole) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	cp := *tc.ts.Client() // httptest returns one shared client: each gets its own jar
	c := &cp
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a page and returns its status and CSRF token.
func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := csrfRE.FindSubmatch(b)
	if m == nil {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, string(m[1])
}

func post(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// signIn signs a client in and returns the session's CSRF token.
func (tc *testConsole) signIn(t *testing.T, c *http.Client, name, password string) string {
	t.Helper()
	_, tok := get(t, c, tc.ts.URL+"/signin")
	resp := post(t, c, tc.ts.URL+"/signin", url.Values{"csrf": {tok}, "name": {name}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", name, resp.StatusCode)
	}
	_, tok = get(t, c, tc.ts.URL+"/history")
	if tok == "" {
		t.Fatal("no CSRF token on a signed-in page")
	}
	return tok
}

// TestRolesEnforced: a person's crafted request for an action of another
// role is refused by the console, and no request reaches the daemons.
func TestRolesEnforced(t *testing.T) {
	tc := newTestConsole(t)
	tests := []struct {
		user, password, path string
		form                 url.Values
	}{
		{"clara", "clerk-password-1", "/printers/p0/pause", nil},
		{"clara", "clerk-password-1", "/printers/p0/test-card", nil},
		{"clara", "clerk-password-1", "/printers/p0/reset", nil},
		{"tomas", "technician-password-1", "/jobs/00000000-0000-4000-8000-000000000000/release", url.Values{"reason": {"printer-fixed"}}},
		{"tomas", "technician-password-1", "/jobs/00000000-0000-4000-8000-000000000000/cancel", url.Values{"reason": {"withdrawn"}}},
		{"tomas", "technician-password-1", "/reprints", url.Values{"card": {"SAMPLE-000001"}, "reason": {"lost"}}},
	}
	for _, tt := range tests {
		c := tc.client(t)
		tok := tc.signIn(t, c, tt.user, tt.password)
		form := url.Values{"csrf": {tok}}
		for k, v := range tt.form {
			form[k] = v
		}
		if resp := post(t, c, tc.ts.URL+tt.path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s POST %s: %d, want 403", tt.user, tt.path, resp.StatusCode)
		}
	}
	select {
	case s := <-tc.asked:
		t.Errorf("a refused action reached the daemons: %s", s)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestCSRFRequired: every POST needs the session's own CSRF token.
func TestCSRFRequired(t *testing.T) {
	tc := newTestConsole(t)
	c := tc.client(t)
	tok := tc.signIn(t, c, "tomas", "technician-password-1")
	other := tc.client(t)
	otherTok := tc.signIn(t, other, "tomas", "technician-password-1")
	tests := []struct {
		name string
		form url.Values
	}{
		{"no token", url.Values{}},
		{"empty token", url.Values{"csrf": {""}}},
		{"another session's token", url.Values{"csrf": {otherTok}}},
		{"forged token", url.Values{"csrf": {strings.Repeat("A", len(tok))}}},
	}
	for _, tt := range tests {
		if resp := post(t, c, tc.ts.URL+"/printers/p0/pause", tt.form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tt.name, resp.StatusCode)
		}
	}
	// A sign-in form needs one too.
	anon := tc.client(t)
	if resp := post(t, anon, tc.ts.URL+"/signin", url.Values{"name": {"tomas"}, "password": {"technician-password-1"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without a token: %d, want 403", resp.StatusCode)
	}
	select {
	case s := <-tc.asked:
		t.Errorf("a POST without a valid token reached the daemons: %s", s)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSignInSlowed: after 3 wrong passwords each further attempt must
// wait, even with the right password; the wait doubles.
func TestSignInSlowed(t *testing.T) {
	tc := newTestConsole(t)
	c := tc.client(t)
	try := func(password string) *http.Response {
		_, tok := get(t, c, tc.ts.URL+"/signin")
		return post(t, c, tc.ts.URL+"/signin", url.Values{"csrf": {tok}, "name": {"clara"}, "password": {password}})
	}
	for i := range 4 {
		if resp := try("wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := try("clerk-password-1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password right after 4 failures: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another name from the same address waits too.
	_, tok := get(t, c, tc.ts.URL+"/signin")
	if resp := post(t, c, tc.ts.URL+"/signin", url.Values{"csrf": {tok}, "name": {"tomas"}, "password": {"x"}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("another name from the same address: %d, want 429", resp.StatusCode)
	}
	time.Sleep(1100 * time.Millisecond)
	if resp := try("clerk-password-1"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("right password after the wait: %d, want 303", resp.StatusCode)
	}
}

// TestSessionCookie: the cookie is __Host-, Secure, HttpOnly,
// SameSite=Strict, expires; a new id is issued at sign-in; sign-out ends
// the session on the server.
func TestSessionCookie(t *testing.T) {
	tc := newTestConsole(t)
	c := tc.client(t)
	resp, err := c.Get(tc.ts.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	visitor := cookieOf(t, resp)
	tok := tc.signIn(t, c, "clara", "clerk-password-1")
	u, _ := url.Parse(tc.ts.URL)
	var id string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == CookieName {
			id = ck.Value
		}
	}
	if id == "" || id == visitor.Value {
		t.Error("the session id did not change at sign-in")
	}
	post(t, c, tc.ts.URL+"/signout", url.Values{"csrf": {tok}})
	// The old cookie no longer opens a page.
	old := tc.client(t)
	old.Jar.SetCookies(u, []*http.Cookie{{Name: CookieName, Value: id}})
	if code, _ := get(t, old, tc.ts.URL+"/queue"); code != http.StatusSeeOther {
		t.Errorf("a signed-out session still opens /queue: %d", code)
	}
}

func cookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == CookieName {
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 {
				t.Errorf("cookie %+v: want Secure, HttpOnly, SameSite=Strict, Path=/, Max-Age", ck)
			}
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func TestSessionExpiry(t *testing.T) {
	now := time.Unix(1e9, 0)
	s := NewSessions(30*time.Minute, 10*time.Hour)
	s.now = func() time.Time { return now }
	ss := s.New("clara", RoleClerk)
	now = now.Add(29 * time.Minute)
	if _, ok := s.Get(ss.ID); !ok {
		t.Fatal("a session seen 29 min ago expired")
	}
	now = now.Add(31 * time.Minute)
	if _, ok := s.Get(ss.ID); ok {
		t.Error("a session idle for 31 min is still valid")
	}
	ss = s.New("clara", RoleClerk)
	for range 21 { // seen every 29 min, for more than 10 h
		now = now.Add(29 * time.Minute)
		s.Get(ss.ID)
	}
	if _, ok := s.Get(ss.ID); ok {
		t.Error("a session older than 10 h is still valid")
	}
}

// TestSessionsBounded: visitors opening the sign-in page again and again
// cannot grow the store without bound, nor push out signed-in people.
func TestSessionsBounded(t *testing.T) {
	s := NewSessions(DefaultIdle, DefaultLifetime)
	person := s.New("clara", RoleClerk)
	for range maxSessions + 500 {
		s.New("", "")
	}
	if n := len(s.m); n > maxSessions {
		t.Errorf("%d sessions, want at most %d", n, maxSessions)
	}
	if _, ok := s.Get(person.ID); !ok {
		t.Error("visitors pushed out a signed-in person's session")
	}
}

func TestUsersFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	if err := AddUser(path, "clara", RoleClerk, "clerk-password-1", cheap); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %04o, want 0600", fi.Mode().Perm())
	}
	us, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := us.Check("clara", "clerk-password-1"); !ok {
		t.Error("the right password is refused")
	}
	for _, tt := range [][2]string{{"clara", "clerk-password-2"}, {"clara", ""}, {"nobody", "clerk-password-1"}} {
		if _, ok := us.Check(tt[0], tt[1]); ok {
			t.Errorf("Check(%q, %q) let in", tt[0], tt[1])
		}
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "clerk-password-1") || !strings.Contains(string(b), "$argon2id$v=19$") {
		t.Errorf("users file does not hold an argon2id hash only: %s", b)
	}
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666} {
		os.Chmod(path, mode)
		if _, err := LoadUsers(path); err == nil || !strings.Contains(err.Error(), "chmod 0600") {
			t.Errorf("mode %04o: LoadUsers = %v, want a refusal", mode, err)
		}
	}
	os.Chmod(path, 0o600)
	for _, tt := range []struct{ name, role, pw string }{{"bad name!", RoleClerk, "long-enough-1"}, {"x", "boss", "long-enough-1"}, {"x", RoleClerk, "short"}} {
		if err := AddUser(path, tt.name, tt.role, tt.pw, cheap); err == nil {
			t.Errorf("AddUser(%q, %q) accepted", tt.name, tt.role)
		}
	}
}

// FuzzParseHash: the users file's hashes never panic the parser, and a
// hash it accepts has sane argon2 parameters.
func FuzzParseHash(f *testing.F) {
	h, _ := HashPassword("x", cheap)
	for _, s := range []string{h, "", "$argon2id$", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=4294967295,t=1,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parseHash(s)
		if err != nil {
			return
		}
		if p.Time < 1 || p.Threads < 1 || p.Memory > 4<<20 || len(salt) < 8 || len(key) < 16 {
			t.Errorf("accepted %q with %+v", s, p)
		}
	})
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := NewLimiter()
	l.now = func() time.Time { return now }
	var waits []time.Duration
	for range 6 {
		l.Fail("k")
		waits = append(waits, l.Wait("k"))
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("wait after %d failures = %v, want %v", i+1, waits[i], want[i])
		}
	}
	for range 40 {
		l.Fail("k")
	}
	if w := l.Wait("k"); w != l.MaxDelay {
		t.Errorf("wait after many failures = %v, want the %v cap", w, l.MaxDelay)
	}
	l.Succeed("k")
	if w := l.Wait("k"); w != 0 {
		t.Errorf("wait after success = %v", w)
	}
}

// TestLiveStream: a job event reaches a signed-in page's live stream as a
// change of the queue; a stream whose browser went away leaves nothing
// behind; no stream without signing in.
func TestLiveStream(t *testing.T) {
	tc := newTestConsole(t)
	if code, _ := get(t, tc.client(t), tc.ts.URL+"/live"); code != http.StatusUnauthorized {
		t.Errorf("live stream without a session: %d, want 401", code)
	}
	c := tc.client(t)
	tc.signIn(t, c, "clara", "clerk-password-1")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tc.ts.URL+"/live", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Publish until the stream is subscribed and passes it on.
	ev := []byte(`{"job_id":"0a5cd436-0000-4000-8000-000000000000","state":"held","card_number":"SAMPLE-000001","at":"2026-01-01T00:00:00Z"}`)
	got := false
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for !got {
		select {
		case l := <-lines:
			got = l == "data: queue"
		case <-tick.C:
			tc.nc.Publish("cards.events.0a5cd436-0000-4000-8000-000000000000", ev)
		case <-deadline:
			t.Fatal("no change event for the queue on the live stream")
		}
	}
	cancel()
	resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		tc.srv.hub.mu.Lock()
		n := len(tc.srv.hub.subs)
		tc.srv.hub.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d live streams left after the browser went away", n)
		}
	}
}
