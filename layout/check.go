package layout

import (
	"fmt"
	"image"

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
// plane as a scanner sees the card (ink black on white); barcode.Scan
// retries at other scales where the decoder misses a sharp symbol.
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
	return barcode.Scan(img) // it retries at other scales itself
}
