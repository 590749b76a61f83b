package queue

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/internal/natstest"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// Invented people only. These strings must never appear outside the job
// bodies and CARD_HELD.
var people = []struct{ name, dob, gender string }{
	{"Zephyrine Quillfeather", "1987-03-14", "Nonbinary-Q"},
	{"Bartholomew Xanthopoulos-Wick", "1950-12-01", "Manfluid-X"},
	{"Oriel Vantablack", "2001-07-30", "Womanly-Z"},
}

// signer signs jobs as an enrollment system does.
type signer struct {
	kid  string
	priv ed25519.PrivateKey
}

func newSigner(t testing.TB) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := keyfile.KIDHex(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, priv: priv}
}

func (s signer) sign(body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, body))
}

// verifierFor is the real job.Verifier trusting the signers' keys.
func verifierFor(t testing.TB, ss ...signer) *job.Verifier {
	t.Helper()
	var keys []keyfile.Public
	for _, s := range ss {
		keys = append(keys, keyfile.Public{KID: s.kid, Key: s.priv.Public()})
	}
	v, err := job.NewVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// blankMaker makes blank cards with a K panel.
type blankMaker struct{ fail error }

func (m blankMaker) Make(ctx context.Context, j *job.Job, _ card.Ribbon) (card.Card, error) {
	if m.fail != nil {
		return card.Card{}, m.fail
	}
	return card.Card{Ribbon: card.YMCKO, Front: card.Side{K: card.NewPlane()}}, nil
}

// simPrinter is a simulated Evolis printer (drivers/sim) driven by the
// real Evolis driver over an in-process link.
type simPrinter struct {
	dev *sim.Device
	drv *armedPrinter

	mu      sync.Mutex
	onPrint string // a fault spec to set as the next Print starts
	// ribbonOutEvery makes every Print fail before feed (ribbon out at Ss)
	// while Status still says ready.
	ribbonOutEvery bool
}

// armedPrinter is the Evolis driver with one test hook: a fault spec armed
// with armPrint is set on the simulator as Print starts, i.e. after the
// worker saw the printer Ready. Everything else is the real driver.
type armedPrinter struct {
	*evolis.Printer
	p *simPrinter
}

// Print sets the armed fault, then prints with the real driver.
func (a *armedPrinter) Print(ctx context.Context, c card.Card) error {
	a.p.mu.Lock()
	spec := a.p.onPrint
	a.p.onPrint = ""
	lying := a.p.ribbonOutEvery
	a.p.mu.Unlock()
	if spec != "" {
		if err := a.p.dev.SetFault(spec); err != nil {
			return err
		}
	}
	if lying {
		// A printer that says it is ready, then refuses every card at Ss.
		if err := a.p.dev.SetFault("ribbon-out-after=0"); err != nil {
			return err
		}
		defer func() { a.p.dev.ClearFaults(); a.p.dev.SetRibbon(1 << 20) }()
	}
	return a.Printer.Print(ctx, c)
}

// armPrint sets a fault spec on the simulator when the next Print starts.
func (p *simPrinter) armPrint(spec string) {
	p.mu.Lock()
	p.onPrint = spec
	p.mu.Unlock()
}

func newSimPrinter(t testing.TB, name string, speed float64) *simPrinter {
	t.Helper()
	dev := sim.New(sim.Options{Name: name, Speed: speed, FeederCards: 1 << 20, RibbonCards: 1 << 20})
	link := dev.Connect()
	t.Cleanup(func() { link.Close() })
	p := &simPrinter{dev: dev}
	p.drv = &armedPrinter{Printer: evolis.New(link, evolis.Options{}), p: p}
	return p
}

// printed returns the labels (job ids) of the cards the simulator ejected.
func (p *simPrinter) printed() []string {
	var out []string
	for _, c := range p.dev.Cards() {
		out = append(out, c.Label)
	}
	return out
}

// fault injects a sim fault spec, e.g. "jam=y".
func (p *simPrinter) fault(t testing.TB, spec string) {
	t.Helper()
	if err := p.dev.SetFault(spec); err != nil {
		t.Fatal(err)
	}
}

// env is a running daemon on a real nats-server.
type env struct {
	t      *testing.T
	srv    *natstest.Server
	d      *Daemon
	st     *Stores
	signer signer
	devs   []*simPrinter
	logs   *syncBuffer
}

// syncBuffer collects log output.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.b = append(s.b, p...)
	s.mu.Unlock()
	return len(p), nil
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return string(s.b) }

var _ io.Writer = (*syncBuffer)(nil)

// auditKeys are the daemon's audit public keys, as an auditor holds them.
func (e *env) auditKeys() AuditKeys {
	return AuditKeys{e.d.AuditKID(): e.d.cfg.AuditKey.Public().(ed25519.PublicKey)}
}

func newEnv(t *testing.T, nPrinters int, tweak func(*Config)) *env {
	t.Helper()
	e := &env{t: t, srv: natstest.Start(t), signer: newSigner(t), logs: &syncBuffer{}}
	cfg := Config{
		Site: "test", JS: e.srv.JS,
		Approver:       verifierFor(t, e.signer),
		Keys:           testKeys(),
		Maker:          blankMaker{},
		Logger:         slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Setup:          SetupConfig{},
		StatusInterval: 200 * time.Millisecond,
		RetryDelay:     100 * time.Millisecond,
		FetchWait:      200 * time.Millisecond,
		AckWait:        2 * time.Second,
	}
	for i := 0; i < nPrinters; i++ {
		name := fmt.Sprintf("p%d", i)
		p := newSimPrinter(t, t.Name()+"-"+name, 0)
		e.devs = append(e.devs, p)
		cfg.Printers = append(cfg.Printers, Printer{Name: name, Dev: p.drv})
	}
	if tweak != nil {
		tweak(&cfg)
	}
	ctx := natstest.Context(t, 10*time.Second)
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(d.Close)
	e.d, e.st = d, d.Stores()
	return e
}

// newEnvPrinting returns a daemon with one slow printer (about 1.6 s a
// card) and the id of a job for card number, which that printer is
// printing.
func newEnvPrinting(t *testing.T, number string) (*env, string) {
	t.Helper()
	slow := newSimPrinter(t, t.Name()+"-slow", 0.1)
	e := newEnv(t, 1, func(c *Config) { c.Printers[0].Dev = slow.drv })
	e.devs[0] = slow
	id, body := newJob(number, 1, 0)
	e.submit(id, body)
	e.waitState(id, Printing)
	return e, id
}

// testKeysDir holds the epoch keys of the test daemons that use the
// shared store (TestMain removes it).
var testKeysDir string

// testKeys is the epoch key store every newEnv daemon uses unless a test
// gives its own: newJob seals to its current key.
var testKeys = sync.OnceValue(func() *epoch.Store {
	st, err := epoch.Open(epoch.Options{Dir: filepath.Join(testKeysDir, "epoch")})
	if err != nil {
		panic(err)
	}
	return st
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "queue-test-keys-")
	if err != nil {
		panic(err)
	}
	testKeysDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newJob returns a job id and a valid v2 body for an invented person,
// for site "test" and the default pool, sealed to testKeys.
func newJob(number string, issue int, person int) (string, []byte) {
	id, j := newPlainJob(number, issue, person)
	return id, sample.SealedFor(j, "test", DefaultPool, time.Now(), testKeys())
}

// newV1Job returns a job id and a valid v1 body (plaintext person) for an
// invented person: what AcceptV1 accepts.
func newV1Job(number string, issue int, person int) (string, []byte) {
	id, j := newPlainJob(number, issue, person)
	b, _ := json.Marshal(j)
	return id, b
}

// newReprintOf returns a sealed reprint job of ofJob.
func newReprintOf(number string, issue, person int, ofJob string) (string, []byte) {
	id, j := newPlainJob(number, issue, person)
	j.Reprint.OfJob = ofJob
	return id, sample.SealedFor(j, "test", DefaultPool, time.Now(), testKeys())
}

// newPlainJob returns a plain card job for an invented person.
func newPlainJob(number string, issue int, person int) (string, *job.Job) {
	id := uuid.NewString()
	p := people[person%len(people)]
	j := job.Job{
		V: 1, ID: id, Kind: job.KindIssue, Template: "city-v1",
		Card: job.Card{Number: number, Issue: issue, Name: p.name, DOB: p.dob, Gender: p.gender,
			Issued: "2026-11-25", Expires: "2031-11-24", Photo: base64.StdEncoding.EncodeToString(sample.Photo(person))},
	}
	if issue > 1 {
		j.Kind = job.KindReprint
		j.Reprint = &job.Reprint{OfJob: uuid.NewString(), Reason: "lost", RequestedBy: "clerk-7"}
	}
	return id, &j
}

// publish publishes a job body with the given headers to the default pool.
func (e *env) publish(body []byte, msgID, kid, sig string) {
	e.t.Helper()
	m := &nats.Msg{Subject: JobsSubject("test", DefaultPool), Data: body, Header: nats.Header{}}
	if msgID != "" {
		m.Header.Set(job.HeaderMsgID, msgID)
	}
	if kid != "" {
		m.Header.Set(job.HeaderKey, kid)
	}
	if sig != "" {
		m.Header.Set(job.HeaderSignature, sig)
	}
	ctx := natstest.Context(e.t, 5*time.Second)
	if _, err := e.srv.JS.PublishMsg(ctx, m); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
}

// submit signs and publishes a job as an enrollment system does.
func (e *env) submit(id string, body []byte) {
	e.t.Helper()
	sig := e.signer.sign(body)
	e.publish(body, job.MsgID(id, sig), e.signer.kid, sig)
}

// msgID is the Nats-Msg-Id of a job body signed by the env's approver.
func (e *env) msgID(id string, body []byte) string { return job.MsgID(id, e.signer.sign(body)) }

// waitState waits until the job's ledger entry is in state.
func (e *env) waitState(id string, want State) Entry {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last Entry
	for time.Now().Before(deadline) {
		ent, err := e.st.ledger().get(context.Background(), id)
		if err == nil {
			last = ent
			if ent.State == want {
				return ent
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("job %s: ledger state %q, want %q (reason %q)", id, last.State, want, last.Reason)
	return last
}

// waitEvent waits for an event of a job in a state and returns it.
func (e *env) waitEvent(id, state string) Event {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range e.events(id) {
			if ev.State == state {
				return ev
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("job %s: no %q event; have %+v", id, state, e.events(id))
	return Event{}
}

// events returns all events of a job so far.
func (e *env) events(id string) []Event {
	e.t.Helper()
	raw := e.streamData(StreamEvents, EventSubject(id))
	var out []Event
	for _, b := range raw {
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			e.t.Fatalf("event: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

// streamData returns the bodies of every message on a stream subject.
func (e *env) streamData(stream, filter string) [][]byte {
	e.t.Helper()
	ctx := natstest.Context(e.t, 5*time.Second)
	s, err := e.srv.JS.Stream(ctx, stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	if n == 0 {
		return nil
	}
	cons, err := e.srv.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out [][]byte
	for len(out) < n {
		m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			e.t.Fatalf("read %s %s: %v", stream, filter, err)
		}
		out = append(out, m.Data())
	}
	return out
}

// allPrinted returns every label printed by every printer.
func (e *env) allPrinted() map[string]int {
	out := map[string]int{}
	for _, d := range e.devs {
		for _, l := range d.printed() {
			out[l]++
		}
	}
	return out
}
