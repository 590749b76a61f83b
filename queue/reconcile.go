package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/drivers"
)

// verdict is what reconciliation concluded about one card.
type verdict struct {
	Outcome string // OutcomePrinted, OutcomeSpoiled, OutcomeHeld or OutcomeRetry
	Reason  string // reason code and what the printer said; no personal data
	Post    *drivers.Snapshot
}

// counts formats the counters of a snapshot pair for a reason.
func counts(pre, post drivers.Snapshot) string {
	s := fmt.Sprintf("printed %d->%d", pre.Printed, post.Printed)
	if pre.Rejected >= 0 && post.Rejected >= 0 {
		s += fmt.Sprintf(", rejected %d->%d", pre.Rejected, post.Rejected)
	}
	return s
}

// decide compares the printer's snapshot from before the card was fed
// with one taken after an unknown outcome (and after a card found inside
// was rejected, rejectedInside). It is the reconciliation rule:
// another printer (serial changed) or counters that went back cannot be
// compared; a card still inside (now rejected) or one more rejected card
// is spoiled; one more printed card with none inside is printed; nothing
// moved and no card inside is not printed, safe to retry. Anything else
// is held, saying what was seen.
func decide(pre, post drivers.Snapshot, rejectedInside bool) verdict {
	v := verdict{Post: &post}
	held := func(what string) verdict {
		v.Outcome, v.Reason = OutcomeHeld, "unknown outcome: "+what+" ("+counts(pre, post)+")"
		return v
	}
	if pre.Serial != post.Serial {
		return held(fmt.Sprintf("printer serial is %q, the card was started on %q", post.Serial, pre.Serial))
	}
	dp := post.Printed - pre.Printed
	dr := 0
	if pre.Rejected >= 0 && post.Rejected >= 0 {
		dr = post.Rejected - pre.Rejected
	}
	if dp < 0 || dr < 0 {
		return held("the printer's counters went back since the card was started (reset or replaced)")
	}
	switch {
	case rejectedInside && dp == 0:
		v.Outcome, v.Reason = OutcomeSpoiled, "spoiled: card left inside the printer, rejected to the reject tray ("+counts(pre, post)+"); destroy it, then release with spoiled-destroyed"
	case rejectedInside:
		return held("a card was inside and the printed counter moved too")
	case dp == 1 && dr == 0:
		v.Outcome, v.Reason = OutcomePrinted, "reconciled: printed ("+counts(pre, post)+")"
	case dp == 0 && dr == 1:
		v.Outcome, v.Reason = OutcomeSpoiled, "spoiled: the card went to the reject tray ("+counts(pre, post)+"); destroy it, then release with spoiled-destroyed"
	case dp == 0 && dr == 0 && post.Card == drivers.CardNone:
		v.Outcome, v.Reason = OutcomeRetry, "retry: not fed (reconciled: "+counts(pre, post)+", no card inside)"
	case dp == 0 && dr == 0 && post.Error != "" && post.ErrorFeed == drivers.BeforeFeed:
		v.Outcome, v.Reason = OutcomeRetry, "retry: not fed (reconciled: "+counts(pre, post)+", printer reports "+post.Error+" before feed)"
	case dp == 0 && dr == 0:
		what := "counters did not move and the card position is unknown"
		if post.Unsure != "" {
			what += ": " + post.Unsure
		}
		if post.Error != "" {
			what += "; printer reports " + post.Error
		}
		return held(what)
	default:
		return held("the counters moved by more than one card")
	}
	return v
}

// askPrinter reconciles an unknown outcome with the printer: it reads
// the printer's snapshot (retrying a few times while it does not answer),
// rejects a card found inside, and decides against pre. It holds the
// printer's device lock.
func (w *worker) askPrinter(ctx context.Context, pre *drivers.Snapshot) verdict {
	if pre == nil {
		return verdict{Outcome: OutcomeHeld, Reason: "unknown outcome: no pre-feed snapshot of the printer was recorded"}
	}
	var v verdict
	err := w.withPrinter(ctx, func(ctx context.Context, dev drivers.Printer) error {
		post, err := w.probe(ctx, dev)
		if err != nil {
			v = verdict{Outcome: OutcomeHeld, Reason: "unknown outcome: printer cannot answer: " + drivers.CodeOf(err).String() +
				fmt.Sprintf(" (pre-feed: printed %d, rejected %d)", pre.Printed, pre.Rejected)}
			return nil
		}
		rejected := false
		if post.Card == drivers.CardInside {
			if err := dev.Reject(ctx); err != nil {
				v = verdict{Outcome: OutcomeHeld, Post: &post, Reason: "unknown outcome: a card is inside and the reject failed: " +
					drivers.CodeOf(err).String() + " (" + counts(*pre, post) + ")"}
				return nil
			}
			rejected = true
			w.log.Warn("queue: card left inside the printer rejected to the reject tray")
			if after, err := w.probe(ctx, dev); err == nil {
				post = after
			}
		}
		v = decide(*pre, post, rejected)
		return nil
	})
	if err != nil {
		return verdict{Outcome: OutcomeHeld, Reason: "unknown outcome: printer busy: " + err.Error()}
	}
	return v
}

// probe reads the printer's snapshot, trying again a few times while it
// does not answer.
func (w *worker) probe(ctx context.Context, dev drivers.Printer) (drivers.Snapshot, error) {
	var err error
	for try := 0; try < 3; try++ {
		var s drivers.Snapshot
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		s, err = dev.Probe(pctx)
		cancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	return drivers.Snapshot{}, err
}

// recover clears the printer after a crash or a reconnect: a card left
// inside goes to the reject tray, and the job it belonged to (the
// journal's open intent for this printer, or the ledger's printing
// entries for it) is reconciled, not left at printing. It reports false
// when the printer could not be asked (try again later).
func (w *worker) recover(ctx context.Context) bool {
	var cands []Entry
	var ids []string
	if in, ok := w.env.book.intent(w.p.Name); ok {
		if _, done := w.env.book.outcome(in.JobID, in.Releases); !done {
			cands = append(cands, Entry{State: Printing, Printer: w.p.Name, CardNumber: in.CardNumber, Issue: in.Issue,
				Releases: in.Releases, Pre: in.Pre, Updated: in.At})
			ids = append(ids, in.JobID)
		}
	}
	if es, err := w.env.ledger.printingOn(ctx, w.p.Name); err != nil {
		w.log.Warn("queue: could not list the ledger's printing entries; reconciling from the journal only", "err", err)
	} else {
		for id, e := range es {
			if len(ids) > 0 && ids[0] == id {
				cands[0].Revision = e.Revision
				continue
			}
			if _, busy := w.env.inflight.Load(id); busy {
				continue
			}
			if _, ok := w.env.book.outcome(id, e.Releases); ok {
				continue // the replayer settles it
			}
			cands = append(cands, e)
			ids = append(ids, id)
		}
	}
	if len(cands) == 0 {
		// No job to settle; still never leave a card inside.
		var probeErr error
		_ = w.withPrinter(ctx, func(ctx context.Context, dev drivers.Printer) error {
			s, err := dev.Probe(ctx)
			if probeErr = err; err == nil && s.Card == drivers.CardInside {
				if err := dev.Reject(ctx); err != nil {
					probeErr = err
				} else {
					w.log.Warn("queue: a card of no known job was inside the printer; rejected to the reject tray")
				}
			}
			return nil
		})
		return probeErr == nil
	}
	// The newest candidate is the card the printer last took; older ones
	// cannot be told apart by the counters.
	newest := 0
	for i := range cands {
		if cands[i].Updated.After(cands[newest].Updated) {
			newest = i
		}
	}
	for i, e := range cands {
		if _, busy := w.env.inflight.LoadOrStore(ids[i], true); busy {
			continue // a redelivery is settling it now
		}
		var v verdict
		if i == newest {
			v = w.askPrinter(ctx, e.Pre)
			if strings.Contains(v.Reason, "printer cannot answer") {
				w.env.inflight.Delete(ids[i])
				return false
			}
		} else {
			v = verdict{Outcome: OutcomeHeld, Reason: "unknown outcome: another card was started on this printer after this one; the counters cannot tell which came out"}
		}
		w.log.Warn("queue: reconciled a card interrupted by a crash or a lost link", "job_id", ids[i], "outcome", v.Outcome, "reason", v.Reason)
		w.settleNoMsg(ctx, ids[i], e, v)
		w.env.inflight.Delete(ids[i])
	}
	return true
}

// settleNoMsg journals and applies the outcome of a job whose message is
// not in hand (recovery, sweep). A held job's body is copied to
// CARD_HELD when its message is redelivered (resume).
func (w *worker) settleNoMsg(ctx context.Context, jobID string, e Entry, v verdict) {
	r := jrec{Kind: recOutcome, JobID: jobID, Releases: e.Releases, Printer: w.p.Name, CardNumber: e.CardNumber,
		Issue: e.Issue, Pre: e.Pre, Post: v.Post, Outcome: v.Outcome, Reason: v.Reason, At: w.env.now()}
	if err := w.env.book.append(r); err != nil {
		w.log.Error("queue: could not journal a reconciled outcome", "job_id", jobID, "err", err)
		return
	}
	w.env.metrics.Cards.WithLabelValues(w.p.Name, metricOf(v.Outcome)).Inc()
	if !w.env.applyOutcome(ctx, r.key()) {
		w.env.book.poke()
	}
}

// metricOf is the cards metric label of an outcome.
func metricOf(outcome string) string {
	switch outcome {
	case OutcomeRetry:
		return "retried"
	case OutcomeSpoiled, OutcomeHeld:
		return "held"
	}
	return outcome
}

// printingOn lists the entries at printing on a printer, by job id.
func (l ledger) printingOn(ctx context.Context, printer string) (map[string]Entry, error) {
	lister, err := l.kv.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("ledger list: %w", err)
	}
	out := map[string]Entry{}
	for k := range lister.Keys() {
		e, err := l.get(ctx, k)
		if err != nil {
			continue
		}
		if e.State == Printing && (printer == "" || e.Printer == printer) {
			out[k] = e
		}
	}
	return out, nil
}

// sweepPrinting finds printing entries of this daemon's printers older
// than the ack wait and has their workers reconcile them, so that no job
// stays at printing when nothing prints it.
func (d *Daemon) sweepPrinting() {
	every := max(d.cfg.AckWait, time.Second)
	for {
		select {
		case <-time.After(every):
		case <-d.draining:
			return
		case <-d.runCtx.Done():
			return
		}
		ctx, cancel := context.WithTimeout(d.runCtx, 30*time.Second)
		es, err := d.env.ledger.printingOn(ctx, "")
		cancel()
		if err != nil {
			d.log.Warn("queue: sweep of printing entries", "err", err)
			continue
		}
		for id, e := range es {
			w, ok := d.workers[e.Printer]
			if !ok || d.now().Sub(e.Updated) < d.cfg.AckWait {
				continue
			}
			if _, busy := d.env.inflight.Load(id); busy {
				continue
			}
			d.log.Info("queue: a job has been at printing longer than the ack wait; reconciling", "job_id", id, "printer", e.Printer)
			w.requestRecover()
		}
	}
}
