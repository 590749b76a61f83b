package barcode

import (
	"errors"
	"fmt"
	"image"
	"image/color"

	"github.com/boombuler/barcode/qr"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// ECLevel is a QR error-correction level.
type ECLevel byte

// QR error-correction levels used on cards.
const (
	ECM ECLevel = 'M'
	ECQ ECLevel = 'Q'
)

// QuietZone is the white border QR adds around the symbol, in modules.
const QuietZone = 4

// MaxModuleDots bounds the scale QR accepts.
const MaxModuleDots = 32

// ErrNotFound is returned by Scan when no QR code could be read.
var ErrNotFound = errors.New("barcode: no readable QR code in the image")

// QR draws text as a QR code in alphanumeric mode: moduleDots dots a
// module, exact integer scaling, a 4-module quiet zone included; black
// modules are 0, white 255.
func QR(text string, level ECLevel, moduleDots int) (*image.Gray, error) {
	m, err := qrMatrix(text, level)
	if err != nil {
		return nil, err
	}
	if moduleDots < 1 || moduleDots > MaxModuleDots {
		return nil, fmt.Errorf("barcode: qr: module size %d dots: want 1 to %d", moduleDots, MaxModuleDots)
	}
	n := len(m)
	side := (n + 2*QuietZone) * moduleDots
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if !m[y][x] {
				continue
			}
			x0, y0 := (x+QuietZone)*moduleDots, (y+QuietZone)*moduleDots
			for dy := 0; dy < moduleDots; dy++ {
				row := img.Pix[(y0+dy)*img.Stride+x0:]
				for dx := 0; dx < moduleDots; dx++ {
					row[dx] = 0
				}
			}
		}
	}
	return img, nil
}

// QRVersion returns the QR version (1-40) that QR uses for text at level.
func QRVersion(text string, level ECLevel) (int, error) {
	m, err := qrMatrix(text, level)
	if err != nil {
		return 0, err
	}
	return (len(m) - 17) / 4, nil
}

// qrMatrix encodes text and returns its modules, [y][x], true for black.
func qrMatrix(text string, level ECLevel) ([][]bool, error) {
	var l qr.ErrorCorrectionLevel
	switch level {
	case ECM:
		l = qr.M
	case ECQ:
		l = qr.Q
	default:
		return nil, fmt.Errorf("barcode: qr: error correction level %q: want M or Q", rune(level))
	}
	if text == "" {
		return nil, errors.New("barcode: qr: text is empty")
	}
	for i := 0; i < len(text); i++ {
		if base45Value[text[i]] < 0 {
			return nil, fmt.Errorf("barcode: qr: character at offset %d is not in the QR alphanumeric set", i)
		}
	}
	code, err := qr.Encode(text, l, qr.AlphaNumeric)
	if err != nil {
		return nil, fmt.Errorf("barcode: qr: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
		for x := range m[y] {
			g := color.GrayModel.Convert(code.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			m[y][x] = g.Y < 0x80
		}
	}
	return m, nil
}

// Scan finds and decodes one QR code in img and returns its text. img may
// be a bare symbol or a whole card (black on white), or a K panel plane
// (255 = ink), which Scan reads inverted first when it is mostly dark.
//
// gozxing's detector misreads the module size of a few per cent of
// perfectly sharp, integer-scaled symbols (false finder patterns in the
// data), and reads them at another scale; so when the image at its own
// size fails, Scan tries it as a pure symbol and then rescaled to 1/2, 2/3
// and 3/4, as a scanner at another distance would see it.
func Scan(img image.Image) (text string, err error) {
	defer func() {
		// gozxing is a port from Java and may panic on odd images; a
		// scan that panics found no code.
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("%w (decoder failed)", ErrNotFound)
		}
	}()
	if img == nil || img.Bounds().Empty() {
		return "", fmt.Errorf("%w: empty image", ErrNotFound)
	}
	g := toGray(img)
	dark := mostlyDark(g)
	if text, err := scanWhole(g, dark); err == nil {
		return text, nil
	}
	b := g.Bounds()
	// Now and then the finder pattern search misses a symbol at full size
	// and, in a whole card image, settles on false candidates from the
	// text at the smaller scales: a window of the image, at every scale,
	// holds the code with less of the rest (BENCHMARKS.md).
	for _, w := range windows(b) {
		if text, err := scanWhole(g.SubImage(w).(*image.Gray), dark); err == nil {
			return text, nil
		}
	}
	return "", fmt.Errorf("%w (%dx%d pixels, read at 4 scales, both polarities and in windows)", ErrNotFound, b.Dx(), b.Dy())
}

// scanWhole reads the whole image: as it is, as a pure symbol, then
// scaled down to 1/2, 2/3 and 3/4 (the decoder misses some sharp symbols
// at full size).
func scanWhole(g *image.Gray, dark bool) (string, error) {
	text, err := scanOnce(g, dark, false)
	if err == nil {
		return text, nil
	}
	if text, err := scanOnce(g, dark, true); err == nil {
		return text, nil
	}
	b := g.Bounds()
	for _, f := range [][2]int{{1, 2}, {2, 3}, {3, 4}} {
		w, h := b.Dx()*f[0]/f[1], b.Dy()*f[0]/f[1]
		if w < 21 || h < 21 { // smaller than a version 1 symbol
			break
		}
		if text, err := scanOnce(scaleGray(g, w, h), dark, false); err == nil {
			return text, nil
		}
	}
	return "", err
}

// windows returns the parts of b that Scan tries last: 3/4 and 1/2 of
// each side, at the four corners and the centre.
func windows(b image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, f := range [][2]int{{3, 4}, {1, 2}} {
		w, h := b.Dx()*f[0]/f[1], b.Dy()*f[0]/f[1]
		if w < 21 || h < 21 {
			break
		}
		for _, o := range []image.Point{{0, 0}, {b.Dx() - w, 0}, {0, b.Dy() - h}, {b.Dx() - w, b.Dy() - h}, {(b.Dx() - w) / 2, (b.Dy() - h) / 2}} {
			out = append(out, image.Rectangle{Min: b.Min.Add(o), Max: b.Min.Add(o).Add(image.Pt(w, h))})
		}
	}
	return out
}

// scanOnce tries both polarities (dark images inverted first) with the
// hybrid and the global-histogram binarizer, or only the hybrid one as a
// pure symbol.
func scanOnce(img *image.Gray, dark, pure bool) (string, error) {
	src := luminance(img)
	reader := qrcode.NewQRCodeReader()
	hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	if pure {
		hints[gozxing.DecodeHintType_PURE_BARCODE] = true
	}
	order := []gozxing.LuminanceSource{src, src.Invert()}
	if dark {
		order[0], order[1] = order[1], order[0]
	}
	var last error
	for _, s := range order {
		bins := []gozxing.Binarizer{gozxing.NewHybridBinarizer(s), gozxing.NewGlobalHistgramBinarizer(s)}
		if pure {
			bins = bins[:1]
		}
		for _, bin := range bins {
			bmp, err := gozxing.NewBinaryBitmap(bin)
			if err != nil {
				last = err
				continue
			}
			res, err := reader.Decode(bmp, hints)
			if err != nil {
				last = err
				continue
			}
			return res.GetText(), nil
		}
	}
	return "", last
}

// luminance returns a gozxing luminance source reading g's pixels
// directly.
func luminance(g *image.Gray) gozxing.LuminanceSource {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if g.Stride >= w && len(g.Pix) >= g.Stride*(h-1)+w {
		// the plane's rows as one Y plane of width Stride
		src, err := gozxing.NewPlanarYUVLuminanceSource(g.Pix, g.Stride, len(g.Pix)/g.Stride, 0, 0, w, h, false)
		if err == nil {
			return src
		}
	}
	return gozxing.NewLuminanceSourceFromImage(g)
}

// toGray returns img as grey levels; transparent pixels count as white
// (paper).
func toGray(img image.Image) *image.Gray {
	switch m := img.(type) {
	case *image.Gray:
		return m
	case *image.RGBA:
		return rgbaToGray(m.Pix, m.Stride, m.Rect, false)
	case *image.NRGBA:
		return rgbaToGray(m.Pix, m.Stride, m.Rect, true)
	}
	b := img.Bounds()
	g := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, gg, bb, a := img.At(x, y).RGBA() // premultiplied, 16 bit
			lum := (19595*r + 38470*gg + 7471*bb + 1<<15) >> 24
			g.Pix[g.PixOffset(x, y)] = uint8(lum + (0xffff-a)>>8)
		}
	}
	return g
}

func rgbaToGray(pix []byte, stride int, r image.Rectangle, straight bool) *image.Gray {
	g := image.NewGray(r)
	for y := 0; y < r.Dy(); y++ {
		src := pix[y*stride:]
		dst := g.Pix[y*g.Stride:]
		for x := 0; x < r.Dx(); x++ {
			p := src[4*x : 4*x+4]
			lum := (19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16
			a := uint32(p[3])
			if straight {
				lum = lum * a / 255
			}
			dst[x] = uint8(lum + 255 - a)
		}
	}
	return g
}

// scaleGray resamples g to w x h bilinearly.
func scaleGray(g *image.Gray, w, h int) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, w, h))
	sw, sh := g.Rect.Dx(), g.Rect.Dy()
	for y := 0; y < h; y++ {
		fy := (float64(y)+0.5)*float64(sh)/float64(h) - 0.5
		y0 := max(int(fy), 0)
		y1 := min(y0+1, sh-1)
		wy := min(max(fy-float64(y0), 0), 1)
		r0, r1 := g.Pix[y0*g.Stride:], g.Pix[y1*g.Stride:]
		for x := 0; x < w; x++ {
			fx := (float64(x)+0.5)*float64(sw)/float64(w) - 0.5
			x0 := max(int(fx), 0)
			x1 := min(x0+1, sw-1)
			wx := min(max(fx-float64(x0), 0), 1)
			top := float64(r0[x0])*(1-wx) + float64(r0[x1])*wx
			bot := float64(r1[x0])*(1-wx) + float64(r1[x1])*wx
			out.Pix[y*out.Stride+x] = uint8(top*(1-wy) + bot*wy + 0.5)
		}
	}
	return out
}

// mostlyDark reports whether a grey image is mostly dark, as a K panel
// plane (255 = ink) is, so Scan tries it inverted first.
func mostlyDark(g *image.Gray) bool {
	var sum, n uint64
	for y := g.Rect.Min.Y; y < g.Rect.Max.Y; y += 4 {
		row := g.Pix[(y-g.Rect.Min.Y)*g.Stride:]
		for x := 0; x < g.Rect.Dx(); x += 4 {
			sum += uint64(row[x])
			n++
		}
	}
	return n > 0 && sum/n < 128
}
