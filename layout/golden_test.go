package layout

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/cityid/printerd/layout/panel"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.png from the current renderer")

// goldenTolerance is the largest share of pixels that may differ (by more
// than goldenDelta in some channel) from the golden image.
const (
	goldenTolerance = 0.005
	goldenDelta     = 48
)

func TestGolden(t *testing.T) {
	// Ed25519 signatures are deterministic: with a fixed key the barcode,
	// and so the whole card, is the same on every run.
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, 32))
	for _, tc := range []struct {
		name   string
		person int
		ribbon panel.Ribbon
	}{
		{"vietnamese", 1, panel.YMCKO},
		{"combining-marks", 4, panel.YMCKO},
		{"long-name", 5, panel.YMCKO},
		{"turkish-ko", 2, panel.KO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRenderer(t, Options{Issuer: key, Ribbon: tc.ribbon})
			c, err := r.Render(context.Background(), DefaultTemplate, sampleFields(t, tc.person))
			if err != nil {
				t.Fatal(err)
			}
			for side, img := range map[string]*image.RGBA{"front": c.Front, "back": c.Back} {
				path := filepath.Join("testdata", "golden", tc.name+"-"+side+".png")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					var buf bytes.Buffer
					if err := png.Encode(&buf, img); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./layout -run TestGolden -update to make it)", err)
				}
				want, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if frac := differing(img, want); frac > goldenTolerance {
					t.Errorf("%s: %.3f%% of pixels differ from %s (tolerance %.1f%%); look at both, then -update if the change is intended",
						side, 100*frac, path, 100*goldenTolerance)
				}
			}
		})
	}
}

// differing returns the share of pixels whose colour differs by more than
// goldenDelta in some channel; a size mismatch counts as all different.
func differing(got *image.RGBA, want image.Image) float64 {
	if got.Bounds() != want.Bounds() {
		return 1
	}
	n := 0
	b := got.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, _ := got.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			if absDiff(r1, r2) > goldenDelta<<8 || absDiff(g1, g2) > goldenDelta<<8 || absDiff(b1, b2) > goldenDelta<<8 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestGoldenDetectsChange(t *testing.T) {
	// the comparison itself must catch a real change: a name in another box
	a := image.NewRGBA(image.Rect(0, 0, 100, 100))
	b := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for i := 0; i < 100; i++ {
		b.Pix[4*i] = 255 // 1% of pixels red
	}
	if differing(a, b) <= goldenTolerance {
		t.Fatal("a 1% change passes the golden tolerance")
	}
}
