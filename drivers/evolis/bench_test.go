package evolis

import (
	"path/filepath"
	"testing"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/sample"
)

// Link speeds for the time-on-the-wire metrics.
const (
	serialBytesPerSec = 115200 / 10 // 115200 baud, 10 bits a byte (8N1)
	usbFSBytesPerSec  = 1_000_000   // USB 2.0 full speed (12 Mbit/s): ~1 MB/s of bulk data in practice
	usbHSBytesPerSec  = 35_000_000  // USB 2.0 high speed (480 Mbit/s): ~35 MB/s of bulk data in practice
)

// municipalCard is the stored sample card (internal/sample.MunicipalCard):
// sample person 0 on the built-in municipal-id template, two-sided YMCKO,
// as layout renders it for the daemon.
func municipalCard(b *testing.B) card.Card {
	b.Helper()
	c, err := sample.ReadCard(filepath.Join("..", "..", sample.MunicipalCard))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkEncodeCard encodes a whole card (EncodeCard: rotation, packing,
// compression, framing) and reports the bytes on the wire and what they
// take at 115200 baud and over USB 2.0.
func BenchmarkEncodeCard(b *testing.B) {
	cards := []struct {
		name string
		card func(*testing.B) card.Card
	}{
		{"pattern-1side", func(*testing.B) card.Card { return testCard(card.YMCKO) }},
		{"municipal-2sides", municipalCard},
	}
	for _, c := range cards {
		face := c.card(b)
		for _, compress := range []bool{false, true} {
			name := c.name + "/raw"
			if compress {
				name = c.name + "/compressed"
			}
			b.Run(name, func(b *testing.B) {
				opts := Options{Compress: compress}
				var n int
				for b.Loop() {
					s, err := EncodeCard(face, opts)
					if err != nil {
						b.Fatal(err)
					}
					n = len(s)
				}
				b.SetBytes(int64(n))
				b.ReportMetric(float64(n), "wire-B/card")
				b.ReportMetric(float64(n)/serialBytesPerSec, "s@115200")
				b.ReportMetric(float64(n)/usbFSBytesPerSec*1000, "ms@USB-FS")
				b.ReportMetric(float64(n)/usbHSBytesPerSec*1000, "ms@USB-HS")
			})
		}
	}
}

// BenchmarkPanel breaks EncodeCard down: one colour panel and one K panel.
func BenchmarkPanel(b *testing.B) {
	c := testCard(card.YMCKO)
	y, _ := ToPrintOrder(c.Front.C, 270)
	k, _ := ToPrintOrder(c.Front.K, 270)
	b.Run("rotate", func(b *testing.B) {
		for b.Loop() {
			ToPrintOrder(c.Front.C, 270)
		}
	})
	b.Run("colour-pack", func(b *testing.B) {
		for b.Loop() {
			EncodeColour(y, 32)
		}
	})
	b.Run("colour-compress", func(b *testing.B) {
		for b.Loop() {
			CompressColour(y, 32)
		}
	})
	b.Run("mono-pack+compress", func(b *testing.B) {
		for b.Loop() {
			CompressMono(EncodeMono(k))
		}
	})
}
