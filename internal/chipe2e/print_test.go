package chipe2e_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/sample"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/layout/barcode"
	"github.com/cityid/printerd/layout/credential"
)

// chipTemplate is the built-in template whose cards carry a chip and a stripe.
const chipTemplate = "municipal-id-chip"

// renderChipCard lays out sample card i on the chip template with a fresh
// issuer key; it returns the card and the issuer's public keys.
func renderChipCard(t testing.TB, i int) (*layout.Card, []keyfile.Public, layout.Fields) {
	t.Helper()
	key, err := keyfile.New(keyfile.ES256)
	if err != nil {
		t.Fatal(err)
	}
	r, err := layout.New(layout.Options{Issuer: key})
	if err != nil {
		t.Fatal(err)
	}
	sf := sample.CardFields(i, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	f := layout.Fields{Number: sf.Number, Issue: sf.Issue, Name: sf.Name, DOB: sf.DOB, Gender: sf.Gender,
		Issued: sf.Issued, Expires: sf.Expires, Photo: sf.Photo}
	c, err := r.Render(context.Background(), chipTemplate, f)
	if err != nil {
		t.Fatal(err)
	}
	return c, []keyfile.Public{{Key: key.Public()}}, f
}

// stationPrinter is an Evolis driver on a simulated printer whose encoder
// station presents its chips at vpcd's reader 0, encoding through pcscd.
func stationPrinter(t testing.TB, faults string) (*sim.Device, *evolis.Printer, string) {
	t.Helper()
	f, err := sim.ParseFaults(faults)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dev := sim.New(sim.Options{Name: "station", VPCD: vchip.Addr0, Out: out, Faults: f})
	link := dev.Connect()
	t.Cleanup(func() {
		link.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pcsc.WaitRemoved(ctx, vchip.Reader0); err != nil {
			t.Errorf("a chip still shows at %s after the card left: %v", vchip.Reader0, err)
		}
	})
	p := evolis.New(link, evolis.Options{Encoder: pcsc.NewEncoder(pcsc.Options{}), Reader: vchip.Reader0})
	return dev, p, out
}

// TestPrintChipCard: a chip template's card is printed on the simulator;
// its chip, written through pcscd at the encoder station and read back,
// opens with the access number printed on the card to exactly the
// barcode's credential, which verifies with the issuer key; without the
// number it yields nothing personal. Its stripe carries the template's
// clear tracks, read back by the driver. The chip's UID is not kept.
func TestPrintChipCard(t *testing.T) {
	c, keys, f := renderChipCard(t, 3)
	dev, p, out := stationPrinter(t, "")
	pc := c.Panels
	pc.Label = "job-chip-1"
	if err := p.Print(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	if pc.Chip.UID != nil {
		t.Error("the chip's UID was kept though the template does not link it")
	}
	cards := dev.Cards()
	if len(cards) != 1 {
		t.Fatalf("%d cards printed, want 1", len(cards))
	}
	got := cards[0]
	if got.Mag != c.Panels.Mag || got.Mag[0] != f.Number {
		t.Errorf("stripe %q, want %q", got.Mag, c.Panels.Mag)
	}
	if got.Chip == nil {
		t.Fatal("the printed card has no chip image")
	}
	if !got.Chip.Locked() {
		t.Error("the chip was left writable")
	}
	b, err := os.ReadFile(filepath.Join(out, "job-chip-1-chip.json"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := t4t.ParseImage(b)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := im.Message()
	if err != nil {
		t.Fatal(err)
	}
	text, err := credential.Decode(msg, c.CAN)
	if err != nil {
		t.Fatalf("the printed access number does not open the chip: %v", err)
	}
	if text != c.Barcode {
		t.Error("the chip's credential differs from the barcode's")
	}
	claims, _, err := barcode.Verify(text, keys)
	if err != nil {
		t.Fatalf("the chip's credential does not verify: %v", err)
	}
	if claims.Name != f.Name || claims.Number != f.Number {
		t.Error("the chip's credential names another card")
	}
	if _, err := credential.Decode(msg, "000000000000"); !errors.Is(err, credential.ErrCAN) {
		t.Errorf("another access number: %v, want ErrCAN", err)
	}
	if found := findIn(b, f); len(found) > 0 {
		t.Errorf("the chip image shows %q without the access number", found)
	}
}

// findIn returns the personal values of f found in b, clear or inflated.
func findIn(b []byte, f layout.Fields) []string {
	var found []string
	for _, v := range append(strings.Fields(f.Name), f.DOB, strings.ReplaceAll(f.DOB, "-", "")) {
		if bytes.Contains(b, []byte(v)) {
			found = append(found, v)
		}
	}
	return append(found, findPersonal(b)...)
}

// TestPrintChipFaults: every chip fault at the station ends the card as
// spoiled: the driver says encode-failed after feed, the card is in the
// reject tray (counted), nothing was printed on it, and no card came out.
func TestPrintChipFaults(t *testing.T) {
	for _, fault := range []string{"chip=missing", "chip=refuse", "chip=remove"} {
		t.Run(fault, func(t *testing.T) {
			c, _, _ := renderChipCard(t, 4)
			dev, p, out := stationPrinter(t, fault)
			pc := c.Panels
			pc.Label = "job-chip-fault"
			err := p.Print(context.Background(), pc)
			var de *drivers.Error
			if !errors.As(err, &de) || de.Code != drivers.EncodeFailed || de.Feed != drivers.AfterFeed {
				t.Fatalf("Print = %v, want encode-failed after feed", err)
			}
			if drivers.CodeOf(err) != drivers.EncodeFailed || !drivers.Fed(err) {
				t.Errorf("code %v fed %v", drivers.CodeOf(err), drivers.Fed(err))
			}
			cn := dev.Counters()
			if cn.Printed != 0 || cn.Rejected != 1 {
				t.Errorf("counters printed %d rejected %d, want 0 and 1", cn.Printed, cn.Rejected)
			}
			if n := len(dev.Cards()); n != 0 {
				t.Errorf("%d cards came out", n)
			}
			if files, _ := os.ReadDir(out); len(files) != 0 {
				t.Errorf("files written for a spoiled card: %d", len(files))
			}
			if pc.Chip.UID != nil {
				t.Error("a UID was kept for a spoiled card")
			}
			s, err := p.Probe(context.Background())
			if err != nil || s.Card != drivers.CardNone {
				t.Errorf("after the fault: probe %+v, %v; want no card inside", s, err)
			}
		})
	}
}

// TestPrintChipLinkedUID: a template that links the card keeps the UID the
// chip reported.
func TestPrintChipLinkedUID(t *testing.T) {
	c, _, _ := renderChipCard(t, 5)
	dev, p, _ := stationPrinter(t, "")
	pc := c.Panels
	ch := *pc.Chip
	ch.LinkUID = true
	pc.Chip = &ch
	if err := p.Print(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	cards := dev.Cards()
	if len(cards) != 1 || cards[0].Chip == nil {
		t.Fatal("no card with a chip came out")
	}
	if len(ch.UID) == 0 || !bytes.Equal(ch.UID, cards[0].Chip.UID) {
		t.Errorf("UID kept %X, the chip's is %X", ch.UID, cards[0].Chip.UID)
	}
}

// TestPrintChipNoReader: a printer whose encoder's reader is not there
// feeds no chip card: the error is bad-config before feed and no card
// moved, so a misconfigured encoder does not spoil card after card.
func TestPrintChipNoReader(t *testing.T) {
	c, _, _ := renderChipCard(t, 6)
	dev := sim.New(sim.Options{Name: "noreader", VPCD: vchip.Addr0})
	link := dev.Connect()
	defer link.Close()
	p := evolis.New(link, evolis.Options{Encoder: pcsc.NewEncoder(pcsc.Options{}), Reader: "No Such Encoder"})
	err := p.Print(context.Background(), c.Panels)
	var de *drivers.Error
	if !errors.As(err, &de) || de.Code != drivers.BadConfig || de.Feed != drivers.BeforeFeed {
		t.Fatalf("Print = %v, want bad-config before feed", err)
	}
	if st := dev.State(); st.Fed != 0 {
		t.Errorf("%d cards fed", st.Fed)
	}
}
