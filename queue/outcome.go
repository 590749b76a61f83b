package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue/journal"
)

// Outcome kinds of a card, as journaled.
const (
	OutcomePrinted = "printed" // the card came out good: delivered
	OutcomeSpoiled = "spoiled" // the card was fed and spoiled (rejected, counted): held until destroyed
	OutcomeHeld    = "held"    // no card is known to be out, but a clerk must look: held
	OutcomeRetry   = "retry"   // no card was fed: safe to print again
)

// Sinks an outcome is applied to, in this order.
const (
	sinkIssues = "card_issues"
	sinkLedger = "ledger"
	sinkAudit  = "audit"
	sinkEvent  = "event"
)

// sinksOf lists the sinks an outcome kind must reach.
func sinksOf(kind string) []string {
	switch kind {
	case OutcomePrinted:
		return []string{sinkIssues, sinkLedger, sinkAudit, sinkEvent}
	case OutcomeRetry:
		return []string{sinkLedger}
	}
	return []string{sinkLedger, sinkAudit, sinkEvent}
}

// Journal record kinds.
const (
	recIntent  = "intent"  // a card is about to be fed: the pre-feed snapshot
	recOutcome = "outcome" // what became of it
	recApplied = "applied" // one sink took the outcome
)

// jrec is one journal record. It holds no personal data: job id, card
// number and issue, printer name and what the printer said of itself.
type jrec struct {
	Kind       string            `json:"k"`
	JobID      string            `json:"job"`
	Releases   int               `json:"rel,omitempty"`
	Printer    string            `json:"printer,omitempty"`
	CardNumber string            `json:"number,omitempty"`
	Issue      int               `json:"issue,omitempty"`
	Pre        *drivers.Snapshot `json:"pre,omitempty"`
	Post       *drivers.Snapshot `json:"post,omitempty"`
	Outcome    string            `json:"outcome,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Sink       string            `json:"sink,omitempty"`
	// ChipUID is the hex UID of a printed card's chip, set only when its
	// template links the card to another system by it.
	ChipUID string    `json:"chip_uid,omitempty"`
	At      time.Time `json:"at"`
}

// key names one delivery generation of a job: its id and release count.
func (r *jrec) key() string { return r.JobID + "#" + strconv.Itoa(r.Releases) }

// pendingOutcome is a journaled outcome some sink has not taken yet.
type pendingOutcome struct {
	rec     jrec
	applied map[string]bool
	busy    bool // being applied
}

func (p *pendingOutcome) done() bool {
	for _, s := range sinksOf(p.rec.Outcome) {
		if !p.applied[s] {
			return false
		}
	}
	return true
}

// outcomeBook is the journal and what it says: the open intent of each
// printer and the outcomes not yet taken by every sink. Outcomes of the
// journal's lifetime are remembered by key so that a redelivery finds
// its job's outcome without asking the printer again.
type outcomeBook struct {
	j *journal.Journal

	mu       sync.Mutex
	intents  map[string]jrec            // printer -> its open intent
	outcomes map[string]*pendingOutcome // key -> outcome, until every sink has it
	appends  int                        // since the journal was last rewritten
	wake     chan struct{}
}

// openBook opens the journal at path, replays it, and rewrites it with
// only what is still open.
func openBook(path string, log *slog.Logger) (*outcomeBook, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("queue: outcome journal: %w", err)
	}
	j, recs, bad, err := journal.Open(path)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if bad >= 0 {
		log.Error("queue: outcome journal had a torn or corrupt tail; cut off and kept aside", "offset", bad, "path", path)
	}
	b := &outcomeBook{j: j, intents: map[string]jrec{}, outcomes: map[string]*pendingOutcome{}, wake: make(chan struct{}, 1)}
	for i, raw := range recs {
		var r jrec
		if err := json.Unmarshal(raw, &r); err != nil {
			log.Error("queue: outcome journal record unreadable; skipped", "index", i, "err", err)
			continue
		}
		b.take(r)
	}
	for k, p := range b.outcomes {
		if p.done() {
			delete(b.outcomes, k) // the ledger tells its state
		}
	}
	if keep := b.open(); len(keep) < len(recs) {
		if err := j.Rewrite(keep); err != nil {
			log.Warn("queue: could not compact the outcome journal", "err", err)
		}
	}
	return b, nil
}

// compactEvery is how many appends a journal takes before it is rewritten
// with only its open records.
const compactEvery = 1024

// open returns the records still needed: open intents, and outcomes some
// sink has not taken with the sinks that have. Call with b.mu held (or
// before the book is shared).
func (b *outcomeBook) open() [][]byte {
	var keep [][]byte
	for _, r := range b.intents {
		keep = append(keep, mustJSON(r))
	}
	for _, p := range b.outcomes {
		if p.done() {
			continue
		}
		keep = append(keep, mustJSON(p.rec))
		for s := range p.applied {
			keep = append(keep, mustJSON(jrec{Kind: recApplied, JobID: p.rec.JobID, Releases: p.rec.Releases, Sink: s, At: p.rec.At}))
		}
	}
	return keep
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// take applies one record to the book's state.
func (b *outcomeBook) take(r jrec) {
	switch r.Kind {
	case recIntent:
		// A new attempt at the job: an earlier attempt's outcome (a retry)
		// is past, since the ledger went claimed -> printing again.
		b.intents[r.Printer] = r
		delete(b.outcomes, r.key())
	case recOutcome:
		if in, ok := b.intents[r.Printer]; ok && in.key() == r.key() {
			delete(b.intents, r.Printer)
		}
		b.outcomes[r.key()] = &pendingOutcome{rec: r, applied: map[string]bool{}}
	case recApplied:
		if p, ok := b.outcomes[r.key()]; ok {
			p.applied[r.Sink] = true
		}
	}
}

// append journals r (synced) and takes it.
// The journal is rewritten with only its open records every compactEvery
// appends.
func (b *outcomeBook) append(r jrec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.j.Append(mustJSON(r)); err != nil {
		return fmt.Errorf("queue: outcome journal: %w", err)
	}
	b.take(r)
	if b.appends++; b.appends >= compactEvery {
		if err := b.j.Rewrite(b.open()); err == nil {
			b.appends = 0
		}
	}
	return nil
}

// forget drops an outcome every sink has taken: the ledger tells its
// state from now on.
func (b *outcomeBook) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.outcomes[key]; ok && p.done() {
		delete(b.outcomes, key)
	}
}

// intent returns the open intent of a printer.
func (b *outcomeBook) intent(printer string) (jrec, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.intents[printer]
	return r, ok
}

// outcome returns the journaled outcome of a job's delivery generation.
func (b *outcomeBook) outcome(jobID string, releases int) (jrec, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.outcomes[jobID+"#"+strconv.Itoa(releases)]
	if !ok {
		return jrec{}, false
	}
	return p.rec, true
}

// claim marks an outcome busy for one applier; false when another has it
// or it is done.
func (b *outcomeBook) claim(key string) (*pendingOutcome, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.outcomes[key]
	if !ok || p.busy || p.done() {
		return nil, false
	}
	p.busy = true
	return p, true
}

func (b *outcomeBook) unclaim(p *pendingOutcome) {
	b.mu.Lock()
	p.busy = false
	b.mu.Unlock()
}

// pending lists the keys of outcomes not yet taken by every sink.
func (b *outcomeBook) pending() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keys []string
	for k, p := range b.outcomes {
		if !p.done() {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// poke wakes the replayer.
func (b *outcomeBook) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// applyOutcome brings one journaled outcome to every sink that has not
// taken it, each with its own time limit, journaling each success. It
// reports whether all sinks have it now. Only one caller applies a given
// outcome at a time; another gets false at once.
func (e *workerEnv) applyOutcome(ctx context.Context, key string) bool {
	p, ok := e.book.claim(key)
	if !ok {
		return e.outcomeDone(key)
	}
	defer e.book.unclaim(p)
	r := p.rec
	for _, s := range sinksOf(r.Outcome) {
		if p.applied[s] {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, e.sinkTimeout())
		err := e.applySink(sctx, r, s)
		cancel()
		if err != nil {
			e.log.Warn("queue: outcome not yet recorded; will retry", "job_id", r.JobID, "outcome", r.Outcome, "sink", s, "err", err)
			return false
		}
		if err := e.book.append(jrec{Kind: recApplied, JobID: r.JobID, Releases: r.Releases, Sink: s, At: e.now()}); err != nil {
			e.log.Error("queue: could not journal an applied outcome", "job_id", r.JobID, "sink", s, "err", err)
			return false
		}
	}
	e.book.forget(key)
	return true
}

func (e *workerEnv) outcomeDone(key string) bool {
	e.book.mu.Lock()
	defer e.book.mu.Unlock()
	p, ok := e.book.outcomes[key]
	return ok && p.done()
}

// sinkTimeout bounds one attempt on one sink.
func (e *workerEnv) sinkTimeout() time.Duration {
	return min(max(e.cfg.AckWait/2, 2*time.Second), 30*time.Second)
}

// applySink records an outcome in one sink, idempotently where the sink
// allows (the journal's applied records keep the others to once).
func (e *workerEnv) applySink(ctx context.Context, r jrec, sink string) error {
	switch sink {
	case sinkIssues:
		m, err := e.issues.get(ctx, r.CardNumber)
		if err != nil {
			return err
		}
		return e.issues.markDelivered(ctx, r.CardNumber, r.Issue, r.JobID, r.ChipUID, m, e.now())
	case sinkLedger:
		return e.applyLedger(ctx, r)
	case sinkAudit:
		a := AuditRecord{JobID: r.JobID, CardNumber: r.CardNumber, Issue: r.Issue, Reason: r.Reason,
			Printer: r.Printer, At: r.At}
		if r.Post != nil {
			a.PrinterSerial = r.Post.Serial
		} else if r.Pre != nil {
			a.PrinterSerial = r.Pre.Serial
		}
		switch r.Outcome {
		case OutcomePrinted:
			a.Action = AuditPrinted
		case OutcomeSpoiled:
			a.Action = AuditSpoiled
		default:
			a.Action = AuditHeld
		}
		_, err := e.audit.Append(ctx, a)
		return err
	case sinkEvent:
		ev := Event{JobID: r.JobID, CardNumber: r.CardNumber, Printer: r.Printer, At: r.At, State: EventHeld, Reason: r.Reason}
		if r.Outcome == OutcomePrinted {
			ev.State, ev.Reason = EventPrinted, ""
		}
		return e.st.publishEvent(ctx, ev)
	}
	return fmt.Errorf("queue: unknown sink %q", sink)
}

// applyLedger moves the job's entry to what the outcome says, by
// compare-and-swap, unless the entry has moved on past it.
func (e *workerEnv) applyLedger(ctx context.Context, r jrec) error {
	for try := 0; try < casTries; try++ {
		cur, err := e.ledger.get(ctx, r.JobID)
		if err != nil {
			return err
		}
		next := cur
		next.Updated, next.Reason = e.now(), r.Reason
		if r.Pre != nil {
			next.Pre = r.Pre
		}
		if r.Post != nil {
			next.Post = r.Post
		}
		switch r.Outcome {
		case OutcomePrinted:
			// The card IS out: the ledger says so whatever it said.
			if cur.State == Printed {
				return nil
			}
			next.State, next.Spoiled = Printed, false
		default:
			if cur.State != Printing || cur.Releases != r.Releases {
				return nil // moved on (released, cancelled, or already settled)
			}
			switch r.Outcome {
			case OutcomeRetry:
				next.State = Claimed
			case OutcomeSpoiled:
				next.State, next.Spoiled = Held, true
			default:
				next.State = Held
			}
		}
		_, err = e.ledger.swap(ctx, r.JobID, cur.Revision, next)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if r.Outcome == OutcomePrinted && cur.State == Held {
			_ = e.st.eraseHeld(ctx, HeldSubject(e.cfg.Site, r.JobID))
		}
		return nil
	}
	return fmt.Errorf("ledger %s: too much contention", r.JobID)
}

// replayOutcomes brings journaled outcomes to the sinks that have not
// taken them, with backoff while they fail, until the daemon stops. On
// Drain it makes one last pass.
func (d *Daemon) replayOutcomes() {
	backoff := time.Second
	for {
		ok := true
		for _, k := range d.env.book.pending() {
			if d.runCtx.Err() != nil {
				return
			}
			if !d.env.applyOutcome(d.runCtx, k) {
				ok = false
			}
		}
		if ok {
			backoff = time.Second
		} else {
			backoff = min(backoff*2, 30*time.Second)
		}
		select {
		case <-time.After(backoff):
		case <-d.env.book.wake:
		case <-d.draining:
			for _, k := range d.env.book.pending() {
				d.env.applyOutcome(d.runCtx, k)
			}
			return
		case <-d.runCtx.Done():
			return
		}
	}
}
