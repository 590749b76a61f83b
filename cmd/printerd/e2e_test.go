package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job/sample"
)

// simURI is a sim:// printer URI with a test-unique device name (each
// daemon opens it in its own sim.Registry, daemonDeps.sims).
func simURI(t testing.TB, name, out string, extra url.Values) string {
	t.Helper()
	full := name + "-" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	q := url.Values{"out": {out}, "speed": {"0"}, "name": {name}}
	for k, v := range extra {
		q[k] = v
	}
	return "sim://" + full + "?" + q.Encode()
}

// TestEndToEnd runs printerd run in-process against its embedded
// nats-server: jobs published with printerd submit come out of simulated
// printers; a duplicate prints once; forged, altered, unsigned and
// malformed jobs are rejected and never printed.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	cfg := f.config(
		simURI(t, "desk", f.out, nil),
		simURI(t, "back", f.out, url.Values{"pool": {"back"}}),
	)
	sims := &sim.Registry{}
	p := startInProcess(t, cfg, daemonDeps{sims: sims})
	natsURL := p.d.NATSURL()
	if !strings.HasPrefix(natsURL, "nats://127.0.0.1:") {
		t.Fatalf("embedded server URL %q: want a 127.0.0.1 listener", natsURL)
	}
	// The enrollment system's side: a TCP client with its nkey.
	nc, js := f.connect(t, natsURL, "enr")
	_, ijs := f.connect(t, natsURL, "inspector") // reads the ledger and streams
	evs := watchEvents(t, nc)

	jobs := sample.Jobs(3, time.Now())
	var good []string
	pins := f.pinDir(t) // enrollment pins the daemon's key
	for i, j := range jobs {
		path := filepath.Join(f.dir, j.ID+".json")
		os.WriteFile(path, sample.Body(j), 0o600) // a plain card file
		args := []string{"submit", path, "--approver-key", f.approverKey, "--daemon-keys", pins, "--nats", natsURL, f.as("enr")}
		if i == 2 {
			args = append(args, "--pool", "back")
		}
		code, out, errs := runCLI(ctx, args...)
		if code != exitOK || !strings.Contains(out, "published job "+j.ID) {
			t.Fatalf("submit %d: exit %d, out %q, err %q", i, code, out, errs)
		}
		good = append(good, j.ID)
	}
	// The same card again: submit seals it afresh (a new content key), so
	// its body, signature and Nats-Msg-Id (job.MsgID) differ and the stream
	// keeps it; the ledger skips it (printed once, checked below).
	dupPath := filepath.Join(f.dir, jobs[0].ID+".json")
	code, out, _ := runCLI(ctx, "submit", dupPath, "--approver-key", f.approverKey, "--daemon-keys", pins, "--nats", natsURL, f.as("enr"), "--json")
	var ack struct{ Duplicate bool }
	if code != exitOK || json.Unmarshal([]byte(out), &ack) != nil {
		t.Errorf("second submit of a card: exit %d, out %q", code, out)
	}

	// Bad jobs, each with its own Nats-Msg-Id so its rejection event is
	// on cards.events.<that id>.
	subject := queue.JobsSubject("local", "default")
	bad := map[string]*nats.Msg{}
	mk := func(n int) ([]byte, string) {
		j := sample.Jobs(10+n, time.Now())[9+n]
		return f.sealed(ctx, t, js, "local", "default", j), j.ID
	}
	{ // forged: signed by an untrusted key
		body, id := mk(1)
		bad["forged-unknown-key"] = signed(subject, id, body, f.rogue)
	}
	{ // forged: untrusted key's signature under the trusted key id
		body, id := mk(2)
		m := signed(subject, id, body, f.rogue)
		m.Header.Set("Approval-Key", f.trusted)
		bad["forged-trusted-kid"] = m
	}
	{ // altered after approval
		body, id := mk(3)
		m := signed(subject, id, body, f.approver)
		m.Data = []byte(strings.Replace(string(body), "SAMPLE-", "SAMPLX-", 1))
		bad["altered"] = m
	}
	{ // unsigned
		body, id := mk(4)
		m := nats.NewMsg(subject)
		m.Data = body
		m.Header.Set("Nats-Msg-Id", id)
		bad["unsigned"] = m
	}
	{ // malformed: properly signed, but not the v2 contract
		id := uuid.NewString()
		body := []byte(`{"v":2,"job_id":"` + id + `","kind":"issue","card":{"number":"BAD-0001"},"surprise":true}`)
		bad["malformed"] = signed(subject, id, body, f.approver)
	}
	{ // malformed JSON, signed
		id := uuid.NewString()
		bad["not-json"] = signed(subject, id, []byte(`{"v":2,`), f.approver)
	}
	var badIDs []string
	eventKey := func(name string, m *nats.Msg) string {
		if name == "not-json" {
			return "invalid" // no job id can be read: cards.events.invalid
		}
		id, _, _ := strings.Cut(m.Header.Get("Nats-Msg-Id"), ".") // the job id part (job.MsgID)
		return id
	}
	for name, m := range bad {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
		badIDs = append(badIDs, eventKey(name, m))
	}

	if err := evs.waitFor(ctx, good, queue.EventPrinted); err != nil {
		t.Fatal(err)
	}
	if err := evs.waitFor(ctx, badIDs, queue.EventRejected); err != nil {
		t.Fatal(err)
	}
	for name, m := range bad {
		ev, _ := evs.last(eventKey(name, m))
		if ev.Reason == "" {
			t.Errorf("%s: rejected event without a reason", name)
		}
		t.Logf("%s: rejected: %s", name, ev.Reason)
	}
	// Let any late duplicate delivery show itself before counting.
	time.Sleep(500 * time.Millisecond)

	files := outFiles(t, f.out)
	for _, id := range good {
		for _, sfx := range []string{"-front.png", "-back.png"} {
			if !files[id+sfx] {
				t.Errorf("job %s: no %s from the simulator", id, sfx)
			}
		}
		e, err := ledgerState(ctx, ijs, id)
		if err != nil || e.State != queue.Printed {
			t.Errorf("job %s: ledger %+v, %v; want printed", id, e, err)
		}
	}
	for _, m := range bad {
		id := m.Header.Get("Nats-Msg-Id")
		for name := range files {
			if strings.HasPrefix(name, id) {
				t.Errorf("rejected job %s has output %s", id, name)
			}
		}
		if e, _ := ledgerState(ctx, ijs, id); e.State == queue.Printed || e.State == queue.Printing {
			t.Errorf("rejected job %s: ledger %s", id, e.State)
		}
	}
	// What came out of the printer is the approved, signed card: the
	// barcode on the printed back scans and verifies with the issuer key.
	code, vout, verr := runCLI(ctx, "verify", "--image", filepath.Join(f.out, good[0]+"-back.png"), "--keys", filepath.Join(f.keys, "issuer.pub"), "--json")
	if code != exitOK || !strings.Contains(vout, jobs[0].Card.Number) {
		t.Errorf("verify the printed card: exit %d, out %q, err %q", code, vout, verr)
	}
	if len(files) != 2*len(good) {
		t.Errorf("%d files in the out dir, want %d: %v", len(files), 2*len(good), files)
	}
	// The third job went to pool "back" and so to its only printer.
	if e, _ := ledgerState(ctx, ijs, good[2]); !strings.HasPrefix(e.Printer, "back") {
		t.Errorf("pool back job printed by %q", e.Printer)
	}
	// The duplicate printed once: one printed event, one audit record.
	events, _, err := streamEvents(ctx, ijs)
	if err != nil {
		t.Fatal(err)
	}
	printed := map[string]int{}
	for _, ev := range events {
		if ev.State == queue.EventPrinted {
			printed[ev.JobID]++
		}
	}
	for _, id := range good {
		if printed[id] != 1 {
			t.Errorf("job %s: %d printed events, want 1", id, printed[id])
		}
	}
	if dev := sims.Lookup(strings.TrimPrefix(strings.SplitN(cfg.Printers[0], "?", 2)[0], "sim://")); dev == nil {
		t.Error("simulator device not found")
	} else if n := len(dev.Cards()); n != 2 {
		t.Errorf("desk simulator printed %d cards, want 2", n)
	}

	// Clerk commands through the daemon's jobs service.
	code, out, errs := runCLI(ctx, "jobs", "status", good[0], "--nats", natsURL, f.as("clerk-1"), "--json")
	var st queue.Entry
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.State != queue.Printed {
		t.Errorf("jobs status: exit %d, out %q, err %q", code, out, errs)
	}
	code, out, errs = runCLI(ctx, "jobs", "history", jobs[0].Card.Number, "--nats", natsURL, f.as("clerk-1"), "--json")
	var hist []queue.AuditRecord
	if code != exitOK || json.Unmarshal([]byte(out), &hist) != nil {
		t.Errorf("jobs history: exit %d, out %q, err %q", code, out, errs)
	}
	n := 0
	for _, r := range hist {
		if r.Action == queue.AuditPrinted && r.JobID == good[0] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("history of %s: %d printed records, want 1", jobs[0].Card.Number, n)
	}
	if code, _, errs := runCLI(ctx, "jobs", "cancel", good[0], "--nats", natsURL, f.as("clerk-1")); code != exitUsage || !strings.Contains(errs, "--reason") {
		t.Errorf("jobs cancel without --reason: exit %d, %q", code, errs)
	}
	if code, _, _ := runCLI(ctx, "jobs", "status", good[0], "--nats", natsURL, f.as("clerk-1"), "--site", "elsewhere", "--timeout", "2s"); code != exitFail {
		t.Errorf("jobs status on an unserved site: exit %d, want 1", code)
	}

	// HTTP: health and metrics.
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "go_goroutines"} {
		resp, err := http.Get("http://" + p.d.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, want 200 with %q", path, resp.StatusCode, want)
		}
	}
	if code := p.shutdown(t); code != exitOK {
		t.Errorf("daemon exit %d after drain, want 0", code)
	}
}
