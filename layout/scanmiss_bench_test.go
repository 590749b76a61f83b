package layout

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/cityid/printerd/internal/sample"
	"github.com/cityid/printerd/layout/barcode"
)

// BenchmarkScanWholeBack measures how often the signed code is missed when
// the whole back is scanned (as `printerd verify --image` and the tests'
// independent check do) rather than the code's box (the self-check). Each
// iteration renders a long-name sample person's card with a fresh ECDSA
// signature (so every code differs) and scans the whole K panel and the
// whole back preview. Run with -benchtime=1000x; misses are reported per
// scan (BENCHMARKS.md).
func BenchmarkScanWholeBack(b *testing.B) {
	r := newRenderer(b, Options{})
	var long []int
	for i, p := range sample.People {
		if utf8.RuneCountInString(sample.CardFields(i, sampleDay).Name) >= 30 {
			long = append(long, i)
		}
		_ = p
	}
	if len(long) == 0 {
		b.Fatal("no long-name sample person")
	}
	var missK, missBack int
	for n := 0; n < b.N; n++ {
		f := sampleFields(b, long[n%len(long)])
		c, err := r.Render(context.Background(), DefaultTemplate, f)
		if err != nil {
			b.Fatal(err)
		}
		if text, err := ScanPanel(c.Panels.Back.K, c.Panels.Back.K.Rect); err != nil || text != c.Barcode {
			missK++
		}
		if text, err := barcode.Scan(c.Back); err != nil || text != c.Barcode {
			missBack++
		}
	}
	b.ReportMetric(float64(missK)/float64(b.N), "missK/op")
	b.ReportMetric(float64(missBack)/float64(b.N), "missBack/op")
	b.Logf("%d renders: whole K panel missed %d, whole back preview missed %d", b.N, missK, missBack)
}
