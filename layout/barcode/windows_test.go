package barcode

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestScanWholeBackMisses: whole back images of long-name sample cards
// (invented people) on which the whole-image scan settles on false finder
// patterns from the text (found by BenchmarkScanWholeBack in layout, about
// 1 render in 40-150) are read through the window fallback.
func TestScanWholeBackMisses(t *testing.T) {
	files, _ := filepath.Glob("testdata/whole-back-miss-*.png")
	if len(files) == 0 {
		t.Fatal("no testdata/whole-back-miss-*.png")
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scanWhole(toGray(img), false); err == nil {
			t.Logf("%s: the whole-image scan reads it too (decoder changed?)", f)
		}
		if _, err := Scan(img); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
