package chipe2e_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/chip"
	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/layout/barcode"
	"github.com/cityid/printerd/layout/credential"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job"
	"github.com/cityid/printerd/queue/job/sample"
)

// chipDaemon is an in-process daemon (embedded NATS) printing on a
// simulated Evolis printer through the sim:// link, with the simulator's
// encoder station on vpcd's reader 0 and the driver encoding through pcscd.
type chipDaemon struct {
	d        *daemon.Daemon
	dev      *sim.Device
	approver ed25519.PrivateKey
	trusted  []keyfile.Public

	mu    sync.Mutex
	cards map[string]*layout.Card // what the maker rendered, by job id
	enc   *timedEncoder
	log   syncBuffer // the daemon's log, shown when a job does not settle
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

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// timedEncoder is the PC/SC encoder, timed: how long each successful
// encoding took once the driver had moved the card to the station.
type timedEncoder struct {
	chip.Encoder
	mu    sync.Mutex
	times []time.Duration
}

func (e *timedEncoder) Encode(ctx context.Context, reader string, payload []byte) (chip.Result, error) {
	t0 := time.Now()
	r, err := e.Encoder.Encode(ctx, reader, payload)
	if err == nil {
		e.mu.Lock()
		e.times = append(e.times, time.Since(t0))
		e.mu.Unlock()
	}
	return r, err
}

// linkedTemplate writes a copy of the chip template that links the card
// by its chip's UID into dir.
func linkedTemplate(t *testing.T, dir string) {
	t.Helper()
	src, err := os.ReadFile("../../layout/templates/municipal-id-chip.json")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), `"name": "municipal-id-chip"`, `"name": "municipal-id-chip-linked"`, 1)
	s = strings.Replace(s, `"link_uid": false`, `"link_uid": true`, 1)
	crest, err := os.ReadFile("../../layout/templates/crest.png")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "linked.json"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crest.png"), crest, 0o644); err != nil {
		t.Fatal(err)
	}
}

func startChipDaemon(t *testing.T, faults string) *chipDaemon {
	t.Helper()
	dir := t.TempDir()
	iss, err := keyfile.New(keyfile.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyfile.WritePair(filepath.Join(dir, "keys"), "issuer", iss); err != nil {
		t.Fatal(err)
	}
	ap, _ := keyfile.New(keyfile.Ed25519)
	if err := keyfile.WritePair(filepath.Join(dir, "approvers"), "approver", ap); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "approvers", "approver.key"))
	templates := filepath.Join(dir, "templates")
	os.MkdirAll(templates, 0o755)
	linkedTemplate(t, templates)
	f, err := sim.ParseFaults(faults)
	if err != nil {
		t.Fatal(err)
	}
	cd := &chipDaemon{approver: ap.(ed25519.PrivateKey), trusted: []keyfile.Public{{Key: iss.Public()}}, cards: map[string]*layout.Card{}}
	cd.dev = sim.New(sim.Options{Name: "chipsim", VPCD: vchip.Addr0, Out: filepath.Join(dir, "out"), Faults: f})
	sims := &sim.Registry{}
	if err := sims.Register("chipsim", cd.dev); err != nil {
		t.Fatal(err)
	}
	reg := &drivers.Registry{}
	cd.enc = &timedEncoder{Encoder: pcsc.NewEncoder(pcsc.Options{})}
	if err := errors.Join(reg.RegisterLanguage("evolis", evolis.LanguageWith(cd.enc)),
		reg.RegisterTransport("sim", sims.Transport), reg.RegisterParams("", daemon.URIParams...),
		reg.RegisterParams("evolis", evolis.Params...), reg.RegisterParams("sim", sim.Params...)); err != nil {
		t.Fatal(err)
	}
	r, err := layout.New(layout.Options{Issuer: iss, Templates: templates})
	if err != nil {
		t.Fatal(err)
	}
	maker := queue.MakerFunc(func(ctx context.Context, j *job.Job, _ card.Ribbon) (card.Card, error) {
		photo, err := j.Card.PhotoBytes()
		if err != nil {
			return card.Card{}, err
		}
		c, err := r.Render(ctx, j.Template, layout.Fields{Number: j.Card.Number, Issue: j.Card.Issue, Name: j.Card.Name,
			DOB: j.Card.DOB, Gender: j.Card.Gender, Issued: j.Card.Issued, Expires: j.Card.Expires, Photo: photo})
		if err != nil {
			return card.Card{}, err
		}
		cd.mu.Lock()
		cd.cards[j.ID] = c
		cd.mu.Unlock()
		return c.Panels, nil
	})
	cfg := daemon.DefaultConfig()
	cfg.State = filepath.Join(dir, "state")
	cfg.NATSListen = "none"
	cfg.HTTP = ""
	cfg.ApproverKeys = filepath.Join(dir, "approvers")
	cfg.IssuerKey = filepath.Join(dir, "keys", "issuer.key")
	cfg.Templates = templates
	cfg.AcceptV1 = true // plain v1 jobs: sealing is not what this test is about
	cfg.Printers = []string{"sim://chipsim?reader=" + url.QueryEscape(vchip.Reader0)}
	d, err := daemon.New(daemon.Options{Config: cfg, Registry: reg, Maker: maker,
		Logger: slog.New(slog.NewTextHandler(&cd.log, nil)), Level: new(slog.LevelVar)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Shutdown(context.Background())
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pcsc.WaitRemoved(wctx, vchip.Reader0); err != nil {
			t.Errorf("a chip still shows at %s: %v", vchip.Reader0, err)
		}
	})
	cd.d = d
	return cd
}

// submit publishes a signed job on template and waits until its ledger
// entry is printed or held; it returns the entry.
func (cd *chipDaemon) submit(t *testing.T, j *job.Job, template string) queue.Entry {
	t.Helper()
	j.Template = template
	body := sample.Body(j)
	kid, sig, err := job.Sign(cd.approver, body)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(queue.JobsSubject("local", "default"))
	m.Data = body
	m.Header.Set(job.HeaderMsgID, job.MsgID(j.ID, sig))
	m.Header.Set(job.HeaderKey, kid)
	m.Header.Set(job.HeaderSignature, sig)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := cd.d.JetStream()
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, queue.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if e, err := kv.Get(ctx, j.ID); err == nil {
			var en queue.Entry
			if err := json.Unmarshal(e.Value(), &en); err != nil {
				t.Fatal(err)
			}
			if en.State == queue.Printed || en.State == queue.Held || en.State == queue.Rejected {
				return en
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s not settled in time; daemon log:\n%s", j.ID, cd.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// issueMark reads card_issues for a card number, waiting up to 10 s for
// the mark to say delivered when wait is set.
func (cd *chipDaemon) issueMark(t *testing.T, number string, wait bool) queue.IssueMark {
	t.Helper()
	ctx := context.Background()
	kv, err := cd.d.JetStream().KeyValue(ctx, queue.BucketIssues)
	if err != nil {
		t.Fatal(err)
	}
	var m queue.IssueMark
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := kv.Get(ctx, number)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatal(err)
		}
		if err == nil {
			if err := json.Unmarshal(e.Value(), &m); err != nil {
				t.Fatal(err)
			}
			if m.Delivered || !wait || time.Now().After(deadline) {
				return m
			}
		}
		if !wait || time.Now().After(deadline) {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDaemonPrintsChipCards: jobs whose template asks for the chip are
// printed by the daemon on the simulator over the sim:// link; the chip
// is written through pcscd at the encoder station. A good card's chip,
// opened with the access number printed on it, holds the barcode's
// credential, verified with the issuer key; without the number it yields
// nothing personal; its stripe holds the template's clear tracks. Each
// chip fault (missing, refusing writes, removed mid-write) ends as a
// spoiled card: rejected to the tray, counted, held with reason
// spoiled-encoding, never printed. The chip's UID is in card_issues only
// for the template that links the card.
func TestDaemonPrintsChipCards(t *testing.T) {
	cd := startChipDaemon(t, "chip=missing@2,chip=refuse@3,chip=remove@4")
	jobs := sample.Jobs(5, time.Now())

	t0 := time.Now()
	e := cd.submit(t, jobs[0], chipTemplate)
	t.Logf("chip card printed by the daemon in %v (job published to ledger printed)", time.Since(t0).Round(time.Millisecond))
	if e.State != queue.Printed {
		t.Fatalf("good chip job: %s (%s)", e.State, e.Reason)
	}
	cd.mu.Lock()
	made := cd.cards[jobs[0].ID]
	cd.mu.Unlock()
	printed := cd.dev.Cards()
	if len(printed) != 1 || printed[0].Label != jobs[0].ID || printed[0].Chip == nil {
		t.Fatalf("printed cards: %d", len(printed))
	}
	msg, err := printed[0].Chip.Message()
	if err != nil {
		t.Fatal(err)
	}
	text, err := credential.Decode(msg, made.CAN)
	if err != nil {
		t.Fatalf("the printed access number does not open the chip: %v", err)
	}
	if text != made.Barcode {
		t.Error("the chip's credential differs from the barcode's")
	}
	claims, _, err := barcode.Verify(text, cd.trusted)
	if err != nil || claims.Number != jobs[0].Card.Number || claims.Name != jobs[0].Card.Name {
		t.Fatalf("the chip's credential: %+v, %v", claims, err)
	}
	if _, err := credential.Decode(msg, "000000000000"); !errors.Is(err, credential.ErrCAN) {
		t.Errorf("another access number: %v", err)
	}
	img, _ := printed[0].Chip.Marshal()
	for _, v := range append(strings.Fields(jobs[0].Card.Name), jobs[0].Card.DOB, jobs[0].Card.Gender) {
		if strings.Contains(string(img), v) {
			t.Errorf("the chip image shows a personal value in clear")
		}
	}
	if printed[0].Mag[0] != jobs[0].Card.Number || printed[0].Mag[1] != "1="+strings.ReplaceAll(jobs[0].Card.Expires, "-", "") {
		t.Errorf("stripe %q", printed[0].Mag)
	}
	if m := cd.issueMark(t, jobs[0].Card.Number, true); !m.Delivered || m.ChipUID != "" {
		t.Errorf("card_issues %+v: want delivered and no chip UID (the template does not link it)", m)
	}

	for i, fault := range []string{"missing", "refuse", "remove"} {
		j := jobs[1+i]
		e := cd.submit(t, j, chipTemplate)
		if e.State != queue.Held || !e.Spoiled || !strings.HasPrefix(e.Reason, "spoiled-encoding") {
			t.Errorf("chip %s: ledger %s spoiled=%v reason %q; want held, spoiled, spoiled-encoding", fault, e.State, e.Spoiled, e.Reason)
		}
		if m := cd.issueMark(t, j.Card.Number, false); m.Delivered || m.ChipUID != "" {
			t.Errorf("chip %s: card_issues %+v", fault, m)
		}
	}
	cn := cd.dev.Counters()
	if cn.Printed != 1 || cn.Rejected != 3 {
		t.Errorf("counters printed %d rejected %d, want 1 and 3", cn.Printed, cn.Rejected)
	}
	if n := len(cd.dev.Cards()); n != 1 {
		t.Errorf("%d cards came out, want the 1 good one", n)
	}

	e = cd.submit(t, jobs[4], "municipal-id-chip-linked")
	if e.State != queue.Printed {
		t.Fatalf("linked chip job: %s (%s)", e.State, e.Reason)
	}
	cards := cd.dev.Cards()
	last := cards[len(cards)-1]
	m := cd.issueMark(t, jobs[4].Card.Number, true)
	if m.ChipUID == "" || m.ChipUID != hex.EncodeToString(last.Chip.UID) {
		t.Errorf("card_issues chip_uid %q, the chip's UID is %X", m.ChipUID, last.Chip.UID)
	}
	cd.enc.mu.Lock()
	t.Logf("chip encoding in the daemon path (Sic answered to encoded, read back and locked), per good card: %v", cd.enc.times)
	cd.enc.mu.Unlock()
}
