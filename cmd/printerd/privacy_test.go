package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// privatePerson is an obviously invented card holder with values that
// cannot appear anywhere by chance.
type privatePerson struct{ name, dob, gender string }

var privatePeople = []privatePerson{
	{"Zyxwvut Qqqplorbington", "1911-02-03", "Quixotigender"}, // printed
	{"Ploxwiggen Dramvortle", "2999-01-01", "Snarfluent"},     // birth date in the future: rejected
	{"Grumbletoast Wexhammer", "1917-08-09", "Frobnicant"},    // forged approval: rejected
	{"Vexqorin Blumfrazzle", "1913-04-05", "Xyloformic"},      // jammed: held (the jam is last: a jammed printer takes no job)
}

// needles are the byte strings that must not appear: each value as
// written, upper- and lower-cased, each word of a name, and a slice of the
// photo's base64.
func (p privatePerson) needles() []string {
	var out []string
	for _, v := range []string{p.name, p.dob, p.gender} {
		out = append(out, v, strings.ToUpper(v), strings.ToLower(v))
	}
	out = append(out, strings.Fields(p.name)...)
	return out
}

// TestPrivacy runs printerd run (the binary) with jobs for distinctive
// invented people, one printed, one held by a jam, one rejected by the
// contract and one forged, and searches every log line, event, audit
// record, KV entry, metric, clerk reply, every file under the state
// directory (raw: the store is encrypted at rest) and the out directory
// (except the card images asked for): none of their data may be found.
func TestPrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon binary; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bin := buildPrinterd(t)
	f := newE2EFixture(t)
	started := time.Now()
	port, httpPort := freePort(t), freePort(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(httpPort)
	// The second card fed jams at the yellow panel: that job is held.
	printer := "sim://privacy?" + url.Values{"out": {f.out}, "speed": {"0"}, "faults": {"jam=y@2"}}.Encode()
	args := append(f.procArgs(port, httpAddr, printer), "--log-level", "debug")
	p := startProc(t, bin, filepath.Join(f.dir, "printerd.log"), args...)
	if err := p.waitLog(ctx, `"printerd: running"`); err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://127.0.0.1:" + strconv.Itoa(port)
	nc, js := f.connectRetry(t, natsURL, "inspector")
	evs := watchEvents(t, nc)

	jobs := sample.Jobs(len(privatePeople), time.Now())
	var photos []string
	subject := queue.JobsSubject("local", "default")
	for i, j := range jobs {
		pp := privatePeople[i]
		j.Card.Name, j.Card.DOB, j.Card.Gender = pp.name, pp.dob, pp.gender
		photos = append(photos, j.Card.Photo[len(j.Card.Photo)/2:len(j.Card.Photo)/2+48])
		key := f.approver
		if i == 2 {
			key = f.rogue
		}
		if _, err := js.PublishMsg(ctx, signed(subject, j.ID, f.sealed(ctx, t, js, "local", "default", j), key)); err != nil {
			t.Fatal(err)
		}
		// One at a time, so the jam hits the second card fed.
		want := []string{queue.EventPrinted, queue.EventRejected, queue.EventRejected, queue.EventHeld}[i]
		if err := evs.waitFor(ctx, []string{j.ID}, want); err != nil {
			t.Fatal(err)
		}
	}

	// Everything the daemon publishes or stores, read through NATS.
	type source struct {
		name string
		data []byte
	}
	var sources []source
	for _, s := range []string{queue.StreamEvents, queue.StreamAudit} {
		_, raw, err := readStream[map[string]any](ctx, js, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) == 0 {
			t.Errorf("stream %s is empty", s)
		}
		sources = append(sources, source{s, bytes.Join(raw, []byte("\n"))})
	}
	for _, b := range []string{queue.BucketLedger, queue.BucketIssues, queue.BucketStatus} {
		kv, err := js.KeyValue(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		lister, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k := range lister.Keys() {
			buf.WriteString(k + "\n")
			hist, _ := kv.History(ctx, k)
			for _, e := range hist {
				buf.Write(e.Value())
				buf.WriteByte('\n')
			}
		}
		if buf.Len() == 0 {
			t.Errorf("bucket %s is empty", b)
		}
		sources = append(sources, source{"KV " + b, buf.Bytes()})
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sources = append(sources, source{"metrics", metrics})
	for _, args := range [][]string{
		{"jobs", "held", "--json"}, {"jobs", "held"},
		{"jobs", "status", jobs[3].ID, "--json"}, {"jobs", "status", jobs[1].ID},
		{"jobs", "history", jobs[0].Card.Number, "--json"},
	} {
		code, out, errs := runCLI(ctx, append(args, "--nats", natsURL, f.as("clerk-1"))...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
		sources = append(sources, source{strings.Join(args, " "), []byte(out + errs)})
	}

	held, err := js.Stream(ctx, queue.StreamHeld)
	if err != nil {
		t.Fatal(err)
	}
	hm, err := held.GetLastMsgForSubject(ctx, queue.HeldSubject("local", jobs[3].ID))
	if err != nil {
		t.Fatalf("held job body: %v", err)
	}
	// Positive control: the held job's body is in CARD_HELD (its one
	// allowed place), sealed: the daemon's epoch keys open it to the name,
	// and the search finds the name and photo in the plain card.
	env, err := job.ParseEnvelope(hm.Data)
	if err != nil || env.ID != jobs[3].ID {
		t.Fatalf("held body: %v", err)
	}
	keys, _, err := daemon.OpenKeys(f.state)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := env.OpenAt(keys, time.Now())
	if err != nil || opened.Card.Name != privatePeople[3].name {
		t.Fatalf("positive control: the held body does not open to the held person (%v): the search would prove nothing", err)
	}
	opened.Wipe()
	plain := sample.Body(jobs[3])
	pp3 := privatePeople[3]
	for _, n := range []string{pp3.name, pp3.dob, pp3.gender, photos[3]} {
		if !bytes.Contains(plain, []byte(n)) {
			t.Fatalf("positive control: needle %q not found in the plain card: the search would prove nothing", n)
		}
	}

	// Stop the daemon: the log is complete and the store is flushed.
	sigterm(p)
	if code, err := p.exitCode(ctx); code != 0 || err != nil {
		t.Errorf("exit %d, %v", code, err)
	}
	logb, _ := os.ReadFile(p.logPath)
	if !bytes.Contains(logb, []byte(`"queue: job rejected"`)) && !bytes.Contains(logb, []byte("rejected")) {
		t.Errorf("the log does not mention the rejections: is it the daemon's log?\n%s", logb)
	}
	sources = append(sources, source{"daemon log", logb})

	// Every file under the state directory, raw.
	nState := 0
	filepath.WalkDir(f.state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read %s: %v", path, err)
			return nil
		}
		nState++
		sources = append(sources, source{"state file " + path, b})
		return nil
	})
	if nState < 5 {
		t.Errorf("only %d files under the state dir", nState)
	}
	// The out directory: only the printed card's images, which are asked for.
	for name := range outFiles(t, f.out) {
		if name == jobs[0].ID+"-front.png" || name == jobs[0].ID+"-back.png" {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(f.out, name))
		t.Errorf("unexpected file in the out dir: %s", name)
		sources = append(sources, source{"out file " + name, b})
	}
	// Temporary files the daemon may have left (made since it started).
	for _, dir := range []string{f.dir, os.TempDir()} {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			info, err := e.Info()
			if err != nil || !info.ModTime().After(started) {
				continue
			}
			if strings.HasPrefix(e.Name(), "printerd") && !e.IsDir() && filepath.Join(dir, e.Name()) != p.logPath {
				b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				sources = append(sources, source{"temp file " + e.Name(), b})
			}
		}
	}

	var needles []string
	for _, pp := range privatePeople {
		needles = append(needles, pp.needles()...)
	}
	needles = append(needles, photos...)
	for _, ph := range photos {
		if raw, err := base64.StdEncoding.DecodeString(ph); err == nil && len(raw) >= 24 {
			needles = append(needles, string(raw[:24]))
		}
	}
	for _, s := range sources {
		for _, n := range needles {
			if bytes.Contains(s.data, []byte(n)) {
				t.Errorf("%s holds personal data %q", s.name, n)
			}
		}
	}
	t.Logf("searched %d sources (%d state files) for %d needles", len(sources), nState, len(needles))
}
