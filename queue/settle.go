package queue

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue/job"
)

// preFeed reads the printer's snapshot just before the card is fed and
// journals it (synced) as the printer's intent: after a crash, the journal
// names the job whose card the printer last took, and the ledger entry
// (printing) carries the same snapshot.
func (w *worker) preFeed(ctx context.Context, d *delivery) (drivers.Snapshot, error) {
	var pre drivers.Snapshot
	err := w.withPrinter(ctx, func(ctx context.Context, dev drivers.Printer) error {
		var err error
		pre, err = w.probe(ctx, dev)
		return err
	})
	if err != nil {
		return pre, err
	}
	if pre.Card == drivers.CardInside {
		w.requestRecover()
		return pre, fmt.Errorf("queue: a card is inside the printer before feed: %w", drivers.CardJam)
	}
	w.env.inflight.Store(d.job.ID, true)
	err = w.env.book.append(jrec{Kind: recIntent, JobID: d.job.ID, Releases: d.entry.Releases, Printer: w.p.Name,
		CardNumber: d.job.Card.Number, Issue: d.job.Card.Issue, Pre: &pre, At: w.env.now()})
	if err != nil {
		w.env.inflight.Delete(d.job.ID)
	}
	return pre, err
}

// settle journals a card's outcome (synced: from here it is never lost),
// brings it to the ledger, card_issues, audit and events (what fails now,
// the replayer brings later), and ends the message: ack for a printed
// card, a delayed nak for a retry, for a held one the body copied to
// CARD_HELD and the message terminated.
func (w *worker) settle(ctx context.Context, d *delivery, v verdict) {
	j := d.job
	r := jrec{Kind: recOutcome, JobID: j.ID, Releases: d.entry.Releases, Printer: w.p.Name, CardNumber: j.Card.Number,
		Issue: j.Card.Issue, Pre: d.entry.Pre, Post: v.Post, Outcome: v.Outcome, Reason: v.Reason, At: w.env.now()}
	if d.entry.Printer != "" {
		r.Printer = d.entry.Printer
	}
	if ch := d.made.Chip; v.Outcome == OutcomePrinted && ch != nil && ch.LinkUID && len(ch.UID) > 0 {
		r.ChipUID = hex.EncodeToString(ch.UID)
	}
	if err := w.env.book.append(r); err != nil {
		// Keep it in memory at least: the replayer applies it while the
		// daemon runs.
		d.log.Error("queue: could not journal a card's outcome; keeping it in memory", "outcome", v.Outcome, "err", err)
		w.env.book.mu.Lock()
		w.env.book.take(r)
		w.env.book.mu.Unlock()
	}
	w.env.metrics.Cards.WithLabelValues(w.p.Name, metricOf(v.Outcome)).Inc()
	if v.Outcome == OutcomePrinted {
		d.log.Info("queue: card printed", "issue", j.Card.Issue) // job id and printer from d.log; no personal data
	}
	w.finish(ctx, d, r)
}

// finish applies a journaled outcome and ends the message accordingly.
func (w *worker) finish(ctx context.Context, d *delivery, r jrec) {
	msg, log := d.msg, d.log
	switch r.Outcome {
	case OutcomePrinted:
		if !w.env.applyOutcome(ctx, r.key()) {
			w.env.book.poke()
		}
		w.eraseThen(msg, func(ctx context.Context) {
			if err := msg.DoubleAck(ctx); err != nil {
				log.Warn("queue: ack of a printed job failed; the journal and ledger skip its redelivery", "err", err)
			}
		})
	case OutcomeRetry:
		if !w.env.applyOutcome(ctx, r.key()) {
			w.env.book.poke()
		}
		_ = msg.NakWithDelay(w.env.cfg.RetryDelay)
	default:
		if err := w.copyHeld(ctx, d, r.Reason); err != nil {
			// The redelivery finds the journaled outcome and copies again.
			log.Error("queue: could not copy a held job to CARD_HELD; will retry", "err", err)
			w.env.book.poke()
			_ = msg.NakWithDelay(w.env.cfg.RetryDelay)
			return
		}
		if !w.env.applyOutcome(ctx, r.key()) {
			w.env.book.poke()
		}
		w.eraseThen(msg, func(context.Context) { _ = msg.Term() }) // the body lives on in CARD_HELD only
	}
}

// settleUnknown settles a redelivered job whose entry says printing: from
// the journal when it holds the outcome, else by asking the printer named
// in the entry (when this daemon runs it), else held saying why.
func (w *worker) settleUnknown(ctx context.Context, d *delivery) {
	id := d.job.ID
	if _, busy := w.env.inflight.LoadOrStore(id, true); busy {
		// Its card is being printed or settled here now (a redelivery
		// after a NATS stall): that worker ends it.
		_ = d.msg.NakWithDelay(w.env.cfg.RetryDelay)
		return
	}
	defer w.env.inflight.Delete(id)
	if r, ok := w.env.book.outcome(id, d.entry.Releases); ok {
		d.log.Info("queue: redelivered job's outcome found in the journal", "outcome", r.Outcome)
		w.finish(ctx, d, r)
		return
	}
	owner := w.env.workerOf(d.entry.Printer)
	var v verdict
	if owner == nil {
		v = verdict{Outcome: OutcomeHeld, Reason: "unknown outcome: printer " + d.entry.Printer + " is not served by this daemon"}
	} else {
		v = owner.askPrinter(ctx, d.entry.Pre)
	}
	d.log.Warn("queue: reconciled a job interrupted mid-card", "outcome", v.Outcome, "reason", v.Reason)
	if owner != nil {
		w = owner
	}
	w.settle(ctx, d, v)
}

// copyHeld copies the job body and its approval headers to CARD_HELD.
func (w *worker) copyHeld(ctx context.Context, d *delivery, reason string) error {
	j, msg := d.job, d.msg
	hdr := msg.Headers()
	copyMsg := &nats.Msg{
		Subject: HeldSubject(w.env.cfg.Site, j.ID),
		Data:    msg.Data(),
		Header:  nats.Header{},
	}
	copyMsg.Header.Set(job.HeaderKey, hdr.Get(job.HeaderKey))
	copyMsg.Header.Set(job.HeaderSignature, hdr.Get(job.HeaderSignature))
	copyMsg.Header.Set(HeaderJobsSubject, msg.Subject())
	copyMsg.Header.Set(HeaderHeldReason, reason)
	_, err := w.env.st.JS.PublishMsg(ctx, copyMsg)
	return err
}

// ensureHeldCopy copies a held job's body to CARD_HELD when it is not
// there (the job was held by recovery or the sweep, without its message),
// then terminates the message.
func (w *worker) ensureHeldCopy(ctx context.Context, d *delivery) {
	_, err := w.env.st.Held.GetLastMsgForSubject(ctx, HeldSubject(w.env.cfg.Site, d.job.ID))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound) && d.entry.Releases == releaseOfMsg(d):
		if err := w.copyHeld(ctx, d, d.entry.Reason); err != nil {
			d.log.Error("queue: could not copy a held job to CARD_HELD; will retry", "err", err)
			_ = d.msg.NakWithDelay(w.env.cfg.RetryDelay)
			return
		}
		d.log.Info("queue: held job's body copied to CARD_HELD")
	case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
		_ = d.msg.NakWithDelay(w.env.cfg.RetryDelay)
		return
	default:
		d.log.Info("queue: job already held; dropped")
	}
	w.eraseThen(d.msg, func(context.Context) { _ = d.msg.Term() })
}

// releaseOfMsg is the release counter the delivery carries.
func releaseOfMsg(d *delivery) int { return d.release }
