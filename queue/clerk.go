package queue

import (
	"context"
	"time"
)

// HeldJob is a job waiting in CARD_HELD for a clerk. It carries no
// personal data.
type HeldJob struct {
	JobID      string    `json:"job_id"`
	CardNumber string    `json:"card_number,omitempty"`
	Issue      int       `json:"issue,omitempty"`
	Printer    string    `json:"printer,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Since      time.Time `json:"since"`
	// Expires is when CARD_HELD drops the body (held retention).
	Expires time.Time `json:"expires"`
}

// Clerk is job control for clerks: status, held, release, cancel, history.
// `printerd jobs` and the printerd.jobs service use it.
type Clerk struct {
	st    *Stores
	site  string
	audit *auditLog
	now   func() time.Time
}

// NewClerk returns a clerk for a site on stores from Setup. Its audit
// appends chain safely with a running daemon's.
func NewClerk(st *Stores, site string) *Clerk {
	if site == "" {
		site = "local"
	}
	return &Clerk{st: st, site: site, audit: newAuditLog(st, site), now: time.Now}
}

// Status returns a job's ledger entry, or an error wrapping ErrNotFound.
func (c *Clerk) Status(ctx context.Context, jobID string) (Entry, error) {
	return getEntry(ctx, c.st.Ledger, jobID)
}

// Held lists the site's held jobs that still have a body in CARD_HELD.
func (c *Clerk) Held(ctx context.Context) ([]HeldJob, error) {
	// TODO
	return nil, nil
}

// Release prints a held job again: ledger held -> claimed (release counter
// +1), the held body republished with its approval headers and Nats-Msg-Id
// "<job_id>/release-<n>", the CARD_HELD copy purged, audit and event
// "released". operator names the clerk in the audit record.
func (c *Clerk) Release(ctx context.Context, jobID, operator string) (Entry, error) {
	// TODO
	return Entry{}, nil
}

// Cancel ends a held job: ledger held -> cancelled, the CARD_HELD copy
// purged (the personal data is gone), audit and event "cancelled".
func (c *Clerk) Cancel(ctx context.Context, jobID, operator, reason string) (Entry, error) {
	// TODO
	return Entry{}, nil
}

// History returns the site's audit records for a card number, oldest
// first: the card's issuance history without personal data.
func (c *Clerk) History(ctx context.Context, cardNumber string) ([]AuditRecord, error) {
	var out []AuditRecord
	err := walkAudit(ctx, c.st, c.site, func(r AuditRecord, _ []byte, _ string, _ uint64) error {
		if r.CardNumber == cardNumber {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
