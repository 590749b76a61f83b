package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// capture is everything one connection received.
type capture struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (c *capture) add(b []byte) {
	c.mu.Lock()
	c.msgs = append(c.msgs, bytes.Clone(b))
	c.mu.Unlock()
}

func (c *capture) holds(s string) (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if bytes.Contains(m, []byte(s)) {
			return true, len(c.msgs)
		}
	}
	return false, len(c.msgs)
}

// TestNoRoleSeesAJobBody: every user but a daemon subscribes to ">" and
// to everything its role may subscribe to, and tries to read CARD_JOBS and
// CARD_HELD, while jobs print, one is held, a clerk lists the held jobs
// and a technician reads a printer's status: none of them receives a byte
// of a job body. The positive control: a daemon user reads the held body
// and finds the invented name.
func TestNoRoleSeesAJobBody(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	cfg := f.config(
		simURI(t, "desk", f.out, nil),
		simURI(t, "jammed", f.out, url.Values{"pool": {"jam"}, "faults": {"jam=k"}}),
	)
	p := startInProcess(t, cfg, daemonDeps{})
	natsURL := p.d.NATSURL()
	users, err := embedded.LoadUsers(f.state + "/users.json")
	if err != nil {
		t.Fatal(err)
	}
	const name = "Ysoldine Quarnbeck-Velloro" // invented, in every job
	caps := map[string]*capture{}
	jss := map[string]jetstream.JetStream{}
	for _, u := range users {
		if u.Role == embedded.RoleDaemon {
			continue
		}
		c := &capture{}
		caps[u.Name] = c
		nc, js := f.connect(t, natsURL, u.Name, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		perms, _ := embedded.RolePermissions(u)
		for _, subj := range append([]string{">", "_INBOX.>", "cards.jobs.>", "cards.held.>", "$JS.>"}, perms.SubAllow...) {
			nc.Subscribe(subj, func(m *nats.Msg) { c.add(m.Data) })
		}
		nc.Flush()
		jss[u.Name] = js
	}

	nc, js := f.connect(t, natsURL, "enr")
	evs := watchEvents(t, nc)
	jobs := sample.Jobs(3, time.Now())
	for i, j := range jobs {
		j.Card.Name = name
		pool := "default"
		if i == 0 {
			pool = "jam"
		}
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", pool), j.ID, f.sealed(ctx, t, js, "local", pool, j), f.approver)); err != nil {
			t.Fatal(err)
		}
	}
	if err := evs.waitFor(ctx, []string{jobs[1].ID, jobs[2].ID}, queue.EventPrinted); err != nil {
		t.Fatal(err)
	}
	if err := evs.waitFor(ctx, []string{jobs[0].ID}, queue.EventHeld); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(ctx, "jobs", "held", "--nats", natsURL, f.as("clerk-1"), "--json"); code != exitOK || !strings.Contains(out, jobs[0].ID) {
		t.Fatalf("jobs held: exit %d, %q %q", code, out, errs)
	}
	if code, out, errs := runCLI(ctx, "jobs", "held", "--nats", natsURL, f.as("console-1")); code != exitOK {
		t.Fatalf("jobs held as console: exit %d, %q %q", code, out, errs)
	}
	if code, out, errs := runCLI(ctx, "diag", "status", "jammed", "--nats", natsURL, f.as("tech-1")); code != exitOK {
		t.Fatalf("diag status: exit %d, %q %q", code, out, errs)
	}
	time.Sleep(300 * time.Millisecond)

	// Positive control: a daemon user reads the held body, sealed (contract
	// v2), and the daemon's epoch keys open it to the name.
	_, ijs := f.connect(t, natsURL, "inspector")
	held, err := ijs.Stream(ctx, queue.StreamHeld)
	if err != nil {
		t.Fatal(err)
	}
	m, err := held.GetLastMsgForSubject(ctx, queue.HeldSubject("local", jobs[0].ID))
	if err != nil {
		t.Fatalf("positive control: the daemon user could not read the held body (%v)", err)
	}
	if bytes.Contains(m.Data, []byte(name)) {
		t.Fatal("the held body holds the name in the clear")
	}
	env, err := job.ParseEnvelope(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	keys, _, err := daemon.OpenKeys(f.state)
	if err != nil {
		t.Fatal(err)
	}
	if opened, err := env.OpenAt(keys, time.Now()); err != nil || opened.Card.Name != name {
		t.Fatalf("positive control: the held body does not open to the name (%v)", err)
	}
	// Every other user tries to read the body streams directly.
	for who, js := range jss {
		c := caps[who]
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		for _, s := range []string{queue.StreamJobs, queue.StreamHeld} {
			if str, err := js.Stream(rctx, s); err == nil {
				if m, err := str.GetLastMsgForSubject(rctx, ">"); err == nil {
					c.add(m.Data)
				}
				if cons, err := str.OrderedConsumer(rctx, jetstream.OrderedConsumerConfig{}); err == nil {
					if m, err := cons.Next(jetstream.FetchMaxWait(time.Second)); err == nil {
						c.add(m.Data())
					}
				}
			}
		}
		rcancel()
	}
	checkCaps := func() {
		for who, c := range caps {
			if found, n := c.holds(name); found {
				t.Errorf("%s captured a job body (%d messages captured)", who, n)
			}
		}
		if _, n := caps["enr"].holds(name); n == 0 {
			t.Errorf("enrollment captured nothing: the capture proves nothing (it should see events)")
		}
		if _, n := caps["clerk-1"].holds(name); n == 0 {
			t.Errorf("the clerk captured nothing: the capture proves nothing (it should see its held list)")
		}
	}
	checkCaps()
}

// TestAuditEvidence: an auditor exports the site's chain and verifies it
// offline against the daemon's public key; a forged or truncated export
// is refused. When the audit stream is deleted (by an admin, the only role
// that may), the daemon stops taking jobs and says so (metric, log), and
// still does after a restart.
func TestAuditEvidence(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	cfg := f.config(simURI(t, "audit", f.out, nil))
	p := startInProcess(t, cfg, daemonDeps{})
	natsURL := p.d.NATSURL()
	nc, js := f.connect(t, natsURL, "enr")
	evs := watchEvents(t, nc)
	var j *job.Job
	for i := 0; i < 3; i++ {
		j = sample.Jobs(10+i, time.Now())[9+i]
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(ctx, t, js, "local", "default", j), f.approver)); err != nil {
			t.Fatal(err)
		}
		if err := evs.waitFor(ctx, []string{j.ID}, queue.EventPrinted); err != nil {
			t.Fatal(err)
		}
	}

	code, export, errs := runCLI(ctx, "audit", "export", "--nats", natsURL, f.as("auditor-1"))
	if code != exitOK || !strings.Contains(export, j.ID) {
		t.Fatalf("audit export: exit %d, %q %q", code, export, errs)
	}
	keys := filepath.Join(f.dir, "audit-keys")
	os.MkdirAll(keys, 0o755)
	pub, _ := os.ReadFile(filepath.Join(f.state, "daemon.pub"))
	os.WriteFile(filepath.Join(keys, "desk-daemon.pub"), pub, 0o644)
	verify := func(export string) (int, string) {
		file := filepath.Join(f.dir, "audit.jsonl")
		os.WriteFile(file, []byte(export), 0o600)
		code, out, errs := runCLI(ctx, "audit", "verify", "--keys", keys, file)
		return code, out + errs
	}
	if code, out := verify(export); code != exitOK || !strings.Contains(out, "3 records in 1 chains verified") {
		t.Fatalf("audit verify of the export: exit %d, %s", code, out)
	}
	lines := strings.SplitAfter(strings.TrimSpace(export), "\n")
	forged := strings.Replace(export, j.Card.Number, "FORGED-0001", 1)
	for name, exp := range map[string]string{
		"forged":    forged,
		"truncated": strings.Join(lines[1:], ""),
	} {
		if code, out := verify(exp); code != exitFail || !strings.Contains(out, "audit chain broken") {
			t.Errorf("audit verify of a %s export: exit %d, %s", name, code, out)
		}
	}
	os.Remove(filepath.Join(keys, "desk-daemon.pub"))
	other, _ := keyfile.New(keyfile.Ed25519)
	keyfile.WritePair(keys, "other", other)
	if code, out := verify(export); code != exitFail || !strings.Contains(out, "not among the trusted keys") {
		t.Errorf("audit verify with another daemon's key: exit %d, %s", code, out)
	}

	// The admin deletes CARD_AUDIT: the daemon prints nothing more.
	_, ajs := f.connect(t, natsURL, "admin-1")
	if err := ajs.DeleteStream(ctx, queue.StreamAudit); err != nil {
		t.Fatalf("admin delete of CARD_AUDIT: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.d.Queue().AuditHealthy() == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.d.Queue().AuditHealthy(); err == nil {
		t.Fatal("the daemon did not notice its audit stream was deleted")
	}
	j2 := sample.Jobs(2, time.Now())[1]
	if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j2.ID, f.sealed(ctx, t, js, "local", "default", j2), f.approver)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if slices.Contains(evs.states(j2.ID), queue.EventPrinting) {
		t.Fatal("the daemon printed a job after its audit stream was deleted")
	}
	resp, err := http.Get("http://" + p.d.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "printerd_audit_chain_ok 0") {
		t.Error("metrics do not say printerd_audit_chain_ok 0")
	}
	if !strings.Contains(string(p.log.Bytes()), "AUDIT CHAIN BROKEN") {
		t.Error("no AUDIT CHAIN BROKEN error in the log")
	}
	if !slices.Contains(evs.states("audit-"+p.d.Queue().AuditKID()), queue.EventAuditBroken) {
		t.Error("no audit-broken event for enrollment systems")
	}
	p.shutdown(t)
	// Restarted, on a recreated empty stream: still no job.
	p2 := startInProcess(t, cfg, daemonDeps{})
	if err := p2.d.Queue().AuditHealthy(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("after a restart on a recreated audit stream: %v, want the chain missing", err)
	}
	time.Sleep(2 * time.Second)
	if slices.Contains(evs.states(j2.ID), queue.EventPrinting) {
		t.Error("the restarted daemon printed without its audit chain")
	}
}

// TestUsersConfig: printerd users config writes a nats-server
// configuration the server itself accepts, with every role's account.
func TestUsersConfig(t *testing.T) {
	f := newE2EFixture(t)
	code, out, errs := runCLI(context.Background(), "users", "config", "--state", f.state)
	if code != exitOK {
		t.Fatalf("users config: exit %d: %s", code, errs)
	}
	path := filepath.Join(f.dir, "accounts.conf")
	os.WriteFile(path, []byte(out), 0o600)
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server refuses the written configuration: %v", err)
	}
	accs := map[string]bool{}
	for _, a := range opts.Accounts {
		accs[a.Name] = true
	}
	for _, want := range []string{"PRINTERD", "CLERK", "TECHNICIAN", "CONSOLE"} {
		if !accs[want] {
			t.Errorf("account %s missing from the configuration", want)
		}
	}
	if len(opts.Nkeys) != len(fixtureUsers) {
		t.Errorf("%d nkey users in the configuration, want %d", len(opts.Nkeys), len(fixtureUsers))
	}
	code, out, _ = runCLI(context.Background(), "users", "list", "--state", f.state)
	if code != exitOK || !strings.Contains(out, "clerk-1") || !strings.Contains(out, "enrollment") {
		t.Errorf("users list: exit %d, %q", code, out)
	}
	if code, _, errs := runCLI(context.Background(), "users", "add", "--state", f.state, "--role", "clerk", "--seed", filepath.Join(f.dir, "again.nk"), "clerk-1"); code == exitOK || !strings.Contains(errs, "already") {
		t.Errorf("users add of an existing name: exit %d, %q", code, errs)
	}
	if code, _, _ := runCLI(context.Background(), "users", "add", "--state", f.state, "--role", "janitor", "x"); code != exitUsage {
		t.Errorf("users add with an unknown role: exit %d, want 2", code)
	}
}
