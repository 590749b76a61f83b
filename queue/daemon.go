package queue

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
)

// Approver checks a job's approval: the Ed25519 signature in the
// Approval-Signature header (base64) by the key named in Approval-Key, over
// the exact body bytes. The daemon package wires the job package's verifier
// here.
// The error names the rule broken, never a value from the body.
type Approver interface {
	Verify(body []byte, keyID, signature string) error
}

// ApproverFunc adapts a function to Approver.
type ApproverFunc func(body []byte, keyID, signature string) error

// Verify calls f.
func (f ApproverFunc) Verify(body []byte, keyID, signature string) error {
	return f(body, keyID, signature)
}

// Maker turns a validated job into the card a driver prints, laid out for
// ribbon, the ribbon the printer has ("" when it does not say: the
// Maker's default). cmd/printerd wires layout here. An error (layout
// self-check failed, bad photo) rejects the job; one wrapping
// card.ErrRibbon (the template may not be printed on that ribbon) holds
// it for a clerk. It must name the field and rule, never a value.
type Maker interface {
	Make(ctx context.Context, j *job.Job, ribbon card.Ribbon) (card.Card, error)
}

// MakerFunc adapts a function to Maker.
type MakerFunc func(ctx context.Context, j *job.Job, ribbon card.Ribbon) (card.Card, error)

// Make calls f.
func (f MakerFunc) Make(ctx context.Context, j *job.Job, ribbon card.Ribbon) (card.Card, error) {
	return f(ctx, j, ribbon)
}

// Printer is one configured printer: its name (a subject token, unique in
// the site), the pool whose jobs it takes, and its driver. The daemon does
// not close Dev.
type Printer struct {
	Name string
	Pool string // "" means "default"
	Dev  drivers.Printer
}

// Defaults for Config.
const (
	DefaultPool          = "default"
	DefaultAckWait       = 30 * time.Second
	DefaultRetryDelay    = 2 * time.Second
	DefaultMaxAckPending = 64
	DefaultRetryLimit    = 10
	DefaultFetchWait     = time.Second
	DefaultKeyUpkeep     = time.Hour
)

// Config configures a Daemon. Site, JS, Approver, Keys, Maker and Printers
// are required; every duration's zero value means its default.
type Config struct {
	Site     string // subject token of the site; "" means "local"
	JS       jetstream.JetStream
	Approver Approver
	// Keys is the daemon's epoch key store: workers open the sealed part
	// of v2 jobs with it, and a release checks that a held job can still
	// be opened. Its private keys never leave it.
	Keys *epoch.Store
	// Signer is the daemon's long-term key. With it, Start runs the key
	// upkeep (epoch.Maintain: make the current and next keys, announce
	// them in daemon_keys, destroy the keys whose retention passed) at
	// start and every KeyUpkeep; nil leaves the keys to the caller.
	Signer *epoch.Signer
	// KeyUpkeep is how often the key upkeep runs (default 1h).
	KeyUpkeep time.Duration
	// AcceptV1 accepts v1 jobs, whose person's fields are in plaintext,
	// during a migration; the default refuses them. Start logs a warning
	// when it is on, and every v1 job is logged with a warning.
	AcceptV1 bool
	Maker    Maker
	Printers []Printer
	Logger   *slog.Logger // nil means slog.Default()
	// Metrics collects counters; nil means a new NewMetrics().
	Metrics *Metrics
	// Setup tunes the streams and buckets Start creates or updates.
	Setup SetupConfig
	// StatusInterval is how often a worker polls its printer while it waits
	// and publishes printer_status (default 5s).
	StatusInterval time.Duration
	// AckWait is the consumer's ack wait; while a card prints the worker
	// sends in-progress acks every AckWait/4 (default 30s).
	AckWait time.Duration
	// RetryDelay is the redelivery delay after a failure before the card
	// was fed (default 2s).
	RetryDelay time.Duration
	// RetryLimit is how many deliveries of a job may fail before the card
	// was fed, on a printer that said it was ready, before the job is held
	// for a clerk (default 10). A card the driver refuses (bad-command) is
	// held at once.
	RetryLimit int
	// MaxAckPending is the pool consumer's limit of unacknowledged jobs
	// (default 64; each worker holds at most one).
	MaxAckPending int
	// FetchWait bounds one fetch, and so how fast Drain stops an idle
	// worker (default 1s).
	FetchWait time.Duration
	// Now gives the time for ledger entries, events and audit records;
	// nil means time.Now.
	Now func() time.Time
	// Journal is the path of the local outcome journal (see
	// queue/journal): the pre-feed intent and the outcome of every card,
	// synced, until the ledger, card_issues, audit and events have it.
	// "" means a journal in a new temporary directory, which does not
	// survive the process (tests).
	Journal string
	// AuditKey signs the daemon's audit records (its long-term Ed25519 key,
	// queue/epoch.LoadOrCreateSigner); its key id names the daemon's chain,
	// cards.audit.<site>.<kid>. nil makes a key for this run only (tests).
	AuditKey ed25519.PrivateKey
	// AuditHeadFile is where the daemon keeps its chain's head outside the
	// stream (a file in the state directory), to notice a missing,
	// truncated or forked chain; "" keeps none (tests).
	AuditHeadFile string
}

// Daemon runs the printer workers of one printerd. It knows nothing of the
// NATS services in front of it (queue/service): they act through Pause,
// Resume, WithPrinter and Clerk.
type Daemon struct {
	cfg     Config
	st      *Stores
	log     *slog.Logger
	metrics *Metrics
	clerk   *Clerk
	workers map[string]*worker
	env     *workerEnv
	audit   *auditLog

	runCtx    context.Context // cancelled by Close: stops printing
	cancelRun context.CancelFunc
	drainOnce sync.Once
	draining  chan struct{} // closed by Drain: no new fetch
	wg        sync.WaitGroup
	closeOnce sync.Once

	setupMu sync.Mutex // guards cfg.Setup against concurrent SetHeldRetention
}

// ErrUnknownPrinter is returned for a printer name the daemon does not run.
var ErrUnknownPrinter = errors.New("queue: unknown printer")

// Start sets up the JetStream layout, creates the pool consumers and starts
// one worker per printer. ctx bounds start-up only; the daemon runs until
// Drain or Close.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	st, err := Setup(ctx, cfg.JS, cfg.Setup)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		cfg:      cfg,
		st:       st,
		log:      cfg.Logger,
		metrics:  cfg.Metrics,
		workers:  map[string]*worker{},
		draining: make(chan struct{}),
	}
	book, err := openBook(cfg.Journal, cfg.Logger)
	if err != nil {
		return nil, err
	}
	// runCtx first: the audit log's alarm (auditBroken) may fire while the
	// chain is opened, and the key upkeep below takes a while.
	d.runCtx, d.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	fail := func(err error) (*Daemon, error) {
		d.cancelRun()
		book.j.Close()
		return nil, err
	}
	signer, err := NewAuditSigner(cfg.AuditKey)
	if err != nil {
		return fail(err)
	}
	audit := newAuditLog(st, cfg.Site, signer, cfg.AuditHeadFile)
	audit.onBreak = d.auditBroken
	d.audit = audit
	if err := audit.Open(ctx); err != nil && !errors.Is(err, ErrChainBroken) {
		return fail(err)
	}
	d.clerk = &Clerk{st: st, site: cfg.Site, audit: audit, now: cfg.Now, keys: cfg.Keys, acceptV1: cfg.AcceptV1, pools: d.poolOf}
	if cfg.AcceptV1 {
		d.log.Warn("queue: accept-v1 is on: v1 jobs, whose person's data cross the bus and rest in the streams in plaintext, are printed; turn it off once enrollment seals every job (contract v2)")
	}
	if cfg.Signer != nil {
		if err := d.upkeepKeys(ctx); err != nil {
			return fail(err)
		}
	}
	d.env = &workerEnv{
		book: book,
		cfg:  cfg, st: st, ledger: st.ledger(), issues: st.issues(), audit: audit,
		log: d.log, metrics: d.metrics, runCtx: d.runCtx, draining: d.draining,
		background: d.background,
	}
	pools := map[string]jetstream.Consumer{}
	for _, p := range cfg.Printers {
		if _, ok := pools[p.Pool]; ok {
			continue
		}
		cons, err := cfg.JS.CreateOrUpdateConsumer(ctx, StreamJobs, jetstream.ConsumerConfig{
			Durable:       ConsumerName(cfg.Site, p.Pool),
			Description:   "printerd workers of pool " + p.Pool,
			FilterSubject: JobsSubject(cfg.Site, p.Pool),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxAckPending: cfg.MaxAckPending,
			MaxDeliver:    -1,
		})
		if err != nil {
			return fail(fmt.Errorf("queue: consumer for pool %s: %w", p.Pool, err))
		}
		pools[p.Pool] = cons
	}
	for _, p := range cfg.Printers {
		d.workers[p.Name] = newWorker(d.env, p, pools[p.Pool])
	}
	d.env.workerOf = func(name string) *worker { return d.workers[name] }
	for _, w := range d.workers {
		d.background(w.run)
	}
	for pool, cons := range pools {
		d.background(func() { d.watchDepth(pool, cons) })
	}
	d.background(d.sweepHeld)
	d.background(d.replayOutcomes)
	d.background(d.sweepPrinting)
	d.background(func() { d.watchGauges(slices.Collect(maps.Keys(pools))) })
	d.background(d.watchAudit)
	if cfg.Signer != nil {
		d.background(d.keyUpkeepLoop)
	}
	d.log.Info("queue: started", "site", cfg.Site, "printers", len(cfg.Printers), "pools", len(pools))
	return d, nil
}

// ConsumerName is the durable pull consumer shared by a pool's workers.
func ConsumerName(site, pool string) string { return "printerd-" + site + "-" + pool }

func (c Config) withDefaults() (Config, error) {
	if c.Site == "" {
		c.Site = "local"
	}
	if !ValidToken(c.Site) {
		return c, fmt.Errorf("queue: config: site must be letters, digits, '-' or '_' (1-64)")
	}
	switch {
	case c.JS == nil:
		return c, fmt.Errorf("queue: config: JS is required")
	case c.Approver == nil:
		return c, fmt.Errorf("queue: config: Approver is required: no job is printed without an approval check")
	case c.Keys == nil:
		return c, fmt.Errorf("queue: config: Keys is required: the epoch key store that opens sealed jobs")
	case c.Maker == nil:
		return c, fmt.Errorf("queue: config: Maker is required")
	case len(c.Printers) == 0:
		return c, fmt.Errorf("queue: config: at least one printer is required")
	}
	seen := map[string]bool{}
	ps := make([]Printer, len(c.Printers))
	for i, p := range c.Printers {
		if p.Pool == "" {
			p.Pool = DefaultPool
		}
		switch {
		case !ValidToken(p.Name):
			return c, fmt.Errorf("queue: config: printer %d: name must be letters, digits, '-' or '_' (1-64)", i)
		case !ValidToken(p.Pool):
			return c, fmt.Errorf("queue: config: printer %s: pool must be letters, digits, '-' or '_' (1-64)", p.Name)
		case p.Dev == nil:
			return c, fmt.Errorf("queue: config: printer %s: no driver", p.Name)
		case seen[p.Name]:
			return c, fmt.Errorf("queue: config: printer %s: name used twice", p.Name)
		}
		seen[p.Name] = true
		ps[i] = p
	}
	c.Printers = ps
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.Setup.StatusTTL <= 0 {
		c.Setup.StatusTTL = 3 * c.StatusInterval
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.RetryLimit <= 0 {
		c.RetryLimit = DefaultRetryLimit
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.KeyUpkeep <= 0 {
		c.KeyUpkeep = DefaultKeyUpkeep
	}
	if c.FetchWait <= 0 {
		c.FetchWait = DefaultFetchWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Journal == "" {
		dir, err := os.MkdirTemp("", "printerd-journal-")
		if err != nil {
			return c, fmt.Errorf("queue: config: journal: %w", err)
		}
		c.Journal = filepath.Join(dir, "outcomes.journal")
	}
	if c.AuditKey == nil {
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			return c, fmt.Errorf("queue: audit key: %w", err)
		}
		c.AuditKey = key
	}
	return c, nil
}

// now returns the configured time in UTC.
func (d *Daemon) now() time.Time { return d.cfg.Now().UTC() }

// background runs f in a goroutine that Drain and Close wait for.
func (d *Daemon) background(f func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
}

// watchDepth keeps the queue-depth gauge of a pool current.
func (d *Daemon) watchDepth(pool string, cons jetstream.Consumer) {
	d.every(d.cfg.StatusInterval, func(ctx context.Context) {
		if info, err := cons.Info(ctx); err == nil {
			d.metrics.QueueDepth.WithLabelValues(pool).Set(float64(info.NumPending))
		}
	})
}

// Stores returns the daemon's stream and bucket handles.
func (d *Daemon) Stores() *Stores { return d.st }

// Metrics returns the daemon's metrics.
func (d *Daemon) Metrics() *Metrics { return d.metrics }

// Clerk returns a clerk on the daemon's stores and audit chain.
func (d *Daemon) Clerk() *Clerk { return d.clerk }

// Printers returns the names of the daemon's printers, sorted.
func (d *Daemon) Printers() []string {
	names := make([]string, 0, len(d.workers))
	for n := range d.workers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// WithPrinter runs fn on the named printer's driver (technician
// diagnostics) once no card prints and nothing else uses the printer: it
// waits for the card in the printer and never interrupts one. If ctx ends
// first it returns an error wrapping ctx's, and fn is not run; nothing is
// left waiting.
func (d *Daemon) WithPrinter(ctx context.Context, printer string, fn func(ctx context.Context, dev drivers.Printer) error) error {
	w, ok := d.workers[printer]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPrinter, printer)
	}
	return w.withPrinter(ctx, fn)
}

// SetHeldRetention changes CARD_HELD's retention (a reload), keeping every
// other setting the daemon was started with.
func (d *Daemon) SetHeldRetention(ctx context.Context, retention time.Duration) error {
	d.setupMu.Lock()
	defer d.setupMu.Unlock()
	sc := d.cfg.Setup
	sc.HeldRetention = retention
	if _, err := Setup(ctx, d.cfg.JS, sc); err != nil {
		return err
	}
	d.cfg.Setup = sc
	return nil
}

// Pause stops the named printer's worker from fetching new jobs; the card
// in the printer, if any, finishes.
func (d *Daemon) Pause(printer string) error {
	w, ok := d.workers[printer]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPrinter, printer)
	}
	w.setPaused(true)
	return nil
}

// Resume lets a paused printer's worker fetch jobs again.
func (d *Daemon) Resume(printer string) error {
	w, ok := d.workers[printer]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPrinter, printer)
	}
	w.setPaused(false)
	return nil
}

// Drain is the SIGTERM path: every worker finishes the card in its printer
// and fetches no new job. It returns when all workers stopped, or with
// ctx's error. Drain then Close is the clean shutdown.
func (d *Daemon) Drain(ctx context.Context) error {
	d.drainOnce.Do(func() {
		close(d.draining)
		d.log.Info("queue: draining: finishing cards in the printers, taking no new job")
	})
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: drain: %w", ctx.Err())
	}
}

// Close stops the workers at once (a card being printed is abandoned and
// will be held on redelivery) and waits for them. Safe to call twice.
func (d *Daemon) Close() {
	d.closeOnce.Do(func() {
		d.drainOnce.Do(func() { close(d.draining) })
		d.cancelRun()
		d.wg.Wait()
		if err := d.env.book.j.Close(); err != nil {
			d.log.Warn("queue: closing the outcome journal", "err", err)
		}
	})
}

// AuditHealthy returns nil while the daemon's audit chain is intact, or
// why it is not (wrapping ErrChainBroken): the chain was found missing,
// truncated or forked, or an append failed so. While it is not, the daemon
// takes no job; a restart re-checks it. /readyz reports it.
func (d *Daemon) AuditHealthy() error { return d.audit.Err() }

// AuditKID is the key id of the daemon's audit key: the last token of its
// chain's subject, cards.audit.<site>.<kid>.
func (d *Daemon) AuditKID() string { return d.audit.signer.KID }

// auditBroken raises the alarm once the chain is broken.
func (d *Daemon) auditBroken(err error) {
	d.metrics.AuditChainOK.Set(0)
	d.log.Error("queue: AUDIT CHAIN BROKEN: taking no more jobs until an operator investigates and restarts the daemon", "err", err)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(d.runCtx), 5*time.Second)
	defer cancel()
	ev := Event{JobID: "audit-" + d.audit.signer.KID, State: EventAuditBroken, Reason: trimPkg(err), At: d.now()}
	if perr := d.st.publishEvent(ctx, ev); perr != nil {
		d.log.Warn("queue: audit alarm event lost", "err", perr)
	}
}

// watchAudit checks the chain's head in the stream every status interval,
// so that a deleted or replaced audit stream stops the daemon before its
// next job, not after.
func (d *Daemon) watchAudit() {
	d.every(d.cfg.StatusInterval, func(ctx context.Context) { _ = d.audit.Check(ctx) })
}

// every runs f, with a 5 s context, now and then every interval until the
// daemon drains or closes.
func (d *Daemon) every(interval time.Duration, f func(ctx context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(d.runCtx, 5*time.Second)
		f(ctx)
		cancel()
		select {
		case <-t.C:
		case <-d.draining:
			return
		case <-d.runCtx.Done():
			return
		}
	}
}

// DiagRecord is a technician verb to audit: the printer, the verb, the
// operator the server attested, and for raw the command's name (never its
// arguments); Refused marks a raw command refused by the read-only rule.
type DiagRecord struct {
	Printer  string
	Verb     string
	Operator string
	Command  string
	Refused  bool
}

// RecordDiag appends the audit record of a technician verb.
func (d *Daemon) RecordDiag(ctx context.Context, r DiagRecord) error {
	w, ok := d.workers[r.Printer]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPrinter, r.Printer)
	}
	action := AuditDiag
	if r.Refused {
		action = AuditRefused
	}
	_, err := d.audit.Append(ctx, AuditRecord{Action: action, Printer: r.Printer, PrinterSerial: w.serial(ctx),
		Operator: r.Operator, Verb: r.Verb, Command: r.Command, At: d.now()})
	return err
}
