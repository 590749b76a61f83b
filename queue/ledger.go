package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	// is republished with Nats-Msg-Id "<job_id>/release-<Releases>".
	Releases int `json:"releases,omitempty"`
	// Revision is the KV revision the entry was read at (not stored).
	Revision uint64 `json:"-"`
}

// ErrNotFound is returned for a job or card number the ledger does not know.
var ErrNotFound = errors.New("queue: not found")

// ErrConflict is returned when a compare-and-swap lost to another writer or
// a job is not in the state an operation needs.
var ErrConflict = errors.New("queue: conflict")

// getEntry reads a ledger entry.
func getEntry(ctx context.Context, kv jetstream.KeyValue, jobID string) (Entry, error) {
	kve, err := kv.Get(ctx, jobID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, fmt.Errorf("queue: ledger %s: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("queue: ledger get %s: %w", jobID, err)
	}
	var e Entry
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return Entry{}, fmt.Errorf("queue: ledger %s: bad entry: %w", jobID, err)
	}
	e.Revision = kve.Revision()
	return e, nil
}

// createEntry creates a ledger entry; it fails with ErrConflict if it exists.
func createEntry(ctx context.Context, kv jetstream.KeyValue, jobID string, e Entry) (Entry, error) {
	b, _ := json.Marshal(e)
	rev, err := kv.Create(ctx, jobID, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Entry{}, fmt.Errorf("queue: ledger create %s: %w", jobID, ErrConflict)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("queue: ledger create %s: %w", jobID, err)
	}
	e.Revision = rev
	return e, nil
}

// swapEntry replaces the entry read at e.Revision; ErrConflict if it changed.
func swapEntry(ctx context.Context, kv jetstream.KeyValue, jobID string, prev uint64, e Entry) (Entry, error) {
	b, _ := json.Marshal(e)
	rev, err := kv.Update(ctx, jobID, b, prev)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Entry{}, fmt.Errorf("queue: ledger update %s: %w", jobID, ErrConflict)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("queue: ledger update %s: %w", jobID, err)
	}
	e.Revision = rev
	return e, nil
}

// IssueMark is a card_issues value, keyed by card number: the highest issue
// reserved for printing and the job that reserved it.
type IssueMark struct {
	Issue int    `json:"issue"`
	JobID string `json:"job_id"`
	// Printed is false while the reserving job has not printed yet.
	Printed bool      `json:"printed"`
	Updated time.Time `json:"updated"`
}
