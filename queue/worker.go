package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Headers printerd adds to the CARD_HELD copy of a job.
const (
	// HeaderJobsSubject is the jobs subject the held job came from; Release
	// republishes to it.
	HeaderJobsSubject = "Printerd-Jobs-Subject"
	// HeaderHeldReason is why the job is held (a problem code, no values).
	HeaderHeldReason = "Printerd-Held-Reason"
)

// releaseInfix separates a job's message id from its release counter in
// the Nats-Msg-Id of a released job: "<job.MsgID>/release-<n>".
const releaseInfix = "/release-"

// ReleaseMsgID is the Nats-Msg-Id of the n-th release of a job whose
// message id is base (job.MsgID).
func ReleaseMsgID(base string, n int) string { return base + releaseInfix + strconv.Itoa(n) }

// PrinterStatus is a printer_status value, keyed <site>.<printer>.
type PrinterStatus struct {
	Site       string         `json:"site"`
	Printer    string         `json:"printer"`
	Pool       string         `json:"pool"`
	Model      string         `json:"model,omitempty"`
	Serial     string         `json:"serial,omitempty"`
	Ribbon     card.Ribbon    `json:"ribbon,omitempty"` // as the printer (or its URI's ribbon=) says
	Ready      bool           `json:"ready"`
	Paused     bool           `json:"paused"`
	Printing   string         `json:"printing,omitempty"` // job id of the card in the printer
	Problems   []drivers.Code `json:"problems,omitempty"`
	RibbonLeft int            `json:"ribbon_left"`
	Error      string         `json:"error,omitempty"` // why the status could not be read
	Updated    time.Time      `json:"updated"`
}

// workerEnv is what a worker needs from its daemon, built once by Start:
// the settings, the stores, the audit chain, logging, and the daemon's
// lifetime. A worker reaches nothing else of the daemon.
type workerEnv struct {
	cfg     Config // with defaults; read-only
	st      *Stores
	ledger  ledger
	issues  issueMarks
	audit   *auditLog
	log     *slog.Logger
	metrics *Metrics
	// book is the outcome journal: intents before feed, outcomes until
	// every sink has them.
	book *outcomeBook
	// inflight holds the ids of the jobs whose card a worker of this
	// daemon is printing or settling now.
	inflight sync.Map
	// runCtx is cancelled by Close: it stops printing.
	runCtx context.Context
	// draining is closed by Drain: no new fetch.
	draining <-chan struct{}
	// background runs f in a goroutine the daemon's Drain and Close wait for.
	background func(f func())
	// workerOf returns the daemon's worker of a printer, or nil.
	workerOf func(name string) *worker
}

// now returns the configured time in UTC.
func (e *workerEnv) now() time.Time { return e.cfg.Now().UTC() }

// devLock serialises the use of one printer: a card being printed, a
// status poll, a diag verb. It is a one-slot semaphore, so that a waiter
// gives up at its context and leaves no goroutine behind.
type devLock chan struct{}

func newDevLock() devLock { return make(devLock, 1) }

// lock takes the printer, or returns ctx's error once ctx is done.
func (l devLock) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlock gives the printer back.
func (l devLock) unlock() { <-l }

// worker runs one printer: it fetches one job at a time from its pool's
// consumer when the printer is ready, and prints it.
type worker struct {
	env  *workerEnv
	p    Printer
	cons jetstream.Consumer
	dev  devLock // held while a card prints, the status is read or a diag verb runs
	log  *slog.Logger

	smu        sync.Mutex
	paused     bool
	info       drivers.Info
	haveInfo   bool
	printing   string
	pending    []pendingEvent // owned by the run goroutine
	lastStatus time.Time
	lastReady  bool
	last       PrinterStatus // the last status published (printers.go)
	wake       chan struct{}
	// recoverDue asks the worker to clear its printer and reconcile the
	// job of a card interrupted by a crash or a lost link (recover) before
	// it takes a job: at start, after the printer did not answer, when it
	// reports a card inside, and when the sweep asks.
	recoverDue atomic.Bool
}

func newWorker(env *workerEnv, p Printer, cons jetstream.Consumer) *worker {
	w := &worker{env: env, p: p, cons: cons, dev: newDevLock(), log: env.log.With("printer", p.Name), wake: make(chan struct{}, 1)}
	w.recoverDue.Store(true)
	return w
}

// requestRecover has the worker run recover before its next job.
func (w *worker) requestRecover() {
	w.recoverDue.Store(true)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) setPaused(v bool) {
	w.smu.Lock()
	w.paused = v
	w.smu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) isPaused() bool {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.paused
}

// withPrinter runs fn on the printer once no card prints and no other use
// of it runs, waiting at most until ctx is done.
func (w *worker) withPrinter(ctx context.Context, fn func(ctx context.Context, dev drivers.Printer) error) error {
	if err := w.dev.lock(ctx); err != nil {
		return fmt.Errorf("queue: printer %s busy: %w", w.p.Name, err)
	}
	defer w.dev.unlock()
	return fn(ctx, w.p.Dev)
}

// serial returns the printer's serial number, reading it once.
func (w *worker) serial(ctx context.Context) string {
	w.smu.Lock()
	if w.haveInfo {
		s := w.info.Serial
		w.smu.Unlock()
		return s
	}
	w.smu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := w.p.Dev.Info(ctx)
	if err != nil {
		return ""
	}
	w.smu.Lock()
	w.info, w.haveInfo = info, true
	w.smu.Unlock()
	return info.Serial
}

// sleep waits d, or less if the worker is woken, drained or closed. It
// reports false when the worker must stop.
func (w *worker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.wake:
		return true
	case <-w.env.draining:
		return false
	case <-w.env.runCtx.Done():
		return false
	}
}

func (w *worker) stopping() bool {
	select {
	case <-w.env.draining:
		return true
	case <-w.env.runCtx.Done():
		return true
	default:
		return false
	}
}

// run is the worker's loop; the daemon counts it in its wait group.
func (w *worker) run() {
	cfg := w.env.cfg
	w.serial(w.env.runCtx)
	for !w.stopping() {
		if w.isPaused() {
			w.publishStatus(drivers.Status{}, nil, true, false)
			if !w.sleep(cfg.StatusInterval) {
				break
			}
			continue
		}
		if err := w.env.audit.Err(); err != nil {
			// No evidence, no card: the chain is broken (Daemon.AuditHealthy).
			w.publishStatus(drivers.Status{}, err, false, false)
			if !w.sleep(cfg.StatusInterval) {
				break
			}
			continue
		}
		ready, answered := w.checkReady()
		if answered && w.recoverDue.Load() {
			ctx, cancel := context.WithTimeout(w.env.runCtx, 2*time.Minute)
			ok := w.recover(ctx)
			cancel()
			if ok {
				w.recoverDue.Store(false)
			} else if !w.sleep(cfg.StatusInterval) {
				break
			}
			continue
		}
		if !ready {
			if !w.sleep(cfg.StatusInterval) {
				break
			}
			continue
		}
		msg, err := w.cons.Next(jetstream.FetchMaxWait(cfg.FetchWait))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
				continue
			}
			if w.stopping() {
				break
			}
			w.log.Warn("queue: fetch failed", "err", err)
			if !w.sleep(time.Second) {
				break
			}
			continue
		}
		if w.isPaused() || w.stopping() {
			// Paused (or draining) while the fetch waited: give the job
			// back at once for another printer or a later fetch.
			_ = msg.Nak()
			continue
		}
		w.handle(msg)
	}
	w.publishStatus(drivers.Status{}, errors.New("queue: daemon stopped"), w.isPaused(), true)
	w.log.Info("queue: worker stopped")
}

// checkReady reads the printer's status, publishes it when due, and
// reports whether a card can be printed now and whether the printer
// answered. A printer that did not answer, or reports a card inside, is
// due a recover.
func (w *worker) checkReady() (ready, answered bool) {
	ctx, cancel := context.WithTimeout(w.env.runCtx, 10*time.Second)
	defer cancel()
	var st drivers.Status
	err := w.withPrinter(ctx, func(ctx context.Context, dev drivers.Printer) error {
		var err error
		st, err = dev.Status(ctx)
		return err
	})
	ready = err == nil && st.Ready
	if err != nil || slices.Contains(st.Problems, drivers.CardJam) {
		w.recoverDue.Store(true)
	}
	w.env.metrics.PrinterReady.WithLabelValues(w.p.Name).Set(b2f(ready))
	if err == nil && st.RibbonLeft >= 0 {
		w.env.metrics.RibbonLeft.WithLabelValues(w.p.Name).Set(float64(st.RibbonLeft))
	}
	w.publishStatus(st, err, false, false)
	return ready, err == nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// publishStatus writes printer_status when forced, the readiness changed
// or the status interval passed.
func (w *worker) publishStatus(st drivers.Status, err error, paused, force bool) {
	now := w.env.now()
	w.smu.Lock()
	ready := err == nil && st.Ready && !paused
	due := force || ready != w.lastReady || now.Sub(w.lastStatus) >= w.env.cfg.StatusInterval
	if !due {
		w.smu.Unlock()
		return
	}
	w.lastReady, w.lastStatus = ready, now
	ps := PrinterStatus{
		Site: w.env.cfg.Site, Printer: w.p.Name, Pool: w.p.Pool, Model: w.info.Model, Serial: w.info.Serial,
		Ribbon: w.info.Ribbon, Ready: ready, Paused: paused, Printing: w.printing, Problems: st.Problems,
		RibbonLeft: st.RibbonLeft, Updated: now,
	}
	if err != nil {
		ps.Error = err.Error()
	}
	w.last = ps
	w.smu.Unlock()
	b, _ := json.Marshal(ps)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.env.runCtx), 5*time.Second)
	defer cancel()
	if _, perr := w.env.st.Status.Put(ctx, StatusKey(w.env.cfg.Site, w.p.Name), b); perr != nil {
		w.log.Warn("queue: printer status", "err", perr)
	}
}

// keepAlive sends in-progress acks for msg every AckWait/4 until the
// returned stop function is called, so that a job being made or printed is
// never redelivered to another worker.
func (w *worker) keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.env.cfg.AckWait / 4)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// auditLog appends r, with the printer and the time, to the site's chain.
func (w *worker) auditLog(ctx context.Context, r AuditRecord) {
	r.Printer = w.p.Name
	r.PrinterSerial = w.serial(ctx)
	r.At = w.env.now()
	if _, err := w.env.audit.Append(ctx, r); err != nil {
		w.log.Error("queue: audit record lost", "action", r.Action, "job_id", r.JobID, "err", err)
	}
}

// event publishes ev asynchronously; flushEvents waits for the acks, so
// that a job's events cost about one round trip together.
func (w *worker) event(ev Event) {
	ev.At = w.env.now()
	if ev.Printer == "" {
		ev.Printer = w.p.Name
	}
	b, _ := json.Marshal(ev)
	id := ev.JobID
	if !ValidToken(id) {
		id = invalidJobID
	}
	f, err := w.env.st.JS.PublishAsync(EventSubject(id), b)
	if err != nil {
		w.log.Warn("queue: event lost", "state", ev.State, "job_id", ev.JobID, "err", err)
		return
	}
	w.pending = append(w.pending, pendingEvent{f, ev.State, ev.JobID})
}

// pendingEvent is an event whose publish ack has not been seen yet.
type pendingEvent struct {
	f     jetstream.PubAckFuture
	state string
	jobID string
}

// flushEvents waits for the acks of the events published so far.
func (w *worker) flushEvents() {
	if len(w.pending) == 0 {
		return
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for _, p := range w.pending {
		select {
		case <-p.f.Ok():
		case err := <-p.f.Err():
			w.log.Warn("queue: event lost", "state", p.state, "job_id", p.jobID, "err", err)
		case <-t.C:
			w.log.Warn("queue: event not acknowledged in time", "state", p.state, "job_id", p.jobID)
		}
	}
	w.pending = w.pending[:0]
}

// erase overwrites a finished job message in CARD_JOBS (SecureDeleteMsg)
// before it is acked or terminated: acking a work-queue message only
// unlinks it, and its bytes, the person's data, would stay in the stream's
// block files until they are compacted. A failure is logged, not fatal:
// the ack still removes the message from the stream.
func (w *worker) erase(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		return
	}
	if err := w.env.st.Jobs.SecureDeleteMsg(ctx, md.Sequence.Stream); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		w.log.Warn("queue: could not erase a finished job from CARD_JOBS", "seq", md.Sequence.Stream, "err", err)
	}
}

// eraseThen erases msg and then runs final (its ack or term) in the
// background, so that the worker can go on to its printer's next job: the
// erase costs a few milliseconds of store I/O. The outcome is already in the
// ledger, so a crash before final only means a redelivery that the ledger
// skips (and erases). Drain and Close wait for it.
func (w *worker) eraseThen(msg jetstream.Msg, final func(ctx context.Context)) {
	w.env.background(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.env.runCtx), 30*time.Second)
		defer cancel()
		w.erase(ctx, msg)
		final(ctx)
	})
}

// delivered returns how many times msg was delivered (1 the first time).
func delivered(msg jetstream.Msg) int {
	md, err := msg.Metadata()
	if err != nil {
		return 1
	}
	return int(md.NumDelivered)
}
