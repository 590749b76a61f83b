package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
)

// HeldJob is a job waiting in CARD_HELD for a clerk. It carries no
// personal data.
type HeldJob struct {
	JobID      string `json:"job_id"`
	CardNumber string `json:"card_number,omitempty"`
	Issue      int    `json:"issue,omitempty"`
	Pool       string `json:"pool,omitempty"`
	Printer    string `json:"printer,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// Spoiled says the card was fed and spoiled (in the reject tray): a
	// release needs reason spoiled-destroyed.
	Spoiled bool      `json:"spoiled,omitempty"`
	Since   time.Time `json:"since"`
	// Expires is when CARD_HELD drops the body (held retention).
	Expires time.Time `json:"expires"`
}

// Clerk is job control for clerks: status, held, release, cancel, history.
// The printerd.jobs service (queue/service) serves it; `printerd jobs`
// reaches it through that service's Client.
type Clerk struct {
	st    *Stores
	site  string
	audit *auditLog
	now   func() time.Time
	// keys, when set (a daemon's clerk), lets Release check that a held
	// sealed job can still be opened, without opening it.
	keys     *epoch.Store
	acceptV1 bool
	// pools, when set (a daemon's clerk), names a printer's pool, for the
	// held jobs a listing counts per pool.
	pools func(printer string) string
}

// Status returns a job's ledger entry, or an error wrapping ErrNotFound.
func (c *Clerk) Status(ctx context.Context, jobID string) (Entry, error) {
	if !job.ValidID(jobID) {
		return Entry{}, fmt.Errorf("queue: job_id: must be a UUID in canonical lower-case form (8-4-4-4-12 hex digits)")
	}
	e, err := c.st.ledger().get(ctx, jobID)
	if err != nil {
		return Entry{}, fmt.Errorf("queue: %w", err)
	}
	return e, nil
}

// Held lists the site's held jobs that still have a body in CARD_HELD. It
// reads no body: the job ids come from the stream's subjects, the rest
// from the ledger.
func (c *Clerk) Held(ctx context.Context) ([]HeldJob, error) {
	info, err := c.st.Held.Info(ctx, jetstream.WithSubjectFilter(HeldSubject(c.site, ">")))
	if err != nil {
		return nil, fmt.Errorf("queue: held: %w", err)
	}
	out := []HeldJob{}
	for subj := range info.State.Subjects {
		jobID := subj[strings.LastIndexByte(subj, '.')+1:]
		e, err := c.st.ledger().get(ctx, jobID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("queue: held %s: %w", jobID, err)
		}
		if e.State != Held {
			continue // being released, or printed after all
		}
		out = append(out, HeldJob{JobID: jobID, CardNumber: e.CardNumber, Issue: e.Issue, Printer: e.Printer, Reason: e.Reason,
			Spoiled: e.Spoiled, Since: e.Updated.UTC(), Expires: e.Updated.Add(info.Config.MaxAge).UTC(), Pool: c.poolOf(e.Printer)})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Since.Before(out[k].Since) })
	return out, nil
}

// poolOf names a printer's pool, or "" when the clerk does not know.
func (c *Clerk) poolOf(printer string) string {
	if c.pools == nil {
		return ""
	}
	return c.pools(printer)
}

// Reason codes, the only reason text stored for a clerk's decision
// (DESIGN.md, Reason codes).
var (
	ReleaseReasons = []string{"printer-fixed", ReleaseSpoiledDestroyed}
	CancelReasons  = []string{"withdrawn", "duplicate", "data-error", "spoiled-destroyed", "other"}
)

// ErrInvalid is matched by the errors for a request field that breaks its
// rule (a reason that is not a code, a malformed operator).
var ErrInvalid = errors.New("invalid")

// ReleaseSpoiledDestroyed is the release reason code by which a clerk
// confirms a spoiled card (in the reject tray) destroyed: the only one a
// job held with a spoiled card is released with.
const ReleaseSpoiledDestroyed = "spoiled-destroyed"

// checkReason requires one of the codes.
func checkReason(verb, reason string, codes []string) error {
	if !slices.Contains(codes, reason) {
		return fmt.Errorf("queue: %s: reason must be one of %s (no free text is stored): %w", verb, strings.Join(codes, ", "), ErrInvalid)
	}
	return nil
}

// checkOperator validates an operator: the authenticated user the service
// layer names, never free text from a request.
func checkOperator(op string) error {
	if op == "" || len(op) > 140 || strings.ContainsFunc(op, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("queue: operator: must be 1-140 printable characters naming the authenticated user: %w", ErrInvalid)
	}
	return nil
}

// Release prints a held job again: ledger held -> claimed (release counter
// +1), the held body republished with its approval headers and Nats-Msg-Id
// "<job_id>/release-<n>", the CARD_HELD copy purged, audit and event
// "released". operator is the authenticated clerk, reason a code of
// ReleaseReasons. A release cut short (the ledger already claimed for
// release n, the held copy still there) is completed by calling Release
// again. A republish the stream acknowledges as a duplicate (something
// else published that message id first) did not queue the job: it is
// reported as a failure and the held copy is kept.
func (c *Clerk) Release(ctx context.Context, jobID, operator, reason string) (Entry, error) {
	if err := checkOperator(operator); err != nil {
		return Entry{}, err
	}
	if err := checkReason("release", reason, ReleaseReasons); err != nil {
		return Entry{}, err
	}
	e, err := c.Status(ctx, jobID)
	if err != nil {
		return Entry{}, err
	}
	if e.State != Held && !(e.State == Claimed && e.Releases > 0) {
		return Entry{}, fmt.Errorf("queue: release %s: job is %s, not held: %w", jobID, e.State, ErrConflict)
	}
	if e.State == Held && e.Spoiled && reason != ReleaseSpoiledDestroyed {
		return Entry{}, fmt.Errorf("queue: release %s: its card was spoiled (in the reject tray): destroy it, then release with reason %s: %w", jobID, ReleaseSpoiledDestroyed, ErrConflict)
	}
	if e.State == Held && e.CardNumber != "" {
		m, err := c.st.issues().get(ctx, e.CardNumber)
		if err != nil {
			return Entry{}, fmt.Errorf("queue: release %s: %w", jobID, err)
		}
		if m.Delivered && m.Issue >= e.Issue {
			return Entry{}, fmt.Errorf("queue: release %s: card number %s issue %d was already delivered (card_issues); cancel the job: %w", jobID, e.CardNumber, m.Issue, ErrConflict)
		}
	}
	held, err := c.st.Held.GetLastMsgForSubject(ctx, HeldSubject(c.site, jobID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Entry{}, fmt.Errorf("queue: release %s: the held job body is gone (retention passed); cancel it and ask for a new job: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("queue: release %s: %w", jobID, err)
	}
	subject := held.Header.Get(HeaderJobsSubject)
	if !strings.HasPrefix(subject, "cards.jobs."+c.site+".") {
		return Entry{}, fmt.Errorf("queue: release %s: held copy has no jobs subject of site %s", jobID, c.site)
	}
	if err := c.printable(held.Data); err != nil {
		return Entry{}, fmt.Errorf("queue: release %s: %w", jobID, err)
	}
	prev := e
	if e.State == Held {
		e.State, e.Releases, e.Updated, e.Reason = Claimed, e.Releases+1, c.now().UTC(), "released: "+reason
		e.Spoiled = false
		if e, err = c.st.ledger().swap(ctx, jobID, prev.Revision, e); err != nil {
			return Entry{}, fmt.Errorf("queue: release %s: %w", jobID, err)
		}
	}
	msg := &nats.Msg{Subject: subject, Data: held.Data, Header: nats.Header{}}
	msg.Header.Set(job.HeaderKey, held.Header.Get(job.HeaderKey))
	msg.Header.Set(job.HeaderSignature, held.Header.Get(job.HeaderSignature))
	msgID := ReleaseMsgID(job.MsgID(jobID, held.Header.Get(job.HeaderSignature)), e.Releases)
	msg.Header.Set(job.HeaderMsgID, msgID)
	ack, err := c.st.JS.PublishMsg(ctx, msg)
	if err == nil && ack.Duplicate && prev.State == Held {
		// Release n is new (a failed attempt keeps its n, below), so
		// something else published this id first: the stream dropped our
		// copy and the job is not queued. (Completing a release cut short,
		// prev claimed, the duplicate is our own earlier publish.)
		err = fmt.Errorf("the stream already held a message with id %s, not this release: %w", msgID, ErrConflict)
	}
	if err != nil {
		if prev.State == Held {
			// Back to held, keeping the counter at n so that the next
			// release publishes under a new id.
			back := e
			back.State, back.Reason, back.Spoiled = Held, prev.Reason, prev.Spoiled
			if _, rerr := c.st.ledger().swap(ctx, jobID, e.Revision, back); rerr == nil {
				return Entry{}, fmt.Errorf("queue: release %s: republish failed, still held: %w", jobID, err)
			}
		}
		return Entry{}, fmt.Errorf("queue: release %s: republish failed; call release again: %w", jobID, err)
	}
	if err := c.st.eraseHeld(ctx, HeldSubject(c.site, jobID)); err != nil {
		return e, fmt.Errorf("queue: release %s: re-queued, but the held copy was not purged: %w", jobID, err)
	}
	if _, err := c.audit.Append(ctx, AuditRecord{Action: AuditReleased, JobID: jobID, CardNumber: e.CardNumber,
		Issue: e.Issue, Printer: e.Printer, Operator: operator, Reason: reason, At: c.now().UTC()}); err != nil {
		return e, err
	}
	if err := c.st.publishEvent(ctx, Event{JobID: jobID, State: EventReleased, CardNumber: e.CardNumber, At: c.now().UTC()}); err != nil {
		return e, err
	}
	return e, nil
}

// ErrUnprintable: a held job can no longer be printed here: its epoch keys
// were destroyed, or it is a v1 job and v1 is not accepted. Cancel it and
// ask enrollment to submit it again as a new job.
var ErrUnprintable = errors.New("queue: held job cannot be printed here")

// printable checks, without opening anything, that a held body would be
// accepted by this daemon's workers: a v2 job sealed to an epoch key the
// daemon still holds, or a v1 job while v1 is accepted. A clerk without
// keys (NewClerk) checks nothing: the workers decide.
func (c *Clerk) printable(body []byte) error {
	if c.keys == nil {
		return nil
	}
	if job.Version(body) == job.V1 {
		if c.acceptV1 {
			return nil
		}
		return fmt.Errorf("%w: it is a v1 job (plaintext) and this daemon refuses v1: cancel it (reason data-error) and ask enrollment to submit it again, sealed", ErrUnprintable)
	}
	e, err := job.ParseEnvelope(body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnprintable, err)
	}
	for _, kid := range e.RecipientKIDs() {
		ok, err := c.keys.Has(kid)
		if err != nil {
			return fmt.Errorf("epoch keys: %w", err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("%w: its epoch keys are destroyed (retention passed), so it can never be opened: cancel it (reason data-error) and ask enrollment to seal it again to the current keys and submit it as a new job", ErrUnprintable)
}

// Cancel ends a held or queued job. A queued job (no printer claimed it)
// is cancelled by cancelQueued. A held job: ledger held -> cancelled, the CARD_HELD copy
// purged (the personal data is gone), audit and event "cancelled". reason
// is a code of CancelReasons; operator the authenticated clerk.
func (c *Clerk) Cancel(ctx context.Context, jobID, operator, reason string) (Entry, error) {
	if err := checkOperator(operator); err != nil {
		return Entry{}, err
	}
	if err := checkReason("cancel", reason, CancelReasons); err != nil {
		return Entry{}, err
	}
	e, err := c.Status(ctx, jobID)
	if errors.Is(err, ErrNotFound) {
		return c.cancelQueued(ctx, jobID, operator, reason) // not claimed by a printer yet
	}
	if err != nil {
		return Entry{}, err
	}
	if e.State != Held {
		return Entry{}, fmt.Errorf("queue: cancel %s: job is %s, not held or queued: %w", jobID, e.State, ErrConflict)
	}
	prev := e
	e.State, e.Updated, e.Reason = Cancelled, c.now().UTC(), reason
	if e, err = c.st.ledger().swap(ctx, jobID, prev.Revision, e); err != nil {
		return Entry{}, fmt.Errorf("queue: cancel %s: %w", jobID, err)
	}
	if err := c.st.eraseHeld(ctx, HeldSubject(c.site, jobID)); err != nil {
		return e, fmt.Errorf("queue: cancel %s: cancelled, but the held copy was not purged: %w", jobID, err)
	}
	if _, err := c.audit.Append(ctx, AuditRecord{Action: AuditCancelled, JobID: jobID, CardNumber: e.CardNumber,
		Issue: e.Issue, Printer: e.Printer, Operator: operator, Reason: reason, At: c.now().UTC()}); err != nil {
		return e, err
	}
	if err := c.st.publishEvent(ctx, Event{JobID: jobID, State: EventCancelled, Reason: reason, CardNumber: e.CardNumber, At: c.now().UTC()}); err != nil {
		return e, err
	}
	return e, nil
}

// History returns the site's audit records for a card number, oldest
// first: the card's issuance history without personal data.
func (c *Clerk) History(ctx context.Context, cardNumber string) ([]AuditRecord, error) {
	if cardNumber == "" || !ValidToken(cardNumber) {
		return nil, fmt.Errorf("queue: card_number: must be [A-Z0-9-]{4,24}")
	}
	out := []AuditRecord{}
	err := walkAudit(ctx, c.st, c.site, func(raw []byte, _ string, sseq uint64) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return fmt.Errorf("%w: stream seq %d: %v", ErrChainBroken, sseq, err)
		}
		if r.CardNumber == cardNumber {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
