package queue

import (
	"context"
	"errors"

	"github.com/cityid/printerd/queue/job"
)

// Reasons a reprint is refused for its reprint.of_job.
const (
	ruleOfJobUnknown = "reprint.of_job: must name a job this deployment's ledger knows"
	ruleOfJobNumber  = "reprint.of_job: must name a job of the same card number"
)

// checkReprint refuses a reprint whose reprint.of_job the ledger never
// saw, or that names a job of another card number: a reprint replaces a
// card this deployment made, it does not start a card. An issue job goes
// on untouched.
func (w *worker) checkReprint(ctx context.Context, d *delivery) bool {
	if d.job.Kind != job.KindReprint || d.job.Reprint == nil {
		return true
	}
	of, err := w.env.ledger.get(ctx, d.job.Reprint.OfJob)
	switch {
	case errors.Is(err, ErrNotFound):
		w.rejectEntry(ctx, d, "reprint", ruleOfJobUnknown)
		return false
	case err != nil:
		return w.retryLater(d, "ledger", err)
	case of.CardNumber != "" && of.CardNumber != d.job.Card.Number:
		w.rejectEntry(ctx, d, "reprint", ruleOfJobNumber)
		return false
	}
	return true
}
