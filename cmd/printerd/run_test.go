package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/job/sample"
)

func TestRunUsage(t *testing.T) {
	ctx := context.Background()
	if code, _, _ := runCLI(ctx, "run", "--help"); code != exitOK {
		t.Errorf("run --help: exit %d", code)
	}
	code, _, errs := runCLI(ctx, "run", "--state", t.TempDir(), "--printer", "sim://x", "--approver-keys", "")
	if code != exitUsage || !strings.Contains(errs, "config: approver-keys:") {
		t.Errorf("run without approver keys: exit %d, %q", code, errs)
	}
	if code, _, _ := runCLI(ctx, "run", "--no-such-flag"); code != exitUsage {
		t.Errorf("run --no-such-flag: exit %d", code)
	}
	code, _, errs = runCLI(ctx, "submit", "job.json")
	if code != exitUsage {
		t.Errorf("submit without --approver-key: exit %d, %q", code, errs)
	}
	if code, _, _ := runCLI(ctx, "jobs", "frobnicate"); code != exitUsage {
		t.Errorf("jobs frobnicate: exit %d", code)
	}
}

// TestReload: SIGHUP's work, in-process. A job signed by a key that is
// not trusted yet is rejected; after the key file is added and the
// configuration reloaded, the next job signed by it prints. A change that
// needs a restart is reported, not applied.
func TestReload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	cfg := f.config(simURI(t, "reload", f.out, nil))
	p := startInProcess(t, cfg, daemonDeps{})
	nc, js := f.connect(t, p.d.NATSURL(), "inspector")
	evs := watchEvents(t, nc)

	newKey, _ := keyfile.New(keyfile.Ed25519)
	jobs := sample.Jobs(2, time.Now())
	subject := queue.JobsSubject("local", "default")
	if _, err := js.PublishMsg(ctx, signed(subject, jobs[0].ID, f.sealed(ctx, t, js, "local", "default", jobs[0]), newKey.(ed25519.PrivateKey))); err != nil {
		t.Fatal(err)
	}
	if err := evs.waitFor(ctx, []string{jobs[0].ID}, queue.EventRejected); err != nil {
		t.Fatal(err)
	}
	if err := keyfile.WritePair(filepath.Join(f.dir, "new"), "approver2", newKey); err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(filepath.Join(f.dir, "new", "approver2.pub"))
	os.WriteFile(filepath.Join(f.approvers, "approver2.pub"), pub, 0o644)

	next := cfg
	next.LogLevel = "debug"
	next.State = filepath.Join(f.dir, "elsewhere")
	p.d.Reload(next)
	if _, err := js.PublishMsg(ctx, signed(subject, jobs[1].ID, f.sealed(ctx, t, js, "local", "default", jobs[1]), newKey.(ed25519.PrivateKey))); err != nil {
		t.Fatal(err)
	}
	if err := evs.waitFor(ctx, []string{jobs[1].ID}, queue.EventPrinted); err != nil {
		t.Fatal(err)
	}
	log := string(p.log.Bytes())
	if !strings.Contains(log, `need a restart","settings":["state"]`) {
		t.Errorf("reload did not report that state needs a restart:\n%s", log)
	}
	if p.level.Level() != slog.LevelDebug || p.d.Config().State != cfg.State {
		t.Errorf("log level not applied or state applied: level %v, state %s", p.level.Level(), p.d.Config().State)
	}
}

// TestDrainFinishesCard: stopping the daemon (SIGTERM's path) while a card
// prints lets that card finish, prints it once, and takes no new job.
func TestDrainFinishesCard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	cfg := f.config(simURI(t, "drain", f.out, url.Values{"speed": {"0.1"}})) // ~1.6 s a card
	p := startInProcess(t, cfg, daemonDeps{})
	nc, js := f.connect(t, p.d.NATSURL(), "inspector")
	evs := watchEvents(t, nc)
	jobs := sample.Jobs(3, time.Now())
	for _, j := range jobs {
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(ctx, t, js, "local", "default", j), f.approver)); err != nil {
			t.Fatal(err)
		}
	}
	if err := evs.waitFor(ctx, []string{jobs[0].ID}, queue.EventPrinting); err != nil {
		t.Fatal(err)
	}
	// Stop while the card prints, and watch for its "printed" event while
	// the daemon drains: once it has stopped, its embedded server is gone
	// and an event still on its way to this subscriber is lost with it
	// (enrollment systems read CARD_EVENTS, where it is kept).
	exit := make(chan int, 1)
	go func() { exit <- p.shutdown(t) }()
	if err := evs.waitFor(ctx, []string{jobs[0].ID}, queue.EventPrinted); err != nil {
		t.Errorf("card in the printer at shutdown: %v (events %v), want it printed", err, evs.states(jobs[0].ID))
	}
	if code := <-exit; code != exitOK {
		t.Errorf("exit %d after drain", code)
	}
	files := outFiles(t, f.out)
	if !files[jobs[0].ID+"-front.png"] {
		t.Error("the card in the printer was not finished")
	}
	for _, j := range jobs[1:] {
		for _, s := range evs.states(j.ID) {
			if s == queue.EventPrinting || s == queue.EventPrinted {
				t.Errorf("job %s started after the drain began: %v", j.ID, evs.states(j.ID))
			}
		}
	}
}

// TestJoinDeployment: with --nats the daemon joins an existing server
// (here a separate nats-server with JetStream) instead of embedding one.
func TestJoinDeployment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The deployment runs printerd's accounts for the fixture's users (what
	// printerd users config writes); the daemon joins as a daemon user.
	f := newE2EFixture(t)
	users, err := embedded.LoadUsers(filepath.Join(f.state, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	ext, err := embedded.Start(ctx, embedded.Options{State: t.TempDir(), Listen: "127.0.0.1:0", ServerName: "deployment", Users: users, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Shutdown()
	cfg := f.config(simURI(t, "join", f.out, nil))
	cfg.NATS = ext.ClientURL()
	cfg.NATSNKey = f.seed("inspector")
	p := startInProcess(t, cfg, daemonDeps{})
	if p.d.NATSURL() != ext.ClientURL() {
		t.Fatal("daemon embedded a server although nats was set")
	}
	if _, err := os.Stat(filepath.Join(f.state, embedded.KeyFile)); err == nil {
		t.Error("joined daemon made an embedded store key")
	}
	nc, _ := f.connect(t, ext.ClientURL(), "inspector")
	f.printsOneJob(ctx, t, p, nc)
}

// TestSubmitErrors: submit refuses what would be rejected anyway, and says
// which field and rule, never the value.
func TestSubmitErrors(t *testing.T) {
	ctx := context.Background()
	f := newE2EFixture(t)
	j := sample.Jobs(1, time.Now())[0]
	j.Card.DOB = "2999-12-31"
	j.Card.Name = "Qwertzuiop Invented"
	bad := filepath.Join(f.dir, "bad.json")
	os.WriteFile(bad, sample.Body(j), 0o600)
	code, _, errs := runCLI(ctx, "submit", bad, "--approver-key", f.approverKey, "--daemon-keys", f.approvers, "--nats", "nats://127.0.0.1:1")
	if code != exitFail || !strings.Contains(errs, "card.dob") || strings.Contains(errs, "2999-12-31") || strings.Contains(errs, "Qwertzuiop") {
		t.Errorf("submit of an invalid job: exit %d, %q", code, errs)
	}
	good := filepath.Join(f.dir, "good.json")
	os.WriteFile(good, sample.Body(sample.Jobs(1, time.Now())[0]), 0o600)
	code, _, errs = runCLI(ctx, "submit", good, "--approver-key", f.issuerKey, "--daemon-keys", f.approvers, "--nats", "nats://127.0.0.1:1")
	if code != exitFail || !strings.Contains(errs, "want Ed25519") {
		t.Errorf("submit with an ECDSA key: exit %d, %q", code, errs)
	}
	os.Chmod(f.approverKey, 0o644)
	code, _, errs = runCLI(ctx, "submit", good, "--approver-key", f.approverKey, "--daemon-keys", f.approvers, "--nats", "nats://127.0.0.1:1")
	if code != exitFail || !strings.Contains(errs, "readable by group or others") {
		t.Errorf("submit with a readable key: exit %d, %q", code, errs)
	}
	os.Chmod(f.approverKey, 0o600)
	code, _, errs = runCLI(ctx, "submit", good, "--approver-key", f.approverKey, "--daemon-keys", f.approvers, "--nats", "nats://127.0.0.1:1", "--timeout", "2s")
	if code != exitFail || !strings.Contains(errs, "nats") {
		t.Errorf("submit with no server: exit %d, %q", code, errs)
	}
}

// TestPrinterOfflineAtStart: a printer that is not there when the daemon
// starts (a network printer switched off) does not stop the daemon; when
// it comes up, its pool's jobs print on it. A misconfigured printer (an
// unknown scheme) still stops the start with an error naming it.
func TestPrinterOfflineAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := f.config(simURI(t, "front", f.out, nil), "tcp://"+addr+"?name=netdesk&pool=net")
	p := startInProcess(t, cfg, daemonDeps{})
	if !strings.Contains(string(p.log.Bytes()), "printer offline at start") {
		t.Errorf("no offline warning in the log")
	}
	nc, js := f.connect(t, p.d.NATSURL(), "inspector")
	evs := watchEvents(t, nc)
	j := sample.Jobs(1, time.Now())[0]
	if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "net"), j.ID, f.sealed(ctx, t, js, "local", "net", j), f.approver)); err != nil {
		t.Fatal(err)
	}
	// The network printer comes up: a simulator on that TCP port.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dev := sim.New(sim.Options{Name: "netdesk", Out: f.out})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { dev.Serve(ctx, c); c.Close() }()
		}
	}()
	if err := evs.waitFor(ctx, []string{j.ID}, queue.EventPrinted); err != nil {
		t.Fatal(err)
	}
	if e, _ := ledgerState(ctx, js, j.ID); e.Printer != "netdesk" {
		t.Errorf("printed by %q, want netdesk", e.Printer)
	}
	if len(dev.Cards()) != 1 {
		t.Errorf("network simulator printed %d cards, want 1", len(dev.Cards()))
	}

	bad := f.config("nosuch://x")
	bad.State = filepath.Join(f.dir, "state-bad")
	if err := bad.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err = startDaemon(ctx, bad, daemonDeps{log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "config: printer nosuch-x") {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := os.Stat(bad.State); err == nil {
		t.Error("a start that failed on a printer URI made a state directory: printers are checked first")
	}
	// A mistyped host name is a configuration to fix, not a printer that
	// is off: the start fails naming the printer.
	typo := f.config("tcp://printerd-no-such-host.invalid:9100?name=typo")
	typo.State = filepath.Join(f.dir, "state-typo")
	if err := typo.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(ctx, typo, daemonDeps{log: slog.New(slog.DiscardHandler)})
	if err == nil {
		d.Shutdown(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "config: printer typo") || !errors.Is(err, drivers.BadConfig) {
		t.Errorf("a host name that does not resolve: %v; want the start to fail naming the printer", err)
	}
}

// TestJoinWithNKey: joining a deployment that requires nkey
// authentication works with --nats-nkey and fails, naming the setting,
// without it.
func TestJoinWithNKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		Nkeys: []*server.NkeyUser{{Nkey: pub}}, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	f := newE2EFixture(t)
	seedFile := filepath.Join(f.dir, "printerd.nk")
	os.WriteFile(seedFile, seed, 0o600)

	cfg := f.config(simURI(t, "nkey", f.out, nil))
	cfg.NATS = ns.ClientURL()
	if _, err := startDaemon(ctx, cfg, daemonDeps{log: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "config: nats:") {
		t.Errorf("join without the nkey: %v, want an error naming nats", err)
	}
	cfg.NATSNKey = seedFile
	p := startInProcess(t, cfg, daemonDeps{})
	nc, err := nats.Connect(ns.ClientURL(), mustNKey(t, seedFile))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	f.printsOneJob(ctx, t, p, nc)
}

func mustNKey(t *testing.T, seedFile string) nats.Option {
	o, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestNATSUsers: with nats-users, the embedded server takes only known
// nkeys; an enrollment system submits (printerd submit --nats-nkey) and a
// clerk asks for a job's state, each within its role.
func TestNATSUsers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	// The fixture made its users with printerd users add, into the state
	// directory's users file; here the file is named explicitly.
	seeds := map[string]string{embedded.RoleEnrollment: f.seed("enr"), embedded.RoleClerk: f.seed("clerk-1")}
	cfg := f.config(simURI(t, "users", f.out, nil))
	cfg.NATSUsers = filepath.Join(f.state, "users.json")
	p := startInProcess(t, cfg, daemonDeps{})
	url := p.d.NATSURL()

	j := sample.Jobs(1, time.Now())[0]
	jobFile := filepath.Join(f.dir, "job.json")
	os.WriteFile(jobFile, sample.Body(j), 0o600)
	pins := f.pinDir(t)
	if code, _, errs := runCLI(ctx, "submit", jobFile, "--approver-key", f.approverKey, "--daemon-keys", pins, "--nats", url); code != exitFail || !strings.Contains(errs, "uthorization") {
		t.Errorf("anonymous submit: exit %d, %q; want an authorization failure", code, errs)
	}
	if code, out, errs := runCLI(ctx, "submit", jobFile, "--approver-key", f.approverKey, "--daemon-keys", pins, "--nats", url, "--nats-nkey", seeds[embedded.RoleEnrollment]); code != exitOK {
		t.Fatalf("enrollment submit: exit %d, %q %q", code, out, errs)
	}
	if code, _, _ := runCLI(ctx, "jobs", "status", j.ID, "--nats", url, "--nats-nkey", seeds[embedded.RoleEnrollment], "--timeout", "2s"); code != exitFail {
		t.Errorf("enrollment used job control: exit %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, errs := runCLI(ctx, "jobs", "status", j.ID, "--nats", url, "--nats-nkey", seeds[embedded.RoleClerk], "--json")
		if code == exitOK && strings.Contains(out, `"printed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clerk status: exit %d, %q %q", code, out, errs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _, _ := runCLI(ctx, "submit", jobFile, "--approver-key", f.approverKey, "--daemon-keys", pins, "--nats", url, "--nats-nkey", seeds[embedded.RoleClerk], "--timeout", "2s"); code != exitFail {
		t.Errorf("clerk submitted a job: exit %d", code)
	}
}
