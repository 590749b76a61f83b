package cardsample

import (
	"context"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/layout/panel"
	"github.com/cityid/printerd/queue/job/sample"
)

var update = flag.Bool("update", false, "render the card again and rewrite cards/*.png")

// TestGenerate renders sample person 0 on the built-in template with -update
// and writes the planes; without it, it checks that the stored planes are
// the card layout makes: every plane present, K and O 1-bit.
func TestGenerate(t *testing.T) {
	if *update {
		key, err := keyfile.New(keyfile.ES256)
		if err != nil {
			t.Fatal(err)
		}
		r, err := layout.New(layout.Options{Issuer: key, Ribbon: panel.YMCKO})
		if err != nil {
			t.Fatal(err)
		}
		j := sample.Jobs(1, time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC))[0]
		photo, err := j.Card.PhotoBytes()
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Render(context.Background(), j.Template, layout.Fields{Number: j.Card.Number, Issue: j.Card.Issue,
			Name: j.Card.Name, DOB: j.Card.DOB, Gender: j.Card.Gender, Issued: j.Card.Issued, Expires: j.Card.Expires, Photo: photo})
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]panel.Side{"front": c.Panels.Front, "back": *c.Panels.Back} {
			for i, g := range []*image.Gray{s.Y, s.M, s.C, s.K, s.O} {
				if g == nil {
					continue
				}
				f, err := os.Create(filepath.Join("cards", name+"-"+Planes[i]+".png"))
				if err != nil {
					t.Fatal(err)
				}
				if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(f, g); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
		}
	}
	c, err := Municipal("t")
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]panel.Side{"front": c.Front, "back": *c.Back} {
		for i, g := range []*image.Gray{s.Y, s.M, s.C, s.K, s.O} {
			if g == nil {
				t.Fatalf("%s plane %s missing", name, Planes[i])
			}
			if i >= 3 {
				for _, v := range g.Pix {
					if v != 0 && v != 255 {
						t.Fatalf("%s plane %s has level %d, want 0 or 255", name, Planes[i], v)
					}
				}
			}
		}
	}
}
