package layout

import (
	"fmt"
	"image"

	"golang.org/x/image/draw"

	"github.com/cityid/printerd/layout/barcode"
)

// selfCheck scans the barcode back from the K panel raster, verifies it and
// compares it with the signed claims. It returns the id of the key that
// verified it.
func (r *Renderer) selfCheck(sd *sideDraw, want barcode.Claims) (string, error) {
	if sd == nil || sd.barcode == nil {
		return "", fmt.Errorf("%w: no barcode drawn", ErrSelfCheck)
	}
	// the K panel around the code, with a margin
	text, err := ScanPanel(sd.k, sd.barcode.Inset(-8))
	if err != nil {
		return "", fmt.Errorf("%w: scan: %w", ErrSelfCheck, err)
	}
	got, kid, err := barcode.Verify(text, r.opts.Trusted)
	if err != nil {
		return "", fmt.Errorf("%w: verify: %w", ErrSelfCheck, err)
	}
	if err := barcode.Compare(got, want); err != nil {
		return "", fmt.Errorf("%w: %w", ErrSelfCheck, err)
	}
	return kid, nil
}

// ScanPanel reads the QR code printed on a K plane (255 = ink) within area
// (the whole plane if area is empty) and returns its text. It reads the
// plane as a scanner sees the card (ink black on white) at full
// resolution, then at half and quarter resolution: the QR decoder misses
// the finder patterns of a few per cent of perfectly sharp symbols at one
// scale but not at another.
func ScanPanel(k *image.Gray, area image.Rectangle) (string, error) {
	if area.Empty() {
		area = k.Rect
	}
	area = area.Intersect(k.Rect)
	img := image.NewGray(area)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		src := k.Pix[k.PixOffset(area.Min.X, y):]
		dst := img.Pix[img.PixOffset(area.Min.X, y):]
		for x := 0; x < area.Dx(); x++ {
			dst[x] = 255 - src[x]
		}
	}
	var firstErr error
	for _, div := range []int{1, 2, 4} {
		var try image.Image = img
		if div > 1 {
			small := image.NewGray(image.Rect(0, 0, area.Dx()/div, area.Dy()/div))
			draw.ApproxBiLinear.Scale(small, small.Rect, img, img.Rect, draw.Src, nil)
			try = small
		}
		text, err := barcode.Scan(try)
		if err == nil {
			return text, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}
