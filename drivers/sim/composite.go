package sim

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/internal/transpose"
)

// printedCard is a card kept for Cards: the panels as received, decoded and
// composited on the first Cards call that returns it.
type printedCard struct {
	label    string
	mag      [3]string
	chip     *t4t.Image
	files    []string // set before the card is kept, never after
	planes   [2]map[byte]panelData
	rotation int

	once sync.Once
	p    Printed
}

// keep adds a printed card to the kept ones, dropping the oldest beyond
// Options.KeepCards.
func (d *Device) keep(k *printedCard) {
	n := d.opts.KeepCards
	if n <= 0 {
		return
	}
	if len(d.cards) >= n {
		drop := len(d.cards) - n + 1
		copy(d.cards, d.cards[drop:])
		clear(d.cards[n-1:])
		d.cards = d.cards[:n-1]
	}
	d.cards = append(d.cards, k)
}

// get returns the card with its faces and panels, compositing them once.
func (k *printedCard) get() Printed {
	k.once.Do(func() {
		k.p = k.composite(true)
		k.planes = [2]map[byte]panelData{} // the composite holds it all now
	})
	return k.p
}

// composite decodes the panels and composites the faces; with panels set
// it also keeps the design-orientation panels in FrontPanels and
// BackPanels.
func (k *printedCard) composite(panels bool) Printed {
	p := Printed{Label: k.label, Mag: k.mag, Chip: k.chip, Files: k.files}
	var front *image.RGBA
	p.FrontPanels, front = k.compositeSide(k.planes[0], panels)
	p.Front = front
	if len(k.planes[1]) > 0 {
		bp, back := k.compositeSide(k.planes[1], panels)
		p.Back = back
		if panels {
			p.BackPanels = &bp
		}
	}
	return p
}

// planeBufs holds print-order and design planes between uses.
var planeBufs = sync.Pool{New: func() any { b := make([]byte, planeSize); return &b }}

// zeroPlane stands in, read only, for a panel not received.
var zeroPlane = make([]byte, planeSize)

// compositeSide composites one side: a white card, Y, M and C subtractive
// (each takes away blue, green and red), K black on top. The overlay is
// varnish and does not show. The panels are returned in design
// orientation when keepPanels is set (otherwise their buffers are reused).
func (k *printedCard) compositeSide(planes map[byte]panelData, keepPanels bool) (card.Side, *image.RGBA) {
	var s card.Side
	w, h := designSize(k.rotation)
	var pooled []*[]byte
	defer func() {
		for _, b := range pooled {
			planeBufs.Put(b)
		}
	}()
	get := func(name byte) *image.Gray {
		pd, ok := planes[name]
		if !ok || name == 'o' && !keepPanels { // the overlay does not show
			return nil
		}
		po := planeBufs.Get().(*[]byte)
		pooled = append(pooled, po)
		clear(*po)
		// The panel was checked when it arrived: it decodes.
		_ = pd.decode(*po)
		var g *image.Gray
		if keepPanels {
			g = image.NewGray(image.Rect(0, 0, w, h))
		} else {
			dp := planeBufs.Get().(*[]byte)
			pooled = append(pooled, dp)
			g = &image.Gray{Pix: *dp, Stride: w, Rect: image.Rect(0, 0, w, h)}
		}
		toDesign(g.Pix, *po, k.rotation)
		return g
	}
	s.Y, s.M, s.C, s.K, s.O = get('y'), get('m'), get('c'), get('k'), get('o')
	pix := func(g *image.Gray) []byte {
		if g == nil {
			return zeroPlane
		}
		return g.Pix
	}
	yp, mp, cp, kp := pix(s.Y), pix(s.M), pix(s.C), pix(s.K)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	n := w * h
	out := img.Pix[:4*n]
	yp, mp, cp, kp = yp[:n], mp[:n], cp[:n], kp[:n]
	for i := range n {
		v := uint32(255-cp[i]) | uint32(255-mp[i])<<8 | uint32(255-yp[i])<<16
		if kp[i] != 0 {
			v = 0
		}
		binary.LittleEndian.PutUint32(out[4*i:4*i+4], v|0xFF<<24)
	}
	if !keepPanels {
		s = card.Side{}
	}
	return s, img
}

// designSize is the size of a card face after undoing the rotation.
func designSize(rotation int) (int, int) {
	if rotation == 90 || rotation == 270 {
		return lines, dotsPerLine
	}
	return dotsPerLine, lines
}

// toDesign undoes the driver's rotation: a print-order plane (648 x 1016)
// back to the landscape design (1016 x 648) in dst. Rotation 270 (the
// driver's default, a quarter turn clockwise) put design column x at print
// line x, design row 647-dot; rotation 90 the other way; any other value
// keeps print order. It moves blocks of 8 x 8 dots: 8 loads of 8 bytes, a
// transpose in registers, 8 stores.
func toDesign(dst, pl []byte, rotation int) {
	if rotation != 90 && rotation != 270 {
		copy(dst, pl)
		return
	}
	const w = lines // design width
	dst, pl = dst[:planeSize], pl[:planeSize]
	for x := 0; x < dotsPerLine; x += 8 { // both sides are multiples of 8
		for y := 0; y < lines; y += 8 {
			// ak byte j is dot x+j of line y+k.
			o := y*dotsPerLine + x
			r := pl[o : o+7*dotsPerLine+8]
			le := binary.LittleEndian
			a0, a1, a2, a3 := le.Uint64(r), le.Uint64(r[dotsPerLine:]), le.Uint64(r[2*dotsPerLine:]), le.Uint64(r[3*dotsPerLine:])
			a4, a5, a6, a7 := le.Uint64(r[4*dotsPerLine:]), le.Uint64(r[5*dotsPerLine:]), le.Uint64(r[6*dotsPerLine:]), le.Uint64(r[7*dotsPerLine:])
			// Transpose the 8 x 8 bytes: now aj byte k is dot x+j of line y+k.
			a0, a1, a2, a3, a4, a5, a6, a7 = transpose.Bytes8x8(a0, a1, a2, a3, a4, a5, a6, a7)
			if rotation == 270 {
				// line y, dot x is design (y, 647-x): aj is design row
				// 647-x-j, columns y..y+7.
				o := (dotsPerLine-8-x)*w + y
				d := dst[o : o+7*w+8]
				le.PutUint64(d[7*w:], a0)
				le.PutUint64(d[6*w:], a1)
				le.PutUint64(d[5*w:], a2)
				le.PutUint64(d[4*w:], a3)
				le.PutUint64(d[3*w:], a4)
				le.PutUint64(d[2*w:], a5)
				le.PutUint64(d[w:], a6)
				le.PutUint64(d, a7)
			} else {
				// line y, dot x is design (1015-y, x): aj is design row
				// x+j, columns 1015-y down to 1008-y.
				o := x*w + w - 8 - y
				d := dst[o : o+7*w+8]
				be := binary.BigEndian
				be.PutUint64(d, a0)
				be.PutUint64(d[w:], a1)
				be.PutUint64(d[2*w:], a2)
				be.PutUint64(d[3*w:], a3)
				be.PutUint64(d[4*w:], a4)
				be.PutUint64(d[5*w:], a5)
				be.PutUint64(d[6*w:], a6)
				be.PutUint64(d[7*w:], a7)
			}
		}
	}
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
