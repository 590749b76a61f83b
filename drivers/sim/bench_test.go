package sim

import (
	"bytes"
	"context"
	"image"
	"io"
	"testing"

	"github.com/cityid/printerd/drivers/evolis"
)

// cardStream is the driver's command stream for the test card.
func cardStream(b *testing.B, compress bool) []byte {
	b.Helper()
	s, err := evolis.EncodeCard(testCard("bench", false), evolis.Options{Compress: compress})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkServeCard runs a whole one-sided YMCKO card (32 levels) through
// the simulator: parsing and checking the five panels; no files. The
// +cards cases also call Cards, which decodes the panels and composites
// the card; +files writes the card's PNG file (Options.Out) at eject.
func BenchmarkServeCard(b *testing.B) {
	for _, tc := range []struct {
		name     string
		compress bool
		cards    bool
		files    bool
	}{{"raw", false, false, false}, {"compressed", true, false, false}, {"raw+cards", false, true, false},
		{"compressed+cards", true, true, false}, {"compressed+files", true, false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			stream := cardStream(b, tc.compress)
			b.SetBytes(int64(len(stream)))
			o := Options{FeederCards: 1 << 30, RibbonCards: 1 << 30}
			if tc.files {
				o.Out = b.TempDir()
			}
			d := New(o)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := d.Serve(context.Background(), struct {
					io.Reader
					io.Writer
				}{bytes.NewReader(stream), io.Discard}); err != nil {
					b.Fatal(err)
				}
				if tc.cards && len(d.Cards()) != 1 {
					b.Fatal("no card printed")
				}
				d.mu.Lock()
				d.cards = d.cards[:0]
				d.mu.Unlock()
			}
		})
	}
}

// BenchmarkDecodePanels parses and checks the five panel downloads of a
// YMCKO side (32 levels) alone, without the card's other commands; the
// +decode cases also decode each into a print-order plane.
func BenchmarkDecodePanels(b *testing.B) {
	card := testCard("bench", false)
	for _, tc := range []struct {
		name             string
		compress, decode bool
	}{{"raw", false, false}, {"compressed", true, false}, {"raw+decode", false, true}, {"compressed+decode", true, true}} {
		compress := tc.compress
		b.Run(tc.name, func(b *testing.B) {
			var cmds [][]byte
			total := 0
			for _, pl := range []struct {
				name  string
				plane *image.Gray
			}{{"y", card.Front.Y}, {"m", card.Front.M}, {"c", card.Front.C}, {"k", card.Front.K}, {"o", card.Front.O}} {
				po, err := evolis.ToPrintOrder(pl.plane, 270)
				if err != nil {
					b.Fatal(err)
				}
				c, err := evolis.PanelCommand(pl.name, po, 32, compress)
				if err != nil {
					b.Fatal(err)
				}
				cmds = append(cmds, c[1:]) // without ESC, as readCommand sees it
				total += len(c)
			}
			b.SetBytes(int64(total))
			plane := make([]byte, planeSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, c := range cmds {
					cmd, err := readCommand(newBytesSource(c))
					if err != nil {
						b.Fatal(err)
					}
					if tc.decode {
						clear(plane)
						if err := cmd.payload.decode(plane); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}
