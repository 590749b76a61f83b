package layout

import (
	"bytes"
	"context"
	"testing"
)

// TestProofPDFBeyondBMP: a name with characters beyond the Basic
// Multilingual Plane (emoji), which the card fonts draw and the contract
// allows, makes a proof PDF (the PDF library's text covers the BMP only;
// such glyphs are drawn as outlines) instead of a panic.
func TestProofPDFBeyondBMP(t *testing.T) {
	r := newRenderer(t, Options{})
	for _, name := range []string{"Ann 😀", "😀", "Zoë 𝒜"} {
		f := sampleFields(t, 0)
		f.Name = name
		c, err := r.Render(context.Background(), "", f)
		if err != nil {
			t.Logf("%q: not drawable by the card fonts: %v", name, err)
			continue
		}
		var b bytes.Buffer
		if err := c.WriteProofPDF(&b); err != nil || !bytes.HasPrefix(b.Bytes(), []byte("%PDF")) {
			t.Errorf("proof of a name beyond the BMP: %v (%d bytes)", err, b.Len())
		}
	}
}
