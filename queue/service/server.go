package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/cityid/printerd/drivers"
	diagpkg "github.com/cityid/printerd/drivers/diag"
	"github.com/cityid/printerd/queue"
)

// Daemon is what the services act on; *queue.Daemon implements it.
type Daemon interface {
	// Printers names the printers that get a diag endpoint.
	Printers() []string
	Pause(printer string) error
	Resume(printer string) error
	// WithPrinter runs fn on a printer when no card prints (queue.Daemon.WithPrinter).
	WithPrinter(ctx context.Context, printer string, fn func(ctx context.Context, dev drivers.Printer) error) error
	Clerk() *queue.Clerk
	// PrinterStates reports the printers the daemon holds.
	PrinterStates() []queue.PrinterStatus
	// Paused reports whether a printer's worker is paused.
	Paused(printer string) bool
	// RecordDiag appends the audit record of a technician verb that
	// changes or may change the printer (queue.Daemon.RecordDiag).
	RecordDiag(ctx context.Context, rec queue.DiagRecord) error
}

var _ Daemon = (*queue.Daemon)(nil)

// DiagFunc runs a technician verb on a printer: drivers/diag.Run. The
// result must marshal to JSON.
type DiagFunc func(ctx context.Context, dev drivers.Printer, verb, arg string) (any, error)

// DefaultTimeout bounds one request's handler.
const DefaultTimeout = 2 * time.Minute

// Config configures Serve. NC and Daemon are required.
type Config struct {
	NC     *nats.Conn
	Site   string // "" means "local"
	Daemon Daemon
	// Diag runs the diag verbs other than pause and resume; nil answers
	// them with CodeUnavailable.
	Diag   DiagFunc
	Logger *slog.Logger // nil means slog.Default()
	// Context is the parent of every handler's context; cancelling it
	// (at shutdown) cancels the verbs in flight. nil means Background.
	Context context.Context
	// Go runs one handler in a goroutine the caller counts (the daemon's
	// wait group, so that shutdown waits for it before closing printers).
	// It returns false when the caller is shutting down; the request is
	// then answered CodeUnavailable. nil means Server.Stop waits for the
	// handlers itself.
	Go func(f func()) bool
	// Timeout bounds one handler (default DefaultTimeout).
	Timeout time.Duration
	// Users names the user of an nkey (the users file); nil or false
	// records the nkey itself as the operator.
	Users func(nkey string) (name string, ok bool)
	// AllowAnonymous serves requests that carry no server-attested
	// identity, recording the operator "unauthenticated": only for a
	// server without authentication (--insecure-no-auth).
	AllowAnonymous bool
	// AllowRaw lets diag raw send any printer command; without it only
	// read and status commands (diag.ReadOnlyRaw) pass.
	AllowRaw bool
}

// Server is the running diag and jobs services of one daemon.
type Server struct {
	cfg  Config
	svcs []micro.Service
	wg   sync.WaitGroup // handlers, when Config.Go is nil
}

// Serve registers the diag service (one endpoint per printer) and the jobs
// service on cfg.NC.
func Serve(cfg Config) (*Server, error) {
	if cfg.NC == nil || cfg.Daemon == nil {
		return nil, errors.New("service: config: NC and Daemon are required")
	}
	if cfg.Site == "" {
		cfg.Site = "local"
	}
	if !queue.ValidToken(cfg.Site) {
		return nil, errors.New("service: config: site must be letters, digits, '-' or '_' (1-64)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	s := &Server{cfg: cfg}
	if cfg.Go == nil {
		s.cfg.Go = func(f func()) bool {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); f() }()
			return true
		}
	}
	if err := s.add(); err != nil {
		s.Stop()
		return nil, err
	}
	// The subscriptions reach the server before Serve returns, so that a
	// request sent right after (from another connection) finds them.
	if err := cfg.NC.Flush(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("service: flush: %w", err)
	}
	return s, nil
}

// addService adds one micro service and keeps it for Stop.
func (s *Server) addService(name, description string) (micro.Service, error) {
	svc, err := micro.AddService(s.cfg.NC, micro.Config{Name: name, Version: "1.0.0", Description: description + ", site " + s.cfg.Site})
	if err != nil {
		return nil, fmt.Errorf("service: %s: %w", name, err)
	}
	s.svcs = append(s.svcs, svc)
	return svc, nil
}

func (s *Server) add() error {
	site := s.cfg.Site
	diag, err := s.addService("printerd-diag", "printerd technician diagnostics")
	if err != nil {
		return err
	}
	for _, name := range s.cfg.Daemon.Printers() {
		err := diag.AddEndpoint(name, s.handler(DiagPrefix, func(ctx context.Context, verb string, data []byte, who Requester) (any, error) {
			return s.diag(ctx, name, verb, data, who)
		}), micro.WithEndpointSubject(DiagSubject(site, name, "*")))
		if err != nil {
			return fmt.Errorf("service: diag endpoint %s: %w", name, err)
		}
	}
	jobs, err := s.addService("printerd-jobs", "printerd clerk job control")
	if err != nil {
		return err
	}
	if err := jobs.AddEndpoint("jobs", s.handler(JobsPrefix, s.jobs), micro.WithEndpointSubject(JobsSubject(site, "*"))); err != nil {
		return fmt.Errorf("service: jobs endpoint: %w", err)
	}
	return nil
}

// Stop stops taking requests. Handlers in flight are waited for by the
// owner of Config.Go, or here when it was nil. Safe to call twice.
func (s *Server) Stop() {
	for _, svc := range s.svcs {
		if !svc.Stopped() {
			_ = svc.Stop()
		}
	}
	s.wg.Wait()
}

// handler runs fn for each request of service svc in a counted goroutine
// (a slow verb must not hold up the subscription) and replies. A request
// without a server-attested requester allowed to use svc is refused
// before fn runs.
func (s *Server) handler(svc string, fn func(ctx context.Context, verb string, data []byte, who Requester) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(r micro.Request) {
		ok := s.cfg.Go(func() {
			ctx, cancel := context.WithTimeout(s.cfg.Context, s.cfg.Timeout)
			defer cancel()
			verb := r.Subject()[strings.LastIndexByte(r.Subject(), '.')+1:]
			who, err := requester(r.Headers(), s.cfg.Users, s.cfg.AllowAnonymous)
			if err == nil {
				err = who.may(svc)
			}
			if err != nil {
				s.cfg.Logger.Warn("service: request refused", "subject", r.Subject(), "err", err)
				s.respond(r, nil, err)
				return
			}
			res, err := fn(ctx, verb, r.Data(), who)
			s.respond(r, res, err)
		})
		if !ok {
			s.respond(r, nil, errShuttingDown)
		}
	})
}

var errShuttingDown = errors.New("service: the daemon is shutting down")

// respond sends the Reply for a result or an error.
func (s *Server) respond(r micro.Request, res any, err error) {
	var rep Reply
	if err == nil {
		b, merr := json.Marshal(res)
		if merr != nil {
			err = fmt.Errorf("service: result does not marshal to JSON: %w", merr)
		} else {
			rep.Result = b
		}
	}
	if err != nil {
		rep = Reply{Error: err.Error(), Code: codeOf(err)}
	}
	if err := r.RespondJSON(rep); err != nil {
		s.cfg.Logger.Warn("service: reply failed", "subject", r.Subject(), "err", err)
	}
}

// codeOf classifies an error for Reply.Code.
func codeOf(err error) string {
	var br *badRequest
	switch {
	case errors.As(err, &br):
		return CodeBadRequest
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrUnknownPrinter):
		return CodeNotFound
	case errors.Is(err, queue.ErrConflict):
		return CodeConflict
	case errors.Is(err, ErrForbidden), errors.Is(err, queue.ErrInvalid):
		if errors.Is(err, queue.ErrInvalid) {
			return CodeBadRequest
		}
		return CodeForbidden
	case errors.Is(err, errShuttingDown), errors.Is(err, errNoDiag):
		return CodeUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return CodeBusy
	}
	return CodeFailed
}

var errNoDiag = errors.New("diagnostics are not configured in this daemon")

// audited are the diag verbs that change, or may change, the printer:
// each leaves an audit record naming the technician.
var audited = map[string]bool{VerbClean: true, VerbTestCard: true, VerbReset: true, VerbRaw: true, VerbPause: true, VerbResume: true}

// diag runs a diag verb on a printer.
func (s *Server) diag(ctx context.Context, printer, verb string, data []byte, who Requester) (any, error) {
	var req DiagRequest
	if err := decodeRequest(data, &req); err != nil {
		return nil, err
	}
	if !slices.Contains(DiagVerbs, verb) {
		return nil, &badRequest{"service: diag: unknown verb " + verb + ": want " + strings.Join(DiagVerbs, ", ")}
	}
	rec := queue.DiagRecord{Printer: printer, Verb: verb, Operator: who.Operator()}
	if verb == VerbRaw {
		rec.Command = diagpkg.RawName(req.Arg)
		if !s.cfg.AllowRaw && !diagpkg.ReadOnlyRaw(req.Arg) {
			rec.Refused = true
			if err := s.cfg.Daemon.RecordDiag(ctx, rec); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("service: diag raw: only read and status commands (R...) are allowed; start the daemon with allow-raw for others: %w", ErrForbidden)
		}
	}
	if audited[verb] {
		// The record comes first: a verb that cannot be audited is not run.
		if err := s.cfg.Daemon.RecordDiag(ctx, rec); err != nil {
			return nil, err
		}
	}
	switch verb {
	case VerbPause:
		return PauseResult{Printer: printer, Paused: true}, s.cfg.Daemon.Pause(printer)
	case VerbResume:
		return PauseResult{Printer: printer, Paused: false}, s.cfg.Daemon.Resume(printer)
	}
	if s.cfg.Diag == nil {
		return nil, fmt.Errorf("service: diag %s: %w", verb, errNoDiag)
	}
	var res any
	err := s.cfg.Daemon.WithPrinter(ctx, printer, func(ctx context.Context, dev drivers.Printer) error {
		var err error
		res, err = s.cfg.Diag(ctx, dev, verb, req.Arg)
		return err
	})
	if st, ok := res.(drivers.Status); ok && err == nil {
		// The printer may be ready while its worker is paused: say so.
		return StatusResult{Status: st, Paused: s.cfg.Daemon.Paused(printer)}, nil
	}
	return res, err
}

// jobs runs a clerk verb.
func (s *Server) jobs(ctx context.Context, verb string, data []byte, who Requester) (any, error) {
	var req JobsRequest
	if err := decodeRequest(data, &req); err != nil {
		return nil, err
	}
	c := s.cfg.Daemon.Clerk()
	switch verb {
	case VerbStatus:
		return c.Status(ctx, req.JobID)
	case VerbHeld:
		return c.Held(ctx)
	case VerbRelease:
		return c.Release(ctx, req.JobID, who.Operator(), req.Reason)
	case VerbCancel:
		return c.Cancel(ctx, req.JobID, who.Operator(), req.Reason)
	case VerbHistory:
		return c.History(ctx, req.CardNumber)
	case VerbList:
		return c.List(ctx)
	case VerbPrinters:
		return s.cfg.Daemon.PrinterStates(), nil
	}
	return nil, &badRequest{"service: jobs: unknown verb " + verb + ": want " + strings.Join(JobsVerbs, ", ")}
}
