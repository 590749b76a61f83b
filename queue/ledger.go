package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/drivers"
)

// State is a job's issuance state in the card_ledger bucket.
type State string

// Ledger states (DESIGN.md).
const (
	Claimed   State = "claimed"
	Printing  State = "printing"
	Printed   State = "printed"
	Held      State = "held"
	Rejected  State = "rejected"
	Cancelled State = "cancelled"
)

// Entry is a card_ledger value, keyed by job id. It holds no personal data.
type Entry struct {
	State      State     `json:"state"`
	Printer    string    `json:"printer,omitempty"`
	CardNumber string    `json:"card_number,omitempty"`
	Issue      int       `json:"issue,omitempty"`
	Updated    time.Time `json:"updated"`
	// Reason says why the entry is in its state: the rule a rejected job
	// broke, the printer problem that held it, a clerk's reason.
	Reason string `json:"reason,omitempty"`
	// Releases counts the times a clerk released the job; a released job
	// is republished with Nats-Msg-Id "<job.MsgID>/release-<Releases>".
	Releases int `json:"releases,omitempty"`
	// Pre is what the printer said of itself just before the card was fed
	// (serial, counters, card position); Post what it said when the
	// outcome was settled by asking it. Reconciliation compares the two.
	Pre  *drivers.Snapshot `json:"pre,omitempty"`
	Post *drivers.Snapshot `json:"post,omitempty"`
	// Spoiled says the held job's card was fed and spoiled (rejected to
	// the reject tray, counted, audited): a clerk releases it only with
	// reason code spoiled-destroyed, once the card is destroyed.
	Spoiled bool `json:"spoiled,omitempty"`
	// Revision is the KV revision the entry was read at (not stored).
	Revision uint64 `json:"-"`
}

// ErrNotFound is matched (errors.Is) by the errors for a job or card
// number the ledger does not know. Its text is the tail of a queue error
// ("queue: ledger <id>: not found").
var ErrNotFound = errors.New("not found")

// ErrConflict is matched by the errors of a compare-and-swap that lost to
// another writer, or of an operation on a job not in the state it needs.
var ErrConflict = errors.New("conflict")

// ledger is the card_ledger bucket: one Entry per job id, changed only by
// create and compare-and-swap. Its errors name the bucket operation, not
// the package: the exported caller wraps them once with "queue: ".
type ledger struct{ kv jetstream.KeyValue }

// ledger returns the card_ledger of s.
func (s *Stores) ledger() ledger { return ledger{s.Ledger} }

// get reads a job's entry; an error wraps ErrNotFound when there is none.
func (l ledger) get(ctx context.Context, jobID string) (Entry, error) {
	kve, err := l.kv.Get(ctx, jobID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, fmt.Errorf("ledger %s: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("ledger get %s: %w", jobID, err)
	}
	var e Entry
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return Entry{}, fmt.Errorf("ledger %s: bad entry: %w", jobID, err)
	}
	e.Revision = kve.Revision()
	return e, nil
}

// create writes a job's first entry; an error wraps ErrConflict if the job
// has one already.
func (l ledger) create(ctx context.Context, jobID string, e Entry) (Entry, error) {
	b, _ := json.Marshal(e)
	rev, err := l.kv.Create(ctx, jobID, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Entry{}, fmt.Errorf("ledger create %s: %w", jobID, ErrConflict)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("ledger create %s: %w", jobID, err)
	}
	e.Revision = rev
	return e, nil
}

// swap replaces the entry read at revision prev with e; an error wraps
// ErrConflict if the entry changed since.
func (l ledger) swap(ctx context.Context, jobID string, prev uint64, e Entry) (Entry, error) {
	b, _ := json.Marshal(e)
	rev, err := l.kv.Update(ctx, jobID, b, prev)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Entry{}, fmt.Errorf("ledger update %s: %w", jobID, ErrConflict)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("ledger update %s: %w", jobID, err)
	}
	e.Revision = rev
	return e, nil
}

// move is the protocol's transition of an entry: from (as read) to state,
// with reason, at now, by compare-and-swap on from's revision.
func (l ledger) move(ctx context.Context, jobID string, from Entry, state State, reason string, now time.Time) (Entry, error) {
	to := from
	to.State, to.Reason, to.Updated = state, reason, now
	return l.swap(ctx, jobID, from.Revision, to)
}

// IssueMark is a card_issues value, keyed by card number: the highest issue
// reserved for printing and the job that reserved it.
type IssueMark struct {
	Issue int    `json:"issue"`
	JobID string `json:"job_id"`
	// Printed is false while the reserving job has not printed yet.
	Printed bool `json:"printed"`
	// Delivered says the reserving job's card came out good: this number
	// and issue exist as a card, and no release may print them again.
	Delivered bool `json:"delivered,omitempty"`
	// ChipUID is the hex UID of the delivered card's chip, kept only when
	// its template links the card to another system (transit, library).
	ChipUID string    `json:"chip_uid,omitempty"`
	Updated time.Time `json:"updated"`
	// Revision is the KV revision the mark was read or written at (not
	// stored); 0 means no mark.
	Revision uint64 `json:"-"`
}

// issueRule is the reason of an issue-rule rejection.
const issueRule = "card.issue: must be higher than the highest issue already printed for this card number"

// allows applies the issue rule to a job's card number and issue: a higher
// issue, or the job's own reservation.
func (m IssueMark) allows(jobID string, issue int) bool {
	return issue > m.Issue || issue == m.Issue && m.JobID == jobID
}

// issueMarks is the card_issues bucket: one IssueMark per card number,
// changed only by create and compare-and-swap, never rolled back. Like
// ledger's, its errors carry no package prefix.
type issueMarks struct{ kv jetstream.KeyValue }

// issues returns the card_issues of s.
func (s *Stores) issues() issueMarks { return issueMarks{s.Issues} }

// casTries bounds the compare-and-swap retries on one card number.
const casTries = 10

// get reads the mark of a card number; Revision 0 means none.
func (b issueMarks) get(ctx context.Context, number string) (IssueMark, error) {
	kve, err := b.kv.Get(ctx, number)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return IssueMark{}, nil
	}
	if err != nil {
		return IssueMark{}, fmt.Errorf("card_issues get: %w", err)
	}
	var m IssueMark
	if err := json.Unmarshal(kve.Value(), &m); err != nil {
		return IssueMark{}, fmt.Errorf("card_issues: bad entry: %w", err)
	}
	m.Revision = kve.Revision()
	return m, nil
}

// put writes m over the mark read at m.Revision (creating it when 0). It
// reports false when another writer got there first.
func (b issueMarks) put(ctx context.Context, number string, m IssueMark) (IssueMark, bool, error) {
	v, _ := json.Marshal(m)
	var err error
	var rev uint64
	if m.Revision == 0 {
		rev, err = b.kv.Create(ctx, number, v)
	} else {
		rev, err = b.kv.Update(ctx, number, v, m.Revision)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("card_issues put: %w", err)
	}
	m.Revision = rev
	return m, true, nil
}

// reserve reserves issue of number for jobID. It reports false when the
// issue rule refuses the job. The returned mark lets markPrinted skip a
// read.
func (b issueMarks) reserve(ctx context.Context, number string, issue int, jobID string, now time.Time) (IssueMark, bool, error) {
	for try := 0; try < casTries; try++ {
		m, err := b.get(ctx, number)
		if err != nil {
			return m, false, err
		}
		if !m.allows(jobID, issue) {
			return m, false, nil
		}
		if m.Issue == issue && m.JobID == jobID {
			return m, true, nil // already ours (a retry or a release)
		}
		nm, ok, err := b.put(ctx, number, IssueMark{Issue: issue, JobID: jobID, Updated: now, Revision: m.Revision})
		if err != nil || ok {
			return nm, ok, err
		}
	}
	return IssueMark{}, false, fmt.Errorf("card_issues: too much contention on one card number")
}

// markDelivered is markPrinted that also records the issue delivered.
// chipUID, if not empty, is recorded with it.
func (b issueMarks) markDelivered(ctx context.Context, number string, issue int, jobID, chipUID string, m IssueMark, now time.Time) error {
	return b.mark(ctx, number, issue, jobID, chipUID, m, now, true)
}

// markPrinted sets Printed on jobID's own reservation of issue, read as m
// (re-read if it changed since).
func (b issueMarks) markPrinted(ctx context.Context, number string, issue int, jobID string, m IssueMark, now time.Time) error {
	return b.mark(ctx, number, issue, jobID, "", m, now, false)
}

func (b issueMarks) mark(ctx context.Context, number string, issue int, jobID, chipUID string, m IssueMark, now time.Time, delivered bool) error {
	for try := 0; try < casTries; try++ {
		if try > 0 {
			var err error
			if m, err = b.get(ctx, number); err != nil {
				return err
			}
		}
		if m.JobID != jobID || m.Issue != issue || m.Printed && (m.Delivered || !delivered) {
			return nil
		}
		m.Printed, m.Updated = true, now
		m.Delivered = m.Delivered || delivered
		if delivered && chipUID != "" {
			m.ChipUID = chipUID
		}
		_, ok, err := b.put(ctx, number, m)
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("card_issues: too much contention on one card number")
}
