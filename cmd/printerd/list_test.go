package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job/sample"
)

// TestJobsListAndPrinters: with the printer paused, queued jobs show in
// `printerd jobs list` per pool with their ids (read from the headers-only
// queue index, never a body); a queued job is cancelled and its message
// erased from CARD_JOBS; `printerd printers` shows the printer paused with
// its ribbon; once resumed only the job not cancelled prints.
func TestJobsListAndPrinters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	cfg := f.config(simURI(t, "desk", f.out, nil))
	sims := &sim.Registry{}
	p := startInProcess(t, cfg, daemonDeps{sims: sims})
	nats := p.d.NATSURL()
	if code, _, errs := runCLI(ctx, "diag", "pause", "desk", "--nats", nats, f.as("tech-1")); code != exitOK {
		t.Fatalf("diag pause: exit %d %s", code, errs)
	}
	enc, js := f.connect(t, nats, "enr")
	_, ijs := f.connect(t, nats, "inspector") // reads the streams, as only a daemon may
	evs := watchEvents(t, enc)
	jobs := sample.Jobs(2, time.Now())
	for _, j := range jobs {
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(ctx, t, js, "local", "default", j), f.approver)); err != nil {
			t.Fatal(err)
		}
	}
	var l queue.JobList
	for {
		code, out, errs := runCLI(ctx, "jobs", "list", "--json", "--nats", nats, f.as("clerk-1"))
		if code != exitOK || json.Unmarshal([]byte(out), &l) != nil {
			t.Fatalf("jobs list: exit %d %q %q", code, out, errs)
		}
		if len(l.Jobs) == 2 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(l.Pools) != 1 || l.Pools[0].Pool != "default" || l.Pools[0].Queued != 2 || l.Pools[0].Oldest.IsZero() {
		t.Errorf("pools %+v; want default with 2 queued", l.Pools)
	}
	for i, lj := range l.Jobs {
		if lj.JobID != jobs[i].ID || lj.State != queue.Queued || lj.Pool != "default" || lj.Seq == 0 {
			t.Errorf("listed job %d: %+v; want %s queued in default", i, lj, jobs[i].ID)
		}
	}
	code, out, _ := runCLI(ctx, "jobs", "list", "--nats", nats, f.as("clerk-1"))
	if code != exitOK || !strings.Contains(out, jobs[0].ID) || !strings.Contains(out, "queued") {
		t.Errorf("jobs list (text): exit %d\n%s", code, out)
	}
	// The index holds headers only.
	idx, err := ijs.Stream(ctx, queue.StreamQueued)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := idx.GetMsg(ctx, seq)
		if err != nil || len(m.Data) != 0 {
			t.Errorf("queue index message %d: %d body bytes, %v; want headers only", seq, len(m.Data), err)
		}
	}

	code, out, errs := runCLI(ctx, "jobs", "cancel", jobs[0].ID, "--reason", "withdrawn", "--nats", nats, "--json", f.as("clerk-1"))
	var e queue.Entry
	if code != exitOK || json.Unmarshal([]byte(out), &e) != nil || e.State != queue.Cancelled {
		t.Fatalf("cancel a queued job: exit %d %q %q", code, out, errs)
	}
	jobsStream, _ := ijs.Stream(ctx, queue.StreamJobs)
	if _, err := jobsStream.GetMsg(ctx, l.Jobs[0].Seq); err == nil {
		t.Error("the cancelled job's message is still in CARD_JOBS")
	}
	if code, _, _ := runCLI(ctx, "jobs", "cancel", jobs[0].ID, "--reason", "withdrawn", "--nats", nats, f.as("clerk-1")); code != exitFail {
		t.Errorf("cancel twice: exit %d; want 1", code)
	}

	code, out, errs = runCLI(ctx, "printers", "--json", "--nats", nats, f.as("clerk-1"))
	var ps []queue.PrinterStatus
	if code != exitOK || json.Unmarshal([]byte(out), &ps) != nil || len(ps) != 1 || !ps[0].Paused || ps[0].Ribbon != "ymcko" || ps[0].Pool != "default" {
		t.Errorf("printers: exit %d %q %q; want desk paused with its ribbon", code, out, errs)
	}
	code, out, _ = runCLI(ctx, "printers", "--nats", nats, f.as("clerk-1"))
	if code != exitOK || !strings.Contains(out, "paused") || !strings.Contains(out, "ymcko") {
		t.Errorf("printers (text): exit %d\n%s", code, out)
	}
	code, out, errs = runCLI(ctx, "diag", "status", "desk", "--nats", nats, "--json", f.as("tech-1"))
	if code != exitOK || !strings.Contains(out, `"paused":true`) {
		t.Errorf("diag status of a paused printer: exit %d %q %q; want paused:true", code, out, errs)
	}
	if code, _, errs := runCLI(ctx, "diag", "resume", "desk", "--nats", nats, f.as("tech-1")); code != exitOK {
		t.Fatalf("diag resume: exit %d %s", code, errs)
	}
	if err := evs.waitFor(ctx, []string{jobs[1].ID}, queue.EventPrinted); err != nil {
		t.Fatal(err)
	}
	if files := outFiles(t, f.out); files[jobs[0].ID+"-front.png"] || !files[jobs[1].ID+"-front.png"] {
		t.Errorf("printed %v; want only the job not cancelled", files)
	}
}
