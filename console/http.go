package console

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/service"
)

// CookieName is the session cookie: __Host- so that the browser sends it
// only over HTTPS, for this host and every path.
const CookieName = "__Host-printerd-console"

// Actions a person can take, and who may take them. The console refuses
// any other (a clerk cannot pause a printer, however the request is made).
const (
	ActPause    = "pause"
	ActResume   = "resume"
	ActReset    = "reset"
	ActClean    = "clean"
	ActTestCard = "test-card"
	ActRelease  = "release"
	ActCancel   = "cancel"
	ActReprint  = "reprint"
)

// allowed says which roles may take an action.
var allowed = map[string][]string{
	ActPause:    {RoleTechnician, RoleAdmin},
	ActResume:   {RoleTechnician, RoleAdmin},
	ActReset:    {RoleTechnician, RoleAdmin},
	ActClean:    {RoleTechnician, RoleAdmin},
	ActTestCard: {RoleTechnician, RoleAdmin},
	ActRelease:  {RoleClerk, RoleAdmin},
	ActCancel:   {RoleClerk, RoleAdmin},
	ActReprint:  {RoleClerk, RoleAdmin},
}

// May reports whether role may take action.
func May(role, action string) bool { return slices.Contains(allowed[action], role) }

// Reason codes (DESIGN.md, Round 2): the only reason text stored.
var (
	ReleaseReasons = queue.ReleaseReasons
	CancelReasons  = queue.CancelReasons
	// ReprintReasons are the job contract's reprint reasons.
	ReprintReasons = job.Reasons
)

type ctxKey struct{}

// sessionOf returns the request's session (set by the auth middleware).
func sessionOf(r *http.Request) Session {
	ss, _ := r.Context().Value(ctxKey{}).(Session)
	return ss
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /signin", s.getSignIn)
	mux.HandleFunc("POST /signin", s.postSignIn)
	mux.Handle("POST /signout", s.auth(http.HandlerFunc(s.postSignOut)))
	mux.Handle("GET /{$}", s.auth(http.RedirectHandler("/printers", http.StatusSeeOther)))
	mux.Handle("GET /printers", s.auth(http.HandlerFunc(s.getPrinters)))
	mux.Handle("POST /printers/{printer}/{action}", s.auth(http.HandlerFunc(s.postPrinter)))
	mux.Handle("GET /queue", s.auth(http.HandlerFunc(s.getQueue)))
	mux.Handle("POST /jobs/{job}/{action}", s.auth(http.HandlerFunc(s.postJob)))
	mux.Handle("GET /history", s.auth(http.HandlerFunc(s.getHistory)))
	mux.Handle("GET /reprints", s.auth(http.HandlerFunc(s.getReprints)))
	mux.Handle("POST /reprints", s.auth(http.HandlerFunc(s.postReprint)))
	mux.Handle("GET /live", s.auth(http.HandlerFunc(s.getLive)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, r, http.StatusNotFound, "There is no such page.")
	})
	return s.secure(mux)
}

// secure sets the security headers of every answer, limits request
// bodies, and refuses a POST without the session's CSRF token or from
// another origin.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin") // no-referrer would make form POSTs send "Origin: null"
		h.Set("X-Frame-Options", "DENY")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			if o := r.Header.Get("Origin"); o != "" && o != "https://"+r.Host {
				s.refuse(w, r, http.StatusForbidden, "This request came from another site and was refused.")
				return
			}
			ss, ok := s.cookieSession(r)
			if !ok || !ss.CheckCSRF(r.PostFormValue("csrf")) {
				s.log.Warn("console: POST without a valid CSRF token refused", "path", r.URL.Path, "client", clientAddr(r))
				s.refuse(w, r, http.StatusForbidden, "This form has expired or did not come from this console. Reload the page and try again.")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cookieSession returns the session named by the request's cookie.
func (s *Server) cookieSession(r *http.Request) (Session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Session{}, false
	}
	return s.sessions.Get(c.Value)
}

// auth lets signed-in people through and sends others to the sign-in page.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, ok := s.cookieSession(r)
		if !ok || ss.User == "" {
			if r.Method == http.MethodGet && r.URL.Path != "/live" {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			s.refuse(w, r, http.StatusUnauthorized, "Sign in first.")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ss)))
	})
}

// setCookie sends the session cookie.
func (s *Server) setCookie(w http.ResponseWriter, ss *Session, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: ss.ID, Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// clientAddr is the client's IP address (no proxy headers are trusted).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) getSignIn(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.cookieSession(r)
	if ok && ss.User != "" {
		http.Redirect(w, r, "/printers", http.StatusSeeOther)
		return
	}
	if !ok {
		v := s.sessions.New("", "")
		s.setCookie(w, v, visitorLifetime)
		ss = *v
	}
	s.render(w, r, http.StatusOK, "signin", pageData{Title: "Sign in", CSRF: ss.CSRF})
}

func (s *Server) postSignIn(w http.ResponseWriter, r *http.Request) {
	visitor, _ := s.cookieSession(r) // secure checked it exists and the token matches
	name, password := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	userKey, addrKey := "user:"+name, "addr:"+clientAddr(r)
	data := pageData{Title: "Sign in", CSRF: visitor.CSRF, Form: url.Values{"name": {name}}}
	if wait := s.limit.Wait(userKey, addrKey); wait > 0 {
		secs := int(wait.Round(time.Second) / time.Second)
		secs = max(secs, 1)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		s.log.Warn("console: sign-in slowed down", "client", clientAddr(r), "wait", wait.Round(time.Second).String())
		data.Error = fmt.Sprintf("Too many failed sign-ins. Wait %d seconds, then try again.", secs)
		s.render(w, r, http.StatusTooManyRequests, "signin", data)
		return
	}
	u, ok := s.cfg.Users.Check(name, password)
	if !ok {
		s.limit.Fail(userKey, addrKey)
		s.log.Warn("console: sign-in failed", "client", clientAddr(r))
		data.Error = "Wrong name or password."
		s.render(w, r, http.StatusUnauthorized, "signin", data)
		return
	}
	s.limit.Succeed(userKey)
	s.sessions.Delete(visitor.ID) // a new id at sign-in: no session fixation
	ss := s.sessions.New(u.Name, u.Role)
	s.setCookie(w, ss, s.cfg.Lifetime)
	s.log.Info("console: signed in", "person", u.Name, "role", u.Role, "client", clientAddr(r))
	http.Redirect(w, r, "/printers", http.StatusSeeOther)
}

func (s *Server) postSignOut(w http.ResponseWriter, r *http.Request) {
	ss := sessionOf(r)
	s.sessions.Delete(ss.ID)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	s.log.Info("console: signed out", "person", ss.User)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// refuse answers with an error page (or plain text to a live stream).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	ss, _ := s.cookieSession(r)
	d := pageData{Title: http.StatusText(code), Error: msg}
	if ss.User != "" {
		d.User, d.Role, d.CSRF = ss.User, ss.Role, ss.CSRF
	}
	s.render(w, r, code, "error", d)
}

// may checks that the signed-in person may take action; if not it
// answers 403, logs the attempt and returns false.
func (s *Server) may(w http.ResponseWriter, r *http.Request, action, target string) bool {
	ss := sessionOf(r)
	if May(ss.Role, action) {
		return true
	}
	s.log.Warn("console: action refused for role", "person", ss.User, "role", ss.Role, "action", action, "target", target)
	s.refuse(w, r, http.StatusForbidden, fmt.Sprintf("A %s may not %s.", ss.Role, actionText[action]))
	return false
}

var actionText = map[string]string{
	ActPause: "pause a printer", ActResume: "resume a printer", ActReset: "reset a printer",
	ActClean: "clean a printer", ActTestCard: "print a test card", ActRelease: "release a job",
	ActCancel: "cancel a job", ActReprint: "ask for a reprint",
}

// clientFor returns the service client acting for the signed-in person.
func (s *Server) clientFor(r *http.Request) *service.Client {
	return s.client.OnBehalfOf(sessionOf(r).User)
}

// requestCtx bounds one request to the daemons.
func (s *Server) requestCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.Timeout)
}

// errText turns a daemon's error into text for the page: the service's
// message (never personal data), or a plain word when no daemon answers.
func errText(err error) string {
	var se *service.Error
	switch {
	case errors.As(err, &se):
		return se.Message
	case errors.Is(err, service.ErrNoDaemon):
		return "No printerd answers for this site."
	case errors.Is(err, context.DeadlineExceeded):
		return "The daemon did not answer in time."
	}
	return err.Error()
}
