package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/diag"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/job"
)

// daemonDeps are what a caller may inject into startDaemon: the demo and
// the tests use them; printerd run leaves most zero.
type daemonDeps struct {
	log   *slog.Logger
	level *slog.LevelVar
	// registry opens printers; nil means newRegistry(sims).
	registry *drivers.Registry
	// sims holds the simulated devices behind sim:// printers, for callers
	// that look them up (demo, tests); nil means a fresh one per daemon.
	sims *sim.Registry
	// maker overrides the layout maker (load harness); nil means layout.
	maker queue.Maker
	// onCard sees each rendered card (demo proofs).
	onCard func(jobID string, c *layout.Card)
	// tune adjusts the queue configuration (tests, benchmarks).
	tune func(*queue.Config)
	// wrap, if set, wraps each opened printer (the load harness times
	// Print calls).
	wrap func(name string, p drivers.Printer) drivers.Printer
}

// daemon is a running printerd: NATS (embedded or joined), the queue
// workers, the printers and the HTTP endpoint.
type daemon struct {
	cfg      config
	log      *slog.Logger
	level    *slog.LevelVar
	ns       *embedded.Server // nil when joining a deployment
	nc       *nats.Conn
	js       jetstream.JetStream
	q        *queue.Daemon
	approver *reloadableApprover
	closers  []io.Closer // opened printers
	http     *http.Server
	httpAddr string // actual listen address
	natsURL  string // where clients connect ("" if in-process only)

	closeOnce sync.Once
}

// startDaemon brings printerd up from a validated configuration.
func startDaemon(ctx context.Context, cfg config, deps daemonDeps) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: deps.log, level: deps.level}
	if d.log == nil {
		d.log = slog.Default()
	}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	specs, err := cfg.printerSpecs()
	if err != nil {
		return nil, err
	}
	// Keys first: a bad key is a configuration error, found before
	// anything starts.
	ver, err := job.LoadVerifier(cfg.ApproverKeys)
	if err != nil {
		return nil, fmt.Errorf("config: approver-keys: %w", err)
	}
	d.approver = &reloadableApprover{}
	d.approver.v.Store(ver)
	maker := deps.maker
	if maker == nil {
		issuer, err := keyfile.LoadPrivate(cfg.IssuerKey)
		if err != nil {
			return nil, fmt.Errorf("config: issuer-key: %w", err)
		}
		r, err := layout.New(layout.Options{Issuer: issuer, IssuerCode: cfg.IssuerCode, Templates: cfg.Templates})
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		maker = &layoutMaker{r: r, onCard: deps.onCard}
	}

	// Printers, before NATS: a wrong printer URI fails the start with
	// nothing started.
	reg := deps.registry
	if reg == nil {
		if reg, err = newRegistry(deps.sims); err != nil {
			return nil, err
		}
	}
	var qps []queue.Printer
	for _, s := range specs {
		open := func(ctx context.Context) (*drivers.Opened, error) {
			octx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return reg.Open(octx, s.URI)
		}
		var dev drivers.Printer
		op, err := open(ctx)
		switch {
		case err == nil:
			d.closers = append(d.closers, op)
			dev = op
			d.log.Info("printerd: printer opened", "printer", s.Name, "pool", s.Pool, "scheme", op.URI.Scheme)
		case offlineAtStart(err):
			lp := &lazyPrinter{open: open, name: s.Name, log: d.log, lastTry: time.Now(), lastErr: err}
			d.closers = append(d.closers, lp)
			dev = lp
			d.log.Warn("printerd: printer offline at start; will keep trying", "printer", s.Name, "pool", s.Pool, "err", err)
		default:
			return nil, fmt.Errorf("config: printer %s: %w", s.Name, err)
		}
		if deps.wrap != nil {
			dev = deps.wrap(s.Name, dev)
		}
		qps = append(qps, queue.Printer{Name: s.Name, Pool: s.Pool, Dev: dev})
	}

	// NATS.
	if cfg.NATS == "" {
		var users []embedded.User
		if cfg.NATSUsers != "" {
			if users, err = embedded.LoadUsers(cfg.NATSUsers); err != nil {
				return nil, fmt.Errorf("config: nats-users: %w", err)
			}
		}
		d.ns, err = embedded.Start(ctx, embedded.Options{State: cfg.State, Listen: cfg.NATSListen, Logger: d.log, SyncAlways: true, Users: users})
		if err != nil {
			return nil, err
		}
		if len(users) == 0 && cfg.NATSListen != "none" {
			d.log.Warn("printerd: the embedded nats-server has no users: any local process can use job control and change the streams; set nats-users", "listen", cfg.NATSListen)
		}
		d.natsURL = d.ns.ClientURL()
		d.nc, err = d.ns.Connect("printerd run", d.connHandlers()...)
		if err != nil {
			return nil, err
		}
		d.log.Info("printerd: embedded nats-server up", "url", d.natsURL, "store", filepath.Join(cfg.State, embedded.StoreDir))
	} else {
		nc := natsClient{URL: cfg.NATS, Creds: cfg.NATSCreds, NKey: cfg.NATSNKey, CA: cfg.NATSCA, Cert: cfg.NATSCert, Key: cfg.NATSKey}
		d.nc, err = nc.connect("printerd run", append(d.connHandlers(), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))...)
		if err != nil {
			return nil, fmt.Errorf("config: nats: %w", err)
		}
		d.natsURL = cfg.NATS
		d.log.Info("printerd: joined nats deployment", "url", d.nc.ConnectedUrlRedacted())
	}
	d.js, err = jetstream.New(d.nc)
	if err != nil {
		return nil, fmt.Errorf("printerd: jetstream: %w", err)
	}

	metrics := queue.NewMetrics()
	metrics.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	qc := queue.Config{
		Site:     cfg.Site,
		JS:       d.js,
		NC:       d.nc,
		Approver: d.approver,
		Maker:    maker,
		Printers: qps,
		Logger:   d.log,
		Metrics:  metrics,
		Diag:     diag.Run, // technician verbs of the printerd.diag service
		Setup:    queue.SetupConfig{HeldRetention: time.Duration(cfg.HeldRetention)},
		AckWait:  time.Duration(cfg.AckWait),
	}
	if deps.tune != nil {
		deps.tune(&qc)
	}
	d.q, err = queue.Start(ctx, qc)
	if err != nil {
		return nil, err
	}
	if cfg.HTTP != "" {
		if err := d.serveHTTP(metrics.Registry); err != nil {
			return nil, err
		}
	}
	d.log.Info("printerd: running", "site", cfg.Site, "printers", len(qps), "nats", redactURLs(d.natsURL), "http", d.httpAddr)
	return d, nil
}

// redactURLs hides passwords in a comma-separated list of NATS URLs.
func redactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// connHandlers log connection trouble (no payloads).
func (d *daemon) connHandlers() []nats.Option {
	return []nats.Option{
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				d.log.Warn("printerd: nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { d.log.Info("printerd: nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			d.log.Warn("printerd: nats async error", "err", err)
		}),
	}
}

// serveHTTP starts /metrics and /healthz.
func (d *daemon) serveHTTP(reg *prometheus.Registry) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !d.nc.IsConnected() {
			http.Error(w, "nats: not connected", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	ln, err := net.Listen("tcp", d.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("config: http: %w", err)
	}
	d.httpAddr = ln.Addr().String()
	d.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := d.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("printerd: http", "err", err)
		}
	}()
	return nil
}

// reload applies the settings that can change live and logs the others.
func (d *daemon) reload(next config) {
	changed := diffSettings(d.cfg, next)
	var applied, ignored []string
	for _, name := range changed {
		if !liveSettings[name] {
			ignored = append(ignored, name)
			continue
		}
		switch name {
		case "approver-keys":
			v, err := job.LoadVerifier(next.ApproverKeys)
			if err != nil {
				d.log.Error("printerd: reload: approver-keys not changed", "err", err)
				continue
			}
			d.approver.v.Store(v)
			d.cfg.ApproverKeys = next.ApproverKeys
		case "log-level":
			l, err := parseLevel(next.LogLevel)
			if err != nil || d.level == nil {
				d.log.Error("printerd: reload: log-level not changed", "err", err)
				continue
			}
			d.level.Set(l)
			d.cfg.LogLevel = next.LogLevel
		case "held-retention":
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := queue.Setup(ctx, d.js, queue.SetupConfig{HeldRetention: time.Duration(next.HeldRetention)})
			cancel()
			if err != nil {
				d.log.Error("printerd: reload: held-retention not changed", "err", err)
				continue
			}
			d.cfg.HeldRetention = next.HeldRetention
		}
		applied = append(applied, name)
	}
	// The approver key directory is re-read even when its name is the
	// same: adding or removing a key file is the usual reason for SIGHUP.
	if d.cfg.ApproverKeys == next.ApproverKeys {
		if v, err := job.LoadVerifier(next.ApproverKeys); err != nil {
			d.log.Error("printerd: reload: approver keys not re-read", "err", err)
		} else {
			d.approver.v.Store(v)
			d.log.Info("printerd: reload: approver keys re-read", "keys", len(v.KIDs()))
		}
	}
	if len(ignored) > 0 {
		d.log.Warn("printerd: reload: these settings changed but need a restart", "settings", ignored)
	}
	d.log.Info("printerd: reloaded", "applied", applied)
}

// drain finishes the cards in the printers and takes no new job.
func (d *daemon) drain(ctx context.Context) error {
	if d.q == nil {
		return nil
	}
	return d.q.Drain(ctx)
}

// close stops everything at once. Safe to call twice.
func (d *daemon) close() {
	d.closeOnce.Do(func() {
		if d.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			d.http.Shutdown(ctx)
			cancel()
		}
		if d.q != nil {
			d.q.Close()
		}
		for _, p := range d.closers {
			p.Close()
		}
		if d.nc != nil {
			d.nc.Close()
		}
		if d.ns != nil {
			d.ns.Shutdown()
		}
	})
}

// reloadableApprover is a queue.Approver whose trusted keys SIGHUP can
// replace.
type reloadableApprover struct {
	v atomic.Pointer[job.Verifier]
}

// Verify implements queue.Approver.
func (a *reloadableApprover) Verify(body []byte, kid, sig string) error {
	return a.v.Load().Verify(body, kid, sig)
}
