package console_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/console"
	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/embedded"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// Test users; cheap argon2id parameters keep the test fast (the users
// file records them per hash).
var (
	cheap    = console.Params{Time: 1, Memory: 8 * 1024, Threads: 1}
	testPass = map[string]string{"clara": "clerk-password-1", "tomas": "technician-password-1"}
)

// station is a real daemon (embedded NATS, two simulated printers, the
// console on --console-listen) and the signing key of its enrollment
// system.
type station struct {
	t      *testing.T
	d      *daemon.Daemon
	devs   map[string]*sim.Device
	key    ed25519.PrivateKey
	url    string
	logs   string   // the daemon's log file
	people []string // the invented people's names: never on a page
	enroll nkeys.KeyPair
}

// blankMaker makes blank cards (the layout is tested elsewhere).
var blankMaker = queue.MakerFunc(func(context.Context, *job.Job, card.Ribbon) (card.Card, error) {
	return card.Card{Ribbon: card.YMCKO, Front: card.Side{K: card.NewPlane()}}, nil
})

func startStation(t *testing.T) *station {
	t.Helper()
	dir := t.TempDir()
	st := &station{t: t, devs: map[string]*sim.Device{}, logs: filepath.Join(dir, "daemon.log")}
	_, ap, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	st.key = ap
	if err := keyfile.WritePair(filepath.Join(dir, "approvers"), "approver", ap); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "approvers", "approver.key"))
	iss, _ := keyfile.New(keyfile.ES256)
	if err := keyfile.WritePair(filepath.Join(dir, "keys"), "issuer", iss); err != nil {
		t.Fatal(err)
	}
	cfg := daemon.DefaultConfig()
	cfg.State = filepath.Join(dir, "state")
	cfg.NATSListen = "none"
	cfg.HTTP = ""
	cfg.ApproverKeys = filepath.Join(dir, "approvers")
	cfg.IssuerKey = filepath.Join(dir, "keys", "issuer.key")
	cfg.Printers = []string{"testsim://p0?name=p0", "testsim://p1?name=p1&pool=express"}
	cfg.ConsoleListen = "127.0.0.1:0"
	// The console never sees a job body, so the test submits plain v1
	// jobs (the migration setting) rather than sealing them to the
	// daemon's epoch keys.
	cfg.AcceptV1 = true
	// An enrollment system's NATS user: it receives the reprint requests.
	cfg.NATSListen = "127.0.0.1:0"
	enroll, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	st.enroll = enroll
	enrollPub, _ := enroll.PublicKey()
	if err := embedded.AddUser(filepath.Join(cfg.State, daemon.DefaultUsersFile), embedded.User{Name: "enrollment-1", NKey: enrollPub, Role: embedded.RoleEnrollment, Site: "local"}); err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{"clara": console.RoleClerk, "tomas": console.RoleTechnician} {
		if err := console.AddUser(cfg.ConsoleUsersFile(), name, role, testPass[name], cheap); err != nil {
			t.Fatal(err)
		}
	}
	reg := &drivers.Registry{}
	// p0 prints at a real printer's pace (a blank card takes about 5 s),
	// so a page sees a released job printing, then printed; p1 is quick.
	st.devs["p0"] = sim.New(sim.Options{Name: "p0", Speed: 1})
	st.devs["p1"] = sim.New(sim.Options{Name: "p1", Speed: 0.2})
	testsim := func(_ context.Context, u *url.URL) (drivers.LinkCloser, error) {
		dev := st.devs[u.Host]
		if dev == nil {
			return nil, fmt.Errorf("no simulated printer %q", u.Host)
		}
		return dev.Connect(), nil
	}
	if err := errors.Join(reg.RegisterLanguage("evolis", evolis.Language), reg.RegisterTransport("testsim", testsim),
		reg.RegisterParams("", daemon.URIParams...), reg.RegisterParams("evolis", evolis.Params...)); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(st.logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	d, err := daemon.New(daemon.Options{Config: cfg, Registry: reg, Maker: blankMaker,
		Logger: slog.New(slog.NewJSONHandler(logf, nil)),
		Tune: func(c *queue.Config) {
			c.StatusInterval, c.RetryDelay, c.FetchWait = 300*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	st.d = d
	st.url = "https://" + d.ConsoleAddr()
	return st
}

// submit signs and publishes a job as the enrollment system does.
func (st *station) submit(j *job.Job) {
	st.t.Helper()
	body := sample.Body(j)
	kid, sig, err := job.Sign(st.key, body)
	if err != nil {
		st.t.Fatal(err)
	}
	m := &nats.Msg{Subject: queue.JobsSubject("local", queue.DefaultPool), Data: body, Header: nats.Header{}}
	m.Header.Set(job.HeaderKey, kid)
	m.Header.Set(job.HeaderSignature, sig)
	m.Header.Set(job.HeaderMsgID, job.MsgID(j.ID, sig))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.d.JetStream().PublishMsg(ctx, m); err != nil {
		st.t.Fatal(err)
	}
	st.people = append(st.people, j.Card.Name)
}

// waitState waits until a job's ledger entry is in state. The test reads
// the ledger through the daemon's own connection: the services answer
// authenticated people only.
func (st *station) waitState(jobID string, state queue.State) queue.Entry {
	st.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := st.d.JetStream().KeyValue(ctx, queue.BucketLedger)
	if err != nil {
		st.t.Fatal(err)
	}
	var last queue.Entry
	for ctx.Err() == nil {
		if e, err := kv.Get(ctx, jobID); err == nil && json.Unmarshal(e.Value(), &last) == nil && last.State == state {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	st.t.Fatalf("job %s is %s (%s), want %s", jobID, last.State, last.Reason, state)
	return last
}

// hold submits a job into a jam: the card is spoiled and the job held.
// The jam is then cleared, as a technician would.
func (st *station) hold(j *job.Job) {
	st.t.Helper()
	if err := st.devs["p0"].SetFault("jam=k"); err != nil {
		st.t.Fatal(err)
	}
	st.submit(j)
	st.waitState(j.ID, queue.Held)
	st.devs["p0"].SoftReset()
	st.devs["p0"].ClearFaults()
}

// browser is a headless Debian chromium driven through the DevTools
// protocol.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	axe   string
}

// chromiumPath finds Debian's chromium.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("PRINTERD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("console browser tests need Debian's chromium: run scripts/deps.sh test (apt-get install chromium)")
	return ""
}

// axeSource reads axe-core, installed by scripts/deps.sh test with npm
// into ~/.cache/printerd-axe (or PRINTERD_AXE names axe.min.js).
func axeSource(t *testing.T) string {
	p := os.Getenv("PRINTERD_AXE")
	if p == "" {
		dir := os.Getenv("PRINTERD_AXE_DIR") // as scripts/deps.sh
		if dir == "" {
			home, _ := os.UserHomeDir()
			dir = filepath.Join(home, ".cache", "printerd-axe")
		}
		p = filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("console browser tests need axe-core (%v): run scripts/deps.sh test (npm install axe-core into ~/.cache/printerd-axe)", err)
	}
	return string(b)
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		// The console's certificate is self-signed, made on first run.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, base: base, axe: axeSource(t), shots: os.Getenv("PRINTERD_CONSOLE_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	return b
}

// do runs actions, failing the test on error (each call at most 30 s).
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page text: %q)", what, err, b.text())
	}
}

// eval evaluates JavaScript (awaiting a promise) and returns its value.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (at most 30 s).
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s: still not true after 30 s: %s (page text: %q)", what, cond, b.text())
}

// notice waits for the page's notice to say want (after an action's
// redirect).
func (b *browser) notice(want string) {
	b.t.Helper()
	b.waitFor("notice "+want, fmt.Sprintf(`!!document.querySelector("#notice") && document.querySelector("#notice").innerText.includes(%q)`, want))
	b.settle()
}

// text is the page's visible text.
func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
	b.settle()
}

// settle waits, on a page with a live part, until its live stream is
// connected and the refresh a connection makes is done, so that a test's
// clicks do not race it.
func (b *browser) settle() {
	b.t.Helper()
	b.waitFor("live part settled", `!document.getElementById("live") || (document.body.dataset.live === "on" && +document.body.dataset.refreshes >= 1)`)
}

func (b *browser) signIn(name, password string) {
	b.t.Helper()
	b.open("/signin")
	b.do("sign in as "+name,
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#person")))
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#signin")))
}

// check runs axe-core on the page (no serious or critical violation),
// checks that no invented person's name is on it, and saves a screenshot.
func (b *browser) check(st *station, name string) {
	b.t.Helper()
	eval[chromedp.Void](b, b.axe)
	type violation struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Help   string   `json:"help"`
		Nodes  []string `json:"nodes"`
	}
	vs := eval[[]violation](b, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.map(n => n.target.join(" "))})))`)
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Errorf("page %s: axe %s violation %s: %s at %v", name, v.Impact, v.ID, v.Help, v.Nodes)
		} else {
			b.t.Logf("page %s: axe %s: %s: %s", name, v.Impact, v.ID, v.Help)
		}
	}
	text := b.text()
	for _, p := range st.people {
		if strings.Contains(text, p) {
			b.t.Errorf("page %s shows a person's name", name)
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// post sends a form POST from the page with fetch (a crafted request, as
// a person with the browser's developer tools could) and returns the
// status.
func (b *browser) post(path, body string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf(`fetch(%q, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %q, redirect: "manual"}).then(r => r.status)`, path, body))
}

// csrf is the page's CSRF token.
func (b *browser) csrf() string {
	return eval[string](b, `document.querySelector("input[name=csrf]").value`)
}

// markPage marks the loaded document and counts live refreshes, so a test
// can tell a live update from a reload.
func (b *browser) markPage() {
	eval[chromedp.Void](b, `window.__mark = "same page"; window.__refreshes = 0; document.addEventListener("printerd:refreshed", () => window.__refreshes++)`)
}

func (b *browser) samePage() bool {
	return eval[bool](b, `window.__mark === "same page"`)
}

// TestConsoleInBrowser drives the console in Debian's chromium against a
// real daemon with embedded NATS and simulated printers.
func TestConsoleInBrowser(t *testing.T) {
	st := startStation(t)
	jobs := sample.Jobs(3, time.Now())
	a, bj := jobs[0], jobs[1]
	st.hold(a)
	st.hold(bj)
	for _, j := range jobs {
		st.people = append(st.people, j.Card.Name)
	}
	br := newBrowser(t, st.url)
	t.Cleanup(func() {
		// Nothing the console (or the daemon) logged names a person.
		logs, _ := os.ReadFile(st.logs)
		for _, p := range st.people {
			if bytes.Contains(logs, []byte(p)) {
				t.Errorf("the log holds a person's name")
			}
		}
		if !bytes.Contains(logs, []byte(`"msg":"console: action"`)) {
			t.Error("the log has no console action: the privacy check read nothing")
		}
	})

	br.open("/signin")
	br.check(st, "signin")

	t.Run("clerk releases a held job and sees it printed without reloading", func(t *testing.T) {
		br.t = t
		br.signIn("clara", testPass["clara"])
		br.open("/queue")
		br.do("see the held job", chromedp.WaitVisible(chromedp.CSS("#held-"+a.ID)))
		if got := eval[string](br, fmt.Sprintf(`document.querySelector("#held-%s .reason").innerText`, a.ID)); !strings.Contains(got, "card-jam") {
			t.Errorf("held reason on the page %q, want the jam", got)
		}
		// The card was spoiled: the page says to destroy it and offers
		// only spoiled-destroyed.
		if got := eval[string](br, fmt.Sprintf(`[...document.querySelectorAll("#release-reason-%s option")].map(o => o.value).join(",")`, a.ID)); got != ",spoiled-destroyed" {
			t.Errorf("release reasons for a spoiled card: %q, want only spoiled-destroyed", got)
		}
		br.check(st, "queue")
		br.do("release it",
			chromedp.SetValue(chromedp.CSS("#release-reason-"+a.ID), "spoiled-destroyed"),
			chromedp.Click(chromedp.CSS("#release-"+a.ID)))
		br.notice("Job released")
		br.markPage()
		if eval[bool](br, fmt.Sprintf(`!!document.querySelector('#recent-%s[data-state="printed"]')`, a.ID)) {
			t.Fatal("the job was printed before the page could watch it: slow the simulated printer down")
		}
		br.do("see it printed", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#recent-%s[data-state="printed"]`, a.ID))),
			chromedp.WaitNotPresent(chromedp.CSS("#held-"+a.ID)))
		if !br.samePage() {
			t.Error("the page was reloaded; want a live update")
		}
		if n := eval[int](br, `window.__refreshes`); n == 0 {
			t.Error("no live refresh happened, yet the page changed")
		}
		st.waitState(a.ID, queue.Printed)
		if logs, _ := os.ReadFile(st.logs); !bytes.Contains(logs, []byte(`"person":"clara"`)) {
			t.Error("the console did not log the release as the signed-in clerk")
		}
	})

	t.Run("clerk's crafted technician request is refused", func(t *testing.T) {
		br.t = t
		br.open("/printers")
		if n := eval[int](br, `document.querySelectorAll("button[id^=pause-]").length`); n != 0 {
			t.Errorf("a clerk sees %d pause buttons", n)
		}
		br.check(st, "printers-clerk")
		if code := br.post("/printers/p0/pause", "csrf="+br.csrf()); code != 403 {
			t.Errorf("clerk's crafted pause answered %d, want 403", code)
		}
		if code := br.post("/printers/p0/test-card", "csrf="+br.csrf()); code != 403 {
			t.Errorf("clerk's crafted test card answered %d, want 403", code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		time.Sleep(500 * time.Millisecond)
		if ps := printerStatus(t, st, ctx, "p0"); ps.Paused {
			t.Error("the clerk paused p0")
		}
	})

	t.Run("a POST without the CSRF token is refused", func(t *testing.T) {
		br.t = t
		br.open("/queue")
		if code := br.post("/jobs/"+bj.ID+"/cancel", "reason=withdrawn"); code != 403 {
			t.Errorf("cancel without a CSRF token answered %d, want 403", code)
		}
		if code := br.post("/jobs/"+bj.ID+"/cancel", "reason=withdrawn&csrf=forged"); code != 403 {
			t.Errorf("cancel with a wrong CSRF token answered %d, want 403", code)
		}
		st.waitState(bj.ID, queue.Held)
		// The same cancel with the page's token works.
		br.do("cancel with a reason",
			chromedp.SetValue(chromedp.CSS("#cancel-reason-"+bj.ID), "duplicate"),
			chromedp.Click(chromedp.CSS("#cancel-"+bj.ID)))
		br.notice("Job cancelled")
		if e := st.waitState(bj.ID, queue.Cancelled); e.Reason != "duplicate" {
			t.Errorf("cancel reason %q, want duplicate", e.Reason)
		}
	})

	t.Run("card history with the chain's verification", func(t *testing.T) {
		br.t = t
		br.open("/history")
		br.do("look up a card",
			chromedp.SendKeys(chromedp.CSS("#card"), a.Card.Number),
			chromedp.Click(chromedp.CSS("#show-history")),
			chromedp.WaitVisible(chromedp.CSS("#history")))
		text := br.text()
		// The release is audited as the signed-in clerk via the daemon's
		// console user, with the reason code chosen.
		for _, want := range []string{"spoiled", "released", "printed", "clara via console-local", "spoiled-destroyed", "verified"} {
			if !strings.Contains(text, want) {
				t.Errorf("history page lacks %q", want)
			}
		}
		br.check(st, "history")
	})

	t.Run("reprint request pending until the new issue prints", func(t *testing.T) {
		br.t = t
		reqs := make(chan *nats.Msg, 1)
		pub, _ := st.enroll.PublicKey()
		enc, err := nats.Connect(st.d.NATSURL(), nats.Nkey(pub, st.enroll.Sign), nats.CustomInboxPrefix(embedded.InboxPrefix(pub)))
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		sub, err := enc.ChanSubscribe(console.ReprintSubject("local"), reqs)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		br.open("/reprints")
		br.do("ask for a reprint",
			chromedp.SendKeys(chromedp.CSS("#reprint-card"), a.Card.Number),
			chromedp.SetValue(chromedp.CSS("#reprint-reason"), "lost"),
			chromedp.Click(chromedp.CSS("#request-reprint")),
			chromedp.WaitVisible(chromedp.CSS(`#reprints td[data-state="pending"]`)))
		br.markPage()
		br.check(st, "reprints")
		var m *nats.Msg
		select {
		case m = <-reqs:
		case <-time.After(10 * time.Second):
			t.Fatal("no reprint request on cards.reprints.local")
		}
		for _, p := range st.people {
			if bytes.Contains(m.Data, []byte(p)) {
				t.Error("the reprint request holds a person's name")
			}
		}
		if !bytes.Contains(m.Data, []byte(`"after_issue":1`)) || !bytes.Contains(m.Data, []byte(`"requested_by":"clara"`)) {
			t.Errorf("reprint request %s: want after_issue 1, requested_by clara", m.Data)
		}
		// The enrollment system answers with the next issue.
		r := sample.Reprint(a, "lost")
		st.submit(r)
		br.do("see the reprint printed", chromedp.WaitVisible(chromedp.CSS(`#reprints td[data-state="printed"]`)))
		if !br.samePage() {
			t.Error("the reprints page was reloaded; want a live update")
		}
		br.signOut()
	})

	t.Run("technician pauses a printer and prints a test card", func(t *testing.T) {
		br.t = t
		// Keyboard only: the name field has focus, Tab to the password,
		// Enter signs in.
		br.open("/signin")
		br.waitFor("the name field has focus", `document.activeElement && document.activeElement.id === "name"`)
		br.do("sign in with the keyboard", chromedp.KeyEvent("tomas"), chromedp.KeyEvent("\t"), chromedp.KeyEvent(testPass["tomas"]),
			chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#person")))
		br.open("/printers")
		br.do("tab to the skip link", chromedp.KeyEvent("\t"))
		if got := eval[string](br, `document.activeElement.className + " " + getComputedStyle(document.activeElement).outlineStyle`); got != "skip solid" {
			t.Errorf("first Tab focuses %q, want the skip link with a visible outline", got)
		}
		// Tab on to the pause button of p1 and press Enter.
		for i := 0; i < 40 && eval[string](br, `document.activeElement.id`) != "pause-p1"; i++ {
			br.do("tab", chromedp.KeyEvent("\t"))
			if id := eval[string](br, `document.activeElement.id`); id != "" && eval[string](br, `getComputedStyle(document.activeElement).outlineStyle`) == "none" {
				t.Errorf("focused #%s has no visible focus outline", id)
			}
		}
		br.do("pause p1 with Enter", chromedp.KeyEvent("\r"))
		br.notice("Printer paused")
		br.markPage()
		br.do("see p1 paused", chromedp.WaitVisible(chromedp.CSS(`#printer-p1 .state[data-state="paused"]`)), chromedp.WaitVisible(chromedp.CSS("#resume-p1")))
		br.check(st, "printers")
		before := len(st.devs["p1"].Cards())
		br.do("test card on p1", chromedp.Click(chromedp.CSS("#test-card-p1")))
		br.notice("Test card printed")
		if after := len(st.devs["p1"].Cards()); after != before+1 {
			t.Errorf("p1 printed %d cards for the test card, want 1", after-before)
		}
		if code := br.post("/jobs/"+jobs[2].ID+"/release", "reason=printer-fixed&csrf="+br.csrf()); code != 403 {
			t.Errorf("technician's crafted release answered %d, want 403", code)
		}
		br.open("/printers/p1/nothing") // an error page, for axe
		br.check(st, "error")
		br.open("/printers")
		if got := eval[string](br, `document.querySelector("#printer-p1").innerText`); strings.Contains(got, " 0 cards left") {
			t.Errorf("paused p1 shows an empty ribbon: %q", got)
		}
		br.do("resume p1", chromedp.Click(chromedp.CSS("#resume-p1")), chromedp.WaitVisible(chromedp.CSS("#pause-p1")))
		br.signOut()
	})

	t.Run("repeated wrong passwords are slowed down", func(t *testing.T) {
		br.t = t
		try := func(password string) (int, time.Duration) {
			br.open("/signin")
			code, wait := eval[struct {
				Code  int    `json:"code"`
				Retry string `json:"retry"`
			}](br, fmt.Sprintf(`fetch("/signin", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %q + "&csrf=" + encodeURIComponent(document.querySelector("input[name=csrf]").value), redirect: "manual"}).then(r => ({code: r.status, retry: r.headers.get("Retry-After") || ""}))`,
				url.Values{"name": {"clara"}, "password": {password}}.Encode())), time.Duration(0)
			if code.Retry != "" {
				n, _ := strconv.Atoi(code.Retry)
				wait = time.Duration(n) * time.Second
			}
			return code.Code, wait
		}
		// Three free failures, then each failure makes the next attempt
		// wait: 1 s, 2 s, 4 s.
		for i := range 6 {
			code, wait := try("wrong-password")
			for code == 429 && i >= 3 {
				time.Sleep(wait)
				code, wait = try("wrong-password")
			}
			if code != 401 {
				t.Fatalf("wrong password %d answered %d, want 401", i+1, code)
			}
		}
		start := time.Now()
		code, wait := try(testPass["clara"])
		if code != 429 || wait < 2*time.Second {
			t.Fatalf("right password after 6 failures: %d, Retry-After %v; want 429 and about 4 s", code, wait)
		}
		br.open("/signin")
		br.do("try in the form", chromedp.SendKeys(chromedp.CSS("#name"), "clara"), chromedp.SendKeys(chromedp.CSS("#password"), testPass["clara"]),
			chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#error")))
		if got := br.text(); !strings.Contains(got, "Too many failed sign-ins") {
			t.Errorf("slowed sign-in page says %q", got)
		}
		time.Sleep(time.Until(start.Add(wait + 200*time.Millisecond)))
		br.signIn("clara", testPass["clara"])
		// A tablet in portrait: the queue page in one column.
		br.do("tablet", chromedp.EmulateViewport(768, 1024))
		br.open("/queue")
		br.check(st, "queue-tablet")
		if w := eval[int](br, `document.documentElement.scrollWidth`); w > 768 {
			t.Errorf("on a 768 px tablet the queue page is %d px wide (scrolls sideways)", w)
		}
	})
}

// printerStatus reads a printer's printer_status entry.
func printerStatus(t *testing.T, st *station, ctx context.Context, name string) queue.PrinterStatus {
	t.Helper()
	kv, err := st.d.JetStream().KeyValue(ctx, queue.BucketStatus)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, queue.StatusKey("local", name))
	if err != nil {
		t.Fatal(err)
	}
	var ps queue.PrinterStatus
	if err := json.Unmarshal(e.Value(), &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}
