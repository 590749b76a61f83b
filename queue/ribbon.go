package queue

import (
	"context"
	"strings"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// ribbon asks the printer which ribbon it has, before each card (a
// technician may have changed it), and remembers the answer; when the
// printer cannot be asked now it returns the last answer. "" means the
// printer does not say (the Maker's default applies). A printer URI's
// ribbon= parameter is the driver's answer (drivers report it as Info).
func (w *worker) ribbon(ctx context.Context) card.Ribbon {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var info drivers.Info
	err := w.withPrinter(ctx, func(ctx context.Context, dev drivers.Printer) error {
		var err error
		info, err = dev.Info(ctx)
		return err
	})
	w.smu.Lock()
	defer w.smu.Unlock()
	if err == nil {
		if info.Ribbon != w.info.Ribbon && w.haveInfo {
			w.log.Info("queue: printer ribbon changed", "ribbon", string(info.Ribbon), "was", string(w.info.Ribbon))
		}
		w.info, w.haveInfo = info, true
	}
	return w.info.Ribbon
}

// holdForRibbon holds a job whose template may not be printed on the
// printer's ribbon: no card was fed, and a clerk releases it once a
// printer with the right ribbon can take it. The reason names the
// template and the ribbons, never a value of the job.
func (w *worker) holdForRibbon(ctx context.Context, d *delivery, err error) {
	reason := "not printed: " + strings.TrimPrefix(err.Error(), "layout: ")
	if i := strings.Index(reason, ": "+card.ErrRibbon.Error()); i > 0 {
		reason = reason[:i]
	}
	d.log.Warn("queue: the card cannot be printed on this printer's ribbon; holding the job", "reason", reason)
	w.holdUnprinted(ctx, d, reason)
}

// holdUnprinted holds a job no card was fed for (its entry is still
// claimed): the body is copied to CARD_HELD first, so a crash never loses
// it, then the ledger, audit and event, and the message is terminated.
// Nothing was printed, so there is no outcome to journal.
func (w *worker) holdUnprinted(ctx context.Context, d *delivery, reason string) {
	if err := w.copyHeld(ctx, d, reason); err != nil {
		d.log.Error("queue: could not copy a held job to CARD_HELD; will retry", "err", err)
		_ = d.msg.NakWithDelay(w.env.cfg.RetryDelay)
		return
	}
	if _, err := w.env.ledger.move(ctx, d.job.ID, d.entry, Held, reason, w.env.now()); err != nil {
		d.log.Error("queue: could not record held in the ledger; will retry", "err", err)
		_ = d.msg.NakWithDelay(w.env.cfg.RetryDelay)
		return
	}
	j := d.job
	w.auditLog(ctx, AuditRecord{Action: AuditHeld, JobID: j.ID, CardNumber: j.Card.Number, Issue: j.Card.Issue, Reason: reason})
	w.event(Event{JobID: j.ID, State: EventHeld, Reason: reason, CardNumber: j.Card.Number})
	msg := d.msg
	w.eraseThen(msg, func(context.Context) { _ = msg.Term() }) // the body lives on in CARD_HELD only
	w.env.metrics.Cards.WithLabelValues(w.p.Name, "held").Inc()
}
