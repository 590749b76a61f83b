package queue

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
)

// The outcome book replays its journal: an open intent and an outcome
// that not every sink took survive a restart, with the sinks that did;
// what is done is dropped when the journal is compacted at open.
func TestOutcomeBookReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outcomes.journal")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := openBook(path, log)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0).UTC()
	pre := &drivers.Snapshot{Serial: "S", Printed: 3, Rejected: -1, Card: drivers.CardNone}
	for _, r := range []jrec{
		{Kind: recIntent, JobID: "a", Printer: "p0", Pre: pre, At: at},
		{Kind: recOutcome, JobID: "a", Printer: "p0", Outcome: OutcomePrinted, Pre: pre, At: at},
		{Kind: recApplied, JobID: "a", Sink: sinkIssues, At: at},
		{Kind: recApplied, JobID: "a", Sink: sinkLedger, At: at},
		{Kind: recIntent, JobID: "b", Printer: "p1", Pre: pre, At: at},
		{Kind: recIntent, JobID: "c", Printer: "p2", Pre: pre, At: at},
		{Kind: recOutcome, JobID: "c", Printer: "p2", Outcome: OutcomeRetry, At: at},
		{Kind: recApplied, JobID: "c", Sink: sinkLedger, At: at},
	} {
		if err := b.append(r); err != nil {
			t.Fatal(err)
		}
	}
	b.j.Close()
	b, err = openBook(path, log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.j.Close()
	if in, ok := b.intent("p1"); !ok || in.JobID != "b" || in.Pre == nil || *in.Pre != *pre {
		t.Errorf("p1's open intent = %+v, %v; want job b with its snapshot", in, ok)
	}
	if _, ok := b.intent("p0"); ok {
		t.Errorf("p0's intent is still open after its outcome")
	}
	if got := b.pending(); len(got) != 1 || got[0] != "a#0" {
		t.Fatalf("pending = %v, want only a#0", got)
	}
	p := b.outcomes["a#0"]
	if !p.applied[sinkIssues] || !p.applied[sinkLedger] || p.applied[sinkAudit] || p.done() {
		t.Errorf("a#0 applied %v: want card_issues and ledger, not audit or event", p.applied)
	}
	if _, ok := b.outcome("c", 0); ok {
		t.Errorf("a done outcome (c) survived compaction")
	}
}
