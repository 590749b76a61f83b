package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/queue"
)

// ReprintSubject is where the console asks the enrollment system for a
// reprint: cards.reprints.<site>. printerd keeps no personal data, so only
// the enrollment system can make the new job (same number, next issue).
func ReprintSubject(site string) string { return "cards.reprints." + site }

// ReprintRequest is the body published on ReprintSubject. It holds no
// personal data: the card number, the issue delivered, a reason code and
// who asked.
type ReprintRequest struct {
	V          int    `json:"v"`
	RequestID  string `json:"request_id"`
	Site       string `json:"site"`
	CardNumber string `json:"card_number"`
	// AfterIssue is the highest issue delivered for the number when the
	// request was made (0: none known); the reprint is the next one.
	AfterIssue int    `json:"after_issue"`
	Reason     string `json:"reason"`
	// RequestedBy is the signed-in person who asked, Console the console
	// they used.
	RequestedBy string    `json:"requested_by"`
	Console     string    `json:"console"`
	At          time.Time `json:"at"`
}

// Reprint is a request and what became of it.
type Reprint struct {
	ReprintRequest
	// State is "pending" until a job for the number with a later issue
	// shows up, then that job's latest event state (printing, printed,
	// held, ...).
	State   string    `json:"state"`
	JobID   string    `json:"job_id,omitempty"`
	Issue   int       `json:"issue,omitempty"`
	Updated time.Time `json:"updated"`
}

// Reprint states beside the event states.
const reprintPending = "pending"

// reprintStore keeps the requests (in the state directory when there is
// one): the newest maxReprints.
type reprintStore struct {
	path string
	mu   sync.Mutex
	rs   []Reprint
}

const maxReprints = 200

func openReprints(dir string) (*reprintStore, error) {
	st := &reprintStore{}
	if dir == "" {
		return st, nil
	}
	st.path = filepath.Join(dir, "console-reprints.json")
	b, err := os.ReadFile(st.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: reprints: %w", err)
	}
	if err := json.Unmarshal(b, &st.rs); err != nil {
		return nil, fmt.Errorf("console: reprints %s: %w", st.path, err)
	}
	return st, nil
}

// saveLocked writes the store (no-op without a directory).
func (st *reprintStore) saveLocked() error {
	if st.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(st.rs, "", " ")
	if err != nil {
		return fmt.Errorf("console: reprints: %w", err)
	}
	return writePrivate(st.path, b)
}

func (st *reprintStore) add(r Reprint) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rs = append(st.rs, r)
	if len(st.rs) > maxReprints {
		st.rs = st.rs[len(st.rs)-maxReprints:]
	}
	return st.saveLocked()
}

// list returns the requests, newest first.
func (st *reprintStore) list() []Reprint {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := slices.Clone(st.rs)
	slices.Reverse(out)
	return out
}

// waiting reports whether a request for number is not yet printed.
func (st *reprintStore) waiting(number string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range st.rs {
		if r.CardNumber == number && r.State != queue.EventPrinted {
			return true
		}
	}
	return false
}

// update records a job's event for the requests it answers: same number,
// an issue after the one delivered when asked. It reports a change.
func (st *reprintStore) update(number, jobID string, issue int, state string, at time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	changed := false
	for i := range st.rs {
		r := &st.rs[i]
		if r.CardNumber != number || issue <= r.AfterIssue || r.State == queue.EventPrinted {
			continue
		}
		if r.JobID != "" && r.JobID != jobID {
			continue
		}
		r.JobID, r.Issue, r.State, r.Updated = jobID, issue, state, at
		changed = true
		break // one job answers one request
	}
	if changed {
		_ = st.saveLocked()
	}
	return changed
}

// requestReprint publishes a reprint request for number and records it
// pending. The issue delivered is read from the card's history.
func (s *Server) requestReprint(ctx context.Context, person, number, reason string) (Reprint, error) {
	recs, err := s.client.OnBehalfOf(person).History(ctx, number)
	if err != nil {
		return Reprint{}, errors.New(errText(err))
	}
	after := 0
	for _, r := range recs {
		if r.Action == queue.AuditPrinted && r.Issue > after {
			after = r.Issue
		}
	}
	req := ReprintRequest{V: 1, RequestID: uuid.NewString(), Site: s.cfg.Site, CardNumber: number, AfterIssue: after,
		Reason: reason, RequestedBy: person, Console: s.cfg.Name, At: time.Now().UTC()}
	b, err := json.Marshal(req)
	if err != nil {
		return Reprint{}, fmt.Errorf("console: reprint: %w", err)
	}
	msg := &nats.Msg{Subject: ReprintSubject(s.cfg.Site), Data: b, Header: nats.Header{}}
	msg.Header.Set("Nats-Msg-Id", req.RequestID)
	if err := s.cfg.NC.PublishMsg(msg); err != nil {
		return Reprint{}, fmt.Errorf("console: reprint: publish: %w", err)
	}
	if err := s.cfg.NC.FlushWithContext(ctx); err != nil {
		return Reprint{}, fmt.Errorf("console: reprint: publish: %w", err)
	}
	r := Reprint{ReprintRequest: req, State: reprintPending, Updated: req.At}
	if err := s.reprints.add(r); err != nil {
		s.log.Error("console: reprint request sent but not kept", "err", err)
	}
	return r, nil
}
