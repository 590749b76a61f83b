package sample_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

var today = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

func TestJobsValidAndUnique(t *testing.T) {
	jobs := sample.Jobs(25, today)
	if len(jobs) != 25 {
		t.Fatalf("Jobs(25) gave %d jobs", len(jobs))
	}
	ids, numbers := map[string]bool{}, map[string]bool{}
	for i, j := range jobs {
		got, err := job.Parse(sample.Body(j))
		if err != nil {
			t.Fatalf("job %d does not parse: %v", i, err)
		}
		if got.Card != j.Card || got.ID != j.ID || got.Kind != job.KindIssue || got.Template != "municipal-id" {
			t.Errorf("job %d changed in a Body/Parse round trip", i)
		}
		if ids[j.ID] || numbers[j.Card.Number] {
			t.Errorf("job %d: duplicate job id or card number", i)
		}
		ids[j.ID], numbers[j.Card.Number] = true, true
		if j.Card.Issue != 1 || j.Card.Issued != "2026-01-15" || j.Card.Expires != "2031-01-15" {
			t.Errorf("job %d: issue %d issued %s expires %s; want 1, 2026-01-15, 2031-01-15",
				i, j.Card.Issue, j.Card.Issued, j.Card.Expires)
		}
	}
}

func TestJobsDeterministic(t *testing.T) {
	a, b := sample.Jobs(4, today), sample.Jobs(4, today)
	for i := range a {
		if !bytes.Equal(sample.Body(a[i]), sample.Body(b[i])) {
			t.Fatalf("job %d differs between two calls", i)
		}
	}
	c := sample.Jobs(1, today.AddDate(0, 0, 1))
	if c[0].ID == a[0].ID {
		t.Error("jobs of two different days share a job id; NATS dedup would drop the second")
	}
}

func TestReprint(t *testing.T) {
	orig := sample.Jobs(1, today)[0]
	before := sample.Body(orig)
	r := sample.Reprint(orig, "lost")
	if !bytes.Equal(before, sample.Body(orig)) {
		t.Fatal("Reprint modified the original job")
	}
	got, err := job.Parse(sample.Body(r))
	if err != nil {
		t.Fatalf("reprint does not parse: %v", err)
	}
	if got.Kind != job.KindReprint || got.Card.Issue != 2 || got.ID == orig.ID ||
		got.Reprint == nil || got.Reprint.OfJob != orig.ID || got.Reprint.Reason != "lost" {
		t.Errorf("reprint: kind %s issue %d of_job ok=%v", got.Kind, got.Card.Issue, got.Reprint != nil && got.Reprint.OfJob == orig.ID)
	}
	r2 := sample.Reprint(r, "damaged")
	if r2.Card.Issue != 3 || r2.ID == r.ID || r2.Card.Number != orig.Card.Number {
		t.Errorf("second reprint: issue %d, want 3, new id, same number", r2.Card.Issue)
	}
}
