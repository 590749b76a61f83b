package layout

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"image"
	"path/filepath"
	"testing"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/sample"
)

// TestSampleCardStored keeps the stored sample card (sample.MunicipalCard
// at the module root), which drivers' tests print without importing
// layout, a card this renderer makes: sample card 0 on the built-in
// template, two-sided YMCKO, signed with a fixed Ed25519 key (so the
// barcode is the same on every run). With -update it rewrites the files.
// Without, every stored plane must be within the golden tolerance of a
// fresh render, and the stored K plane's barcode must scan, verify and
// match the fields.
func TestSampleCardStored(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	r := newRenderer(t, Options{Issuer: key, Ribbon: card.YMCKO})
	f := sampleFields(t, 0)
	c, err := r.Render(context.Background(), DefaultTemplate, f)
	if err != nil {
		t.Fatal(err)
	}
	c.Panels.Label = "sample-municipal-ymcko"
	dir := filepath.Join("..", sample.MunicipalCard)
	if *update {
		if err := sample.WriteCard(dir, c.Panels); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sample.ReadCard(dir)
	if err != nil {
		t.Fatalf("%v (run go test ./layout -run TestSampleCardStored -update to write it)", err)
	}
	if got.Label != c.Panels.Label || got.Ribbon != card.YMCKO || got.Back == nil || got.Mag != c.Panels.Mag {
		t.Fatalf("stored card: label %q ribbon %s back %v: want %q, ymcko, a back", got.Label, got.Ribbon, got.Back != nil, c.Panels.Label)
	}
	for _, side := range []struct {
		name      string
		got, want card.Side
	}{{"front", got.Front, c.Panels.Front}, {"back", *got.Back, *c.Panels.Back}} {
		for _, pl := range []struct {
			name      string
			got, want *image.Gray
		}{{"y", side.got.Y, side.want.Y}, {"m", side.got.M, side.want.M}, {"c", side.got.C, side.want.C}, {"k", side.got.K, side.want.K}, {"o", side.got.O, side.want.O}} {
			if (pl.got == nil) != (pl.want == nil) {
				t.Errorf("%s %s plane stored %v, rendered %v", side.name, pl.name, pl.got != nil, pl.want != nil)
				continue
			}
			if pl.got == nil {
				continue
			}
			if frac := planeDiffering(pl.got, pl.want); frac > goldenTolerance {
				t.Errorf("%s %s plane: %.3f%% of dots differ from a fresh render (tolerance %.1f%%); -update if the change is intended",
					side.name, pl.name, 100*frac, 100*goldenTolerance)
			}
		}
	}
	kid, err := keyfile.KIDHex(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	checkBarcode(t, got.Back.K, []keyfile.Public{{KID: kid, Key: key.Public()}}, f)
}

// planeDiffering returns the share of dots of two card-size planes that
// differ by more than goldenDelta.
func planeDiffering(got, want *image.Gray) float64 {
	if got.Rect.Size() != want.Rect.Size() {
		return 1
	}
	n := 0
	for y := range got.Rect.Dy() {
		a := got.Pix[y*got.Stride : y*got.Stride+got.Rect.Dx()]
		b := want.Pix[y*want.Stride : y*want.Stride+want.Rect.Dx()]
		for x := range a {
			if absDiff(uint32(a[x]), uint32(b[x])) > goldenDelta {
				n++
			}
		}
	}
	return float64(n) / float64(got.Rect.Dx()*got.Rect.Dy())
}
