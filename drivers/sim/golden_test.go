package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"io"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers/evolis"
)

// printedHash hashes everything a printed card shows: its faces and the
// panels turned back to design orientation, in a fixed order.
func printedHash(p Printed) string {
	h := sha256.New()
	img := func(name string, m image.Image) {
		fmt.Fprintf(h, "%s:", name)
		if m == nil {
			fmt.Fprint(h, "nil;")
			return
		}
		b := m.Bounds()
		fmt.Fprintf(h, "%v;", b)
		switch m := m.(type) {
		case *image.RGBA:
			h.Write(m.Pix)
		case *image.Gray:
			h.Write(m.Pix)
		default:
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl, a := m.At(x, y).RGBA()
					h.Write([]byte{byte(r >> 8), byte(g >> 8), byte(bl >> 8), byte(a >> 8)})
				}
			}
		}
	}
	side := func(name string, s card.Side) {
		for _, pl := range []struct {
			n string
			g *image.Gray
		}{{"y", s.Y}, {"m", s.M}, {"c", s.C}, {"k", s.K}, {"o", s.O}} {
			if pl.g == nil {
				img(name+pl.n, nil)
			} else {
				img(name+pl.n, pl.g)
			}
		}
	}
	img("front", p.Front)
	img("back", p.Back)
	side("fp", p.FrontPanels)
	if p.BackPanels != nil {
		side("bp", *p.BackPanels)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestPrintedGolden pins what the simulator makes of a fixed two-sided
// card in several modes: decoding and compositing may get faster, never
// different.
func TestPrintedGolden(t *testing.T) {
	tests := []struct {
		name     string
		simRot   int
		drvRot   int
		levels   int
		compress bool
		want     string
	}{
		{"rot270-l32-raw", 270, 270, 32, false, "fe9751b02992216127fabdb75f9b5796fffe67ab18cc82f2ca212fae43f4f8b9"},
		{"rot270-l32-dbc", 270, 270, 32, true, "fe9751b02992216127fabdb75f9b5796fffe67ab18cc82f2ca212fae43f4f8b9"},
		{"rot90-l64-raw", 90, 90, 64, false, "65a665acf7303fcc2268fed5f5b46dceb39ec3224bf47908f0b8ea01b001fca6"},
		{"rot90-l128-dbc", 90, 90, 128, true, "c6fffa182aede7286490a68d3097d253f377450ac5b5413b1523c01e5202a9d9"},
		{"printorder-l32-dbc", 360, 270, 32, true, "97616f12d2c53a4f87a2015d86c759aecd698a2f73526fda932a6f9ce369e095"},
	}
	c := testCard("golden", true)
	c.Front.C.Pix[5] = 3 // a lone dot and a mid-grey K row
	for x := 0; x < card.Width; x++ {
		c.Back.K.Pix[300*c.Back.K.Stride+x] = uint8(x)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := evolis.EncodeCard(c, evolis.Options{Rotation: tc.drvRot, Levels: tc.levels, Compress: tc.compress})
			if err != nil {
				t.Fatal(err)
			}
			d := New(Options{Rotation: tc.simRot})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			if err := d.Serve(ctx, struct {
				io.Reader
				io.Writer
			}{bytes.NewReader(stream), &out}); err != nil {
				t.Fatal(err)
			}
			cards := d.Cards()
			if len(cards) != 1 {
				t.Fatalf("printed %d cards, want 1 (replies %q)", len(cards), out.String())
			}
			if got := printedHash(cards[0]); got != tc.want {
				t.Errorf("printed card hashes to %s, want %s", got, tc.want)
			}
		})
	}
}
