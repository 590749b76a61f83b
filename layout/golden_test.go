package layout

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/cityid/printerd/card"
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
	// Fixed, self-contained fixtures (invented people, a drawn photo), so
	// the goldens do not move when the shared sample data does.
	for _, tc := range []struct {
		name   string
		person string
		gender string
		jpeg   bool
		ribbon card.Ribbon
	}{
		{"vietnamese", "Nguyễn Thị Mẫu Thử", "F", true, card.YMCKO},
		{"combining-marks", "Q̣̄uinn W̌̃ẙ̄ Testa", "Two-Spirit", false, card.YMCKO},
		{"long-name", "Maximiliana Aurelia Konstancja Eleonora Wilhelmina Testowska-Przykładowa Junior", "F", true, card.YMCKO},
		{"turkish-ko", "Şükrü İğdeli Deneme", "M", false, card.KO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRenderer(t, Options{Issuer: key, Ribbon: tc.ribbon})
			f := Fields{Number: "GOLDEN-0001", Issue: 2, Name: tc.person, DOB: "1980-02-29", Gender: tc.gender,
				Issued: "2026-01-15", Expires: "2031-01-14", Photo: drawnPhoto(t, tc.jpeg)}
			c, err := r.Render(context.Background(), DefaultTemplate, f)
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

// drawnPhoto is a cartoon portrait drawn by code (never a real face), 300x400,
// as PNG or JPEG.
func drawnPhoto(t *testing.T, asJPEG bool) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 300, 400))
	fill := func(c color.RGBA, in func(x, y int) bool) {
		for y := 0; y < 400; y++ {
			for x := 0; x < 300; x++ {
				if in(x, y) {
					img.SetRGBA(x, y, c)
				}
			}
		}
	}
	sq := func(v int) int { return v * v }
	fill(color.RGBA{170, 200, 230, 255}, func(x, y int) bool { return true })                                                    // background
	fill(color.RGBA{60, 70, 120, 255}, func(x, y int) bool { return sq(x-150)*4+sq(y-420) < sq(200)*2 })                         // shoulders
	fill(color.RGBA{230, 190, 150, 255}, func(x, y int) bool { return x > 125 && x < 175 && y > 220 && y < 300 })                // neck
	fill(color.RGBA{235, 200, 160, 255}, func(x, y int) bool { return sq(x-150)*100/sq(80)+sq(y-180)*100/sq(100) < 100 })        // face
	fill(color.RGBA{90, 50, 30, 255}, func(x, y int) bool { return sq(x-150)*100/sq(85)+sq(y-140)*100/sq(70) < 100 && y < 125 }) // hair
	fill(color.RGBA{30, 30, 30, 255}, func(x, y int) bool { return sq(x-120)+sq(y-175) < 64 || sq(x-180)+sq(y-175) < 64 })       // eyes
	fill(color.RGBA{150, 60, 60, 255}, func(x, y int) bool { return y > 225 && y < 232 && x > 125 && x < 175 })                  // mouth
	var buf bytes.Buffer
	var err error
	if asJPEG {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
