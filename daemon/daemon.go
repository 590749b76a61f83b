package daemon

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	"github.com/cityid/printerd/internal/trust"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/epoch"
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
	// AuditOK, if set, replaces /readyz's audit check (nil while the
	// audit chain is intact); nil means the queue's AuditHealthy.
	AuditOK func() error
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
	users    []embedded.User  // the users file: who may connect, and operators' names
	signer   *epoch.Signer    // the daemon's long-term key
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
	consoleNC    *nats.Conn // the in-process console user's connection
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
	if err := d.lockStateLate(); err != nil {
		return err
	}
	// The state directory holds the store key, the daemon's key and the
	// audit head: nobody else may write to it.
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return fmt.Errorf("config: state: %w", err)
	}
	if err := trust.CheckDir(cfg.State); err != nil {
		return fmt.Errorf("config: state: %w", err)
	}
	signer, err := epoch.LoadOrCreateSigner(cfg.State, DaemonKeyName)
	if err != nil {
		return fmt.Errorf("daemon: daemon key: %w", err)
	}
	d.signer = signer
	keys, err := epoch.Open(epoch.Options{Dir: filepath.Join(cfg.State, EpochDir)})
	if err != nil {
		return fmt.Errorf("config: state: %w", err)
	}
	if err := d.connect(ctx); err != nil {
		return err
	}
	metrics := queue.NewMetrics()
	metrics.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfoGauge())
	qc := queue.Config{
		Site:     cfg.Site,
		JS:       d.js,
		Approver: &d.approver,
		Keys:     keys,
		Signer:   d.signer,
		AcceptV1: cfg.AcceptV1,
		Maker:    d.opts.Maker,
		Printers: qps,
		Logger:   d.log,
		Metrics:  metrics,
		Setup:    queue.SetupConfig{HeldRetention: time.Duration(cfg.HeldRetention), JobsMaxAge: time.Duration(cfg.JobsMaxAge)},
		AckWait:  time.Duration(cfg.AckWait),
		Journal:  filepath.Join(cfg.State, "outcomes.journal"),

		AuditKey:      d.signer.Key,
		AuditHeadFile: filepath.Join(cfg.State, AuditHeadFile),
	}
	if d.opts.Tune != nil {
		d.opts.Tune(&qc)
	}
	if d.q, err = queue.Start(ctx, qc); err != nil {
		return err
	}
	names := map[string]string{}
	for _, u := range d.users {
		names[u.NKey] = u.Name
	}
	if d.ns != nil {
		if cu := d.ns.ConsoleUser(); cu.NKey != "" {
			names[cu.NKey] = cu.Name
		}
	}
	d.svc, err = service.Serve(service.Config{
		NC: d.nc, Site: cfg.Site, Daemon: d.q, Diag: diag.Run, Logger: d.log,
		Context: d.svcCtx, Go: d.goCounted,
		Users:          func(k string) (string, bool) { n, ok := names[k]; return n, ok },
		AllowAnonymous: cfg.InsecureNoAuth,
		AllowRaw:       cfg.AllowRaw,
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

// serveConsole starts the office console on the listener preflight took.
// It acts as the embedded server's in-process console user, so the
// services see "person via console-<site>" as for a console of its own;
// it reads printer_status and the audit chain through the daemon's
// JetStream, which the console account has not.
func (d *Daemon) serveConsole() error {
	cfg := d.cfg
	nc, err := d.ns.ConnectConsole("printerd console", d.connHandlers()...)
	if err != nil {
		return err
	}
	d.consoleNC = nc
	srv, err := console.New(console.Config{NC: nc, JS: d.js, Site: cfg.Site, Name: embedded.ConsoleName(cfg.Site), Users: d.consoleUsers,
		Certificate: d.consoleCert, StateDir: cfg.State, Logger: d.log,
		AuditKeys: queue.AuditKeys{d.signer.KID: d.signer.Key.Public().(ed25519.PublicKey)}})
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

// EpochDir is the directory of the daemon's epoch private keys
// (queue/epoch) in its state directory, mode 0700.
const EpochDir = "epoch"

// OpenKeys opens (making them on first use) the daemon's epoch key store
// and long-term signing key in its state directory: what printerd run and
// printerd keys share.
func OpenKeys(state string) (*epoch.Store, *epoch.Signer, error) {
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, nil, fmt.Errorf("daemon: %w", err)
	}
	st, err := epoch.Open(epoch.Options{Dir: filepath.Join(state, EpochDir)})
	if err != nil {
		return nil, nil, err
	}
	sg, err := epoch.LoadOrCreateSigner(state, DaemonKeyName)
	if err != nil {
		return nil, nil, err
	}
	return st, sg, nil
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
	users, err := d.loadUsers()
	if err != nil {
		return err
	}
	d.users = users
	if cfg.NATS == "" {
		d.ns, err = embedded.Start(ctx, embedded.Options{State: cfg.State, Listen: cfg.NATSListen, Logger: d.log, SyncAlways: true,
			Users: users, Site: cfg.Site, InsecureNoAuth: cfg.InsecureNoAuth, KeyFile: storeKeyPath(cfg),
			Console: cfg.ConsoleListen != ""})
		if err != nil {
			return err
		}
		switch {
		case cfg.InsecureNoAuth:
			d.log.Error("daemon: INSECURE: --insecure-no-auth: any process that reaches the embedded nats-server can read every job, release and cancel jobs and change the streams; never use this in an office", "listen", cfg.NATSListen)
		case len(users) == 0 && cfg.NATSListen != "none":
			d.log.Warn("daemon: no users: the embedded nats-server takes no network clients (enrollment systems, clerks, technicians); add them with printerd users add", "state", cfg.State)
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

// loadUsers reads the users file: nats-users, or <state>/users.json when
// it exists.
func (d *Daemon) loadUsers() ([]embedded.User, error) {
	path := d.cfg.NATSUsers
	if path == "" {
		path = filepath.Join(d.cfg.State, DefaultUsersFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	users, err := embedded.LoadUsers(path)
	if err != nil {
		return nil, fmt.Errorf("config: nats-users: %w", err)
	}
	return users, nil
}

// Files in the state directory.
const (
	// DaemonKeyName names the daemon's long-term Ed25519 key,
	// <state>/daemon.key (and daemon.pub, what auditors and enrollment
	// systems hold): it signs the daemon's audit records and epoch keys.
	DaemonKeyName = "daemon"
	// AuditHeadFile keeps the head of the daemon's audit chain outside
	// the stream.
	AuditHeadFile = "audit-head.json"
)

// Time-outs of the HTTP endpoint (metrics, health): a slow or idle client
// cannot hold a connection.
const (
	HTTPReadTimeout  = 10 * time.Second
	HTTPWriteTimeout = 30 * time.Second
	HTTPIdleTimeout  = 60 * time.Second
)

// DefaultUsersFile is the users file in the state directory that printerd
// users add writes and the daemon reads when nats-users is not set.
const DefaultUsersFile = "users.json"

// storeKeyPath is where the JetStream store's key lives: store-key, else
// $CREDENTIALS_DIRECTORY/jetstream.key when systemd passes it, else ""
// (the state directory).
func storeKeyPath(cfg Config) string {
	if cfg.StoreKey != "" {
		return cfg.StoreKey
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		p := filepath.Join(dir, embedded.KeyFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
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

// serveHTTP serves /metrics, /healthz (liveness) and /readyz (readiness,
// health.go) on the listener preflight took.
func (d *Daemon) serveHTTP(reg *prometheus.Registry) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n")) // liveness: readiness is /readyz
	})
	mux.HandleFunc("/readyz", d.serveReadyz)
	ln := d.httpLn
	d.httpAddr = ln.Addr().String()
	d.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: HTTPReadTimeout,
		WriteTimeout: HTTPWriteTimeout, IdleTimeout: HTTPIdleTimeout}
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

// Signer returns the daemon's long-term Ed25519 key (nil before Start):
// it signs the audit records and the epoch key announcements.
func (d *Daemon) Signer() *epoch.Signer { return d.signer }

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
	if d.consoleNC != nil {
		d.consoleNC.Close()
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
