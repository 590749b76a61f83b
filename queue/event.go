package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Event is a status event on cards.events.<job_id> for enrollment systems.
// It carries no personal data.
type Event struct {
	JobID      string    `json:"job_id"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Printer    string    `json:"printer,omitempty"`
	CardNumber string    `json:"card_number,omitempty"`
	At         time.Time `json:"at"`
}

// Event states (CLI.md).
const (
	EventReceived  = "received"
	EventRejected  = "rejected"
	EventPrinting  = "printing"
	EventPrinted   = "printed"
	EventHeld      = "held"
	EventReleased  = "released"
	EventCancelled = "cancelled"
	// EventAuditBroken is a daemon's alarm, on cards.events.audit-<daemon
	// key id> (no job id): its audit chain is missing, truncated or forked
	// and it takes no job.
	EventAuditBroken = "audit-broken"
)

// invalidJobID names the event subject of a message whose job id is not a
// valid subject token (e.g. an unparseable body).
const invalidJobID = "invalid"

// publishEvent publishes ev to CARD_EVENTS.
func (s *Stores) publishEvent(ctx context.Context, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("queue: event: %w", err)
	}
	id := ev.JobID
	if !ValidToken(id) {
		id = invalidJobID
	}
	if _, err := s.JS.Publish(ctx, EventSubject(id), b); err != nil {
		return fmt.Errorf("queue: publish event %s: %w", ev.State, err)
	}
	return nil
}

// ValidToken reports whether s can be one NATS subject token and KV key:
// letters, digits, '-' and '_' only, 1-64 bytes. Sites, pools and printer
// names must be tokens; it is the one definition of that rule.
func ValidToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
