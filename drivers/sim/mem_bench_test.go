package sim

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/cityid/printerd/drivers/evolis"
)

// BenchmarkHeldMemory prints 50 two-sided YMCKO cards (the test card, 32
// levels, Db or Dbc) on one device with the default options and reports
// the heap still in use afterwards, in all and per card printed; the
// +cards cases call Cards first (which composites the kept cards).
func BenchmarkHeldMemory(b *testing.B) {
	for _, tc := range []struct {
		name            string
		compress, cards bool
	}{{"raw", false, false}, {"compressed", true, false}, {"raw+cards", false, true}} {
		compress := tc.compress
		b.Run(tc.name, func(b *testing.B) {
			s, err := evolis.EncodeCard(testCard("mem", true), evolis.Options{Compress: compress})
			if err != nil {
				b.Fatal(err)
			}
			const cards = 50
			stream := bytes.Repeat(s, cards)
			var held float64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				d := New(Options{})
				if err := d.Serve(context.Background(), struct {
					io.Reader
					io.Writer
				}{bytes.NewReader(stream), io.Discard}); err != nil {
					b.Fatal(err)
				}
				var kept []Printed
				if tc.cards {
					kept = d.Cards()
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(kept)
				held = float64(after.HeapAlloc) - float64(before.HeapAlloc)
				runtime.KeepAlive(d)
			}
			b.ReportMetric(held/1e6, "MB-held")
			b.ReportMetric(held/1e6/cards, "MB-held/card")
		})
	}
}
