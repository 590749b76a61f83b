package imgcheck

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/cityid/printerd/internal/sample"
)

// TestCheck: the budget is counted from the header's size and colour
// model, at the boundary of each.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  image.Config
		ok   bool
	}{
		{"8-bit RGBA at the limit", image.Config{ColorModel: color.NRGBAModel, Width: 4096, Height: 4096}, true},
		{"16-bit RGBA at 4096", image.Config{ColorModel: color.NRGBA64Model, Width: 4096, Height: 4096}, false},
		{"16-bit RGBA at 2896", image.Config{ColorModel: color.NRGBA64Model, Width: 2896, Height: 2896}, true},
		{"16-bit RGBA at 2897", image.Config{ColorModel: color.NRGBA64Model, Width: 2897, Height: 2897}, false},
		{"gray 4096", image.Config{ColorModel: color.GrayModel, Width: 4096, Height: 4096}, true},
		{"side too large", image.Config{ColorModel: color.GrayModel, Width: 4097, Height: 1}, false},
		{"empty", image.Config{ColorModel: color.GrayModel, Width: 0, Height: 10}, false},
	} {
		err := Check(tc.cfg, 4096, DefaultBudget)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	_, _, err := Decode(sample.PNGHeader(100000, 100000, 8, 6), 1<<20, DefaultBudget)
	if !errors.Is(err, ErrBudget) {
		t.Errorf("a 69-byte PNG asking for 40 GB: %v; want ErrBudget", err)
	}
}

// FuzzDecode: any bytes decode or fail cleanly, and what decodes is
// within the limits.
func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Add(b.Bytes())
	f.Add(sample.PNGHeader(100000, 100000, 8, 6))
	f.Add(sample.HugeJPEGHeader(60000, 60000))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := Decode(data, 512, 1<<20)
		if err != nil {
			return
		}
		if b := img.Bounds(); b.Dx() > 512 || b.Dy() > 512 {
			t.Fatalf("decoded %v beyond the limits", b)
		}
	})
}
