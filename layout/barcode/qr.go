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
// (255 = ink), which Scan reads inverted when the plain reading fails.
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
	src := luminance(img)
	reader := qrcode.NewQRCodeReader()
	hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	var last error
	order := []gozxing.LuminanceSource{src, src.Invert()}
	if mostlyDark(img) { // a K panel plane: 255 is ink, the card is 0
		order[0], order[1] = order[1], order[0]
	}
	for _, s := range order {
		for _, bin := range []gozxing.Binarizer{gozxing.NewHybridBinarizer(s), gozxing.NewGlobalHistgramBinarizer(s)} {
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
	return "", fmt.Errorf("%w: %v", ErrNotFound, last)
}

// luminance returns a gozxing luminance source for img, reading the pixels
// of an *image.Gray directly (the K panel and QR's output) instead of
// through At.
func luminance(img image.Image) gozxing.LuminanceSource {
	if g, ok := img.(*image.Gray); ok {
		w, h := g.Rect.Dx(), g.Rect.Dy()
		if g.Stride >= w && len(g.Pix) >= g.Stride*(h-1)+w {
			// the plane's rows as one Y plane of width Stride
			src, err := gozxing.NewPlanarYUVLuminanceSource(g.Pix, g.Stride, len(g.Pix)/g.Stride, 0, 0, w, h, false)
			if err == nil {
				return src
			}
		}
	}
	return gozxing.NewLuminanceSourceFromImage(img)
}

// mostlyDark reports whether a grey image is mostly dark, as a K panel
// plane (255 = ink) is, so Scan tries it inverted first.
func mostlyDark(img image.Image) bool {
	g, ok := img.(*image.Gray)
	if !ok {
		return false
	}
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
