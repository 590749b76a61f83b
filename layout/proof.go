package layout

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/layout/fonts"
)

// WritePNGs writes the previews as dir/front.png and dir/back.png
// (1016x648), creating dir if needed. They hold personal data: write them
// only when an operator asks.
func (c *Card) WritePNGs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	for _, f := range []struct {
		name string
		img  *image.RGBA
	}{{"front.png", c.Front}, {"back.png", c.Back}} {
		if err := writePNG(filepath.Join(dir, f.name), f.img); err != nil {
			return err
		}
	}
	return nil
}

// Proof page geometry (A4 portrait, mm).
const (
	proofLeft     = 25.0
	proofFrontTop = 62.0
	proofBackTop  = 142.0
)

// WriteProofPDF writes a one-page A4 PDF proof for a clerk to check before
// printing: the front and the back at true size (85.60 x 53.98 mm), text as
// vector text in the embedded fonts, the photo, images and barcode as
// images, and the page marked PROOF. Nothing is written to disk but w.
func (c *Card) WriteProofPDF(w io.Writer) (err error) {
	defer func() {
		// The PDF library panics on input it cannot encode; its message
		// and stack may hold a character of the card: say neither.
		if p := recover(); p != nil {
			err = errors.New("layout: proof: the PDF library failed on this card's text (details withheld: they may hold personal data)")
		}
	}()
	if c.sides[0] == nil || c.sides[1] == nil {
		return errors.New("layout: proof: card was not rendered by Render")
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreator("printerd", false)
	pdf.SetTitle("Card proof", false)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes("dejavu", "", fonts.Regular)
	pdf.AddUTF8FontFromBytes("dejavu", "B", fonts.Bold)
	pdf.AddPage()

	pdf.SetTextColor(180, 20, 20)
	pdf.SetFont("dejavu", "B", 28)
	pdf.Text(proofLeft, 30, "PROOF")
	pdf.SetFont("dejavu", "", 11)
	pdf.Text(proofLeft, 38, "Not a valid identity card. Check every field before printing.")
	pdf.SetTextColor(60, 60, 60)
	pdf.SetFont("dejavu", "", 9)
	pdf.Text(proofLeft, 45, fmt.Sprintf("Template %s, ribbon %s. Cards at true size: %.2f x %.2f mm (ID-1).", c.template, c.Panels.Ribbon, CardWidthMM, CardHeightMM))
	pdf.Text(proofLeft, 50, fmt.Sprintf("Barcode scanned back from the K panel and verified with key %s.", c.kid))

	mono := [2]bool{c.Panels.Front.C == nil, c.Panels.Back == nil || c.Panels.Back.C == nil}
	previews := [2]*image.RGBA{c.Front, c.Back}
	for i, top := range []float64{proofFrontTop, proofBackTop} {
		pdf.SetTextColor(60, 60, 60)
		pdf.SetFont("dejavu", "B", 10)
		pdf.Text(proofLeft, top-3, []string{"Front", "Back"}[i])
		// ID-1 corners are rounded (radius 3.18 mm): clip to the card shape
		pdf.ClipRoundedRect(proofLeft, top, CardWidthMM, CardHeightMM, 3.18, false)
		if err := c.sides[i].proof(pdf, proofLeft, top, mono[i], previews[i], i); err != nil {
			return err
		}
		pdf.ClipEnd()
		// card outline and a PROOF watermark across the card
		pdf.SetDrawColor(150, 150, 150)
		pdf.SetLineWidth(0.2)
		pdf.RoundedRect(proofLeft, top, CardWidthMM, CardHeightMM, 3.18, "1234", "D")
		pdf.SetAlpha(0.22, "Normal")
		pdf.SetTextColor(200, 0, 0)
		pdf.SetFont("dejavu", "B", 44)
		pdf.TransformBegin()
		pdf.TransformRotate(25, proofLeft+CardWidthMM/2, top+CardHeightMM/2)
		pdf.Text(proofLeft+CardWidthMM/2-26, top+CardHeightMM/2+6, "PROOF")
		pdf.TransformEnd()
		pdf.SetAlpha(1, "Normal")
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("layout: proof: %w", err)
	}
	return nil
}

// dotMM converts dots at 300 dpi to millimetres.
func dotMM(d float64) float64 { return d / card.DPI * 25.4 }

// proof redraws one side on the PDF page with its top-left at (x0, y0) mm.
func (sd *sideDraw) proof(pdf *fpdf.Fpdf, x0, y0 float64, mono bool, preview *image.RGBA, side int) error {
	rgb := func(c color.RGBA) (int, int, int) {
		if mono {
			l := luma([]uint8{c.R, c.G, c.B})
			if l >= lightTint {
				l = 255 // pale tints print nothing on a mono ribbon
			}
			return l, l, l
		}
		return int(c.R), int(c.G), int(c.B)
	}
	at := func(r image.Rectangle) (x, y, w, h float64) {
		return x0 - BleedXMM + dotMM(float64(r.Min.X)), y0 - BleedYMM + dotMM(float64(r.Min.Y)), dotMM(float64(r.Dx())), dotMM(float64(r.Dy()))
	}
	for n, it := range sd.items {
		e := it.e
		switch e.Type {
		case ElemBackground, ElemRect:
			c := e.rgb
			if e.Panel == PanelK {
				c = color.RGBA{0, 0, 0, 255}
			}
			r, g, b := rgb(c)
			pdf.SetFillColor(r, g, b)
			x, y, w, h := at(it.r)
			pdf.Rect(x, y, w, h, "F")
		case ElemPhoto, ElemImage, ElemBarcode:
			var src image.Image = it.img
			if mono && e.Type != ElemBarcode {
				src = preview.SubImage(it.r) // what the K panel prints
			}
			var buf bytes.Buffer
			typ := "PNG"
			if e.Type == ElemPhoto && !mono {
				typ = "JPG"
				if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 92}); err != nil {
					return fmt.Errorf("layout: proof: element %s: %w", e.ID, err)
				}
			} else if err := png.Encode(&buf, src); err != nil {
				return fmt.Errorf("layout: proof: element %s: %w", e.ID, err)
			}
			name := fmt.Sprintf("side%d-%d", side, n)
			pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: typ}, &buf)
			x, y, w, h := at(it.r)
			if e.Type == ElemImage && !mono {
				b := it.img.Bounds()
				w, h = dotMM(float64(b.Dx())), dotMM(float64(b.Dy()))
			}
			pdf.ImageOptions(name, x, y, w, h, false, fpdf.ImageOptions{ImageType: typ}, 0, "")
		case ElemField, ElemLabel, ElemText:
			style := ""
			if e.Bold {
				style = "B"
			}
			c := e.rgb
			if e.Panel == PanelK {
				c = color.RGBA{0, 0, 0, 255}
			}
			r, g, b := rgb(c)
			pdf.SetTextColor(r, g, b)
			pdf.SetFillColor(r, g, b) // glyphs drawn as outlines
			pdf.SetFont("dejavu", style, it.text.pt)
			var outlineErr error
			it.text.glyphs(func(g glyph, x, y float64) {
				if g.r > 0xFFFF {
					// fpdf's font subsetting covers the BMP only (it
					// panics beyond): draw such a glyph as its outline.
					if err := proofOutline(pdf, g, it.text.em, x0-BleedXMM+dotMM(x), y0-BleedYMM+dotMM(y)); err != nil && outlineErr == nil {
						outlineErr = err
					}
					return
				}
				st := style
				if g.tf != it.text.style.chain[0] {
					st = "" // fell back to the regular face
				}
				pdf.SetFontStyle(st)
				pdf.Text(x0-BleedXMM+dotMM(x), y0-BleedYMM+dotMM(y), string(g.r))
			})
			if outlineErr != nil {
				return fmt.Errorf("layout: proof: element %s: %w", e.ID, outlineErr)
			}
		}
		if err := pdf.Error(); err != nil {
			return fmt.Errorf("layout: proof: element %s: %w", e.ID, err)
		}
	}
	return nil
}

// proofOutline draws glyph g, of a text block whose em is em dots, as a
// filled vector path with its origin at (x, y) mm.
func proofOutline(pdf *fpdf.Fpdf, g glyph, em, x, y float64) error {
	var buf sfnt.Buffer
	segs, err := g.tf.f.LoadGlyph(&buf, g.idx, fixed.Int26_6(em*64), nil)
	if err != nil {
		return fmt.Errorf("glyph outline: %w", err)
	}
	pt := func(p fixed.Point26_6) (float64, float64) {
		return x + dotMM(float64(p.X)/64), y + dotMM(float64(p.Y)/64)
	}
	open := false
	for _, seg := range segs {
		a := seg.Args
		switch seg.Op {
		case sfnt.SegmentOpMoveTo:
			if open {
				pdf.ClosePath()
			}
			pdf.MoveTo(pt(a[0]))
			open = true
		case sfnt.SegmentOpLineTo:
			pdf.LineTo(pt(a[0]))
		case sfnt.SegmentOpQuadTo:
			cx, cy := pt(a[0])
			ex, ey := pt(a[1])
			pdf.CurveTo(cx, cy, ex, ey)
		case sfnt.SegmentOpCubeTo:
			c1x, c1y := pt(a[0])
			c2x, c2y := pt(a[1])
			ex, ey := pt(a[2])
			pdf.CurveBezierCubicTo(c1x, c1y, c2x, c2y, ex, ey)
		}
	}
	if open {
		pdf.ClosePath()
		pdf.DrawPath("F")
	}
	return nil
}

// writePNG writes img to path, readable by the owner only.
func writePNG(path string, img image.Image) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		f.Close()
		return fmt.Errorf("layout: write %s: %w", path, err)
	}
	if _, err := f.Write(withDPI(buf.Bytes(), card.DPI)); err != nil {
		f.Close()
		return fmt.Errorf("layout: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("layout: write %s: %w", path, err)
	}
	return nil
}

// withDPI inserts a pHYs chunk after the IHDR chunk of an encoded PNG so
// viewers and printers know the image is dpi dots per inch.
func withDPI(p []byte, dpi int) []byte {
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, length, type, data, crc
	if len(p) < ihdrEnd || string(p[12:16]) != "IHDR" {
		return p
	}
	ppm := uint32(math.Round(float64(dpi) / 0.0254))
	chunk := make([]byte, 0, 21)
	chunk = binary.BigEndian.AppendUint32(chunk, 9)
	chunk = append(chunk, "pHYs"...)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = append(chunk, 1) // unit: metre
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := make([]byte, 0, len(p)+len(chunk))
	out = append(out, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...)
}
