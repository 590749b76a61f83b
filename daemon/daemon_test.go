package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/service"
)

// fixture is a daemon's key files and directories, and a simulator
// registry of its own.
type fixture struct {
	dir, approvers string
	cfg            Config
	reg            *drivers.Registry
	dev            *sim.Device
	opens          atomic.Int32 // testsim:// links opened
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, approvers: filepath.Join(dir, "approvers")}
	ap, _ := keyfile.New(keyfile.Ed25519)
	if err := keyfile.WritePair(f.approvers, "approver", ap); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(f.approvers, "approver.key"))
	iss, _ := keyfile.New(keyfile.ES256)
	if err := keyfile.WritePair(filepath.Join(dir, "keys"), "issuer", iss); err != nil {
		t.Fatal(err)
	}
	f.cfg = DefaultConfig()
	f.cfg.State = filepath.Join(dir, "state")
	f.cfg.NATSListen = "none"
	f.cfg.HTTP = ""
	f.cfg.ApproverKeys = f.approvers
	f.cfg.IssuerKey = filepath.Join(dir, "keys", "issuer.key")
	f.cfg.Printers = []string{"testsim://p0?name=p0"}
	// testsim:// is this fixture's own simulated printer: the test needs
	// no process-wide simulator registry.
	f.dev = sim.New(sim.Options{Name: "p0"})
	f.reg = &drivers.Registry{}
	testsim := func(context.Context, *url.URL) (drivers.LinkCloser, error) {
		f.opens.Add(1)
		return f.dev.Connect(), nil
	}
	if err := errors.Join(f.reg.RegisterLanguage("evolis", evolis.Language), f.reg.RegisterTransport("testsim", testsim),
		f.reg.RegisterParams("", URIParams...), f.reg.RegisterParams("evolis", evolis.Params...)); err != nil {
		t.Fatal(err)
	}
	return f
}

// addUser adds a user to the fixture's users file (<state>/users.json)
// and returns its key.
func (f *fixture) addUser(t *testing.T, role, name string) nkeys.KeyPair {
	t.Helper()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	if err := os.MkdirAll(f.cfg.State, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := embedded.AddUser(filepath.Join(f.cfg.State, DefaultUsersFile), embedded.User{Name: name, NKey: pub, Role: role, Site: "local"}); err != nil {
		t.Fatal(err)
	}
	return kp
}

// connect opens an in-process connection to d's embedded server as the
// user of kp.
func (f *fixture) connect(t *testing.T, d *Daemon, kp nkeys.KeyPair) *nats.Conn {
	t.Helper()
	pub, _ := kp.PublicKey()
	nc, err := nats.Connect("", nats.InProcessServer(d.ns.NATS()), nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(embedded.InboxPrefix(pub)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// blankMaker makes blank cards.
var blankMaker = queue.MakerFunc(func(context.Context, *job.Job, card.Ribbon) (card.Card, error) {
	return card.Card{Ribbon: card.YMCKO, Front: card.Side{K: card.NewPlane()}}, nil
})

// options returns the fixture's daemon options.
func (f *fixture) options() Options {
	return Options{Config: f.cfg, Registry: f.reg, Maker: blankMaker, Logger: slog.New(slog.DiscardHandler), Level: new(slog.LevelVar)}
}

// start makes and starts a daemon, shut down when the test ends.
func start(t *testing.T, o Options, before func(*Daemon)) *Daemon {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return d
}

// TestReloadKeepsSetup: changing held retention on reload keeps every
// other stream setting the daemon was started with (here a Tune'd
// duplicates window), instead of resetting it to the defaults.
func TestReloadKeepsSetup(t *testing.T) {
	f := newFixture(t)
	o := f.options()
	o.Tune = func(c *queue.Config) { c.Setup.Duplicates = 3 * time.Hour }
	d := start(t, o, nil)
	next := f.cfg
	next.HeldRetention = Duration(48 * time.Hour)
	if err := d.Reload(next); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := d.JetStream().Stream(ctx, queue.StreamJobs)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Duplicates; got != 3*time.Hour {
		t.Errorf("CARD_JOBS duplicates window after reload = %v, want the 3h the daemon was started with", got)
	}
	h, _ := d.JetStream().Stream(ctx, queue.StreamHeld)
	if got := h.CachedInfo().Config.MaxAge; got != 48*time.Hour {
		t.Errorf("held retention after reload = %v, want 48h", got)
	}
	if got := d.Config().HeldRetention; got != Duration(48*time.Hour) {
		t.Errorf("Config().HeldRetention = %v", got)
	}
}

// TestReloadLoadsApproversOnce: a reload reads the approver directory
// once, whether its name changed or not; a reload that fails to read it
// keeps the keys in force.
func TestReloadLoadsApproversOnce(t *testing.T) {
	f := newFixture(t)
	var loads atomic.Int32
	d := start(t, f.options(), func(d *Daemon) {
		d.loadVerifier = func(dir string) (*job.Verifier, error) { loads.Add(1); return job.LoadVerifier(dir) }
	})
	other := filepath.Join(f.dir, "approvers2")
	_, priv, _ := ed25519.GenerateKey(nil)
	if err := keyfile.WritePair(other, "second", priv); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dir  string
	}{{"changed directory", other}, {"same directory", other}} {
		loads.Store(0)
		next := f.cfg
		next.ApproverKeys = tc.dir
		if err := d.Reload(next); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := loads.Load(); n != 1 {
			t.Errorf("%s: reload loaded the approver directory %d times, want 1", tc.name, n)
		}
	}
	kid, _ := keyfile.KIDHex(priv.Public())
	body := []byte(`{}`)
	_, sig, _ := job.Sign(priv, body)
	if err := d.approver.Verify(body, kid, sig); err != nil {
		t.Errorf("the reloaded key is not trusted: %v", err)
	}
	// A directory that cannot be read: the reload says so and keeps the keys.
	os.WriteFile(filepath.Join(other, "broken.pub"), []byte("not a key"), 0o644)
	if err := d.Reload(f.withApprovers(other)); err == nil {
		t.Error("a reload of an unreadable key directory succeeded")
	}
	if err := d.approver.Verify(body, kid, sig); err != nil {
		t.Errorf("a failed reload dropped the keys in force: %v", err)
	}
}

func (f *fixture) withApprovers(dir string) Config {
	c := f.cfg
	c.ApproverKeys = dir
	return c
}

// slowCleaner is a printer whose clean goes on for a while after the
// driver's Clean returned (as a device mid-exchange would, deaf to its
// context), then talks to the printer again.
type slowCleaner struct {
	drivers.Printer
	in    chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	after error
}

func (s *slowCleaner) Clean(ctx context.Context) error {
	err := s.Printer.Clean(ctx)
	close(s.in)
	time.Sleep(3 * time.Second) // longer than a worker's fetch wait
	_, serr := s.Printer.Status(context.Background())
	s.mu.Lock()
	s.after = serr
	s.mu.Unlock()
	close(s.done)
	return err
}

// TestShutdownWaitsForDiag: Shutdown with a technician's verb in flight
// waits for it before closing the printer; a second Shutdown is safe.
func TestShutdownWaitsForDiag(t *testing.T) {
	f := newFixture(t)
	sc := &slowCleaner{in: make(chan struct{}), done: make(chan struct{})}
	o := f.options()
	o.Wrap = func(name string, p drivers.Printer) drivers.Printer { sc.Printer = p; return sc }
	tech := f.addUser(t, embedded.RoleTechnician, "tech-1")
	d := start(t, o, nil)
	c := service.NewClient(f.connect(t, d, tech), "local")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Paused, the worker leaves the printer alone: only the verb uses it.
	if err := c.Pause(ctx, "p0"); err != nil {
		t.Fatal(err)
	}
	go c.Clean(ctx, "p0")
	<-sc.in
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sc.done:
	default:
		t.Fatal("Shutdown returned with the verb still running")
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.after != nil {
		t.Errorf("the printer was closed under an in-flight diag verb: %v", sc.after)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestLifecycle: options are validated before anything starts; Start runs
// once; Shutdown of a daemon never started returns.
func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	o := f.options()
	o.Maker = nil
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "Maker is required") {
		t.Errorf("New without a maker = %v", err)
	}
	o = f.options()
	o.Config.Site = "a.b"
	if _, err := New(o); err == nil || !strings.HasPrefix(err.Error(), "config: site:") {
		t.Errorf("New with a bad site = %v", err)
	}
	o = f.options()
	o.Config.Printers = []string{"nosuch://x"}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "config: printer nosuch-x") {
		t.Errorf("Start with an unknown scheme = %v", err)
	}
	if err := d.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	idle, _ := New(f.options())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := idle.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown of a daemon never started: %v", err)
	}
	d = start(t, f.options(), nil)
	if err := d.Drain(ctx); err != nil {
		t.Errorf("Drain: %v", err)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after Drain: %v", err)
	}
	if d.goCounted(func() {}) {
		t.Error("a goroutine was started after Shutdown")
	}
}

// TestStoreKeyCustody: a deleted or different store key stops the daemon
// with a message naming the key file, and touches no stream: with the
// right key back, the queued job and the audit chain are still there.
func TestStoreKeyCustody(t *testing.T) {
	f := newFixture(t)
	f.cfg.Printers = []string{"testsim://p0?name=p0&pool=busy"} // nobody takes pool default
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func() (*Daemon, error) {
		d, err := New(f.options())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			return nil, err
		}
		return d, nil
	}
	d, err := run()
	if err != nil {
		t.Fatal(err)
	}
	// A job nobody prints (pool default has no printer) stays in CARD_JOBS;
	// a technician's pause leaves an audit record.
	tech := f.addUser(t, "technician", "tech-x") // read at the next start
	if _, err := d.JetStream().Publish(ctx, queue.JobsSubject("local", queue.DefaultPool), []byte(`{"kept":true}`)); err != nil {
		t.Fatal(err)
	}
	d.Shutdown(ctx)
	keyPath := filepath.Join(f.cfg.State, "jetstream.key")
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(keyPath)
	if _, err := run(); err == nil || !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), "restore") {
		t.Fatalf("start without the store key: %v; want an error naming %s and saying to restore it", err, keyPath)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Fatal("a new store key was made over the existing store")
	}
	other := strings.Repeat("ab", 32) + "\n"
	os.WriteFile(keyPath, []byte(other), 0o600)
	if _, err := run(); err == nil || !strings.Contains(err.Error(), keyPath) {
		t.Fatalf("start with a different store key: %v; want an error naming %s", err, keyPath)
	}
	os.WriteFile(keyPath, key, 0o600)
	d, err = run()
	if err != nil {
		t.Fatalf("start with the key restored: %v", err)
	}
	defer d.Shutdown(ctx)
	info, err := d.Queue().Stores().Jobs.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("CARD_JOBS after the key came back: %+v, %v; want the queued job", info, err)
	}
	c := service.NewClient(f.connect(t, d, tech), "local")
	if err := c.Pause(ctx, "p0"); err != nil {
		t.Fatal(err)
	}
	if err := d.Queue().AuditHealthy(); err != nil {
		t.Errorf("audit chain after the key came back: %v", err)
	}
}

// TestHTTPTimeouts: the metrics and health endpoint bounds reading,
// writing and idle connections, so slow clients cannot pile up.
func TestHTTPTimeouts(t *testing.T) {
	f := newFixture(t)
	f.cfg.HTTP = "127.0.0.1:0"
	d := start(t, f.options(), nil)
	h := d.http
	if h.ReadHeaderTimeout <= 0 || h.ReadTimeout != HTTPReadTimeout || h.WriteTimeout != HTTPWriteTimeout || h.IdleTimeout != HTTPIdleTimeout {
		t.Errorf("http time-outs: header %v, read %v, write %v, idle %v; want all set", h.ReadHeaderTimeout, h.ReadTimeout, h.WriteTimeout, h.IdleTimeout)
	}
	// A client that never finishes its request is cut off.
	conn, err := net.Dial("tcp", d.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /metrics HTTP/1.1\r\nHost: x\r\n"))
	conn.SetReadDeadline(time.Now().Add(HTTPReadTimeout + 5*time.Second))
	start := time.Now()
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			break
		}
	}
	if el := time.Since(start); el > HTTPReadTimeout+4*time.Second {
		t.Errorf("a stalled request kept its connection %v", el)
	}
}

// TestStateDirWritableRefused: the state directory holds the keys and the
// audit head; one that others may write is refused before NATS starts.
func TestStateDirWritableRefused(t *testing.T) {
	f := newFixture(t)
	os.MkdirAll(f.cfg.State, 0o700)
	os.Chmod(f.cfg.State, 0o777)
	d, err := New(f.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("Start with a world-writable state directory: %v, want refused", err)
	}
	if _, err := os.Stat(filepath.Join(f.cfg.State, "jetstream.key")); err == nil {
		t.Error("a store key was made in the refused state directory")
	}
}
