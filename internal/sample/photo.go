package sample

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"sync"
)

// Photo size in pixels: a 3:4 portrait.
const (
	PhotoWidth  = 300
	PhotoHeight = 400
)

// variants is how many distinct photos there are; Photo(i) == Photo(i+variants).
const variants = 12

var (
	photoMu    sync.Mutex
	photoCache = map[int][]byte{}
)

// Photo returns sample photo i: a cartoon head and shoulders drawn on a
// coloured background, 300x400 pixels, PNG for even i and JPEG for odd i.
// It is deterministic and cheap after the first call for each variant.
// The caller may modify the returned slice.
func Photo(i int) []byte {
	v := i % variants
	if v < 0 {
		v += variants
	}
	photoMu.Lock()
	defer photoMu.Unlock()
	b, ok := photoCache[v]
	if !ok {
		b = encodePhoto(v)
		photoCache[v] = b
	}
	return bytes.Clone(b)
}

// PhotoIsPNG reports whether Photo(i) is a PNG (otherwise it is a JPEG).
func PhotoIsPNG(i int) bool { return i%2 == 0 }

func encodePhoto(v int) []byte {
	img := Draw(v)
	var buf bytes.Buffer
	var err error
	if PhotoIsPNG(v) {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		panic("sample: encode photo: " + err.Error())
	}
	return buf.Bytes()
}

// Cartoon palettes: deliberately not natural skin tones, so no one mistakes
// a sample for a real photo.
var (
	backgrounds = []color.RGBA{
		{0x9e, 0xc9, 0xe8, 0xff}, {0xf2, 0xd4, 0x7a, 0xff}, {0xb8, 0xe0, 0xa8, 0xff},
		{0xe8, 0xb0, 0xc8, 0xff}, {0xc8, 0xc0, 0xf0, 0xff}, {0xf0, 0xc0, 0x98, 0xff},
	}
	faces = []color.RGBA{
		{0xff, 0xe0, 0x60, 0xff}, {0x80, 0xd0, 0xa0, 0xff}, {0xa0, 0xb0, 0xff, 0xff},
		{0xff, 0xa0, 0x70, 0xff}, {0xd0, 0x90, 0xe0, 0xff}, {0x70, 0xc8, 0xd8, 0xff},
	}
	hairs = []color.RGBA{
		{0x30, 0x20, 0x10, 0xff}, {0xc0, 0x40, 0x20, 0xff}, {0x20, 0x30, 0x80, 0xff},
		{0x60, 0x60, 0x60, 0xff}, {0xe0, 0xe0, 0xe0, 0xff}, {0x10, 0x70, 0x30, 0xff},
	}
	shirts = []color.RGBA{
		{0x30, 0x50, 0xa0, 0xff}, {0xa0, 0x20, 0x40, 0xff}, {0x20, 0x80, 0x60, 0xff},
		{0x50, 0x50, 0x50, 0xff}, {0xd0, 0x80, 0x10, 0xff}, {0x60, 0x30, 0x90, 0xff},
	}
	white = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink   = color.RGBA{0x20, 0x20, 0x20, 0xff}
)

// Draw draws sample photo variant v (any int) as an image, for callers that
// want pixels rather than encoded bytes.
func Draw(v int) *image.RGBA {
	if v < 0 {
		v = -v
	}
	img := image.NewRGBA(image.Rect(0, 0, PhotoWidth, PhotoHeight))
	draw.Draw(img, img.Bounds(), image.NewUniform(backgrounds[v%len(backgrounds)]), image.Point{}, draw.Src)
	face := faces[(v*5+1)%len(faces)]
	hair := hairs[(v*7+2)%len(hairs)]
	shirt := shirts[(v*3)%len(shirts)]
	cx := PhotoWidth/2 + (v%3-1)*8 // a little sideways variation
	headRX, headRY := 78+v%4*4, 98+v%3*5
	headCY := 175

	fill(img, ellipse{cx, PhotoHeight + 40, 150, 130}, shirt)               // shoulders
	fill(img, rect(cx-28, headCY+headRY-20, cx+28, headCY+headRY+40), face) // neck
	if v%4 != 3 {                                                           // most have hair
		fill(img, ellipse{cx, headCY - 25, headRX + 12, headRY - 5}, hair)
	}
	fill(img, ellipse{cx, headCY, headRX, headRY}, face)      // head
	fill(img, ellipse{cx - headRX, headCY + 5, 12, 20}, face) // ears
	fill(img, ellipse{cx + headRX, headCY + 5, 12, 20}, face)
	if v%4 != 3 {
		fill(img, ellipse{cx, headCY - headRY + 18, headRX - 8, 26}, hair) // fringe
	}
	for _, ex := range []int{cx - 30, cx + 30} { // eyes: big cartoon dots
		fill(img, ellipse{ex, headCY - 5, 16, 13}, white)
		fill(img, ellipse{ex + v%3 - 1, headCY - 3, 7, 7}, ink)
	}
	fill(img, ellipse{cx, headCY + 20, 6, 9}, darker(face)) // nose
	// Smile: a dark ellipse with the face colour drawn over its top part.
	fill(img, ellipse{cx, headCY + 45, 34, 20}, ink)
	fill(img, ellipse{cx, headCY + 37, 38, 20}, face)
	if v%3 == 0 { // glasses
		for _, ex := range []int{cx - 30, cx + 30} {
			ring(img, ellipse{ex, headCY - 5, 24, 20}, 4, ink)
		}
		fill(img, rect(cx-8, headCY-8, cx+8, headCY-4), ink)
	}
	return img
}

// ellipse is an axis-aligned filled ellipse used as a draw mask.
type ellipse struct{ cx, cy, rx, ry int }

func (e ellipse) ColorModel() color.Model { return color.AlphaModel }
func (e ellipse) Bounds() image.Rectangle {
	return image.Rect(e.cx-e.rx, e.cy-e.ry, e.cx+e.rx+1, e.cy+e.ry+1)
}
func (e ellipse) At(x, y int) color.Color {
	dx, dy := float64(x-e.cx), float64(y-e.cy)
	rx, ry := float64(e.rx), float64(e.ry)
	if dx*dx/(rx*rx)+dy*dy/(ry*ry) <= 1 {
		return color.Alpha{A: 0xff}
	}
	return color.Alpha{}
}

// ringMask is the band between an ellipse and the same ellipse shrunk by w.
type ringMask struct {
	outer ellipse
	w     int
}

func (r ringMask) ColorModel() color.Model { return color.AlphaModel }
func (r ringMask) Bounds() image.Rectangle { return r.outer.Bounds() }
func (r ringMask) At(x, y int) color.Color {
	in := ellipse{r.outer.cx, r.outer.cy, r.outer.rx - r.w, r.outer.ry - r.w}
	if r.outer.At(x, y).(color.Alpha).A != 0 && in.At(x, y).(color.Alpha).A == 0 {
		return color.Alpha{A: 0xff}
	}
	return color.Alpha{}
}

func rect(x0, y0, x1, y1 int) image.Rectangle { return image.Rect(x0, y0, x1, y1) }

// fill paints c through mask m (an ellipse) or over a rectangle.
func fill(dst draw.Image, shape any, c color.Color) {
	src := image.NewUniform(c)
	switch s := shape.(type) {
	case ellipse:
		draw.DrawMask(dst, s.Bounds(), src, image.Point{}, s, s.Bounds().Min, draw.Over)
	case image.Rectangle:
		draw.Draw(dst, s, src, image.Point{}, draw.Over)
	}
}

func ring(dst draw.Image, e ellipse, w int, c color.Color) {
	m := ringMask{e, w}
	draw.DrawMask(dst, m.Bounds(), image.NewUniform(c), image.Point{}, m, m.Bounds().Min, draw.Over)
}

func darker(c color.RGBA) color.RGBA {
	return color.RGBA{c.R * 3 / 4, c.G * 3 / 4, c.B * 3 / 4, 0xff}
}

// HugePNGHeader returns a syntactically valid PNG header (signature, IHDR
// with a correct CRC, an empty IDAT and IEND) that claims w x h pixels, for
// tests that must reject oversized photos from the header alone, before any
// pixel is decoded.
func HugePNGHeader(w, h uint32) []byte { return PNGHeader(w, h, 8, 2) }

// PNGHeader is HugePNGHeader with the bit depth and colour type given
// (e.g. 16 and 6: 16-bit RGBA, 8 bytes a pixel once decoded).
func PNGHeader(w, h uint32, depth, colourType byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = depth
	ihdr[9] = colourType
	chunk(&b, "IHDR", ihdr)
	chunk(&b, "IDAT", nil)
	chunk(&b, "IEND", nil)
	return b.Bytes()
}

// HugeJPEGHeader returns the start of a baseline JPEG (SOI, JFIF APP0, a
// quantisation table, SOF0) that claims w x h pixels (each at most 65535) and nothing
// after: image.DecodeConfig reads the size, a full decode fails.
func HugeJPEGHeader(w, h uint16) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8}) // SOI
	// JFIF APP0: with it, image.DecodeConfig stops at SOF.
	b.Write([]byte{0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0})
	b.Write([]byte{0xff, 0xdb, 0x00, 0x43, 0x00}) // DQT, 8-bit table 0
	for i := 0; i < 64; i++ {
		b.WriteByte(1)
	}
	b.Write([]byte{0xff, 0xc0, 0x00, 0x0b, 0x08}) // SOF0, length 11, 8-bit
	b.Write([]byte{byte(h >> 8), byte(h), byte(w >> 8), byte(w)})
	b.Write([]byte{0x01, 0x01, 0x11, 0x00}) // 1 component, id 1, 1x1, table 0
	return b.Bytes()
}

func chunk(b *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	b.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	b.WriteString(typ)
	b.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	b.Write(n[:])
}

// Truncated returns the first half of b, a broken image whose header may
// still decode, for tests of damaged photos.
func Truncated(b []byte) []byte { return bytes.Clone(b[:len(b)/2]) }
