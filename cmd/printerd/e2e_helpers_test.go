package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cityid/printerd/daemon"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/natsconn"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// e2eFixture holds the keys and directories of one daemon under test.
type e2eFixture struct {
	dir, state, out   string
	approvers, keys   string
	issuerKey         string
	approverKey       string // private approver key file
	approver          ed25519.PrivateKey
	rogue             ed25519.PrivateKey // not trusted
	rogueKID, trusted string
}

func newE2EFixture(t testing.TB) *e2eFixture {
	t.Helper()
	dir := t.TempDir()
	f := &e2eFixture{
		dir: dir, state: filepath.Join(dir, "state"), out: filepath.Join(dir, "out"),
		approvers: filepath.Join(dir, "approvers"), keys: filepath.Join(dir, "keys"),
	}
	os.MkdirAll(f.out, 0o755)
	issuer, err := keyfile.New(keyfile.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyfile.WritePair(f.keys, "issuer", issuer); err != nil {
		t.Fatal(err)
	}
	f.issuerKey = filepath.Join(f.keys, "issuer.key")
	ap, _ := keyfile.New(keyfile.Ed25519)
	if err := keyfile.WritePair(f.keys, "approver", ap); err != nil {
		t.Fatal(err)
	}
	f.approverKey = filepath.Join(f.keys, "approver.key")
	f.approver = ap.(ed25519.PrivateKey)
	os.MkdirAll(f.approvers, 0o755)
	pub, _ := os.ReadFile(filepath.Join(f.keys, "approver.pub"))
	os.WriteFile(filepath.Join(f.approvers, "approver.pub"), pub, 0o644)
	f.trusted, _ = keyfile.KIDHex(f.approver.Public())
	_, f.rogue, _ = ed25519.GenerateKey(nil)
	f.rogueKID, _ = keyfile.KIDHex(f.rogue.Public())
	f.addUsers(t)
	return f
}

// fixtureUsers are the NATS users every fixture has, as an office would
// set them up with printerd users add: name, role, site.
var fixtureUsers = [][3]string{
	{"enr", "enrollment", "local"},
	{"clerk-1", "clerk", "*"},
	{"tech-1", "technician", "*"},
	{"auditor-1", "auditor", "*"},
	{"admin-1", "admin", "*"},
	{"console-1", "console", "*"},
	// inspector is a daemon user: the tests read streams and buckets as
	// only a daemon may.
	{"inspector", "daemon", "*"},
}

// addUsers runs printerd users add for each fixture user: seeds in
// dir/seeds, the users file in the state directory.
func (f *e2eFixture) addUsers(t testing.TB) {
	t.Helper()
	os.MkdirAll(filepath.Join(f.dir, "seeds"), 0o700)
	for _, u := range fixtureUsers {
		code, _, errs := runCLI(context.Background(), "users", "add", "--role", u[1], "--site", u[2], "--state", f.state, "--seed", f.seed(u[0]), u[0])
		if code != exitOK {
			t.Fatalf("users add %s: exit %d: %s", u[0], code, errs)
		}
	}
}

// seed is the seed file of a fixture user.
func (f *e2eFixture) seed(name string) string { return filepath.Join(f.dir, "seeds", name+".nk") }

// as are the CLI flags that authenticate as a fixture user.
func (f *e2eFixture) as(name string) string { return "--nats-nkey=" + f.seed(name) }

// connect connects to url as a fixture user.
func (f *e2eFixture) connect(t testing.TB, url, name string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := natsconn.Options{URL: url, NKey: f.seed(name)}.Connect("test "+name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return nc, js
}

// config is a daemon configuration on the fixture with the given printers.
func (f *e2eFixture) config(printers ...string) daemon.Config {
	c := daemon.DefaultConfig()
	c.State = f.state
	c.NATSListen = "127.0.0.1:0"
	c.HTTP = "127.0.0.1:0"
	c.ApproverKeys = f.approvers
	c.IssuerKey = f.issuerKey
	c.Printers = printers
	c.AckWait = daemon.Duration(5 * time.Second)
	return c
}

// signed returns a job message signed by key, with the Nats-Msg-Id of job
// id (job.MsgID; any other msgID is used as is).
func signed(subject, msgID string, body []byte, key ed25519.PrivateKey) *nats.Msg {
	kid, sig, err := job.Sign(key, body)
	if err != nil {
		panic(err)
	}
	m := nats.NewMsg(subject)
	m.Data = body
	if job.ValidID(msgID) {
		msgID = job.MsgID(msgID, sig)
	}
	m.Header.Set(job.HeaderMsgID, msgID)
	m.Header.Set(job.HeaderKey, kid)
	m.Header.Set(job.HeaderSignature, sig)
	return m
}

// sealed seals the plain job j for site and pool as an enrollment system
// does: to the current epoch keys, fetched from daemon_keys, of the
// daemons whose state directories are given (their pinned daemon.pub;
// default the fixture's daemon). It returns the v2 body to sign.
func (f *e2eFixture) sealed(ctx context.Context, t testing.TB, js jetstream.JetStream, site, pool string, j *job.Job, states ...string) []byte {
	t.Helper()
	if len(states) == 0 {
		states = []string{f.state}
	}
	var pinned []keyfile.Public
	for _, s := range states {
		p, err := daemonPub(s)
		if err != nil {
			t.Fatal(err)
		}
		pinned = append(pinned, p)
	}
	body, _, err := sealForSite(ctx, js, site, pool, pinned, j, time.Now())
	if err != nil {
		t.Fatalf("seal job %s: %v", j.ID, err)
	}
	return body
}

// pinDir copies the daemon's public key into a directory, for printerd
// submit --daemon-keys, and returns it.
func (f *e2eFixture) pinDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(f.dir, "daemons")
	b, err := os.ReadFile(filepath.Join(f.state, daemon.DaemonKeyName+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "daemon.pub"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// publishSample publishes one sample job on the default pool, signed by
// the fixture's approver, and returns it.
func (f *e2eFixture) publishSample(ctx context.Context, t testing.TB, js jetstream.JetStream) *job.Job {
	t.Helper()
	j := sample.Jobs(1, time.Now())[0]
	if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(ctx, t, js, "local", "default", j), f.approver)); err != nil {
		t.Fatal(err)
	}
	return j
}

// printsOneJob publishes a sample job through nc (a client of the
// deployment the daemon p joined), waits until it is printed, then stops
// p while the deployment is still up.
func (f *e2eFixture) printsOneJob(ctx context.Context, t *testing.T, p *inProcess, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	evs := watchEvents(t, nc)
	j := f.publishSample(ctx, t, js)
	if err := evs.waitFor(ctx, []string{j.ID}, queue.EventPrinted); err != nil {
		t.Fatalf("%v\n%s", err, p.log.Bytes())
	}
	if code := p.shutdown(t); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// inProcess runs the daemon in this process through runDaemon, the NoSigs
// way: no signal handlers, ctx cancellation instead of SIGTERM.
type inProcess struct {
	d     *daemon.Daemon
	log   *syncBuffer
	level *slog.LevelVar // the daemon's log level (deps.level)
	stop  context.CancelFunc
	exit  chan int
}

func startInProcess(t testing.TB, cfg daemon.Config, deps daemonDeps) *inProcess {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := &inProcess{log: &syncBuffer{}, exit: make(chan int, 1)}
	if deps.log == nil {
		deps.level = new(slog.LevelVar)
		deps.log = slog.New(slog.NewJSONHandler(io.MultiWriter(p.log), &slog.HandlerOptions{Level: deps.level}))
	}
	p.level = deps.level
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	up := make(chan *daemon.Daemon, 1)
	go func() {
		p.exit <- runDaemon(ctx, cfg, deps, runSignals{started: func(d *daemon.Daemon) { up <- d }})
	}()
	select {
	case p.d = <-up:
	case code := <-p.exit:
		t.Fatalf("daemon exited %d at start:\n%s", code, p.log.Bytes())
	case <-time.After(60 * time.Second):
		t.Fatal("daemon did not start in 60s")
	}
	t.Cleanup(func() { p.shutdown(t) })
	return p
}

// shutdown cancels the daemon's context and waits for its exit status.
func (p *inProcess) shutdown(t testing.TB) int {
	p.stop()
	select {
	case code, ok := <-p.exit:
		if ok {
			close(p.exit)
			return code
		}
		return exitOK
	case <-time.After(60 * time.Second):
		t.Error("daemon did not stop in 60s")
		return -1
	}
}

// eventLog collects job events from cards.events.>.
type eventLog struct {
	mu   sync.Mutex
	evs  map[string][]queue.Event
	wake chan struct{}
}

func watchEvents(t testing.TB, nc *nats.Conn) *eventLog {
	t.Helper()
	l := &eventLog{evs: map[string][]queue.Event{}, wake: make(chan struct{}, 1)}
	sub, err := nc.Subscribe("cards.events.>", func(m *nats.Msg) {
		var ev queue.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			return
		}
		key := ev.JobID
		if key == "" {
			key = "invalid"
		}
		l.mu.Lock()
		l.evs[key] = append(l.evs[key], ev)
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	t.Cleanup(func() { sub.Unsubscribe() })
	return l
}

// states returns the states seen for a job, in order.
func (l *eventLog) states(jobID string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs[jobID] {
		out = append(out, e.State)
	}
	return out
}

// last returns a job's latest event.
func (l *eventLog) last(jobID string) (queue.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.evs[jobID]
	if len(evs) == 0 {
		return queue.Event{}, false
	}
	return evs[len(evs)-1], true
}

// waitFor waits until every job has had an event in one of states.
func (l *eventLog) waitFor(ctx context.Context, jobIDs []string, states ...string) error {
	for {
		missing := ""
		for _, id := range jobIDs {
			found := false
			for _, s := range l.states(id) {
				for _, want := range states {
					found = found || s == want
				}
			}
			if !found {
				missing = id
				break
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-l.wake:
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("job %s: no %v event (saw %v): %w", missing, states, l.states(missing), ctx.Err())
		}
	}
}

// streamEvents reads every event in CARD_EVENTS (the durable record, not
// just what a subscriber saw).
func streamEvents(ctx context.Context, js jetstream.JetStream) ([]queue.Event, [][]byte, error) {
	return readStream[queue.Event](ctx, js, queue.StreamEvents)
}

// readStream decodes every message of a stream.
func readStream[T any](ctx context.Context, js jetstream.JetStream, stream string) ([]T, [][]byte, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []T
	var raw [][]byte
	if info.State.Msgs == 0 {
		return nil, nil, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, nil, err
	}
	for uint64(len(raw)) < info.State.Msgs {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return out, raw, fmt.Errorf("read %s: %d of %d: %w", stream, len(raw), info.State.Msgs, err)
		}
		raw = append(raw, m.Data())
		var v T
		if err := json.Unmarshal(m.Data(), &v); err != nil {
			return out, raw, err
		}
		out = append(out, v)
		md, _ := m.Metadata()
		if md != nil && md.Sequence.Stream >= info.State.LastSeq {
			break
		}
	}
	return out, raw, nil
}

// ledgerState reads a job's ledger entry ("" if none).
func ledgerState(ctx context.Context, js jetstream.JetStream, jobID string) (queue.Entry, error) {
	kv, err := js.KeyValue(ctx, queue.BucketLedger)
	if err != nil {
		return queue.Entry{}, err
	}
	e, err := kv.Get(ctx, jobID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return queue.Entry{}, nil
	}
	if err != nil {
		return queue.Entry{}, err
	}
	var out queue.Entry
	return out, json.Unmarshal(e.Value(), &out)
}

// outFiles lists the file names in dir.
func outFiles(t testing.TB, dir string) map[string]bool {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, e := range es {
		m[e.Name()] = true
	}
	return m
}

// runCLI runs a printerd command in-process and returns its status and output.
func runCLI(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}
