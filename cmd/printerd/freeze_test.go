package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cityid/printerd/queue"
)

// TestNATSFreezeDuringCard runs the built daemon on an external
// nats-server (its own process, built from the module cache) and freezes
// that server (SIGSTOP) while a card is in the printer, for longer than
// the ack wait and every store time-out, then lets it go (SIGCONT). The
// printed card's record must not be dropped: every job ends printed
// exactly once, with its ledger entry, card_issues mark (delivered) and
// audit record; none stays at printing.
func TestNATSFreezeDuringCard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon, simulator and nats-server binaries; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	bin := buildPrinterd(t)
	f := newE2EFixture(t)
	srvBin := filepath.Join(t.TempDir(), "nats-server")
	if out, err := exec.Command("go", "build", "-o", srvBin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("building nats-server from the module cache: %v\n%s", err, out)
	}
	// The server runs the accounts and users printerd users config writes
	// (an authenticated bus, as a joined deployment has).
	code, accounts, errs := runCLI(ctx, "users", "config", "--state", f.state)
	if code != exitOK {
		t.Fatalf("users config: exit %d: %s", code, errs)
	}
	port := freePort(t)
	conf := filepath.Join(f.dir, "nats.conf")
	cfg := "listen: 127.0.0.1:" + itoa(port) + "\njetstream { store_dir: \"" + filepath.Join(f.dir, "js") + "\" }\n" + accounts
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startProc(t, srvBin, f.dir+"/nats.log", "-c", conf)
	if err := srv.waitLog(ctx, "Server is ready"); err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://127.0.0.1:" + itoa(port)
	sp := startSimProc(ctx, t, bin, f.dir, 0.1)
	args := []string{"run", "--state", f.state, "--nats", natsURL, f.as("inspector"), "--http", "", "--approver-keys", f.approvers,
		"--issuer-key", f.issuerKey, "--ack-wait", "2s", "--printer", "tcp://" + sp.addr}
	p := startProc(t, bin, f.dir+"/run1.log", args...)
	if err := p.waitLog(ctx, `"printerd: running"`); err != nil {
		p.exitCode(ctx)
		b, _ := os.ReadFile(p.logPath)
		t.Fatalf("%v\n%s", err, b)
	}
	_, js := f.connectRetry(t, natsURL, "inspector")
	jobs, ids := f.publishSamples(ctx, t, js, 2)
	for sp.commands("Db") < 2 {
		select {
		case <-ctx.Done():
			t.Fatal("no card started")
		case <-time.After(5 * time.Millisecond):
		}
	}
	srv.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(35 * time.Second) // longer than the ack wait (2 s) and any store time-out (30 s at most)
	srv.cmd.Process.Signal(syscall.SIGCONT)
	entries := settleJobs(ctx, t, js, ids)
	for id, e := range entries {
		if e["state"] != "printed" {
			t.Errorf("job %s: %v, want printed", id, e)
		}
	}
	kv, err := js.KeyValue(ctx, queue.BucketIssues)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		m, err := kv.Get(ctx, j.Card.Number)
		if err != nil || !strings.Contains(string(m.Value()), `"delivered":true`) {
			t.Errorf("card_issues %s: %v, want delivered", j.Card.Number, err)
		}
	}
	audit, _, err := readStream[queue.AuditRecord](ctx, js, queue.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range audit {
		if r.Action == queue.AuditPrinted {
			n[r.JobID]++
		}
	}
	for _, id := range ids {
		if n[id] != 1 {
			t.Errorf("job %s: %d printed audit records, want 1", id, n[id])
		}
	}
	sigterm(p)
	p.exitCode(ctx)
	if printed, _ := sp.stop(ctx, t); printed != len(ids) {
		t.Errorf("the printer printed %d cards for %d jobs", printed, len(ids))
	}
}
