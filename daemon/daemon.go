package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityid/printerd/console"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/diag"
	"github.com/cityid/printerd/internal/natsconn"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/service"
)

// Options are everything a daemon is made from: its settings and what the
// caller wires in. Config, Registry and Maker are required.
type Options struct {
	// Config holds the settings (cmd/printerd layers them from a config
	// file, the environment and flags).
	Config Config
	// Registry opens the printer URIs of Config.Printers.
	Registry *drivers.Registry
	// Maker lays out each job's card (cmd/printerd wires layout here).
	Maker queue.Maker
	// Logger receives the daemon's logs; nil means slog.Default().
	Logger *slog.Logger
	// Level is the logger's level, which Reload sets from log-level; nil
	// means log-level cannot change live.
	Level *slog.LevelVar
	// Tune, if set, adjusts the queue configuration before the queue starts
	// (tests, benchmarks). Reload keeps what it set.
	Tune func(*queue.Config)
	// Wrap, if set, wraps each opened printer (the load harness times
	// Print calls).
	Wrap func(name string, p drivers.Printer) drivers.Printer
}

// Validate checks the options: the settings and the required parts.
func (o *Options) Validate() error {
	if err := o.Config.Validate(); err != nil {
		return err
	}
	switch {
	case o.Registry == nil:
		return errors.New("daemon: options: Registry is required to open the printers")
	case o.Maker == nil:
		return errors.New("daemon: options: Maker is required to lay out cards")
	}
	return nil
}

// Daemon is one running printerd: NATS (embedded or joined), the printers,
// the queue's workers, the services and the HTTP endpoint.
type Daemon struct {
	opts Options
	log  *slog.Logger
	// loadVerifier reads the approver key directory (job.LoadVerifier;
	// tests count its calls).
	loadVerifier func(dir string) (*job.Verifier, error)

	mu       sync.Mutex // guards cfg and stopping
	cfg      Config     // the settings in force (Reload changes the live ones)
	stopping bool       // Shutdown began: go refuses new goroutines

	approver reloadableApprover
	ns       *embedded.Server // nil when joining a deployment
	nc       *nats.Conn
	js       jetstream.JetStream
	q        *queue.Daemon
	svc      *service.Server
	closers  []io.Closer // opened printers
	http     *http.Server
	httpLn   net.Listener // taken by preflight, served by serveHTTP
	httpAddr string       // actual listen address
	lock     *stateLock   // the state directory's lock (embedded NATS)
	natsURL  string       // where clients connect ("" if in-process only)
	// consoleLn, consoleUsers and consoleCert are the console's, checked
	// by preflight; console serves them once NATS is up.
	consoleLn    net.Listener
	consoleUsers *console.Users
	consoleCert  tls.Certificate
	console      *console.Server

	// svcCtx is the parent of the service handlers' contexts; Shutdown
	// cancels it.
	svcCtx    context.Context
	cancelSvc context.CancelFunc
	wg        sync.WaitGroup // every goroutine started through go

	startOnce    sync.Once
	shutdownOnce sync.Once
	done         chan struct{} // closed when Shutdown has finished
}

// New validates opts and returns a daemon ready to Start.
func New(opts Options) (*Daemon, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Daemon{opts: opts, log: opts.Logger, cfg: opts.Config, loadVerifier: job.LoadVerifier, done: make(chan struct{})}
	d.svcCtx, d.cancelSvc = context.WithCancel(context.Background())
	return d, nil
}

// Start brings the daemon up: approver keys, printers, NATS, the queue,
// the services and HTTP, in that order (a bad key or printer URI fails it
// before NATS starts). ctx bounds start-up only. On error everything
// started is shut down. Start runs once; a second call is an error.
func (d *Daemon) Start(ctx context.Context) (err error) {
	err = errors.New("daemon: start: already started")
	d.startOnce.Do(func() {
		err = d.start(ctx)
		if err != nil {
			_ = d.Shutdown(context.Background())
		}
	})
	return err
}

func (d *Daemon) start(ctx context.Context) error {
	cfg := d.cfg
	specs, err := cfg.PrinterSpecs()
	if err != nil {
		return err
	}
	if err := d.preflight(specs); err != nil {
		return err
	}
	// Keys first: a bad key is a configuration error, found before
	// anything starts.
	ver, err := d.loadVerifier(cfg.ApproverKeys)
	if err != nil {
		return fmt.Errorf("config: approver-keys: %w", err)
	}
	d.approver.v.Store(ver)
	qps, err := d.openPrinters(ctx, specs)
	if err != nil {
		return err
	}
	if err := d.connect(ctx); err != nil {
		return err
	}
	metrics := queue.NewMetrics()
	metrics.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	qc := queue.Config{
		Site:     cfg.Site,
		JS:       d.js,
		Approver: &d.approver,
		Maker:    d.opts.Maker,
		Printers: qps,
		Logger:   d.log,
		Metrics:  metrics,
		Setup:    queue.SetupConfig{HeldRetention: time.Duration(cfg.HeldRetention)},
		AckWait:  time.Duration(cfg.AckWait),
	}
	if d.opts.Tune != nil {
		d.opts.Tune(&qc)
	}
	if d.q, err = queue.Start(ctx, qc); err != nil {
		return err
	}
	d.svc, err = service.Serve(service.Config{
		NC: d.nc, Site: cfg.Site, Daemon: d.q, Diag: diag.Run, Logger: d.log,
		Context: d.svcCtx, Go: d.goCounted,
	})
	if err != nil {
		return err
	}
	if d.httpLn != nil {
		d.serveHTTP(metrics.Registry)
	}
	if cfg.ConsoleListen != "" {
		if err := d.serveConsole(); err != nil {
			return err
		}
	}
	return nil
}

// serveConsole starts the office console on the listener preflight took,
// acting through the daemon's own NATS connection (a single station).
func (d *Daemon) serveConsole() error {
	cfg := d.cfg
	srv, err := console.New(console.Config{NC: d.nc, Site: cfg.Site, Name: "console-" + cfg.Site, Users: d.consoleUsers,
		Certificate: d.consoleCert, StateDir: cfg.State, Logger: d.log})
	if err != nil {
		return err
	}
	if err := srv.Serve(d.consoleLn); err != nil {
		return err
	}
	d.console = srv
	return nil
}

// preflightConsole reads the console's users and certificate (made
// self-signed on first run) and takes its address, so that a mistake in
// any of them stops the start before NATS and the printers.
func (d *Daemon) preflightConsole() error {
	cfg := d.cfg
	users, err := console.LoadUsers(cfg.ConsoleUsersFile())
	if err != nil {
		return fmt.Errorf("config: console-users: %w", err)
	}
	host, _, _ := net.SplitHostPort(cfg.ConsoleListen)
	cert, created, err := console.LoadCertificate(cfg.ConsoleCert, cfg.ConsoleKey, cfg.State, []string{host})
	if err != nil {
		return fmt.Errorf("config: console-tls-cert: %w", err)
	}
	if created {
		d.log.Info("daemon: console: made a self-signed certificate; check this fingerprint in the browser", "cert_sha256", console.Fingerprint(cert))
	}
	ln, err := net.Listen("tcp", cfg.ConsoleListen)
	if err != nil {
		return fmt.Errorf("config: console-listen: %w", err)
	}
	d.consoleUsers, d.consoleCert, d.consoleLn = users, cert, ln
	return nil
}

// ConsoleAddr returns the address the console listens on ("" if none).
func (d *Daemon) ConsoleAddr() string {
	if d.console == nil {
		return ""
	}
	return d.console.Addr()
}

// openPrinters opens every configured printer; one that is offline now is
// opened later (lazyPrinter). A wrong URI fails the start.
func (d *Daemon) openPrinters(ctx context.Context, specs []PrinterSpec) ([]queue.Printer, error) {
	var qps []queue.Printer
	for _, s := range specs {
		open := func(ctx context.Context) (*drivers.Opened, error) {
			octx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return d.opts.Registry.Open(octx, s.URI)
		}
		var dev drivers.Printer
		op, err := open(ctx)
		switch {
		case err == nil:
			d.closers = append(d.closers, op)
			dev = op
			d.log.Info("daemon: printer opened", "printer", s.Name, "pool", s.Pool, "scheme", op.URI.Scheme)
		case offlineAtStart(err):
			lp := &lazyPrinter{open: open, name: s.Name, log: d.log, lastTry: time.Now(), lastErr: err}
			d.closers = append(d.closers, lp)
			dev = lp
			d.log.Warn("daemon: printer offline at start; will keep trying", "printer", s.Name, "pool", s.Pool, "err", err)
		default:
			return nil, fmt.Errorf("config: printer %s: %w", s.Name, err)
		}
		if d.opts.Wrap != nil {
			dev = d.opts.Wrap(s.Name, dev)
		}
		qps = append(qps, queue.Printer{Name: s.Name, Pool: s.Pool, Dev: dev})
	}
	return qps, nil
}

// connect starts the embedded nats-server, or joins the deployment of
// Config.NATS.
func (d *Daemon) connect(ctx context.Context) error {
	cfg := d.cfg
	var err error
	if cfg.NATS == "" {
		var users []embedded.User
		if cfg.NATSUsers != "" {
			if users, err = embedded.LoadUsers(cfg.NATSUsers); err != nil {
				return fmt.Errorf("config: nats-users: %w", err)
			}
		}
		d.ns, err = embedded.Start(ctx, embedded.Options{State: cfg.State, Listen: cfg.NATSListen, Logger: d.log, SyncAlways: true, Users: users})
		if err != nil {
			return err
		}
		if len(users) == 0 && cfg.NATSListen != "none" {
			d.log.Warn("daemon: the embedded nats-server has no users: any local process can use job control and change the streams; set nats-users", "listen", cfg.NATSListen)
		}
		d.natsURL = d.ns.ClientURL()
		if d.nc, err = d.ns.Connect("printerd run", d.connHandlers()...); err != nil {
			return err
		}
		d.log.Info("daemon: embedded nats-server up", "url", d.natsURL, "store", filepath.Join(cfg.State, embedded.StoreDir))
	} else {
		o := natsconn.Options{URL: cfg.NATS, Creds: cfg.NATSCreds, NKey: cfg.NATSNKey, CA: cfg.NATSCA, Cert: cfg.NATSCert, Key: cfg.NATSKey}
		d.nc, err = o.Connect("printerd run", append(d.connHandlers(), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))...)
		if err != nil {
			return fmt.Errorf("config: nats: %w", err)
		}
		d.natsURL = cfg.NATS
		d.log.Info("daemon: joined nats deployment", "url", d.nc.ConnectedUrlRedacted())
	}
	if d.js, err = jetstream.New(d.nc); err != nil {
		return fmt.Errorf("daemon: jetstream: %w", err)
	}
	return nil
}

// connHandlers log connection trouble (no payloads).
func (d *Daemon) connHandlers() []nats.Option {
	return []nats.Option{
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				d.log.Warn("daemon: nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { d.log.Info("daemon: nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			d.log.Warn("daemon: nats async error", "err", err)
		}),
	}
}

// goCounted runs f in a goroutine that Shutdown waits for. It refuses,
// returning false, once Shutdown began.
func (d *Daemon) goCounted(f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		return false
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}

// serveHTTP serves /metrics and /healthz on the listener preflight took.
func (d *Daemon) serveHTTP(reg *prometheus.Registry) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !d.nc.IsConnected() {
			http.Error(w, "nats: not connected", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	ln := d.httpLn
	d.httpAddr = ln.Addr().String()
	d.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.goCounted(func() {
		if err := d.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("daemon: http", "err", err)
		}
	})
}

// Config returns the settings in force.
func (d *Daemon) Config() Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Conn returns the daemon's NATS connection.
func (d *Daemon) Conn() *nats.Conn { return d.nc }

// JetStream returns the daemon's JetStream context.
func (d *Daemon) JetStream() jetstream.JetStream { return d.js }

// Embedded reports whether the daemon runs its own in-process nats-server
// (no --nats URL).
func (d *Daemon) Embedded() bool { return d.ns != nil }

// NATSURL returns where clients reach the daemon's NATS ("" when the
// embedded server listens in-process only).
func (d *Daemon) NATSURL() string { return d.natsURL }

// HTTPAddr returns the address /metrics and /healthz listen on ("" if none).
func (d *Daemon) HTTPAddr() string { return d.httpAddr }

// Queue returns the queue daemon (nil before Start).
func (d *Daemon) Queue() *queue.Daemon { return d.q }

// Reload applies the settings of next that can change live (LiveSettings)
// and logs those that need a restart. The approver key directory is read
// exactly once: the new one if its name changed, else the same one again
// (adding or removing a key file is the usual reason for a reload). A
// setting that fails to apply keeps its old value; the error names it.
func (d *Daemon) Reload(next Config) error {
	if err := next.Validate(); err != nil {
		return fmt.Errorf("daemon: reload: %w", err)
	}
	cur := d.Config()
	var applied, ignored []string
	var errs []error
	for _, name := range Diff(cur, next) {
		if !LiveSettings[name] {
			ignored = append(ignored, name)
			continue
		}
		var err error
		switch name {
		case "approver-keys":
			err = d.reloadApprovers(next.ApproverKeys)
		case "log-level":
			err = d.setLevel(next.LogLevel)
		case "held-retention":
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = d.q.SetHeldRetention(ctx, time.Duration(next.HeldRetention))
			cancel()
		}
		if err != nil {
			d.log.Error("daemon: reload: setting not changed", "setting", name, "err", err)
			errs = append(errs, fmt.Errorf("daemon: reload %s: %w", name, err))
			continue
		}
		d.mu.Lock()
		switch name {
		case "approver-keys":
			d.cfg.ApproverKeys = next.ApproverKeys
		case "log-level":
			d.cfg.LogLevel = next.LogLevel
		case "held-retention":
			d.cfg.HeldRetention = next.HeldRetention
		}
		d.mu.Unlock()
		applied = append(applied, name)
	}
	if cur.ApproverKeys == next.ApproverKeys {
		if err := d.reloadApprovers(next.ApproverKeys); err != nil {
			d.log.Error("daemon: reload: approver keys not re-read", "err", err)
			errs = append(errs, fmt.Errorf("daemon: reload approver-keys: %w", err))
		}
	}
	if len(ignored) > 0 {
		d.log.Warn("daemon: reload: these settings changed but need a restart", "settings", ignored)
	}
	d.log.Info("daemon: reload: applied", "settings", applied)
	return errors.Join(errs...)
}

// reloadApprovers reads the approver key directory and trusts its keys.
func (d *Daemon) reloadApprovers(dir string) error {
	v, err := d.loadVerifier(dir)
	if err != nil {
		return err
	}
	d.approver.v.Store(v)
	d.log.Info("daemon: approver keys loaded", "keys", len(v.KIDs()))
	return nil
}

// setLevel sets the log level.
func (d *Daemon) setLevel(s string) error {
	l, err := ParseLevel(s)
	if err != nil {
		return err
	}
	if d.opts.Level == nil {
		return errors.New("the logger's level cannot change (Options.Level is nil)")
	}
	d.opts.Level.Set(l)
	return nil
}

// Drain is the SIGTERM path: every worker finishes the card in its printer
// and takes no new job. The services keep answering. It returns when the
// workers stopped, or with ctx's error. Drain then Shutdown is the clean
// stop.
func (d *Daemon) Drain(ctx context.Context) error {
	if d.q == nil {
		return nil
	}
	return d.q.Drain(ctx)
}

// Shutdown stops everything: it refuses new service requests, cancels the
// verbs in flight, stops the workers (a card being printed is abandoned and
// will be held), waits for every goroutine the daemon started, and only
// then closes the printers, NATS and the embedded server. It returns when
// all that is done, or with ctx's error (the shutdown goes on). Safe to
// call twice and from many goroutines.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.shutdownOnce.Do(func() { go d.shutdown() })
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("daemon: shutdown: %w", ctx.Err())
	}
}

func (d *Daemon) shutdown() {
	defer close(d.done)
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	if d.svc != nil {
		d.svc.Stop()
	}
	d.cancelSvc()
	if d.console != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = d.console.Shutdown(ctx)
		cancel()
	}
	if d.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = d.http.Shutdown(ctx)
		cancel()
	}
	if d.q != nil {
		d.q.Close()
	}
	d.wg.Wait() // service handlers: no verb runs on a printer after this
	for _, p := range d.closers {
		_ = p.Close()
	}
	if d.nc != nil {
		d.nc.Close()
	}
	if d.ns != nil {
		d.ns.Shutdown()
	}
	if d.console == nil && d.consoleLn != nil {
		d.consoleLn.Close() // taken by preflight, never served
	}
	if d.http == nil && d.httpLn != nil {
		d.httpLn.Close() // taken by preflight, never served
	}
	_ = d.lock.Close() // last: the store is closed
}

// reloadableApprover is a queue.Approver whose trusted keys Reload can
// replace.
type reloadableApprover struct {
	v atomic.Pointer[job.Verifier]
}

// Verify implements queue.Approver.
func (a *reloadableApprover) Verify(body []byte, kid, sig string) error {
	return a.v.Load().Verify(body, kid, sig)
}
