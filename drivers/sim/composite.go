package sim

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/cityid/printerd/layout/panel"
)

// composite turns the panels of a card into its printed faces.
func (d *Device) composite(c *cardState) Printed {
	p := Printed{Label: c.label, Mag: c.mag}
	var front image.Image
	p.FrontPanels, front = d.compositeSide(c.planes[0])
	p.Front = front
	if len(c.planes[1]) > 0 {
		bp, back := d.compositeSide(c.planes[1])
		p.BackPanels = &bp
		p.Back = back
	}
	return p
}

// compositeSide composites one side: a white card, Y, M and C subtractive (each
// takes away blue, green and red), K black on top. The overlay is varnish
// and does not show.
func (d *Device) compositeSide(planes map[byte][]byte) (panel.Side, *image.RGBA) {
	var s panel.Side
	get := func(name byte) *image.Gray {
		if pl, ok := planes[name]; ok {
			return d.toDesign(pl)
		}
		return nil
	}
	s.Y, s.M, s.C, s.K, s.O = get('y'), get('m'), get('c'), get('k'), get('o')
	w, h := d.designSize()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	n := w * h
	for i := 0; i < n; i++ {
		r, g, b := byte(255), byte(255), byte(255)
		if s.C != nil {
			r -= s.C.Pix[i]
		}
		if s.M != nil {
			g -= s.M.Pix[i]
		}
		if s.Y != nil {
			b -= s.Y.Pix[i]
		}
		if s.K != nil && s.K.Pix[i] != 0 {
			r, g, b = 0, 0, 0
		}
		px := img.Pix[i*4 : i*4+4]
		px[0], px[1], px[2], px[3] = r, g, b, 255
	}
	return s, img
}

// designSize is the size of a card face after undoing the rotation.
func (d *Device) designSize() (int, int) {
	if d.opts.Rotation == 90 || d.opts.Rotation == 270 {
		return lines, dotsPerLine
	}
	return dotsPerLine, lines
}

// toDesign undoes the driver's rotation: print order (648 x 1016) back to
// the landscape design (1016 x 648). Rotation 270 (the driver's default, a
// quarter turn clockwise) put design column x at print line x, design row
// 647-dot; rotation 90 the other way.
func (d *Device) toDesign(pl []byte) *image.Gray {
	w, h := d.designSize()
	g := image.NewGray(image.Rect(0, 0, w, h))
	switch d.opts.Rotation {
	case 270:
		for y := 0; y < lines; y++ {
			row := pl[y*dotsPerLine : (y+1)*dotsPerLine]
			for x, v := range row {
				g.Pix[(dotsPerLine-1-x)*w+y] = v
			}
		}
	case 90:
		for y := 0; y < lines; y++ {
			row := pl[y*dotsPerLine : (y+1)*dotsPerLine]
			for x, v := range row {
				g.Pix[x*w+(lines-1-y)] = v
			}
		}
	default:
		copy(g.Pix, pl)
	}
	return g
}

// writeImages writes a card's faces as <label>-front.png and -back.png.
// A card carries personal data: the directory is made private (0700) and
// the files are readable by their owner only (0600).
func writeImages(dir string, p Printed) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sim: output directory: %w", err)
	}
	var files []string
	faces := []struct {
		name string
		img  image.Image
	}{{"front", p.Front}, {"back", p.Back}}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	for _, f := range faces {
		if f.img == nil {
			continue
		}
		path := filepath.Join(dir, p.Label+"-"+f.name+".png")
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return files, fmt.Errorf("sim: card image: %w", err)
		}
		err = enc.Encode(fh, f.img)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return files, fmt.Errorf("sim: card image %s: %w", filepath.Base(path), err)
		}
		files = append(files, path)
	}
	return files, nil
}
