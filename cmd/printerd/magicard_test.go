package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/playback"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job/sample"
)

// verifiedNumber scans the barcode on a printed card image with printerd
// verify and returns the card number it verified.
func verifiedNumber(ctx context.Context, t *testing.T, image, issuerPub string) string {
	t.Helper()
	code, out, errs := runCLI(ctx, "verify", "--image", image, "--keys", issuerPub, "--json")
	var res struct {
		Valid  bool         `json:"valid"`
		Claims verifyClaims `json:"claims"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || !res.Valid {
		t.Fatalf("verify %s: exit %d, out %q, err %q", filepath.Base(image), code, out, errs)
	}
	return res.Claims.Number
}

// TestSimCommandMagicard runs printerd sim --lang magicard for each line
// layout (KEE over TCP, KGE over a pty), opens it through the daemon's
// registry with lang=magicard, prints the built-in card rendered by
// layout, and verifies the signed barcode on the card the simulator
// decoded and composited.
func TestSimCommandMagicard(t *testing.T) {
	f := newE2EFixture(t)
	for _, tc := range []struct{ layout, mode string }{{"kee", "tcp"}, {"kge", "pty"}} {
		t.Run(tc.layout+"/"+tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--lang", "magicard", "--layout", tc.layout, "--out", dir}
			re := regexp.MustCompile(`listening on (tcp://\S+)`)
			if tc.mode == "pty" {
				args = append(args, "--pty")
				re = regexp.MustCompile(`pty (/dev/\S+)`)
			} else {
				args = append(args, "--listen", "tcp://127.0.0.1:0")
			}
			where, stop := startSim(t, re, args...)
			uri := where + "?lang=magicard&poll=10ms&timeout=2s"
			if tc.mode == "pty" {
				uri = "serial://" + where + "?baud=115200&lang=magicard&poll=10ms&timeout=2s"
			}
			reg, err := newRegistry(nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			op, err := reg.Open(ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			info, err := op.Info(ctx)
			if err != nil || !strings.Contains(info.Model, map[string]string{"kee": "Tango", "kge": "Enduro"}[tc.layout]) {
				t.Fatalf("info %+v, %v", info, err)
			}
			j := sample.Jobs(1, time.Now())[0]
			card, err := preRendered(t, f.issuerKey).Make(ctx, j, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := op.Print(ctx, card); err != nil {
				t.Fatal(err)
			}
			op.Close()
			if got := verifiedNumber(ctx, t, filepath.Join(dir, "card-0001-back.png"), filepath.Join(f.keys, "issuer.pub")); got == "" {
				t.Fatal("no card number verified")
			}
			code, out := stop()
			if code != exitOK || !strings.Contains(out, "stopped after 1 cards printed") {
				t.Fatalf("exit %d, output %q", code, out)
			}
		})
	}
	var out, errOut simWriter
	if code := cmdSim(context.Background(), []string{"--lang", "magicard", "--layout", "optima"}, &out, &errOut); code != exitUsage {
		t.Errorf("--layout optima: exit %d, want %d", code, exitUsage)
	}
}

// magicardTCP serves a simulated Magicard on a loopback TCP port until
// the test ends and returns its address.
func magicardTCP(t *testing.T, dev *sim.Magicard) string {
	t.Helper()
	srv, err := dev.ListenTCP("127.0.0.1:0", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

// TestMixedPrinters runs one daemon with two Evolis simulators (sim://)
// and two Magicard simulators of either layout (over TCP, lang=magicard)
// and prints a batch: every job is printed exactly once, and every card
// that came out of any printer carries a barcode that verifies with the
// issuer key, the numbers of all cards together being the batch's.
func TestMixedPrinters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := newE2EFixture(t)
	kee := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKEE, Options: sim.Options{Name: "mc-kee", Out: filepath.Join(f.out, "kee")}})
	kge := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKGE, Options: sim.Options{Name: "mc-kge", Out: filepath.Join(f.out, "kge")}})
	cfg := f.config(
		simURI(t, "evo1", f.out, nil),
		simURI(t, "evo2", f.out, nil),
		"tcp://"+magicardTCP(t, kee)+"?lang=magicard&name=mc1&poll=20ms",
		"tcp://"+magicardTCP(t, kge)+"?lang=magicard&name=mc2&poll=20ms",
	)
	p := startInProcess(t, cfg, daemonDeps{})
	nc, js := f.connect(t, p.d.NATSURL(), "inspector")
	evs := watchEvents(t, nc)
	const n = 12
	jobs := sample.Jobs(n, time.Now())
	var ids []string
	want := map[string]string{} // card number -> job id
	for _, j := range jobs {
		if _, err := js.PublishMsg(ctx, signed(queue.JobsSubject("local", "default"), j.ID, f.sealed(ctx, t, js, "local", "default", j), f.approver)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
		want[j.Card.Number] = j.ID
	}
	if err := evs.waitFor(ctx, ids, queue.EventPrinted); err != nil {
		t.Fatalf("%v\n%s", err, p.log.Bytes())
	}
	time.Sleep(300 * time.Millisecond) // a late duplicate would show now
	byPrinter := map[string]int{}
	for _, id := range ids {
		e, err := ledgerState(ctx, js, id)
		if err != nil || e.State != queue.Printed {
			t.Fatalf("job %s: ledger %+v, %v", id, e, err)
		}
		byPrinter[strings.SplitN(e.Printer, "-", 2)[0]]++
	}
	t.Logf("cards per printer: %v", byPrinter)
	if byPrinter["mc1"] == 0 || byPrinter["mc2"] == 0 {
		t.Errorf("a Magicard printer printed nothing: %v", byPrinter)
	}
	pub := filepath.Join(f.keys, "issuer.pub")
	seen := map[string]int{}
	var backs []string
	for name := range outFiles(t, f.out) {
		if strings.HasSuffix(name, "-back.png") {
			backs = append(backs, filepath.Join(f.out, name))
		}
	}
	for _, sub := range []string{"kee", "kge"} {
		for name := range outFiles(t, filepath.Join(f.out, sub)) {
			if strings.HasSuffix(name, "-back.png") {
				backs = append(backs, filepath.Join(f.out, sub, name))
			}
		}
	}
	for _, b := range backs {
		seen[verifiedNumber(ctx, t, b, pub)]++
	}
	if len(backs) != n {
		t.Errorf("%d cards came out, want %d", len(backs), n)
	}
	for num := range want {
		if seen[num] != 1 {
			t.Errorf("card %s came out %d times, want once", num, seen[num])
		}
	}
	if c := kee.Counters().Printed + kge.Counters().Printed; c != byPrinter["mc1"]+byPrinter["mc2"] {
		t.Errorf("Magicard counters say %d cards, the ledger %d", c, byPrinter["mc1"]+byPrinter["mc2"])
	}
	if code := p.shutdown(t); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// TestMagicardOutcomes runs the daemon on one simulated Magicard with a
// fault per job: a link that drops while the card prints (the job is in
// the printer, the card counter moves: printed once), and a cover opened
// as the card would feed (the text protocol cannot tell whether a card
// moved: the job is held, saying so, and never printed twice).
func TestMagicardOutcomes(t *testing.T) {
	for _, tc := range []struct {
		fault, state, reason string
		printed              int
	}{
		{fault: "drop=m", state: queue.EventPrinted, printed: 1},
		{fault: "cover-open=feed", state: queue.EventHeld, reason: "unknown outcome: cover-open", printed: 0},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			f := newE2EFixture(t)
			faults, err := sim.ParseFaults(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			dev := sim.NewMagicard(sim.MagicardOptions{Options: sim.Options{Faults: faults}})
			p := startInProcess(t, f.config("tcp://"+magicardTCP(t, dev)+"?lang=magicard&name=mc&poll=20ms&timeout=1s&print-timeout=5s"), daemonDeps{})
			nc, js := f.connect(t, p.d.NATSURL(), "inspector")
			evs := watchEvents(t, nc)
			j := f.publishSample(ctx, t, js)
			if err := evs.waitFor(ctx, []string{j.ID}, tc.state); err != nil {
				t.Fatalf("%v\n%s", err, p.log.Bytes())
			}
			time.Sleep(300 * time.Millisecond)
			e, err := ledgerState(ctx, js, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason != "" && !strings.Contains(e.Reason, tc.reason) {
				t.Errorf("held with reason %q, want %q", e.Reason, tc.reason)
			}
			if n := dev.Counters().Printed; n != tc.printed {
				t.Errorf("the printer printed %d cards, want %d", n, tc.printed)
			}
			if st := dev.State(); st.Fed > 1 {
				t.Errorf("%d cards fed for one job", st.Fed)
			}
			if code := p.shutdown(t); code != exitOK {
				t.Errorf("exit %d", code)
			}
		})
	}
}

// TestDiagRecordMagicard records a technician's session with a Magicard
// (printerd diag test-card --record, as with a real printer) and replays
// it against the Magicard driver with drivers/playback: the recording
// holds the job's header readable and its planes as a blob.
func TestDiagRecordMagicard(t *testing.T) {
	ctx := context.Background()
	dev := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKGE})
	uri := "tcp://" + magicardTCP(t, dev) + "?lang=magicard&poll=10ms"
	file := filepath.Join(t.TempDir(), "status.txt")
	if code, _, errOut := runCLI(ctx, "diag", "status", "--device="+uri, "--record", file); code != exitOK {
		t.Fatalf("diag status --record: %s", errOut)
	}
	pb, err := playback.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := magicard.New(pb, magicard.Options{}).Status(ctx)
	if err != nil || !st.Ready || st.RibbonLeft != 300 {
		t.Fatalf("replayed Status = %+v, %v", st, err)
	}
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "test-card.txt")
	if code, _, errOut := runCLI(ctx, "diag", "test-card", "--device="+uri, "--record", file); code != exitOK {
		t.Fatalf("diag test-card --record: %s", errOut)
	}
	rec, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec), `\x01,NOC1,`) || !strings.Contains(string(rec), "> blob ") {
		t.Fatalf("the recording lacks the job header or its blob:\n%.600s", rec)
	}
	if n := dev.Counters().Printed; n != 1 {
		t.Fatalf("printed %d test cards, want 1", n)
	}
}
