// Package imgcheck bounds image decoding by what the header says: the
// pixel count times the bytes a pixel takes once decoded, so that a small
// file cannot make a decoder allocate gigabytes (a 69-byte PNG can ask
// for 40 GB; a 130 KB 16-bit PNG decodes to 128 MiB). Every decode of an
// image from outside (job photos, template images, `verify --image`) goes
// through it.
package imgcheck

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG decoding for image.Decode
	_ "image/png"  // PNG decoding for image.Decode
)

// DefaultBudget is the decoded bytes a photo may take: a 4096 x 4096
// 8-bit RGBA image, the job contract's largest photo, and no more (a
// 16-bit PNG may then be at most 2896 x 2896).
const DefaultBudget = 64 << 20

// BytesPerPixel is how many bytes the standard library's decoders use
// for a pixel of colour model m (YCbCr is counted at 4:4:4, its largest).
func BytesPerPixel(m color.Model) int {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // unknown: assume the largest
}

// ErrBudget is wrapped by Check when the decoded image would exceed the
// budget.
var ErrBudget = errors.New("imgcheck: image too large to decode")

// Check applies the limits to a header: width and height from 1 to
// maxSide, and width x height x BytesPerPixel at most budget bytes.
func Check(cfg image.Config, maxSide int, budget int64) error {
	if cfg.Width < 1 || cfg.Height < 1 {
		return fmt.Errorf("imgcheck: size %dx%d: empty image", cfg.Width, cfg.Height)
	}
	if cfg.Width > maxSide || cfg.Height > maxSide {
		return fmt.Errorf("imgcheck: size %dx%d: larger than %dx%d", cfg.Width, cfg.Height, maxSide, maxSide)
	}
	need := int64(cfg.Width) * int64(cfg.Height) * int64(BytesPerPixel(cfg.ColorModel))
	if need > budget {
		return fmt.Errorf("imgcheck: size %dx%d at %d bytes a pixel needs %d MiB, more than %d MiB: %w",
			cfg.Width, cfg.Height, BytesPerPixel(cfg.ColorModel), need>>20, budget>>20, ErrBudget)
	}
	return nil
}

// Decode decodes a JPEG or PNG after checking its header (Check). The
// error says which limit the image broke; it quotes no pixel data.
func Decode(b []byte, maxSide int, budget int64) (image.Image, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, "", fmt.Errorf("imgcheck: not a readable JPEG or PNG header (%w)", err)
	}
	if format != "jpeg" && format != "png" {
		return nil, format, fmt.Errorf("imgcheck: format %s: want JPEG or PNG", format)
	}
	if err := Check(cfg, maxSide, budget); err != nil {
		return nil, format, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, format, fmt.Errorf("imgcheck: truncated or corrupt %s (%w)", format, err)
	}
	if img.Bounds().Dx() != cfg.Width || img.Bounds().Dy() != cfg.Height {
		return nil, format, errors.New("imgcheck: image size differs from its header")
	}
	return img, format, nil
}
