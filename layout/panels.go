package layout

import (
	"encoding/binary"
	"image"

	"github.com/cityid/printerd/card"
)

// fillGray sets every dot of g within r to v.
func fillGray(g *image.Gray, r image.Rectangle, v uint8) {
	r = r.Intersect(g.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := g.Pix[g.PixOffset(r.Min.X, y):g.PixOffset(r.Max.X, y)]
		for i := range row {
			row[i] = v
		}
	}
}

// thresholdInto sets K to 255 where the text mask is at least half covered.
func thresholdInto(k *image.Gray, mask *image.Alpha, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		m := mask.Pix[mask.PixOffset(r.Min.X, y):]
		d := k.Pix[k.PixOffset(r.Min.X, y):]
		for x := 0; x < r.Dx(); x++ {
			if m[x] >= 128 {
				d[x] = 255
			}
		}
	}
}

// luma returns the grey level (0 black .. 255 white) of an RGBA pixel.
func luma(p []uint8) int { return (299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000 }

// lightTint is the grey level from which colour prints nothing on a mono
// ribbon (luma 0-255).
const lightTint = 220

// ditherInto adds the dark parts of img (within r) to K with
// Floyd-Steinberg error diffusion.
//
// With clipLight, pale tints (luma from lightTint up) print nothing, so
// light backgrounds stay clean behind text; photos are dithered without it
// so that light skin and hair keep their shape.
//
// Photos (without clipLight) get their levels stretched first: the 2nd
// to 98th percentile of grey spread over the full range, so a pale or flat
// photo still shows a face in black dots.
func ditherInto(k *image.Gray, img *image.RGBA, r image.Rectangle, clipLight bool) {
	r = r.Intersect(k.Rect).Intersect(img.Rect)
	w := r.Dx()
	var lut [256]uint8
	for i := range lut {
		lut[i] = uint8(i)
	}
	if !clipLight && !r.Empty() {
		lut = levels(img, r)
	}
	cur := make([]int, w+2)
	next := make([]int, w+2)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):]
		d := k.Pix[k.PixOffset(r.Min.X, y):]
		for x := 0; x < w; x++ {
			l := int(lut[luma(row[4*x:])])
			if clipLight && l >= lightTint {
				continue // pale tints and white stay blank: no noise behind text
			}
			v := l + cur[x+1]
			e := v
			if v < 128 {
				d[x] = 255
			} else {
				e = v - 255
			}
			cur[x+2] += e * 7 / 16
			next[x] += e * 3 / 16
			next[x+1] += e * 5 / 16
			next[x+2] += e / 16
		}
		cur, next = next, cur
		for i := range next {
			next[i] = 0
		}
	}
}

// levels returns a table that stretches the grey levels of img within r
// from their 2nd..98th percentile to 0..255 (identity if the range is
// already wide or the image flat).
func levels(img *image.RGBA, r image.Rectangle) [256]uint8 {
	var hist [256]int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):]
		for x := 0; x < r.Dx(); x++ {
			hist[luma(row[4*x:])]++
		}
	}
	n := r.Dx() * r.Dy()
	lo, hi, acc := 0, 255, 0
	for i, c := range hist {
		acc += c
		if acc <= n/50 {
			lo = i
		}
		if acc < n-n/50 {
			hi = i + 1
		}
	}
	var lut [256]uint8
	for i := range lut {
		lut[i] = uint8(i)
	}
	if hi > 255 {
		hi = 255
	}
	if hi-lo < 32 || (lo < 8 && hi > 247) {
		return lut
	}
	for i := range lut {
		v := (i - lo) * 255 / (hi - lo)
		lut[i] = uint8(max(0, min(255, v)))
	}
	return lut
}

// panels makes the print planes of a side that gets the panels p
// (card.Ribbon.SidePanels). The K plane is the side's own (text and
// barcode, plus the dithered colour layer when the side has no colour
// panels), so the self-check reads the final K.
func (sd *sideDraw) panels(p card.Panels) card.Side {
	var s card.Side
	k := sd.k
	if !p.Colour {
		for _, r := range sd.dirty {
			ditherInto(k, sd.colour, r, true)
		}
		for _, r := range sd.photos {
			ditherInto(k, sd.colour, r, false)
		}
	} else {
		s.Y, s.M, s.C = card.NewPlane(), card.NewPlane(), card.NewPlane()
		px := sd.colour.Pix
		y, m, c := s.Y.Pix, s.M.Pix, s.C.Pix
		for _, r := range append(sd.dirty, sd.photos...) {
			for row := r.Min.Y; row < r.Max.Y; row++ {
				for j := row*card.Width + r.Min.X; j < row*card.Width+r.Max.X; j++ {
					rgb := px[4*j : 4*j+3 : 4*j+3]
					c[j], m[j], y[j] = 255-rgb[0], 255-rgb[1], 255-rgb[2]
				}
			}
		}
	}
	s.K = k
	if p.Overlay {
		s.O = card.NewPlane()
		copy(s.O.Pix, whiteCard[:len(s.O.Pix)])
		for _, r := range sd.oFree {
			fillGray(s.O, r, 0)
		}
	}
	return s
}

// preview composes what the panels would print: colour (if any), then
// resin black on top. It reuses the colour layer, so call it after panels.
func (sd *sideDraw) preview(s card.Side) *image.RGBA {
	out := sd.colour
	sd.colour = nil
	if s.C == nil {
		copy(out.Pix, whiteCard)
	}
	k := s.K.Pix
	for j0 := 0; j0 < len(k); j0 += 8 {
		if j0+8 <= len(k) && binary.LittleEndian.Uint64(k[j0:]) == 0 {
			continue // eight blank dots: the common case
		}
		for j := j0; j < j0+8 && j < len(k); j++ {
			if k[j] != 0 {
				i := 4 * j
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = 0, 0, 0
			}
		}
	}
	return out
}
