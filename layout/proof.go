package layout

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
)

// WritePNGs writes the previews as dir/front.png and dir/back.png
// (1016x648), creating dir if needed. They hold personal data: write them
// only when an operator asks.
func (c *Card) WritePNGs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	for name, img := range map[string]any{"front.png": c.Front, "back.png": c.Back} {
		_ = img
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("layout: %w", err)
		}
		src := c.Front
		if name == "back.png" {
			src = c.Back
		}
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if err := enc.Encode(f, src); err != nil {
			f.Close()
			return fmt.Errorf("layout: write %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("layout: write %s: %w", name, err)
		}
	}
	return nil
}
