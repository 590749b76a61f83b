package console

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a console. NC, Users and Certificate are required.
type Config struct {
	// NC reaches the site's daemons: their services through
	// service.Client, the events, printer_status and the reprint subject.
	NC *nats.Conn
	// JS, if set, is a JetStream the console may read printer_status and
	// the audit chain through (the daemon's own, for the console it
	// serves); nil means NC's, which a console user may not read (the
	// pages then say so).
	JS jetstream.JetStream
	// AuditKeys are the daemons' public keys (daemon.pub) that sign the
	// audit records; without them the history page cannot verify the
	// chains.
	AuditKeys queue.AuditKeys
	// Site is the site the console serves ("" means "local").
	Site string
	// Name names this console in logs and, with the person, in requests
	// ("console" if empty).
	Name string
	// Users are the people who may sign in.
	Users *Users
	// Certificate is the TLS certificate (LoadCertificate).
	Certificate tls.Certificate
	// StateDir keeps the pending reprint requests (reprints.json); empty
	// keeps them in memory only.
	StateDir string
	// Logger receives the console's logs (never personal data; the
	// console has none). nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds one request to the daemons (default 15 s).
	Timeout time.Duration
	// LiveWriteTimeout bounds one write of a live-update stream (default
	// 10 s); a browser that does not read is dropped.
	LiveWriteTimeout time.Duration
	// Idle and Lifetime bound sessions (defaults DefaultIdle and
	// DefaultLifetime).
	Idle, Lifetime time.Duration
}

// Server is a running console.
type Server struct {
	cfg      Config
	log      *slog.Logger
	client   *service.Client
	js       jetstream.JetStream
	sessions *Sessions
	limit    *Limiter
	pages    map[string]*template.Template
	hub      *hub
	reprints *reprintStore
	info     *infoCache
	recent   recentJobs
	// kvUntil is when to try reading printer_status again after a
	// failure (unix ns).
	kvUntil atomic.Int64

	http     *http.Server
	addr     string
	subs     []*nats.Subscription
	ctx      context.Context // cancelled by Shutdown: ends live streams
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// New checks cfg and returns a console ready to Serve.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.NC == nil:
		return nil, errors.New("console: config: NC is required")
	case cfg.Users == nil:
		return nil, errors.New("console: config: Users is required (printerd console users add)")
	case len(cfg.Certificate.Certificate) == 0:
		return nil, errors.New("console: config: Certificate is required (console.LoadCertificate)")
	}
	if cfg.Site == "" {
		cfg.Site = "local"
	}
	if !queue.ValidToken(cfg.Site) {
		return nil, errors.New("console: config: site must be 1-64 letters, digits, '-' or '_'")
	}
	if cfg.Name == "" {
		cfg.Name = "console"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.LiveWriteTimeout <= 0 {
		cfg.LiveWriteTimeout = 10 * time.Second
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	js := cfg.JS
	if js == nil {
		var err error
		if js, err = jetstream.New(cfg.NC); err != nil {
			return nil, fmt.Errorf("console: jetstream: %w", err)
		}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	rs, err := openReprints(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, client: service.NewClient(cfg.NC, cfg.Site), js: js,
		sessions: NewSessions(cfg.Idle, cfg.Lifetime), limit: NewLimiter(), pages: pages,
		hub: newHub(), reprints: rs, info: newInfoCache(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// parsePages parses each page with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

// Handler returns the console's HTTP handler (for tests that serve it
// themselves; Serve uses it).
func (s *Server) Handler() http.Handler { return s.routes() }

// Listen starts serving HTTPS on addr ("host:port"; port 0 picks one) and
// subscribes to the live sources. It returns once listening.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("console: listen: %w", err)
	}
	return s.Serve(ln)
}

// Serve serves HTTPS on ln in a goroutine Shutdown waits for.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.subscribe(); err != nil {
		ln.Close()
		return err
	}
	s.addr = ln.Addr().String()
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Pages are written within this; the live stream sets its own
		// deadline before each write (http.ResponseController).
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  2 * time.Minute,
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{s.cfg.Certificate}, MinVersion: tls.VersionTLS12},
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:  func(net.Listener) context.Context { return s.ctx },
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("console: https", "err", err)
		}
	}()
	s.log.Info("console: listening", "addr", s.addr, "site", s.cfg.Site, "cert_sha256", Fingerprint(s.cfg.Certificate))
	return nil
}

// Addr returns the address the console listens on ("" before Serve).
func (s *Server) Addr() string { return s.addr }

// Shutdown ends the live streams, stops taking requests and waits for the
// ones in flight (or ctx). Safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.cancel()
		for _, sub := range s.subs {
			_ = sub.Unsubscribe()
		}
		if s.http != nil {
			err = s.http.Shutdown(ctx)
		}
		s.wg.Wait()
	})
	if err != nil {
		return fmt.Errorf("console: shutdown: %w", err)
	}
	return nil
}

// subscribe follows the events and printer_status, which drive the live
// updates and the reprint requests' progress.
func (s *Server) subscribe() error {
	evs, err := s.cfg.NC.Subscribe(queue.EventSubject(">"), s.onEvent)
	if err != nil {
		return fmt.Errorf("console: subscribe to events: %w", err)
	}
	s.subs = append(s.subs, evs)
	st, err := s.cfg.NC.Subscribe("$KV."+queue.BucketStatus+"."+s.cfg.Site+".>", func(*nats.Msg) { s.hub.notify(topicPrinters) })
	if err != nil {
		return fmt.Errorf("console: subscribe to printer status: %w", err)
	}
	s.subs = append(s.subs, st)
	return nil
}
