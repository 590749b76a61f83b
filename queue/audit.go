package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Audit actions, the last token of cards.audit.<site>.<action>.
const (
	AuditPrinted   = "printed"   // a card was printed
	AuditSpoiled   = "spoiled"   // a card was fed and spoiled; the job is held
	AuditHeld      = "held"      // a card's outcome is unknown (daemon died mid-card, or a failure that may have fed a card); the job is held
	AuditRejected  = "rejected"  // a job was refused: approval, contract, issue rule or layout
	AuditReleased  = "released"  // a clerk released a held job for printing again
	AuditCancelled = "cancelled" // a clerk cancelled a held job
)

// AuditRecord is one record of a site's hash chain in CARD_AUDIT. It holds
// no name, birth date, gender or photo.
//
// Hash is the hex SHA-256 over Prev (hex text) followed by the record's
// canonical bytes: its JSON encoding with Hash empty. Seq counts the site's
// records from 1; Prev is the Hash of record Seq-1 ("" for the first).
type AuditRecord struct {
	Seq           uint64    `json:"seq"`
	Prev          string    `json:"prev"`
	Hash          string    `json:"hash,omitempty"`
	Site          string    `json:"site"`
	Action        string    `json:"action"`
	JobID         string    `json:"job_id,omitempty"`
	CardNumber    string    `json:"card_number,omitempty"`
	Issue         int       `json:"issue,omitempty"`
	Printer       string    `json:"printer,omitempty"`
	PrinterSerial string    `json:"printer_serial,omitempty"`
	Operator      string    `json:"operator,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	At            time.Time `json:"at"`
}

// ComputeHash returns the record's hash from its Prev and other fields.
func (r AuditRecord) ComputeHash() string {
	r.Hash = ""
	b, _ := json.Marshal(r)
	h := sha256.New()
	h.Write([]byte(r.Prev))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// ErrChainBroken is returned by VerifyAudit when the chain was altered.
var ErrChainBroken = errors.New("queue: audit chain broken")

// auditFilter is the subject filter of a site's audit chain.
func auditFilter(site string) string { return "cards.audit." + site + ".>" }

// auditLog appends to one site's chain. Appends are published with an
// expected last sequence for the site's subjects, so two writers (two
// daemons, a daemon and a clerk command) cannot fork the chain: the loser
// re-reads the head and tries again.
type auditLog struct {
	st   *Stores
	site string

	mu       sync.Mutex
	loaded   bool
	seq      uint64 // chain Seq of the head
	hash     string // Hash of the head
	sseq     uint64 // stream sequence of the head
	maxTries int
}

func newAuditLog(st *Stores, site string) *auditLog {
	return &auditLog{st: st, site: site, maxTries: 20}
}

// load reads the chain head from the stream.
func (a *auditLog) load(ctx context.Context) error {
	msg, err := a.st.Audit.GetLastMsgForSubject(ctx, auditFilter(a.site))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		a.seq, a.hash, a.sseq, a.loaded = 0, "", 0, true
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: audit head: %w", err)
	}
	var r AuditRecord
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return fmt.Errorf("queue: audit head at stream seq %d: %w", msg.Sequence, err)
	}
	a.seq, a.hash, a.sseq, a.loaded = r.Seq, r.Hash, msg.Sequence, true
	return nil
}

// Append chains rec to the site's audit log and publishes it. It fills
// Seq, Prev, Hash, Site and At (if zero) and returns the record written.
func (a *auditLog) Append(ctx context.Context, rec AuditRecord) (AuditRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec.Site = a.site
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	var lastErr error
	for try := 0; try < a.maxTries; try++ {
		if !a.loaded {
			if err := a.load(ctx); err != nil {
				return AuditRecord{}, err
			}
		}
		rec.Seq, rec.Prev = a.seq+1, a.hash
		rec.Hash = rec.ComputeHash()
		b, _ := json.Marshal(rec)
		ack, err := a.st.JS.Publish(ctx, AuditSubject(a.site, rec.Action), b,
			jetstream.WithExpectLastSequenceForSubject(a.sseq, auditFilter(a.site)))
		if err == nil {
			a.seq, a.hash, a.sseq = rec.Seq, rec.Hash, ack.Sequence
			return rec, nil
		}
		lastErr = err
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			a.loaded = false // another writer appended: re-read the head
			continue
		}
		if ctx.Err() != nil {
			break
		}
		a.loaded = false
	}
	return AuditRecord{}, fmt.Errorf("queue: audit append %s: %w", rec.Action, lastErr)
}

// walkAudit calls fn for every record of a site's chain, oldest first.
func walkAudit(ctx context.Context, st *Stores, site string, fn func(r AuditRecord, raw []byte, subject string, streamSeq uint64) error) error {
	last, err := st.Audit.GetLastMsgForSubject(ctx, auditFilter(site))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: audit: %w", err)
	}
	cons, err := st.JS.OrderedConsumer(ctx, StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{auditFilter(site)},
	})
	if err != nil {
		return fmt.Errorf("queue: audit reader: %w", err)
	}
	for {
		done, err := walkBatch(ctx, cons, last.Sequence, fn)
		if err != nil || done {
			return err
		}
	}
}

// walkBatch reads one batch of audit records; done when lastSeq was seen.
func walkBatch(ctx context.Context, cons jetstream.Consumer, lastSeq uint64, fn func(r AuditRecord, raw []byte, subject string, streamSeq uint64) error) (bool, error) {
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	batch, err := cons.Fetch(256, jetstream.FetchContext(fctx))
	if err != nil {
		return false, fmt.Errorf("queue: audit read: %w", err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		md, err := m.Metadata()
		if err != nil {
			return false, fmt.Errorf("queue: audit read: %w", err)
		}
		var r AuditRecord
		dec := json.NewDecoder(bytes.NewReader(m.Data()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return false, fmt.Errorf("%w: stream seq %d: not an audit record: %v", ErrChainBroken, md.Sequence.Stream, err)
		}
		if err := fn(r, m.Data(), m.Subject(), md.Sequence.Stream); err != nil {
			return false, err
		}
		if md.Sequence.Stream >= lastSeq {
			return true, nil
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		return false, fmt.Errorf("queue: audit read: %w", err)
	}
	if n == 0 {
		return false, fmt.Errorf("queue: audit read: stream ended before sequence %d", lastSeq)
	}
	return false, nil
}

// VerifyAudit walks a site's audit chain from the first record and checks
// every link: consecutive Seq, Prev equal to the previous Hash, Hash
// recomputed from the record, the action matching the subject. It returns
// the number of records checked, or an error wrapping ErrChainBroken that
// names the first bad record.
func VerifyAudit(ctx context.Context, st *Stores, site string) (int, error) {
	var n int
	var prev string
	err := walkAudit(ctx, st, site, func(r AuditRecord, _ []byte, subject string, sseq uint64) error {
		n++
		switch {
		case r.Seq != uint64(n):
			return fmt.Errorf("%w: stream seq %d: record seq %d, want %d", ErrChainBroken, sseq, r.Seq, n)
		case r.Prev != prev:
			return fmt.Errorf("%w: record %d: prev hash does not match record %d", ErrChainBroken, r.Seq, r.Seq-1)
		case r.Hash != r.ComputeHash():
			return fmt.Errorf("%w: record %d: hash does not match its contents", ErrChainBroken, r.Seq)
		case subject != AuditSubject(site, r.Action) || r.Site != site:
			return fmt.Errorf("%w: record %d: subject %s does not match its site and action", ErrChainBroken, r.Seq, subject)
		}
		prev = r.Hash
		return nil
	})
	return n, err
}
