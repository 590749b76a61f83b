package layout

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/keyfile"
)

// BenchmarkCard is one whole card: decode and place the photo, lay out and
// draw front and back, sign the barcode (ES256), make the panels and
// previews, and self-check (scan, verify, compare).
func BenchmarkCard(b *testing.B) {
	for _, ribbon := range []card.Ribbon{card.YMCKO, card.KO} {
		b.Run(string(ribbon), func(b *testing.B) {
			r := newRenderer(b, Options{Issuer: newKey(b, keyfile.ES256), Ribbon: ribbon})
			f := sampleFields(b, 1) // Vietnamese name, JPEG photo
			ctx := context.Background()
			start := cpuTime()
			for b.Loop() {
				if _, err := r.Render(ctx, DefaultTemplate, f); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

// BenchmarkProofPDF is the PDF proof of a rendered card.
func BenchmarkProofPDF(b *testing.B) {
	r := newRenderer(b, Options{})
	c, err := r.Render(context.Background(), DefaultTemplate, sampleFields(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := c.WriteProofPDF(discard{}); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU time (user + system) this process has used. On a
// shared machine wall time per op depends on the other load; CPU time per
// op does much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ms/op metric (includes the garbage collector).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
