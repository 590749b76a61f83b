package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/seal"
)

// delivery is one job message on its way through handle: what the steps
// learnt about it so far.
type delivery struct {
	msg     jetstream.Msg
	log     *slog.Logger
	job     *job.Job      // the clear fields; the person too between openSealed and render
	sealed  *job.Envelope // the v2 body (nil for a v1 job accepted by AcceptV1)
	release int           // 0, or n for "<job_id>/release-<n>"
	entry   Entry         // the job's ledger entry as last written or read
	mark    IssueMark     // the job's card_issues reservation
	made    card.Card     // the card the Maker made, to print
}

// handle processes one job message to its end (printed, retried, held,
// rejected or skipped), in the order of the protocol in doc.go (numbered
// as there). Each step takes its own error path (reject, retry later,
// hold, skip) and reports whether the job goes on.
func (w *worker) handle(msg jetstream.Msg) {
	ctx := w.env.runCtx
	start := time.Now()
	defer w.keepAlive(msg)()
	defer w.flushEvents()
	defer func() { w.env.metrics.JobSeconds.WithLabelValues(w.p.Name).Observe(time.Since(start).Seconds()) }()
	d := &delivery{msg: msg, log: w.log}
	defer d.wipe()
	ready := w.verifyApproval(ctx, d) && // 1. approval, on the exact bytes
		w.parseJob(ctx, d) && // 2. the contract: v2 clear fields (v1 only with AcceptV1)
		w.checkMsgID(ctx, d) && // 3. Nats-Msg-Id is the job id or a release of it
		w.checkSubject(ctx, d) && // 3'. the signed site and pool are the subject's
		w.checkSealedTo(ctx, d) && // 3''. sealed to a key this daemon holds
		w.received(d) &&
		w.claim(ctx, d) && // 4. ledger: claimed (or what the entry says)
		w.checkReprint(ctx, d) && // 4'. a reprint replaces a job the ledger knows
		w.checkIssue(ctx, d) && // 5. issue rule, read-only
		w.openSealed(ctx, d) && // 6a. the person, opened in memory and validated
		w.render(ctx, d) && // 6. Maker: the card; the person wiped
		w.reserveIssue(ctx, d) && // 5'. card_issues reserved by compare-and-swap
		w.auditIntact(d) && // no evidence, no card
		w.startPrinting(ctx, d) // 7. ledger claimed -> printing
	if !ready {
		return
	}
	defer w.env.inflight.Delete(d.job.ID)
	perr := w.print(ctx, d.job.ID, d.made) // 8. print
	// Record the outcome even if the daemon is being closed: a printed card
	// left at "printing" would be held and could be released a second time.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	w.recordOutcome(rctx, d, perr)
}

// untrustedID is the job id a message claims in its Nats-Msg-Id, when it is
// a well-formed job id; it is not authenticated.
func untrustedID(msg jetstream.Msg) string {
	if id := baseID(msg.Headers().Get(job.HeaderMsgID)); job.ValidID(id) {
		return id
	}
	return ""
}

// verifyApproval checks the approval signature on the exact body bytes.
func (w *worker) verifyApproval(ctx context.Context, d *delivery) bool {
	hdr := d.msg.Headers()
	if err := w.env.cfg.Approver.Verify(d.msg.Data(), hdr.Get(job.HeaderKey), hdr.Get(job.HeaderSignature)); err != nil {
		w.reject(ctx, d.msg, rejection{JobID: untrustedID(d.msg), Rule: "approval", Reason: "approval: " + trimPkg(err)})
		return false
	}
	return true
}

// parseJob applies the contract to the clear fields: v2, or v1 when
// AcceptV1 allows it (with a warning per job).
func (w *worker) parseJob(ctx context.Context, d *delivery) bool {
	body := d.msg.Data()
	var j *job.Job
	var err error
	switch {
	case job.Version(body) == job.V1 && w.env.cfg.AcceptV1:
		j, err = job.Parse(body)
		if err == nil {
			w.log.Warn("queue: v1 job accepted (accept-v1): its person's data crossed the bus in plaintext", "job_id", j.ID)
		}
	case job.Version(body) == job.V1:
		err = &job.FieldError{Field: "v", Rule: job.RuleV1Refused}
	default:
		var e *job.Envelope
		if e, err = job.ParseEnvelope(body); err == nil {
			d.sealed, j = e, e.Clear()
		}
	}
	if err != nil {
		// The body is authentic: if it names a job id, that job is rejected.
		id := lenientJobID(d.msg.Data())
		msgID := d.msg.Headers().Get(job.HeaderMsgID)
		w.reject(ctx, d.msg, rejection{JobID: id, Rule: "contract", Reason: trimPkg(err), Ledger: id != "" && id == baseID(msgID)})
		return false
	}
	d.job = j
	return true
}

// checkMsgID requires Nats-Msg-Id to be the job's message id (job.MsgID:
// bound to its approval signature), or a release of it.
func (w *worker) checkMsgID(ctx context.Context, d *delivery) bool {
	release, ok := releaseOf(d.msg.Headers().Get(job.HeaderMsgID), job.MsgID(d.job.ID, d.msg.Headers().Get(job.HeaderSignature)))
	if !ok {
		w.reject(ctx, d.msg, rejection{JobID: untrustedID(d.msg), Rule: "msg-id",
			Reason: "Nats-Msg-Id: must be <job_id>.<first 16 hex digits of SHA-256 over Approval-Signature> (or that and /release-<n> for a released job)"})
		return false
	}
	d.release = release
	d.log = d.log.With("job_id", d.job.ID)
	return true
}

// checkSubject requires the signed site and pool of a v2 job to be those
// of the subject it came on (cards.jobs.<site>.<pool>): a job approved for
// another site or pool is not printed here. The ledger is left alone: the
// job may be valid where it belongs.
func (w *worker) checkSubject(ctx context.Context, d *delivery) bool {
	if d.sealed == nil {
		return true // v1 has no site or pool to check
	}
	if d.msg.Subject() != JobsSubject(d.sealed.Site, d.sealed.Pool) || d.sealed.Site != w.env.cfg.Site {
		w.reject(ctx, d.msg, rejection{JobID: d.job.ID, CardNumber: d.job.Card.Number, Issue: d.job.Card.Issue, Rule: "binding",
			Reason: "site, pool: must be those of the subject the job was published to (cards.jobs.<site>.<pool>): the job is approved for another site or pool"})
		return false
	}
	return true
}

// ReasonKeyGone is the rejection reason of a job sealed to no epoch key
// the daemon holds; it starts with the reason code "key-gone".
const ReasonKeyGone = "key-gone: sealed: the job is sealed to no epoch key this daemon holds (destroyed after its retention, or another site's): seal it again to the site's current daemon keys and submit it as a new job"

// checkSealedTo requires the sealed part to be wrapped for a key this
// daemon holds, without opening it. Another daemon of the site may hold
// it (a job sealed while this daemon's key was not yet announced), so the
// job is put back for it RetryLimit times before it is refused.
func (w *worker) checkSealedTo(ctx context.Context, d *delivery) bool {
	if d.sealed == nil {
		return true
	}
	for _, kid := range d.sealed.RecipientKIDs() {
		ok, err := w.env.cfg.Keys.Has(kid)
		if err != nil {
			return w.retryLater(d, "epoch key store", err)
		}
		if ok {
			return true
		}
	}
	if delivered(d.msg) < w.env.cfg.RetryLimit {
		d.log.Info("queue: job sealed to no key of this daemon; leaving it for another daemon of the site", "deliveries", delivered(d.msg))
		_ = d.msg.NakWithDelay(w.env.cfg.RetryDelay)
		return false
	}
	w.reject(ctx, d.msg, rejection{JobID: d.job.ID, CardNumber: d.job.Card.Number, Issue: d.job.Card.Issue,
		Rule: "sealed", Reason: ReasonKeyGone, Ledger: d.release == 0})
	return false
}

// openSealed opens the person of a v2 job with the daemon's epoch keys
// and validates it; the job then holds the person until render wipes it.
func (w *worker) openSealed(ctx context.Context, d *delivery) bool {
	if d.sealed == nil {
		return true
	}
	j, err := d.sealed.OpenAt(w.env.cfg.Keys, w.env.now())
	switch {
	case errors.Is(err, seal.ErrKeyGone):
		w.rejectEntry(ctx, d, "sealed", ReasonKeyGone) // destroyed since checkSealedTo
		return false
	case errors.Is(err, seal.ErrBinding):
		w.rejectEntry(ctx, d, "sealed", "binding: sealed: does not open with this job's clear fields: moved from another job, or altered")
		return false
	case err != nil:
		w.rejectEntry(ctx, d, "contract", trimPkg(err))
		return false
	}
	d.job = j
	return true
}

// wipe forgets the person's fields of the delivery's job.
func (d *delivery) wipe() {
	if d.job != nil {
		d.job.Wipe()
	}
}

// received publishes the job's "received" event.
func (w *worker) received(d *delivery) bool {
	w.event(Event{JobID: d.job.ID, State: EventReceived, CardNumber: d.job.Card.Number})
	return true
}

// retryLater puts the job back for a later delivery: a store was unavailable.
func (w *worker) retryLater(d *delivery, what string, err error) bool {
	d.log.Warn("queue: "+what+" unavailable, retrying the job", "err", err)
	_ = d.msg.NakWithDelay(w.env.cfg.RetryDelay)
	return false
}

// claim creates the job's ledger entry (claimed), or decides from the entry
// it finds whether the job goes on (see resume).
func (w *worker) claim(ctx context.Context, d *delivery) bool {
	j := d.job
	var err error
	if d.release == 0 {
		d.entry, err = w.env.ledger.create(ctx, j.ID, Entry{State: Claimed, Printer: w.p.Name,
			CardNumber: j.Card.Number, Issue: j.Card.Issue, Updated: w.env.now()})
		if err == nil {
			return true
		}
	}
	if d.release > 0 || errors.Is(err, ErrConflict) {
		d.entry, err = w.env.ledger.get(ctx, j.ID)
		if errors.Is(err, ErrNotFound) && d.release > 0 {
			w.reject(ctx, d.msg, rejection{JobID: j.ID, Rule: "msg-id", Reason: "Nats-Msg-Id: release of a job the ledger does not know"})
			return false
		}
		if err == nil {
			return w.resume(ctx, d)
		}
	}
	return w.retryLater(d, "ledger", err)
}

// resume decides what to do with a job whose ledger entry exists. It
// reports true when the job should go on being printed from claimed.
func (w *worker) resume(ctx context.Context, d *delivery) bool {
	e := d.entry
	log := d.log.With("state", e.State)
	switch e.State {
	case Claimed:
		if e.Releases != d.release {
			log.Warn("queue: stale delivery of a job (release counter differs); dropped", "release", d.release, "ledger_releases", e.Releases)
			w.erase(ctx, d.msg)
			_ = d.msg.Term()
			return false
		}
		return true
	case Printing:
		// The daemon died mid-card, or lost its link or NATS: the outcome
		// is settled from the journal, or by asking the printer.
		w.settleUnknown(ctx, d)
		return false
	case Printed:
		log.Info("queue: job already printed; acknowledged and skipped")
		w.erase(ctx, d.msg)
		_ = d.msg.DoubleAck(ctx)
		return false
	case Held:
		// A job held while its message was out of hand (recovery, the
		// sweep) has its body copied to CARD_HELD now.
		w.ensureHeldCopy(ctx, d)
		return false
	default: // rejected, cancelled
		log.Info("queue: job already finished; dropped")
		w.erase(ctx, d.msg)
		_ = d.msg.Term()
		return false
	}
}

// checkIssue applies the issue rule read-only, so that a refused job costs
// no layout.
func (w *worker) checkIssue(ctx context.Context, d *delivery) bool {
	m, err := w.env.issues.get(ctx, d.job.Card.Number)
	if err != nil {
		return w.retryLater(d, "card_issues", err)
	}
	if !m.allows(d.job.ID, d.job.Card.Issue) {
		w.rejectEntry(ctx, d, "issue", issueRule)
		return false
	}
	return true
}

// render makes the card; its failure is a rejection, not a print.
func (w *worker) render(ctx context.Context, d *delivery) bool {
	ribbon := w.ribbon(ctx)
	made, err := w.env.cfg.Maker.Make(ctx, d.job, ribbon)
	d.wipe() // the card is laid out: the person's fields are no longer needed
	if err != nil && ctx.Err() != nil {
		return false // the daemon is closing: the job is redelivered, still claimed
	}
	if errors.Is(err, card.ErrRibbon) {
		w.holdForRibbon(ctx, d, err)
		return false
	}
	if err != nil {
		reason := trimPkg(err)
		if !strings.HasPrefix(reason, "layout: ") {
			reason = "layout: " + reason // layout's own errors name themselves
		}
		w.rejectEntry(ctx, d, "layout", reason)
		return false
	}
	made.Label = d.job.ID
	d.made = made
	return true
}

// reserveIssue reserves the job's issue of its card number by
// compare-and-swap; a lost race re-checks the rule.
func (w *worker) reserveIssue(ctx context.Context, d *delivery) bool {
	m, ok, err := w.env.issues.reserve(ctx, d.job.Card.Number, d.job.Card.Issue, d.job.ID, w.env.now())
	if err != nil {
		return w.retryLater(d, "card_issues", err)
	}
	if !ok {
		w.rejectEntry(ctx, d, "issue", issueRule)
		return false
	}
	d.mark = m
	return true
}

// auditIntact puts the job back (still claimed) when the daemon's audit
// chain is broken: a card printed now would leave no evidence.
func (w *worker) auditIntact(d *delivery) bool {
	if err := w.env.audit.Err(); err != nil {
		d.log.Warn("queue: audit chain broken; not printing, the job stays queued")
		_ = d.msg.NakWithDelay(w.env.cfg.StatusInterval)
		return false
	}
	return true
}

// startPrinting reads the printer's pre-feed snapshot, journals it (the
// intent) and moves the entry claimed -> printing with it: only the
// winner prints.
func (w *worker) startPrinting(ctx context.Context, d *delivery) bool {
	pre, err := w.preFeed(ctx, d)
	if err != nil {
		return w.retryLater(d, "printer snapshot or outcome journal", err)
	}
	pe := d.entry
	pe.Printer, pe.Pre, pe.Post, pe.Spoiled = w.p.Name, &pre, nil, false
	pe, err = w.env.ledger.move(ctx, d.job.ID, pe, Printing, "", w.env.now())
	if err != nil {
		w.env.inflight.Delete(d.job.ID) // no card will be fed for this delivery
	}
	if errors.Is(err, ErrConflict) {
		// Another delivery of this job moved the entry; it owns the message now.
		d.log.Warn("queue: lost the claim on a job to another worker; leaving it")
		return false
	}
	if err != nil {
		return w.retryLater(d, "ledger", err)
	}
	d.entry = pe
	w.event(Event{JobID: d.job.ID, State: EventPrinting, CardNumber: d.job.Card.Number})
	return true
}

// print prints c, holding the printer against status polls and diag
// verbs. A printer it cannot take before ctx ends fed no card.
func (w *worker) print(ctx context.Context, jobID string, c card.Card) error {
	if err := w.dev.lock(ctx); err != nil {
		return &drivers.Error{Op: "print", Code: drivers.Timeout, Feed: drivers.BeforeFeed, Err: fmt.Errorf("queue: printer busy: %w", err)}
	}
	defer w.dev.unlock()
	w.smu.Lock()
	w.printing = jobID
	w.smu.Unlock()
	t0 := time.Now()
	err := w.p.Dev.Print(ctx, c)
	w.env.metrics.PrintSeconds.WithLabelValues(w.p.Name).Observe(time.Since(t0).Seconds())
	w.smu.Lock()
	w.printing = ""
	w.smu.Unlock()
	return err
}

// recordOutcome records what became of the card: printed, retried (no card
// fed), or held (spoiled, refused, unknown). A failure that may have fed a
// card is settled by asking the printer (askPrinter).
func (w *worker) recordOutcome(ctx context.Context, d *delivery, perr error) {
	if perr == nil {
		w.settle(ctx, d, verdict{Outcome: OutcomePrinted})
		return
	}
	code := drivers.CodeOf(perr).String()
	switch {
	case !drivers.Fed(perr) && (drivers.CodeOf(perr) == drivers.BadCommand || delivered(d.msg) >= w.env.cfg.RetryLimit):
		// The printer refuses this card, or keeps failing on it while it
		// says it is ready: a clerk must look at it. No card was fed.
		d.log.Warn("queue: print refused before the card was fed; holding the job", "code", code, "deliveries", delivered(d.msg))
		why := "retries exhausted"
		if drivers.CodeOf(perr) == drivers.BadCommand {
			why = "the printer refused the card"
		}
		w.settle(ctx, d, verdict{Outcome: OutcomeHeld, Reason: "not printed: " + code + " before feed, " + why})
	case !drivers.Fed(perr):
		d.log.Warn("queue: print failed before the card was fed; retrying", "code", code)
		w.settle(ctx, d, verdict{Outcome: OutcomeRetry, Reason: "retry: " + code})
	default:
		v := w.askPrinter(ctx, d.entry.Pre)
		if rest, ok := strings.CutPrefix(v.Reason, "unknown outcome: "); ok {
			v.Reason = "unknown outcome: " + code + " (" + feedOf(perr).String() + "); " + rest
		} else {
			v.Reason += "; the print failed with " + code + " (" + feedOf(perr).String() + ")"
		}
		if drivers.CodeOf(perr) == drivers.EncodeFailed && v.Outcome == OutcomeSpoiled {
			// the driver rejected the card whose chip or stripe failed
			v.Reason = "spoiled-encoding: " + v.Reason
		}
		d.log.Warn("queue: print failed after a card may have been fed; asked the printer", "code", code, "outcome", v.Outcome, "reason", v.Reason)
		w.settle(ctx, d, v)
	}
}

// feedOf returns the Feed of a driver error (FeedUnknown for others).
func feedOf(err error) drivers.Feed {
	var de *drivers.Error
	if errors.As(err, &de) {
		return de.Feed
	}
	return drivers.FeedUnknown
}

// rejection describes a refused job. JobID is set only when trusted or a
// well-formed job id; Ledger says whether the job is authentic and its
// ledger entry should say rejected.
type rejection struct {
	JobID      string
	CardNumber string
	Issue      int
	Rule       string // metric label: approval, contract, msg-id, issue, reprint, layout
	Reason     string // field and rule, no values
	Ledger     bool
}

// rejectEntry rejects an authentic job whose ledger entry is claimed.
func (w *worker) rejectEntry(ctx context.Context, d *delivery, rule, reason string) {
	j := d.job
	if _, err := w.env.ledger.move(ctx, j.ID, d.entry, Rejected, reason, w.env.now()); err != nil {
		d.log.Warn("queue: could not record rejected in the ledger", "err", err)
	}
	w.reject(ctx, d.msg, rejection{JobID: j.ID, CardNumber: j.Card.Number, Issue: j.Card.Issue, Rule: rule, Reason: reason})
}

// reject refuses a message: ledger (when r.Ledger), audit, event, Term.
func (w *worker) reject(ctx context.Context, msg jetstream.Msg, r rejection) {
	if r.Ledger && r.JobID != "" {
		re := Entry{State: Rejected, Printer: w.p.Name, Reason: r.Reason, Updated: w.env.now()}
		_, err := w.env.ledger.create(ctx, r.JobID, re)
		if errors.Is(err, ErrConflict) {
			// A released job that no longer passes the contract: it
			// must not stay claimed for ever.
			if cur, gerr := w.env.ledger.get(ctx, r.JobID); gerr == nil && cur.State == Claimed {
				re.CardNumber, re.Issue, re.Releases = cur.CardNumber, cur.Issue, cur.Releases
				_, err = w.env.ledger.swap(ctx, r.JobID, cur.Revision, re)
			} else {
				err = nil
			}
		}
		if err != nil {
			w.log.Warn("queue: could not record rejected in the ledger", "job_id", r.JobID, "err", err)
		}
	}
	w.log.Warn("queue: job rejected", "job_id", r.JobID, "rule", r.Rule, "reason", r.Reason)
	w.auditLog(ctx, AuditRecord{Action: AuditRejected, JobID: r.JobID, CardNumber: r.CardNumber, Issue: r.Issue, Reason: r.Reason})
	w.event(Event{JobID: r.JobID, State: EventRejected, Reason: r.Reason, CardNumber: r.CardNumber})
	w.eraseThen(msg, func(context.Context) { _ = msg.Term() })
	w.env.metrics.Cards.WithLabelValues(w.p.Name, "rejected").Inc()
	w.env.metrics.Rejected.WithLabelValues(r.Rule).Inc()
}

// releaseOf parses a Nats-Msg-Id against the job id: 0 for the job id
// itself, n for "<job_id>/release-<n>", ok false for anything else.
func releaseOf(msgID, base string) (int, bool) {
	if msgID == base {
		return 0, true
	}
	rest, ok := strings.CutPrefix(msgID, base+releaseInfix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// baseID is the job id part of a Nats-Msg-Id (before any '.' or release
// suffix).
func baseID(msgID string) string {
	if i := strings.IndexAny(msgID, "./"); i >= 0 {
		return msgID[:i]
	}
	return msgID
}

// lenientJobID extracts a job_id from a body that failed the contract,
// when it is a well-formed job id.
func lenientJobID(body []byte) string {
	var v struct {
		ID string `json:"job_id"`
	}
	if json.NewDecoder(bytes.NewReader(body)).Decode(&v) != nil || !job.ValidID(v.ID) {
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
