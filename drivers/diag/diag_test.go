package diag_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/diag"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
)

func printer(t *testing.T, so sim.Options) (*sim.Device, drivers.Printer) {
	t.Helper()
	dev := sim.New(so)
	link := dev.Connect()
	t.Cleanup(func() { link.Close() })
	return dev, evolis.New(link, evolis.Options{ReplyTimeout: time.Second, MotionTimeout: 5 * time.Second})
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	dev, p := printer(t, sim.Options{Model: "Evolis Primacy", Ribbon: card.KO})

	res, err := diag.Run(ctx, p, "info", "")
	if info, ok := res.(drivers.Info); err != nil || !ok || info.Model != "Evolis Primacy" || info.Ribbon != card.KO {
		t.Fatalf("info = %#v, %v", res, err)
	}
	res, err = diag.Run(ctx, p, "status", "")
	if st, ok := res.(drivers.Status); err != nil || !ok || !st.Ready {
		t.Fatalf("status = %#v, %v", res, err)
	}
	// test-card without a ribbon takes the printer's (KO).
	res, err = diag.Run(ctx, p, "test-card", "")
	if tc, ok := res.(diag.TestCardResult); err != nil || !ok || !tc.Printed || tc.Ribbon != card.KO {
		t.Fatalf("test-card = %#v, %v", res, err)
	}
	cards := dev.Cards()
	if len(cards) != 1 || cards[0].Label != diag.TestCardLabel || cards[0].FrontPanels.Y != nil {
		t.Fatalf("simulator printed %d cards (%+v)", len(cards), cards)
	}
	if !bytes.Equal(cards[0].FrontPanels.K.Pix, diag.TestCard(card.KO).Front.K.Pix) {
		t.Error("the printed K panel differs from the test card's")
	}
	res, err = diag.Run(ctx, p, "counters", "")
	if c, ok := res.(drivers.Counters); err != nil || !ok || c.Printed != 1 {
		t.Fatalf("counters = %#v, %v", res, err)
	}
	res, err = diag.Run(ctx, p, "raw", "Rco;p")
	if r, ok := res.(diag.RawResult); err != nil || !ok || r.Reply != "1" {
		t.Fatalf("raw = %#v, %v", res, err)
	}
	res, err = diag.Run(ctx, p, "raw", "Zzz")
	if r, ok := res.(diag.RawResult); err != nil || !ok || r.Reply != "ERROR CDE" {
		t.Fatalf("raw unknown = %#v, %v", res, err)
	}
	if _, err := diag.Run(ctx, p, "clean", ""); err != nil {
		t.Fatalf("clean: %v", err)
	}
	if c := dev.Counters(); c.Cleanings != 1 {
		t.Errorf("simulator cleanings = %d, want 1", c.Cleanings)
	}
	if _, err := diag.Run(ctx, p, "reset", ""); err != nil {
		t.Fatalf("reset: %v", err)
	}
	for _, verb := range []string{"pause", "resume"} {
		if _, err := diag.Run(ctx, p, verb, ""); !errors.Is(err, diag.ErrDaemonOnly) {
			t.Errorf("%s = %v, want ErrDaemonOnly", verb, err)
		}
	}
	if _, err := diag.Run(ctx, p, "dance", ""); err == nil || !strings.Contains(err.Error(), "unknown verb") {
		t.Errorf("unknown verb = %v", err)
	}
	if _, err := diag.Run(ctx, p, "test-card", "rgb"); err == nil {
		t.Error("test-card with a bad ribbon succeeded")
	}
}

func TestRunPrinterProblem(t *testing.T) {
	f, _ := sim.ParseFaults("cover-open")
	_, p := printer(t, sim.Options{Faults: f})
	res, err := diag.Run(context.Background(), p, "status", "")
	st := res.(drivers.Status)
	if err != nil || st.Ready || len(st.Problems) != 1 || st.Problems[0] != drivers.CoverOpen {
		t.Fatalf("status = %+v, %v; want cover-open", st, err)
	}
	if _, err := diag.Run(context.Background(), p, "test-card", "ymcko"); !errors.Is(err, drivers.CoverOpen) || drivers.Fed(err) {
		t.Fatalf("test-card with the cover open = %v, want cover-open before feed", err)
	}
}

func TestTestCard(t *testing.T) {
	for _, r := range []card.Ribbon{card.YMCKO, card.YMCKOK, card.KO, card.K} {
		c := diag.TestCard(r)
		if (c.Front.Y != nil) != r.Colour() || (c.Front.O != nil) != r.Overlay() || c.Front.K == nil {
			t.Errorf("%s: planes Y %v O %v K %v", r, c.Front.Y != nil, c.Front.O != nil, c.Front.K != nil)
		}
		for _, v := range c.Front.K.Pix {
			if v != 0 && v != 255 {
				t.Fatalf("%s: K holds %d, want only 0 and 255", r, v)
			}
		}
	}
	c := diag.TestCard(card.YMCKO)
	// The yellow bar (second of eight) has Y and no M or C.
	x, y := card.Width/8+10, 50
	if c.Front.Y.GrayAt(x, y).Y != 255 || c.Front.M.GrayAt(x, y).Y != 0 || c.Front.C.GrayAt(x, y).Y != 0 {
		t.Error("second bar is not yellow")
	}
}

func TestHandle(t *testing.T) {
	_, p := printer(t, sim.Options{Model: "Evolis Primacy"})
	ctx := context.Background()
	tests := []struct {
		verb, body string
		wantErr    string
		check      func(any) bool
	}{
		{"info", `{"arg":""}`, "", func(r any) bool { return r.(map[string]any)["model"] == "Evolis Primacy" }},
		{"raw", `{"arg":"Rtp"}`, "", func(r any) bool { return r.(map[string]any)["reply"] == "Evolis Primacy" }},
		{"status", ``, "", func(r any) bool { return r.(map[string]any)["ready"] == true }},
		{"pause", `{}`, "use --nats", nil},
		{"info", `{not json`, "not JSON", nil},
	}
	for _, tt := range tests {
		var rep diag.Reply
		if err := json.Unmarshal(diag.Handle(ctx, p, tt.verb, []byte(tt.body)), &rep); err != nil {
			t.Fatal(err)
		}
		if tt.wantErr != "" {
			if !strings.Contains(rep.Error, tt.wantErr) || rep.Result != nil {
				t.Errorf("%s %s: reply %+v, want error containing %q", tt.verb, tt.body, rep, tt.wantErr)
			}
			continue
		}
		if rep.Error != "" || !tt.check(rep.Result) {
			t.Errorf("%s %s: reply %+v", tt.verb, tt.body, rep)
		}
	}
	if got := diag.Subject("local", "front-desk", "status"); got != "printerd.diag.local.front-desk.status" {
		t.Errorf("Subject = %q", got)
	}
}
