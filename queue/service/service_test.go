package service_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/diag"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/internal/natstest"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
	"github.com/cityid/printerd/queue/service"
)

// env is a real queue daemon with simulated printers on a real nats-server,
// its services, and a client.
type env struct {
	t     *testing.T
	srv   *embedded.Server
	nc    *nats.Conn // the daemon's own connection
	js    jetstream.JetStream
	d     *queue.Daemon
	users map[string]*nats.Conn // by name: clerk-1, tech-1, console-1
	// c is the console user's client (it may use both services).
	c      *service.Client
	svc    *service.Server
	key    ed25519.PrivateKey
	keys   *epoch.Store // the daemon's epoch keys, which jobs are sealed to
	devs   []*sim.Device
	events chan queue.Event
}

type options struct {
	speed    float64           // simulator speed (0: instant)
	diag     service.DiagFunc  // default drivers/diag.Run
	noDiag   bool              // no Diag at all
	timeout  time.Duration     // per request
	goFn     func(func()) bool // Config.Go
	allowRaw bool
}

// testUsers are the users of every env, by name and role.
var testUsers = [][2]string{{"clerk-1", embedded.RoleClerk}, {"tech-1", embedded.RoleTechnician}, {"console-1", embedded.RoleConsole}, {"auditor-1", embedded.RoleAuditor}}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{t: t, events: make(chan queue.Event, 64), users: map[string]*nats.Conn{}}
	seeds := map[string]nkeys.KeyPair{}
	var us []embedded.User
	for _, u := range testUsers {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		seeds[u[0]] = kp
		us = append(us, embedded.User{Name: u[0], NKey: pub, Role: u[1], Site: "test"})
	}
	srv, err := embedded.Start(natstest.Context(t, 10*time.Second), embedded.Options{State: t.TempDir(), Listen: "127.0.0.1:0", Site: "test",
		Users: us, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	e.srv = srv
	if e.nc, err = srv.Connect("daemon"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	e.js, _ = jetstream.New(e.nc)
	for _, u := range us {
		kp := seeds[u.Name]
		nc, err := nats.Connect(srv.ClientURL(), nats.Nkey(u.NKey, kp.Sign), nats.CustomInboxPrefix(embedded.InboxPrefix(u.NKey)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		e.users[u.Name] = nc
	}
	_, e.key, _ = ed25519.GenerateKey(nil)
	kid, _ := keyfile.KIDHex(e.key.Public())
	v, err := job.NewVerifier([]keyfile.Public{{KID: kid, Key: e.key.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	dev := sim.New(sim.Options{Name: t.Name(), Speed: o.speed, FeederCards: 100, RibbonCards: 100})
	link := dev.Connect()
	t.Cleanup(func() { link.Close() })
	e.devs = append(e.devs, dev)
	log := slog.New(slog.DiscardHandler)
	ctx := natstest.Context(t, 10*time.Second)
	if e.keys, err = epoch.Open(epoch.Options{Dir: filepath.Join(t.TempDir(), "epoch")}); err != nil {
		t.Fatal(err)
	}
	e.d, err = queue.Start(ctx, queue.Config{
		Site: "test", JS: e.js, Approver: v, Keys: e.keys, Logger: log,
		Maker: queue.MakerFunc(func(context.Context, *job.Job, card.Ribbon) (card.Card, error) {
			return card.Card{Ribbon: card.YMCKO, Front: card.Side{K: card.NewPlane()}}, nil
		}),
		Printers:       []queue.Printer{{Name: "p0", Dev: evolis.New(link, evolis.Options{})}},
		StatusInterval: 200 * time.Millisecond, FetchWait: 200 * time.Millisecond, RetryDelay: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.d.Close)
	names := map[string]string{}
	for _, u := range us {
		names[u.NKey] = u.Name
	}
	cfg := service.Config{NC: e.nc, Site: "test", Daemon: e.d, Diag: o.diag, Logger: log, Timeout: o.timeout, Go: o.goFn,
		AllowRaw: o.allowRaw, Users: func(k string) (string, bool) { n, ok := names[k]; return n, ok }}
	if cfg.Diag == nil && !o.noDiag {
		cfg.Diag = diag.Run
	}
	e.svc, err = service.Serve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.svc.Stop)
	sub, err := e.nc.Subscribe("cards.events.>", func(m *nats.Msg) {
		var ev queue.Event
		if json.Unmarshal(m.Data, &ev) == nil {
			e.events <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	e.c = service.NewClient(e.users["console-1"], "test")
	return e
}

// submit publishes the i-th sample job, signed.
func (e *env) submit(i int) *job.Job {
	e.t.Helper()
	j := sample.Jobs(i+1, time.Now())[i]
	body := sample.SealedFor(j, "test", queue.DefaultPool, time.Now(), e.keys)
	kid, sig, _ := job.Sign(e.key, body)
	m := nats.NewMsg(queue.JobsSubject("test", queue.DefaultPool))
	m.Data = body
	m.Header.Set(job.HeaderMsgID, job.MsgID(j.ID, sig))
	m.Header.Set(job.HeaderKey, kid)
	m.Header.Set(job.HeaderSignature, sig)
	if _, err := e.js.PublishMsg(natstest.Context(e.t, 5*time.Second), m); err != nil {
		e.t.Fatal(err)
	}
	return j
}

// waitEvent waits for a job's event in state.
func (e *env) waitEvent(jobID, state string) {
	e.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-e.events:
			if ev.JobID == jobID && ev.State == state {
				return
			}
		case <-deadline:
			e.t.Fatalf("job %s: no %s event", jobID, state)
		}
	}
}

func ctx(t *testing.T) context.Context { return natstest.Context(t, 10*time.Second) }

// raw sends a request body as is and returns the decoded reply.
func (e *env) raw(subject string, body string) service.Reply {
	e.t.Helper()
	m, err := e.users["console-1"].Request(subject, []byte(body), 5*time.Second)
	if err != nil {
		e.t.Fatalf("%s: %v", subject, err)
	}
	var r service.Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		e.t.Fatalf("%s: reply %s: %v", subject, m.Data, err)
	}
	return r
}

func TestJobsService(t *testing.T) {
	e := newEnv(t, options{})
	j := e.submit(0)
	e.waitEvent(j.ID, queue.EventPrinted)
	c := ctx(t)

	ent, err := e.c.Status(c, j.ID)
	if err != nil || ent.State != queue.Printed || ent.CardNumber != j.Card.Number {
		t.Errorf("Status = %+v, %v; want printed", ent, err)
	}
	_, err = e.c.Status(c, "0b5c8a1e-3f4d-4c2a-9e6b-7d8f9a0b1c2d")
	var se *service.Error
	if !errors.Is(err, queue.ErrNotFound) || !errors.As(err, &se) || se.Code != service.CodeNotFound || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Status of an unknown job = %v, want not found", err)
	}
	if _, err := e.c.Status(c, "0B5C8A1E-3F4D-4C2A-9E6B-7D8F9A0B1C2D"); err == nil || !strings.Contains(err.Error(), "job_id: must be a UUID") {
		t.Errorf("Status of an upper-case id = %v, want the job id rule", err)
	}
	if hs, err := e.c.Held(c); err != nil || len(hs) != 0 {
		t.Errorf("Held = %v, %v; want none", hs, err)
	}
	if rs, err := e.c.History(c, j.Card.Number); err != nil || len(rs) != 1 || rs[0].Action != queue.AuditPrinted {
		t.Errorf("History = %+v, %v; want one printed record", rs, err)
	}
	if _, err := e.c.Release(c, j.ID, "printer-fixed"); !errors.Is(err, queue.ErrConflict) {
		t.Errorf("Release of a printed job = %v, want a conflict", err)
	}
	if _, err := e.c.Cancel(c, j.ID, ""); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Errorf("Cancel without a reason = %v", err)
	}
	for _, tc := range []struct{ subject, body, code string }{
		{service.JobsSubject("test", "frobnicate"), `{}`, service.CodeBadRequest},
		{service.JobsSubject("test", "status"), `{"name":"x"}`, service.CodeBadRequest},
		{service.JobsSubject("test", "status"), `[`, service.CodeBadRequest},
		{service.JobsSubject("test", "release"), `{"job_id":"` + j.ID + `","operator":"someone-else","reason":"printer-fixed"}`, service.CodeBadRequest},
	} {
		if r := e.raw(tc.subject, tc.body); r.Error == "" || r.Code != tc.code || string(r.Result) != "null" && r.Result != nil {
			t.Errorf("%s %s: reply %+v, want code %s", tc.subject, tc.body, r, tc.code)
		}
	}
	sc, scancel := context.WithTimeout(c, time.Second)
	defer scancel()
	if _, err := service.NewClient(e.users["console-1"], "elsewhere").Held(sc); err == nil {
		t.Errorf("Held on another site's subject: no error")
	}
}

func TestDiagService(t *testing.T) {
	e := newEnv(t, options{})
	c := ctx(t)
	info, err := e.c.Info(c, "p0")
	if err != nil || info.Serial != e.devs[0].Options().Serial || info.Serial == "" {
		t.Errorf("Info = %+v, %v; want the simulator's serial", info, err)
	}
	if st, err := e.c.PrinterStatus(c, "p0"); err != nil || !st.Ready {
		t.Errorf("PrinterStatus = %+v, %v", st, err)
	}
	if r, err := e.c.Raw(c, "p0", "Rco;p"); err != nil || r.Reply != "0" {
		t.Errorf("Raw = %+v, %v", r, err)
	}
	if r, err := e.c.TestCard(c, "p0", "ko"); err != nil || !r.Printed || r.Ribbon != card.KO {
		t.Errorf("TestCard = %+v, %v", r, err)
	}
	if n, err := e.c.Counters(c, "p0"); err != nil || n.Printed != 1 {
		t.Errorf("Counters = %+v, %v; want the test card counted", n, err)
	}
	if err := e.c.Clean(c, "p0"); err != nil || e.devs[0].Counters().Cleanings != 1 {
		t.Errorf("Clean = %v, cleanings %d", err, e.devs[0].Counters().Cleanings)
	}
	if err := e.c.Reset(c, "p0"); err != nil {
		t.Errorf("Reset = %v", err)
	}
	if r := e.raw(service.DiagSubject("test", "p0", "dance"), ``); r.Code != service.CodeBadRequest {
		t.Errorf("unknown diag verb: reply %+v", r)
	}
	if _, err := e.c.Diag(c, "nobody", "status", ""); !errors.Is(err, service.ErrNoDaemon) {
		t.Errorf("diag on an unknown printer = %v, want ErrNoDaemon", err)
	}

	// Pause: a new job waits until resume.
	if err := e.c.Pause(c, "p0"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let an in-flight fetch finish
	j := e.submit(0)
	time.Sleep(500 * time.Millisecond)
	if _, err := e.c.Status(c, j.ID); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("a paused printer took a job (status: %v)", err)
	}
	kve, err := e.d.Stores().Status.Get(c, queue.StatusKey("test", "p0"))
	if err != nil {
		t.Fatal(err)
	}
	var ps queue.PrinterStatus
	_ = json.Unmarshal(kve.Value(), &ps)
	if !ps.Paused || ps.Ready {
		t.Errorf("printer status %+v, want paused and not ready", ps)
	}
	if err := e.c.Resume(c, "p0"); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(j.ID, queue.EventPrinted)
}

func TestDiagUnavailable(t *testing.T) {
	e := newEnv(t, options{noDiag: true})
	_, err := e.c.Info(ctx(t), "p0")
	var se *service.Error
	if !errors.As(err, &se) || se.Code != service.CodeUnavailable {
		t.Errorf("Info without diagnostics = %v, want code unavailable", err)
	}
	if err := e.c.Pause(ctx(t), "p0"); err != nil {
		t.Errorf("Pause without diagnostics = %v; pause is the daemon's own", err)
	}
}

func TestDiagWaitsForTheCardInThePrinter(t *testing.T) {
	var mu sync.Mutex
	var sawCard []bool
	var e *env
	e = newEnv(t, options{speed: 0.1, diag: func(ctx context.Context, dev drivers.Printer, verb, arg string) (any, error) {
		mu.Lock()
		sawCard = append(sawCard, e.devs[0].State().CardInside)
		mu.Unlock()
		return dev.Counters(ctx)
	}}) // about 1.6 s a card
	j := e.submit(0)
	e.waitEvent(j.ID, queue.EventPrinting)
	n, err := e.c.Counters(ctx(t), "p0")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sawCard) != 1 || sawCard[0] {
		t.Errorf("diag ran with a card in the printer (%v)", sawCard)
	}
	if n.Printed != 1 {
		t.Errorf("counters printed = %d, want 1", n.Printed)
	}
}

// TestDiagBusy: a verb that cannot have the printer before its time runs
// out is answered busy, and the printer serves it once the card is out.
func TestDiagBusy(t *testing.T) {
	e := newEnv(t, options{speed: 0.1, timeout: 200 * time.Millisecond})
	j := e.submit(0)
	e.waitEvent(j.ID, queue.EventPrinting)
	_, err := e.c.Counters(ctx(t), "p0")
	var se *service.Error
	if !errors.As(err, &se) || se.Code != service.CodeBusy {
		t.Fatalf("Counters while a card prints = %v, want code busy", err)
	}
	e.waitEvent(j.ID, queue.EventPrinted)
	if _, err := e.c.Counters(ctx(t), "p0"); err != nil {
		t.Errorf("Counters after the card = %v", err)
	}
}

// TestStopWaitsForHandlers: Stop returns only after the verbs in flight
// are done, and a handler the owner refuses (shutting down) is answered
// unavailable.
func TestStopWaitsForHandlers(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	e := newEnv(t, options{diag: func(ctx context.Context, dev drivers.Printer, verb, arg string) (any, error) {
		close(started)
		<-release
		return dev.Info(ctx)
	}})
	go e.c.Info(ctx(t), "p0")
	<-started
	stopped := make(chan struct{})
	go func() { e.svc.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned with a verb in flight")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return after the verb finished")
	}

	refused := newEnv(t, options{goFn: func(func()) bool { return false }})
	_, err := refused.c.Info(ctx(t), "p0")
	var se *service.Error
	if !errors.As(err, &se) || se.Code != service.CodeUnavailable || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("a request while shutting down = %v, want unavailable", err)
	}
}

func TestSubjects(t *testing.T) {
	if got := service.DiagSubject("local", "front-desk", "status"); got != "printerd.diag.local.front-desk.status" {
		t.Errorf("DiagSubject = %q", got)
	}
	if got := service.JobsSubject("north", "held"); got != "printerd.jobs.north.held" {
		t.Errorf("JobsSubject = %q", got)
	}
	for _, v := range diag.Verbs {
		found := false
		for _, w := range service.DiagVerbs {
			found = found || v == w
		}
		if !found {
			t.Errorf("drivers/diag verb %s is not a service verb", v)
		}
	}
}

// auditOf returns the daemon's audit records with the given action.
func (e *env) auditOf(action string) []queue.AuditRecord {
	e.t.Helper()
	recs, err := queue.ExportAudit(ctx(e.t), e.d.Stores(), "test")
	if err != nil {
		e.t.Fatal(err)
	}
	var out []queue.AuditRecord
	for _, x := range recs {
		var r queue.AuditRecord
		json.Unmarshal(x.Record, &r)
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

// holdOne prints a job on a jammed printer, so that it is held.
func (e *env) holdOne(i int) *job.Job {
	e.t.Helper()
	if err := e.devs[0].SetFault("jam=k"); err != nil {
		e.t.Fatal(err)
	}
	j := e.submit(i)
	e.waitEvent(j.ID, queue.EventHeld)
	e.devs[0].SoftReset()
	return j
}

// TestOperatorIsTheAuthenticatedUser: the operator recorded is the user the
// server attests, never a name the client sends: an operator field is
// refused, a forged Nats-Request-Info is replaced by the server, and only
// a console user may name the person it acts for.
func TestOperatorIsTheAuthenticatedUser(t *testing.T) {
	e := newEnv(t, options{})
	c := ctx(t)
	clerk := service.NewClient(e.users["clerk-1"], "test")
	j := e.holdOne(0)

	// A clerk forging the server's identity header: the server replaces it
	// (the request arrives as clerk-1), so naming a person is refused.
	m := nats.NewMsg(service.JobsSubject("test", service.VerbRelease))
	m.Data = []byte(`{"job_id":"` + j.ID + `","reason":"printer-fixed"}`)
	m.Header.Set(service.HeaderRequestInfo, `{"acc":"CONSOLE","user":"UCONSOLE"}`)
	m.Header.Set(service.HeaderOnBehalfOf, "mallory")
	rep, err := e.users["clerk-1"].RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r service.Reply
	json.Unmarshal(rep.Data, &r)
	if r.Code != service.CodeForbidden {
		t.Fatalf("clerk with a forged identity header naming a person: reply %+v, want forbidden", r)
	}
	if _, err := clerk.OnBehalfOf("mallory").Release(c, j.ID, "printer-fixed"); !errors.Is(err, service.ErrForbidden) {
		t.Fatalf("clerk naming a person: %v, want forbidden", err)
	}
	// holdOne's jammed card went to the reject tray: spoiled-destroyed.
	if _, err := clerk.Release(c, j.ID, queue.ReleaseSpoiledDestroyed); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(j.ID, queue.EventPrinted)
	rel := e.auditOf(queue.AuditReleased)
	if len(rel) != 1 || rel[0].Operator != "clerk-1" || rel[0].Reason != queue.ReleaseSpoiledDestroyed {
		t.Fatalf("release records %+v, want one by clerk-1 for spoiled-destroyed", rel)
	}

	// The console acts for a signed-in person: both are recorded.
	j2 := e.holdOne(1)
	if _, err := e.c.OnBehalfOf("alice").Cancel(c, j2.ID, "withdrawn"); err != nil {
		t.Fatal(err)
	}
	can := e.auditOf(queue.AuditCancelled)
	if len(can) != 1 || can[0].Operator != "alice via console-1" {
		t.Fatalf("cancel records %+v, want one by alice via console-1", can)
	}

	// A technician may not use job control, an auditor no service at all.
	for _, who := range []string{"tech-1", "auditor-1"} {
		sc, cancel := context.WithTimeout(c, time.Second)
		_, err := service.NewClient(e.users[who], "test").Held(sc)
		cancel()
		if err == nil {
			t.Errorf("%s listed held jobs", who)
		}
	}
}

// TestDiagAudited: the technician verbs that change a printer leave audit
// records naming the technician; raw is read-only unless allowed, and
// audited either way, with the command's name only.
func TestDiagAudited(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow-raw=%v", allow), func(t *testing.T) { testDiagAudited(t, allow) })
	}
}

func testDiagAudited(t *testing.T, allow bool) {
	{
		e := newEnv(t, options{allowRaw: allow})
		c := ctx(t)
		tech := service.NewClient(e.users["tech-1"], "test")
		if err := tech.Clean(c, "p0"); err != nil {
			t.Fatal(err)
		}
		if _, err := tech.Raw(c, "p0", "Rco;p"); err != nil {
			t.Fatalf("raw read command: %v", err)
		}
		_, err := tech.Raw(c, "p0", "Pc;k;=;Zephyrine")
		if allow != (err == nil) || !allow && !errors.Is(err, service.ErrForbidden) {
			t.Errorf("allow-raw %v: raw write command: %v", allow, err)
		}
		if err := tech.Reset(c, "p0"); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range e.auditOf(queue.AuditDiag) {
			if r.Operator != "tech-1" || r.Printer != "p0" {
				t.Errorf("diag record %+v: want operator tech-1 on p0", r)
			}
			got = append(got, r.Verb+":"+r.Command)
		}
		want := "clean:,raw:Rco,raw:Pc,reset:"
		if !allow {
			want = "clean:,raw:Rco,reset:"
			if ref := e.auditOf(queue.AuditRefused); len(ref) != 1 || ref[0].Command != "Pc" || ref[0].Operator != "tech-1" {
				t.Errorf("refused raw records %+v, want one for Pc by tech-1", ref)
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("allow-raw %v: diag records %v, want %s", allow, got, want)
		}
		recs, _ := queue.ExportAudit(c, e.d.Stores(), "test")
		for _, x := range recs {
			if strings.Contains(string(x.Record), "Zephyrine") {
				t.Errorf("an audit record holds a raw command's argument: %s", x.Record)
			}
		}
	}
}
