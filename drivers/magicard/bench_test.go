package magicard_test

import (
	"testing"

	"github.com/cityid/printerd/drivers/magicard"
)

// Link speeds for the time-on-the-wire metrics (as drivers/evolis).
const (
	usbFSBytesPerSec = 1_000_000  // USB 2.0 full speed: ~1 MB/s of bulk data
	usbHSBytesPerSec = 35_000_000 // USB 2.0 high speed: ~35 MB/s
)

// BenchmarkEncodeCard encodes the built-in two-sided YMCKO card (packing,
// overcoat rectangles, framing) for each line layout and reports the bytes
// on the wire and their time over USB 2.0.
func BenchmarkEncodeCard(b *testing.B) {
	cd := municipal(b, "bench")
	for _, l := range []magicard.Layout{magicard.KEE, magicard.KGE} {
		b.Run(string(l)+"/municipal-2sides", func(b *testing.B) {
			var n int
			for b.Loop() {
				s, err := magicard.EncodeCard(cd, magicard.Options{Layout: l})
				if err != nil {
					b.Fatal(err)
				}
				n = len(s)
			}
			b.SetBytes(int64(n))
			b.ReportMetric(float64(n), "wire-B/card")
			b.ReportMetric(float64(n)/usbFSBytesPerSec*1000, "ms@USB-FS")
			b.ReportMetric(float64(n)/usbHSBytesPerSec*1000, "ms@USB-HS")
		})
	}
}
