package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue/job"
)

// Headers printerd adds to the CARD_HELD copy of a job.
const (
	// HeaderJobsSubject is the jobs subject the held job came from; Release
	// republishes to it.
	HeaderJobsSubject = "Printerd-Jobs-Subject"
	// HeaderHeldReason is why the job is held (a problem code, no values).
	HeaderHeldReason = "Printerd-Held-Reason"
)

// releaseInfix separates a job id from its release counter in the
// Nats-Msg-Id of a released job: "<job_id>/release-<n>".
const releaseInfix = "/release-"

// ReleaseMsgID is the Nats-Msg-Id of the n-th release of a job.
func ReleaseMsgID(jobID string, n int) string { return jobID + releaseInfix + strconv.Itoa(n) }

// PrinterStatus is a printer_status value, keyed <site>.<printer>.
type PrinterStatus struct {
	Site       string         `json:"site"`
	Printer    string         `json:"printer"`
	Pool       string         `json:"pool"`
	Model      string         `json:"model,omitempty"`
	Serial     string         `json:"serial,omitempty"`
	Ready      bool           `json:"ready"`
	Paused     bool           `json:"paused"`
	Printing   string         `json:"printing,omitempty"` // job id of the card in the printer
	Problems   []drivers.Code `json:"problems,omitempty"`
	RibbonLeft int            `json:"ribbon_left"`
	Error      string         `json:"error,omitempty"` // why the status could not be read
	Updated    time.Time      `json:"updated"`
}

// worker runs one printer: it fetches one job at a time from its pool's
// consumer when the printer is ready, and prints it.
type worker struct {
	d    *Daemon
	p    Printer
	cons jetstream.Consumer
	dev  sync.Mutex // held while a card prints or a diag verb runs

	smu        sync.Mutex
	paused     bool
	info       drivers.Info
	haveInfo   bool
	printing   string
	pending    []pendingEvent // owned by the run goroutine
	lastStatus time.Time
	lastReady  bool
	wake       chan struct{}
}

func newWorker(d *Daemon, p Printer, cons jetstream.Consumer) *worker {
	return &worker{d: d, p: p, cons: cons, wake: make(chan struct{}, 1)}
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
	case <-w.d.draining:
		return false
	case <-w.d.runCtx.Done():
		return false
	}
}

func (w *worker) stopping() bool {
	select {
	case <-w.d.draining:
		return true
	case <-w.d.runCtx.Done():
		return true
	default:
		return false
	}
}

// run is the worker's loop.
func (w *worker) run() {
	defer w.d.wg.Done()
	log := w.d.log.With("printer", w.p.Name)
	w.serial(w.d.runCtx)
	for !w.stopping() {
		if w.isPaused() {
			w.publishStatus(drivers.Status{}, nil, true, false)
			if !w.sleep(w.d.cfg.StatusInterval) {
				break
			}
			continue
		}
		ready := w.checkReady()
		if !ready {
			if !w.sleep(w.d.cfg.StatusInterval) {
				break
			}
			continue
		}
		msg, err := w.cons.Next(jetstream.FetchMaxWait(w.d.cfg.FetchWait))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
				continue
			}
			if w.stopping() {
				break
			}
			log.Warn("queue: fetch failed", "err", err)
			if !w.sleep(time.Second) {
				break
			}
			continue
		}
		w.handle(msg)
	}
	w.publishStatus(drivers.Status{}, errors.New("queue: daemon stopped"), w.isPaused(), true)
	log.Info("queue: worker stopped")
}

// checkReady reads the printer's status, publishes it when due, and
// reports whether a card can be printed now.
func (w *worker) checkReady() bool {
	ctx, cancel := context.WithTimeout(w.d.runCtx, 10*time.Second)
	w.dev.Lock()
	st, err := w.p.Dev.Status(ctx)
	w.dev.Unlock()
	cancel()
	ready := err == nil && st.Ready
	w.d.metrics.PrinterReady.WithLabelValues(w.p.Name).Set(b2f(ready))
	w.publishStatus(st, err, false, false)
	return ready
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
	now := w.d.now()
	w.smu.Lock()
	ready := err == nil && st.Ready && !paused
	due := force || ready != w.lastReady || now.Sub(w.lastStatus) >= w.d.cfg.StatusInterval
	if !due {
		w.smu.Unlock()
		return
	}
	w.lastReady, w.lastStatus = ready, now
	ps := PrinterStatus{
		Site: w.d.cfg.Site, Printer: w.p.Name, Pool: w.p.Pool, Model: w.info.Model, Serial: w.info.Serial,
		Ready: ready, Paused: paused, Printing: w.printing, Problems: st.Problems, RibbonLeft: st.RibbonLeft,
		Updated: now,
	}
	w.smu.Unlock()
	if err != nil {
		ps.Error = err.Error()
	}
	b, _ := json.Marshal(ps)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.d.runCtx), 5*time.Second)
	defer cancel()
	if _, perr := w.d.st.Status.Put(ctx, StatusKey(w.d.cfg.Site, w.p.Name), b); perr != nil {
		w.d.log.Warn("queue: printer status", "printer", w.p.Name, "err", perr)
	}
}

// rejection describes a refused job. JobID is set only when trusted or a
// well-formed UUID; Ledger says whether the job is authentic and its ledger
// entry should say rejected.
type rejection struct {
	JobID      string
	CardNumber string
	Issue      int
	Rule       string // metric label: approval, contract, msg-id, issue, layout
	Reason     string // field and rule, no values
	Ledger     bool
}

// handle processes one job message to its end: printed, retried, held,
// rejected or skipped.
func (w *worker) handle(msg jetstream.Msg) {
	ctx := w.d.runCtx
	start := time.Now()
	defer w.keepAlive(msg)()
	defer w.flushEvents()
	defer func() { w.d.metrics.JobSeconds.WithLabelValues(w.p.Name).Observe(time.Since(start).Seconds()) }()
	log := w.d.log.With("printer", w.p.Name)
	hdr := msg.Headers()
	body := msg.Data()
	msgID := hdr.Get(job.HeaderMsgID)
	untrustedID := ""
	if isUUID(baseID(msgID)) {
		untrustedID = baseID(msgID)
	}

	// 1. Approval, on the exact bytes.
	if err := w.d.cfg.Approver.Verify(body, hdr.Get(job.HeaderKey), hdr.Get(job.HeaderSignature)); err != nil {
		w.reject(ctx, msg, rejection{JobID: untrustedID, Rule: "approval", Reason: "approval: " + trimPkg(err)})
		return
	}
	// 2. The v1 contract.
	j, err := job.Parse(body)
	if err != nil {
		// The body is authentic: if it names a job id, that job is rejected.
		id := lenientJobID(body)
		w.reject(ctx, msg, rejection{JobID: id, Rule: "contract", Reason: trimPkg(err), Ledger: id != "" && id == baseID(msgID)})
		return
	}
	// 3. Nats-Msg-Id is the job id (or a release of it).
	release, ok := releaseOf(msgID, j.ID)
	if !ok {
		w.reject(ctx, msg, rejection{JobID: untrustedID, Rule: "msg-id",
			Reason: "Nats-Msg-Id: must equal job_id (or <job_id>/release-<n> for a released job)"})
		return
	}
	log = log.With("job_id", j.ID)
	w.event(ctx, Event{JobID: j.ID, State: EventReceived, Printer: w.p.Name, CardNumber: j.Card.Number})

	// 4. Ledger: claim the job.
	base := Entry{State: Claimed, Printer: w.p.Name, CardNumber: j.Card.Number, Issue: j.Card.Issue, Updated: w.d.now()}
	var e Entry
	if release == 0 {
		e, err = createEntry(ctx, w.d.st.Ledger, j.ID, base)
	} else {
		err = ErrConflict
	}
	if errors.Is(err, ErrConflict) {
		e, err = getEntry(ctx, w.d.st.Ledger, j.ID)
		if errors.Is(err, ErrNotFound) && release > 0 {
			w.reject(ctx, msg, rejection{JobID: j.ID, Rule: "msg-id", Reason: "Nats-Msg-Id: release of a job the ledger does not know"})
			return
		}
		if err == nil && !w.resume(ctx, msg, j, e, release) {
			return
		}
	}
	if err != nil {
		log.Warn("queue: ledger unavailable, retrying the job", "err", err)
		_ = msg.NakWithDelay(w.d.cfg.RetryDelay)
		return
	}

	// 5. Issue rule, read-only first so that a refused job costs nothing.
	mark, _, err := w.getIssue(ctx, j.Card.Number)
	if err != nil {
		log.Warn("queue: card_issues unavailable, retrying the job", "err", err)
		_ = msg.NakWithDelay(w.d.cfg.RetryDelay)
		return
	}
	if !issueAllowed(mark, j) {
		w.rejectEntry(ctx, msg, e, j, "issue", issueRule)
		return
	}

	// 6. Make the card.
	card, err := w.d.cfg.Maker.Make(ctx, j)
	if err != nil && ctx.Err() != nil {
		return // the daemon is closing: the job is redelivered, still claimed
	}
	if err != nil {
		w.rejectEntry(ctx, msg, e, j, "layout", "layout: "+trimPkg(err))
		return
	}
	card.Label = j.ID

	// Reserve the issue (compare-and-swap); a lost race re-checks the rule.
	ok, mark, markRev, err := w.reserveIssue(ctx, j)
	if err != nil {
		log.Warn("queue: card_issues unavailable, retrying the job", "err", err)
		_ = msg.NakWithDelay(w.d.cfg.RetryDelay)
		return
	}
	if !ok {
		w.rejectEntry(ctx, msg, e, j, "issue", issueRule)
		return
	}

	// 7. claimed -> printing: only the winner prints.
	pe := e
	pe.State, pe.Printer, pe.Updated, pe.Reason = Printing, w.p.Name, w.d.now(), ""
	pe, err = swapEntry(ctx, w.d.st.Ledger, j.ID, e.Revision, pe)
	if errors.Is(err, ErrConflict) {
		// Another delivery of this job moved the entry; it owns the message now.
		log.Warn("queue: lost the claim on a job to another worker; leaving it")
		return
	}
	if err != nil {
		log.Warn("queue: ledger unavailable, retrying the job", "err", err)
		_ = msg.NakWithDelay(w.d.cfg.RetryDelay)
		return
	}
	w.event(ctx, Event{JobID: j.ID, State: EventPrinting, Printer: w.p.Name, CardNumber: j.Card.Number})

	// 8. Print, keeping the message alive.
	perr := w.print(ctx, j.ID, card)
	// Record the outcome even if the daemon is being closed: a printed card
	// left at "printing" would be held and could be released a second time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if perr == nil {
		w.printed(ctx, msg, pe, j, mark, markRev)
		return
	}
	code := drivers.CodeOf(perr).String()
	if !drivers.Fed(perr) && (drivers.CodeOf(perr) == drivers.BadCommand || delivered(msg) >= w.d.cfg.RetryLimit) {
		// The printer refuses this card, or keeps failing on it while it
		// says it is ready: a clerk must look at it. No card was fed.
		log.Warn("queue: print refused before the card was fed; holding the job", "code", code, "deliveries", delivered(msg))
		w.hold(ctx, msg, pe, j, AuditHeld, "not printed: "+code+" before feed, retries exhausted")
		return
	}
	if !drivers.Fed(perr) {
		ce := pe
		ce.State, ce.Updated, ce.Reason = Claimed, w.d.now(), "retry: "+code
		if _, err := swapEntry(ctx, w.d.st.Ledger, j.ID, pe.Revision, ce); err != nil {
			// Leave the entry at printing: a redelivery holds the job,
			// which is safe. Never print on an entry we do not own.
			log.Error("queue: could not return the job to claimed after a failure before feed", "err", err)
		}
		w.d.metrics.Cards.WithLabelValues(w.p.Name, "retried").Inc()
		log.Warn("queue: print failed before the card was fed; retrying", "code", code)
		_ = msg.NakWithDelay(w.d.cfg.RetryDelay)
		return
	}
	var de *drivers.Error
	if errors.As(perr, &de) && de.Feed == drivers.AfterFeed {
		log.Warn("queue: print failed after the card was fed; holding the job", "code", code)
		w.hold(ctx, msg, pe, j, AuditSpoiled, "spoiled: "+code)
		return
	}
	log.Warn("queue: print failed and a card may have been fed; holding the job", "code", code)
	w.hold(ctx, msg, pe, j, AuditHeld, "unknown outcome: "+code)
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
		t := time.NewTicker(w.d.cfg.AckWait / 4)
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

// print prints card, holding the printer against diag verbs.
func (w *worker) print(ctx context.Context, jobID string, card card.Card) error {
	w.dev.Lock()
	defer w.dev.Unlock()
	w.smu.Lock()
	w.printing = jobID
	w.smu.Unlock()
	t0 := time.Now()
	err := w.p.Dev.Print(ctx, card)
	w.d.metrics.PrintSeconds.WithLabelValues(w.p.Name).Observe(time.Since(t0).Seconds())
	w.smu.Lock()
	w.printing = ""
	w.smu.Unlock()
	return err
}

// resume decides what to do with a job whose ledger entry exists. It
// reports true when the job should go on being printed from claimed.
func (w *worker) resume(ctx context.Context, msg jetstream.Msg, j *job.Job, e Entry, release int) bool {
	log := w.d.log.With("printer", w.p.Name, "job_id", j.ID, "state", e.State)
	switch e.State {
	case Claimed:
		if e.Releases != release {
			log.Warn("queue: stale delivery of a job (release counter differs); dropped", "release", release, "ledger_releases", e.Releases)
			w.erase(ctx, msg)
			_ = msg.Term()
			return false
		}
		return true
	case Printing:
		// The daemon died mid-card: the outcome is unknown.
		w.hold(ctx, msg, e, j, AuditHeld, "unknown outcome: stopped while printing")
		return false
	case Printed:
		log.Info("queue: job already printed; acknowledged and skipped")
		w.erase(ctx, msg)
		_ = msg.DoubleAck(ctx)
		return false
	default: // held, rejected, cancelled
		log.Info("queue: job already finished; dropped")
		w.erase(ctx, msg)
		_ = msg.Term()
		return false
	}
}

// printed records a printed card: ledger, card_issues, audit, event, ack.
func (w *worker) printed(ctx context.Context, msg jetstream.Msg, pe Entry, j *job.Job, mark IssueMark, markRev uint64) {
	log := w.d.log.With("printer", w.p.Name, "job_id", j.ID)
	done := pe
	done.State, done.Updated, done.Reason = Printed, w.d.now(), ""
	for try := 0; ; try++ {
		_, err := swapEntry(ctx, w.d.st.Ledger, j.ID, pe.Revision, done)
		if err == nil {
			break
		}
		// The entry moved while we printed (a redelivery held it after a
		// partition): the card IS printed, so the ledger must say so.
		cur, gerr := getEntry(ctx, w.d.st.Ledger, j.ID)
		if gerr == nil {
			log.Warn("queue: ledger moved while printing; recording printed", "was", cur.State)
			done.Releases = cur.Releases
			pe.Revision = cur.Revision
			if cur.State == Held {
				_ = w.d.st.eraseHeld(ctx, HeldSubject(w.d.cfg.Site, j.ID))
			}
		}
		if try >= 5 || ctx.Err() != nil {
			log.Error("queue: could not record printed in the ledger", "err", err)
			break
		}
	}
	if err := w.markPrinted(ctx, j, mark, markRev); err != nil {
		log.Error("queue: could not mark the issue printed", "err", err)
	}
	w.auditLog(ctx, AuditRecord{Action: AuditPrinted, JobID: j.ID, CardNumber: j.Card.Number, Issue: j.Card.Issue})
	w.event(ctx, Event{JobID: j.ID, State: EventPrinted, Printer: w.p.Name, CardNumber: j.Card.Number})
	w.eraseThen(msg, func(ctx context.Context) {
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn("queue: ack of a printed job failed; the ledger skips its redelivery", "err", err)
		}
	})
	w.d.metrics.Cards.WithLabelValues(w.p.Name, "printed").Inc()
}

// hold moves a job to held: body to CARD_HELD first (so a crash never
// loses it), then the ledger, audit, event, and the message terminated.
func (w *worker) hold(ctx context.Context, msg jetstream.Msg, e Entry, j *job.Job, action, reason string) {
	log := w.d.log.With("printer", w.p.Name, "job_id", j.ID)
	hdr := msg.Headers()
	copyMsg := &nats.Msg{
		Subject: HeldSubject(w.d.cfg.Site, j.ID),
		Data:    msg.Data(),
		Header:  nats.Header{},
	}
	copyMsg.Header.Set(job.HeaderKey, hdr.Get(job.HeaderKey))
	copyMsg.Header.Set(job.HeaderSignature, hdr.Get(job.HeaderSignature))
	copyMsg.Header.Set(HeaderJobsSubject, msg.Subject())
	copyMsg.Header.Set(HeaderHeldReason, reason)
	if _, err := w.d.st.JS.PublishMsg(ctx, copyMsg); err != nil {
		// Without the copy the job must stay redeliverable; the ledger
		// (printing) makes the redelivery hold it again, never print it.
		log.Error("queue: could not copy a held job to CARD_HELD; will retry", "err", err)
		_ = msg.NakWithDelay(w.d.cfg.RetryDelay)
		return
	}
	he := e
	he.State, he.Updated, he.Reason = Held, w.d.now(), reason
	if _, err := swapEntry(ctx, w.d.st.Ledger, j.ID, e.Revision, he); err != nil {
		log.Error("queue: could not record held in the ledger; will retry", "err", err)
		_ = msg.NakWithDelay(w.d.cfg.RetryDelay)
		return
	}
	w.auditLog(ctx, AuditRecord{Action: action, JobID: j.ID, CardNumber: j.Card.Number, Issue: j.Card.Issue, Reason: reason})
	w.event(ctx, Event{JobID: j.ID, State: EventHeld, Reason: reason, Printer: w.p.Name, CardNumber: j.Card.Number})
	w.eraseThen(msg, func(context.Context) { _ = msg.Term() }) // the body lives on in CARD_HELD only
	w.d.metrics.Cards.WithLabelValues(w.p.Name, "held").Inc()
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
	if err := w.d.st.Jobs.SecureDeleteMsg(ctx, md.Sequence.Stream); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		w.d.log.Warn("queue: could not erase a finished job from CARD_JOBS", "printer", w.p.Name, "seq", md.Sequence.Stream, "err", err)
	}
}

// eraseThen erases msg and then runs final (its ack or term) in the
// background, so that the worker can go on to its printer's next job: the
// erase costs a few milliseconds of store I/O. The outcome is already in the
// ledger, so a crash before final only means a redelivery that the ledger
// skips (and erases). Drain and Close wait for it.
func (w *worker) eraseThen(msg jetstream.Msg, final func(ctx context.Context)) {
	w.d.wg.Add(1)
	go func() {
		defer w.d.wg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.d.runCtx), 30*time.Second)
		defer cancel()
		w.erase(ctx, msg)
		final(ctx)
	}()
}

// delivered returns how many times msg was delivered (1 the first time).
func delivered(msg jetstream.Msg) int {
	md, err := msg.Metadata()
	if err != nil {
		return 1
	}
	return int(md.NumDelivered)
}

// rejectEntry rejects an authentic job whose ledger entry e is claimed.
func (w *worker) rejectEntry(ctx context.Context, msg jetstream.Msg, e Entry, j *job.Job, rule, reason string) {
	re := e
	re.State, re.Updated, re.Reason = Rejected, w.d.now(), reason
	if _, err := swapEntry(ctx, w.d.st.Ledger, j.ID, e.Revision, re); err != nil {
		w.d.log.Warn("queue: could not record rejected in the ledger", "job_id", j.ID, "err", err)
	}
	w.reject(ctx, msg, rejection{JobID: j.ID, CardNumber: j.Card.Number, Issue: j.Card.Issue, Rule: rule, Reason: reason})
}

// reject refuses a message: ledger (when r.Ledger), audit, event, Term.
func (w *worker) reject(ctx context.Context, msg jetstream.Msg, r rejection) {
	if r.Ledger && r.JobID != "" {
		re := Entry{State: Rejected, Printer: w.p.Name, Reason: r.Reason, Updated: w.d.now()}
		_, err := createEntry(ctx, w.d.st.Ledger, r.JobID, re)
		if errors.Is(err, ErrConflict) {
			// A released job that no longer passes the contract: it
			// must not stay claimed for ever.
			if cur, gerr := getEntry(ctx, w.d.st.Ledger, r.JobID); gerr == nil && cur.State == Claimed {
				re.CardNumber, re.Issue, re.Releases = cur.CardNumber, cur.Issue, cur.Releases
				_, err = swapEntry(ctx, w.d.st.Ledger, r.JobID, cur.Revision, re)
			} else {
				err = nil
			}
		}
		if err != nil {
			w.d.log.Warn("queue: could not record rejected in the ledger", "job_id", r.JobID, "err", err)
		}
	}
	w.d.log.Warn("queue: job rejected", "printer", w.p.Name, "job_id", r.JobID, "rule", r.Rule, "reason", r.Reason)
	w.auditLog(ctx, AuditRecord{Action: AuditRejected, JobID: r.JobID, CardNumber: r.CardNumber, Issue: r.Issue, Reason: r.Reason})
	w.event(ctx, Event{JobID: r.JobID, State: EventRejected, Reason: r.Reason, Printer: w.p.Name, CardNumber: r.CardNumber})
	w.eraseThen(msg, func(context.Context) { _ = msg.Term() })
	w.d.metrics.Cards.WithLabelValues(w.p.Name, "rejected").Inc()
	w.d.metrics.Rejected.WithLabelValues(r.Rule).Inc()
}

func (w *worker) auditLog(ctx context.Context, r AuditRecord) {
	r.Printer = w.p.Name
	r.PrinterSerial = w.serial(ctx)
	r.At = w.d.now()
	if _, err := w.d.audit.Append(ctx, r); err != nil {
		w.d.log.Error("queue: audit record lost", "action", r.Action, "job_id", r.JobID, "err", err)
	}
}

// event publishes ev asynchronously; flushEvents waits for the acks, so
// that a job's events cost about one round trip together.
func (w *worker) event(ctx context.Context, ev Event) {
	ev.At = w.d.now()
	b, _ := json.Marshal(ev)
	id := ev.JobID
	if !validToken(id) {
		id = invalidJobID
	}
	f, err := w.d.st.JS.PublishAsync(EventSubject(id), b)
	if err != nil {
		w.d.log.Warn("queue: event lost", "state", ev.State, "job_id", ev.JobID, "err", err)
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
			w.d.log.Warn("queue: event lost", "state", p.state, "job_id", p.jobID, "err", err)
		case <-t.C:
			w.d.log.Warn("queue: event not acknowledged in time", "state", p.state, "job_id", p.jobID)
		}
	}
	w.pending = w.pending[:0]
}

// issueRule is the reason of an issue-rule rejection.
const issueRule = "card.issue: must be higher than the highest issue already printed for this card number"

// issueAllowed applies the issue rule: a higher issue, or the job's own reservation.
func issueAllowed(m IssueMark, j *job.Job) bool {
	return j.Card.Issue > m.Issue || j.Card.Issue == m.Issue && m.JobID == j.ID
}

// getIssue reads the mark of a card number; revision 0 means none.
func (w *worker) getIssue(ctx context.Context, number string) (IssueMark, uint64, error) {
	kve, err := w.d.st.Issues.Get(ctx, number)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return IssueMark{}, 0, nil
	}
	if err != nil {
		return IssueMark{}, 0, fmt.Errorf("queue: card_issues get: %w", err)
	}
	var m IssueMark
	if err := json.Unmarshal(kve.Value(), &m); err != nil {
		return IssueMark{}, 0, fmt.Errorf("queue: card_issues: bad entry: %w", err)
	}
	return m, kve.Revision(), nil
}

// putIssue writes a mark by compare-and-swap (create when rev is 0). It
// returns the new revision, or 0 when another writer got there first.
func (w *worker) putIssue(ctx context.Context, number string, rev uint64, m IssueMark) (uint64, error) {
	b, _ := json.Marshal(m)
	var err error
	var nrev uint64
	if rev == 0 {
		nrev, err = w.d.st.Issues.Create(ctx, number, b)
	} else {
		nrev, err = w.d.st.Issues.Update(ctx, number, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("queue: card_issues put: %w", err)
	}
	return nrev, nil
}

// reserveIssue reserves the job's issue of its card number. It reports
// false when the issue rule refuses the job.
// The returned mark and revision let markPrinted skip a read.
func (w *worker) reserveIssue(ctx context.Context, j *job.Job) (bool, IssueMark, uint64, error) {
	for try := 0; try < 10; try++ {
		m, rev, err := w.getIssue(ctx, j.Card.Number)
		if err != nil {
			return false, m, 0, err
		}
		if !issueAllowed(m, j) {
			return false, m, 0, nil
		}
		if m.Issue == j.Card.Issue && m.JobID == j.ID {
			return true, m, rev, nil // already ours (a retry or a release)
		}
		m = IssueMark{Issue: j.Card.Issue, JobID: j.ID, Updated: w.d.now()}
		nrev, err := w.putIssue(ctx, j.Card.Number, rev, m)
		if err != nil {
			return false, m, 0, err
		}
		if nrev != 0 {
			return true, m, nrev, nil
		}
	}
	return false, IssueMark{}, 0, fmt.Errorf("queue: card_issues: too much contention on one card number")
}

// markPrinted sets Printed on the job's own reservation, read as m at rev
// (re-read if it changed since).
func (w *worker) markPrinted(ctx context.Context, j *job.Job, m IssueMark, rev uint64) error {
	for try := 0; try < 10; try++ {
		if try > 0 {
			var err error
			if m, rev, err = w.getIssue(ctx, j.Card.Number); err != nil {
				return err
			}
		}
		if m.JobID != j.ID || m.Issue != j.Card.Issue || m.Printed {
			return nil
		}
		m.Printed, m.Updated = true, w.d.now()
		nrev, err := w.putIssue(ctx, j.Card.Number, rev, m)
		if err != nil || nrev != 0 {
			return err
		}
	}
	return fmt.Errorf("queue: card_issues: too much contention on one card number")
}

// releaseOf parses a Nats-Msg-Id against the job id: 0 for the job id
// itself, n for "<job_id>/release-<n>", ok false for anything else.
func releaseOf(msgID, jobID string) (int, bool) {
	if msgID == jobID {
		return 0, true
	}
	rest, ok := strings.CutPrefix(msgID, jobID+releaseInfix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// baseID strips a release suffix from a Nats-Msg-Id.
func baseID(msgID string) string {
	if i := strings.Index(msgID, releaseInfix); i >= 0 {
		return msgID[:i]
	}
	return msgID
}

// isUUID reports whether s is a UUID in its 36-character text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// lenientJobID extracts a UUID job_id from a body that failed the contract.
func lenientJobID(body []byte) string {
	var v struct {
		ID string `json:"job_id"`
	}
	if json.NewDecoder(bytes.NewReader(body)).Decode(&v) != nil || !isUUID(v.ID) {
		return ""
	}
	return v.ID
}

// trimPkg returns an error's text for a reason field.
func trimPkg(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "job: ")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
