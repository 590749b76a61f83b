package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job/sample"
)

// TestRibbons: the daemon lays each card out for the ribbon its printer
// has. A printer that says it has a KO ribbon (asked, no URI parameter)
// and one whose URI says ribbon=k print the built-in card, and the code on
// each printed back verifies; a template that allows only colour ribbons
// is held on the KO printer with a reason naming the template and the
// ribbons, not printed and not refused for good.
func TestRibbons(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newE2EFixture(t)
	// A template that needs colour: the built-in one, restricted.
	tdir := filepath.Join(f.dir, "templates")
	os.MkdirAll(tdir, 0o755)
	b, err := os.ReadFile("../../layout/templates/municipal-id.json")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `"name": "municipal-id",`, `"name": "colour-only", "ribbons": ["ymcko", "ymckok"],`, 1)
	os.WriteFile(filepath.Join(tdir, "colour-only.json"), []byte(s), 0o644)
	crest, _ := os.ReadFile("../../layout/templates/crest.png")
	os.WriteFile(filepath.Join(tdir, "crest.png"), crest, 0o644)

	sims := &sim.Registry{}
	koName := "ko-" + strings.ReplaceAll(t.Name(), "/", "-")
	ko := sim.New(sim.Options{Name: koName, Out: f.out, Ribbon: card.KO})
	if err := sims.Register(koName, ko); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(
		"sim://"+koName+"?"+url.Values{"name": {"ko"}, "pool": {"ko"}}.Encode(),
		simURI(t, "k", f.out, url.Values{"pool": {"k"}, "ribbon": {"k"}}),
	)
	cfg.Templates = tdir
	p := startInProcess(t, cfg, daemonDeps{sims: sims})
	nc, js := f.connect(t, p.d.NATSURL(), "enr")
	_, ijs := f.connect(t, p.d.NATSURL(), "inspector") // reads the ledger
	evs := watchEvents(t, nc)
	jobs := sample.Jobs(3, time.Now())
	jobs[2].Template = "colour-only"
	for i, pool := range []string{"ko", "k", "ko"} {
		j := jobs[i]
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", pool), j.ID, f.sealed(ctx, t, js, "local", pool, j), f.approver)); err != nil {
			t.Fatal(err)
		}
	}
	if err := evs.waitFor(ctx, []string{jobs[0].ID, jobs[1].ID}, queue.EventPrinted); err != nil {
		t.Fatalf("%v\n%s", err, p.log.Bytes())
	}
	if err := evs.waitFor(ctx, []string{jobs[2].ID}, queue.EventHeld); err != nil {
		t.Fatalf("%v\n%s", err, p.log.Bytes())
	}
	e, err := ledgerState(ctx, ijs, jobs[2].ID)
	if err != nil || e.State != queue.Held || !strings.Contains(e.Reason, "template colour-only needs ribbon ymcko or ymckok, the printer has ko") {
		t.Errorf("colour-only job on the KO printer: ledger %+v, %v; want held naming the template and the ribbons", e, err)
	}
	cards := ko.Cards()
	if len(cards) != 1 || cards[0].FrontPanels.K == nil || cards[0].FrontPanels.Y != nil || cards[0].FrontPanels.O == nil {
		t.Errorf("the KO printer printed %d cards; want one with K and O panels and no colour", len(cards))
	}
	for _, j := range jobs[:2] {
		back := filepath.Join(f.out, j.ID+"-back.png")
		code, out, errs := runCLI(ctx, "verify", "--image", back, "--keys", filepath.Join(f.keys, "issuer.pub"))
		if code != exitOK || !strings.Contains(out, j.Card.Number) {
			t.Errorf("verify %s: exit %d, %q %q", back, code, out, errs)
		}
	}
}
