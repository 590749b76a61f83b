package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job/sample"
)

// TestCrashMidCard kills printerd (SIGKILL) while a card is in the printer,
// restarts it on the same state directory, and checks that the job whose
// card was in the printer ends held (never printed twice) and every other
// job is printed exactly once, none lost.
func TestCrashMidCard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon binary; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	bin := buildPrinterd(t)
	f := newE2EFixture(t)
	port := freePort(t)
	// speed 0.125: about 2 s per card.
	printer := "sim://crash?" + url.Values{"out": {f.out}, "speed": {"0.125"}}.Encode()
	args := f.procArgs(port, "", printer)
	p1 := startProc(t, bin, f.dir+"/run1.log", args...)
	if err := p1.waitLog(ctx, `"printerd: running"`); err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://127.0.0.1:" + itoa(port)
	nc, js := f.connectRetry(t, natsURL, "inspector")
	printing := make(chan string, 16)
	sub, err := nc.Subscribe("cards.events.>", func(m *nats.Msg) {
		var ev queue.Event
		if json.Unmarshal(m.Data, &ev) == nil && ev.State == queue.EventPrinting {
			printing <- ev.JobID
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	jobs := sample.Jobs(4, time.Now())
	var ids []string
	for _, j := range jobs {
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(ctx, t, js, "local", "default", j), f.approver)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	var killed string
	select {
	case killed = <-printing:
	case <-ctx.Done():
		t.Fatal("no printing event")
	}
	time.Sleep(500 * time.Millisecond) // the card is in the printer now
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.exitCode(ctx)
	t.Logf("killed printerd while job %s was printing", killed)
	if files := outFiles(t, f.out); files[killed+"-front.png"] {
		t.Fatalf("the killed card was finished before the kill (printer too fast for this test)")
	}

	p2 := startProc(t, bin, f.dir+"/run2.log", args...)
	if err := p2.waitLog(ctx, `"printerd: running"`); err != nil {
		t.Fatal(err)
	}
	// Wait for the ledger to settle: the killed job held, the others printed.
	want := func(id string) queue.State {
		if id == killed {
			return queue.Held
		}
		return queue.Printed
	}
	for {
		settled := true
		for _, id := range ids {
			e, err := ledgerState(ctx, js, id)
			if err != nil || e.State != want(id) {
				settled = false
			}
		}
		if settled {
			break
		}
		select {
		case <-ctx.Done():
			for _, id := range ids {
				e, _ := ledgerState(context.Background(), js, id)
				t.Logf("job %s: ledger %s (want %s)", id, e.State, want(id))
			}
			t.Fatal("ledger did not settle")
		case <-time.After(250 * time.Millisecond):
		}
	}
	time.Sleep(time.Second) // give a wrong second print the chance to happen

	events, _, err := streamEvents(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	printed := map[string]int{}
	held := map[string]int{}
	for _, ev := range events {
		switch ev.State {
		case queue.EventPrinted:
			printed[ev.JobID]++
		case queue.EventHeld:
			held[ev.JobID]++
		}
	}
	audit, _, err := readStream[queue.AuditRecord](ctx, js, queue.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}
	auditPrinted := map[string]int{}
	for _, r := range audit {
		if r.Action == queue.AuditPrinted {
			auditPrinted[r.JobID]++
		}
	}
	files := outFiles(t, f.out)
	for _, id := range ids {
		wantPrinted := 1
		if id == killed {
			wantPrinted = 0
			if held[id] != 1 {
				t.Errorf("killed job %s: %d held events, want 1", id, held[id])
			}
		}
		if printed[id] != wantPrinted || auditPrinted[id] != wantPrinted {
			t.Errorf("job %s: %d printed events, %d printed audit records; want %d", id, printed[id], auditPrinted[id], wantPrinted)
		}
		if files[id+"-front.png"] != (wantPrinted == 1) {
			t.Errorf("job %s: simulator output present = %v, want %v", id, files[id+"-front.png"], wantPrinted == 1)
		}
	}
	if n := countSuffix(files, "-front.png"); n != len(ids)-1 {
		t.Errorf("%d cards out of the simulator, want %d", n, len(ids)-1)
	}

	// A clerk sees the held job.
	code, out, errs := runCLI(ctx, "jobs", "held", "--nats", natsURL, f.as("clerk-1"), "--json")
	if code != exitOK || !strings.Contains(out, killed) {
		t.Errorf("jobs held: exit %d, out %q, err %q: want the killed job", code, out, errs)
	}

	// The clerk releases it: it prints, once.
	code, out, errs = runCLI(ctx, "jobs", "release", killed, "--reason", "printer-fixed", "--nats", natsURL, f.as("clerk-1"))
	if code != exitOK || !strings.Contains(out, "claimed") {
		t.Fatalf("jobs release: exit %d, out %q, err %q", code, out, errs)
	}
	for {
		e, err := ledgerState(ctx, js, killed)
		if err == nil && e.State == queue.Printed {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("released job not printed: ledger %+v", e)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if files := outFiles(t, f.out); !files[killed+"-front.png"] || countSuffix(files, "-front.png") != len(ids) {
		t.Errorf("after release: %d cards out, want %d", countSuffix(files, "-front.png"), len(ids))
	}
	killedCard := ""
	for _, j := range jobs {
		if j.ID == killed {
			killedCard = j.Card.Number
		}
	}
	code, out, _ = runCLI(ctx, "jobs", "history", killedCard, "--nats", natsURL, f.as("clerk-1"))
	if code != exitOK || !strings.Contains(out, "clerk-1") {
		t.Errorf("jobs history does not name the releasing clerk:\n%s", out)
	}

	// SIGHUP reloads; SIGTERM drains and exits 0.
	p2.cmd.Process.Signal(syscall.SIGHUP)
	if err := p2.waitLog(ctx, `"printerd: reloaded"`); err != nil {
		t.Error(err)
	}
	sigterm(p2)
	if code, err := p2.exitCode(ctx); err != nil || code != 0 {
		t.Errorf("after SIGTERM: exit %d, %v", code, err)
	}
	if err := p2.waitLog(ctx, `"printerd: stopped"`); err != nil {
		t.Error(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestSecondSignal: SIGTERM starts the drain (the card in the printer
// finishes); a second SIGTERM stops at once, exit status 1. The "printing"
// event comes before the printer feeds the card, so the second signal may
// land before or after the feed, and each has one right outcome: a card
// that was fed is held at the next start, never printed again; a card
// that was not fed yet goes back to claimed (the driver says so, the log
// says "retrying") and is printed once at the next start.
func TestSecondSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon binary; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bin := buildPrinterd(t)
	f := newE2EFixture(t)
	port := freePort(t)
	printer := "sim://sig?" + url.Values{"out": {f.out}, "speed": {"0.25"}}.Encode() // ~7 s a card
	args := f.procArgs(port, "", printer)
	p1 := startProc(t, bin, f.dir+"/run1.log", args...)
	if err := p1.waitLog(ctx, `"printerd: running"`); err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://127.0.0.1:" + strconv.Itoa(port)
	nc, js := f.connectRetry(t, natsURL, "inspector")
	evs := watchEvents(t, nc)
	j := f.publishSample(ctx, t, js)
	if err := evs.waitFor(ctx, []string{j.ID}, queue.EventPrinting); err != nil {
		t.Fatal(err)
	}
	sigterm(p1)
	if err := p1.waitLog(ctx, "taking no new job"); err != nil {
		t.Fatal(err)
	}
	sigterm(p1)
	start := time.Now()
	code, err := p1.exitCode(ctx)
	if err != nil || code != exitFail {
		t.Errorf("after a second SIGTERM: exit %d, %v; want 1", code, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second SIGTERM took %s to stop the daemon", d)
	}
	if err := p1.waitLog(ctx, "second signal"); err != nil {
		t.Error(err)
	}
	if outFiles(t, f.out)[j.ID+"-front.png"] {
		t.Fatal("the card finished before the second signal: printer too fast for this test")
	}
	log1, _ := os.ReadFile(f.dir + "/run1.log")
	notFed := strings.Contains(string(log1), "print failed before the card was fed; retrying") &&
		!strings.Contains(string(log1), "could not return the job to claimed") // then it stays printing: held
	p2 := startProc(t, bin, f.dir+"/run2.log", args...)
	if err := p2.waitLog(ctx, `"printerd: running"`); err != nil {
		t.Fatal(err)
	}
	want := queue.Held
	if notFed {
		want = queue.Printed
	}
	t.Logf("second signal landed %s the feed: want the job %s", map[bool]string{true: "before", false: "after"}[notFed], want)
	for {
		e, err := ledgerState(ctx, js, j.ID)
		if err == nil && e.State == want {
			break
		}
		if err == nil && e.State != want && (e.State == queue.Held || e.State == queue.Printed) {
			t.Fatalf("ledger %+v; want %s (card fed before the second signal: %v)", e, want, !notFed)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("interrupted job not %s: ledger %+v", want, e)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if notFed && !outFiles(t, f.out)[j.ID+"-front.png"] {
		t.Error("the job not fed before the second signal is printed in the ledger but the simulator has no card")
	}
	sigterm(p2)
	p2.exitCode(ctx)
}
