package evolis

import (
	"bytes"
	"fmt"
	"image"
	"strconv"

	"github.com/cityid/printerd/layout/panel"
)

// Print-order geometry: every panel is sent 648 dots wide and 1016 lines long.
const (
	DotsPerLine = panel.Height // 648
	Lines       = panel.Width  // 1016
	// MonoLineBytes is the size of one 1-bit K or O line.
	MonoLineBytes = DotsPerLine / 8 // 81
	// MonoPanelBytes is the size of an uncompressed K or O panel.
	MonoPanelBytes = MonoLineBytes * Lines // 82,296
)

// ColourPanelBytes is the size of an uncompressed Y, M or C panel at the
// given levels (32, 64 or 128): 411,480, 493,776 or 576,072 bytes.
func ColourPanelBytes(levels int) int {
	return bitsFor(levels) * DotsPerLine / 8 * Lines
}

// bitsFor returns the bits per dot of a level count, or 0 if unsupported.
func bitsFor(levels int) int {
	switch levels {
	case 32:
		return 5
	case 64:
		return 6
	case 128:
		return 7
	}
	return 0
}

// CheckLevels reports an error unless levels is 32, 64 or 128.
func CheckLevels(levels int) error {
	if bitsFor(levels) == 0 {
		return fmt.Errorf("evolis: levels %d: want 32, 64 or 128", levels)
	}
	return nil
}

// CheckRotation reports an error unless rotation is 90 or 270.
func CheckRotation(rotation int) error {
	if rotation != 90 && rotation != 270 {
		return fmt.Errorf("evolis: rotation %d: want 90 or 270", rotation)
	}
	return nil
}

// ToPrintOrder rotates a landscape design plane (1016 x 648) into print order
// (648 x 1016). Rotation 270 (the Perl driver's pnmflip -rotate270, a quarter
// turn clockwise) puts the design's left edge at the top of the first line;
// 90 turns the other way. A nil plane gives a blank one.
func ToPrintOrder(src *image.Gray, rotation int) (*image.Gray, error) {
	if err := CheckRotation(rotation); err != nil {
		return nil, err
	}
	dst := image.NewGray(image.Rect(0, 0, DotsPerLine, Lines))
	if src == nil {
		return dst, nil
	}
	b := src.Bounds()
	if b.Dx() != panel.Width || b.Dy() != panel.Height {
		return nil, fmt.Errorf("evolis: plane is %dx%d: want %dx%d landscape", b.Dx(), b.Dy(), panel.Width, panel.Height)
	}
	for y := 0; y < Lines; y++ { // y: print line = design column (or its mirror)
		row := dst.Pix[y*dst.Stride : y*dst.Stride+DotsPerLine]
		for x := range row {
			var sx, sy int
			if rotation == 270 {
				sx, sy = y, panel.Height-1-x
			} else {
				sx, sy = panel.Width-1-y, x
			}
			row[x] = src.Pix[sy*src.Stride+sx] // Pix starts at Bounds().Min
		}
	}
	return dst, nil
}

// FromPrintOrder inverts ToPrintOrder: a print-order plane (648 x 1016) back
// to the landscape design (1016 x 648).
func FromPrintOrder(src *image.Gray, rotation int) (*image.Gray, error) {
	if err := CheckRotation(rotation); err != nil {
		return nil, err
	}
	if b := src.Bounds(); b.Dx() != DotsPerLine || b.Dy() != Lines {
		return nil, fmt.Errorf("evolis: print-order plane is %dx%d: want %dx%d", b.Dx(), b.Dy(), DotsPerLine, Lines)
	}
	dst := panel.NewPlane()
	for y := 0; y < Lines; y++ {
		for x := 0; x < DotsPerLine; x++ {
			var dx, dy int
			if rotation == 270 {
				dx, dy = y, panel.Height-1-x
			} else {
				dx, dy = panel.Width-1-y, x
			}
			dst.Pix[dy*dst.Stride+dx] = src.Pix[y*src.Stride+x]
		}
	}
	return dst, nil
}

// level maps a plane value (0..255, amount to transfer) to 0..levels-1.
func level(v uint8, levels int) byte {
	return byte((int(v)*(levels-1) + 127) / 255)
}

// EncodeMono packs a print-order K or O plane 1 bit per dot, most
// significant bit first: a dot is set when its value is 128 or more.
func EncodeMono(p *image.Gray) []byte {
	out := make([]byte, MonoPanelBytes)
	for y := 0; y < Lines; y++ {
		row := p.Pix[y*p.Stride : y*p.Stride+DotsPerLine]
		line := out[y*MonoLineBytes:]
		for x, v := range row {
			if v >= 128 {
				line[x>>3] |= 0x80 >> (x & 7)
			}
		}
	}
	return out
}

// EncodeColour packs a print-order Y, M or C plane at levels 32, 64 or 128
// (5, 6 or 7 bits a dot), most significant bit first, back to back.
func EncodeColour(p *image.Gray, levels int) ([]byte, error) {
	bits := bitsFor(levels)
	if bits == 0 {
		return nil, CheckLevels(levels)
	}
	out := make([]byte, 0, ColourPanelBytes(levels))
	var acc uint32
	var n int
	for y := 0; y < Lines; y++ {
		for _, v := range p.Pix[y*p.Stride : y*p.Stride+DotsPerLine] {
			acc = acc<<bits | uint32(level(v, levels))
			n += bits
			for n >= 8 {
				out = append(out, byte(acc>>(n-8)))
				n -= 8
			}
		}
	}
	return out, nil
}

// CompressMono compresses packed K or O data (EncodeMono's output) line by
// line: 0x00 a white line, 0xFF a black line, otherwise a count N (1-81)
// and the first N bytes of the line, the rest of the line being white.
func CompressMono(packed []byte) ([]byte, error) {
	if len(packed) != MonoPanelBytes {
		return nil, fmt.Errorf("evolis: mono panel is %d bytes: want %d", len(packed), MonoPanelBytes)
	}
	var out bytes.Buffer
	for y := 0; y < Lines; y++ {
		line := packed[y*MonoLineBytes : (y+1)*MonoLineBytes]
		n := len(line)
		for n > 0 && line[n-1] == 0 {
			n--
		}
		switch {
		case n == 0:
			out.WriteByte(0x00)
		case allFF(line):
			out.WriteByte(0xFF)
		default:
			out.WriteByte(byte(n))
			out.Write(line[:n])
		}
	}
	return out.Bytes(), nil
}

func allFF(b []byte) bool {
	for _, c := range b {
		if c != 0xFF {
			return false
		}
	}
	return true
}

// CompressColour compresses a print-order Y, M or C plane at the given
// levels, one byte a dot: a byte with the top bit clear is one dot of that
// value; with the top bit set, its low bits are the value and the next byte a
// repeat count (0: the rest of the line is blank). In 5- and 6-bit modes the
// encoder uses one spare high bit (bit 5 or bit 6) to add 256 to the count,
// so runs are at most 511 dots (255 at 128 levels); it never sets bit 6 in
// 5-bit mode, where the notes leave its weight unclear.
func CompressColour(p *image.Gray, levels int) ([]byte, error) {
	bits := bitsFor(levels)
	if bits == 0 {
		return nil, CheckLevels(levels)
	}
	maxRun := 511
	if bits == 7 {
		maxRun = 255
	}
	out := make([]byte, 0, 2*Lines)
	vals := make([]byte, DotsPerLine)
	for y := 0; y < Lines; y++ {
		for x, v := range p.Pix[y*p.Stride : y*p.Stride+DotsPerLine] {
			vals[x] = level(v, levels)
		}
		end := DotsPerLine
		for end > 0 && vals[end-1] == 0 {
			end--
		}
		for x := 0; x < end; {
			v := vals[x]
			run := 1
			for x+run < end && vals[x+run] == v && run < maxRun {
				run++
			}
			switch {
			case run == 1:
				out = append(out, v)
			case run == 2:
				out = append(out, v, v)
			default:
				hi := byte(0)
				if run > 255 {
					hi = 1 << bits // bit 5 (5-bit) or bit 6 (6-bit): +256
				}
				out = append(out, 0x80|hi|v, byte(run&0xFF))
			}
			x += run
		}
		if end < DotsPerLine {
			out = append(out, 0x80, 0x00)
		}
	}
	return out, nil
}

// DecodeMono unpacks packed K or O data (EncodeMono's output) into a
// print-order plane of 0 and 255.
func DecodeMono(packed []byte) (*image.Gray, error) {
	if len(packed) != MonoPanelBytes {
		return nil, fmt.Errorf("evolis: mono panel is %d bytes: want %d", len(packed), MonoPanelBytes)
	}
	p := image.NewGray(image.Rect(0, 0, DotsPerLine, Lines))
	for i := range p.Pix {
		if packed[i>>3]&(0x80>>(i&7)) != 0 {
			p.Pix[i] = 255
		}
	}
	return p, nil
}

// DecompressMono inverts CompressMono, returning packed data. Malformed
// input (a count over 81, a truncated line, too many or too few lines) is an
// error naming the byte offset.
func DecompressMono(comp []byte) ([]byte, error) {
	out := make([]byte, 0, MonoPanelBytes)
	i := 0
	for line := 0; line < Lines; line++ {
		if i >= len(comp) {
			return nil, fmt.Errorf("evolis: compressed mono panel ends at line %d of %d", line, Lines)
		}
		c := comp[i]
		i++
		switch {
		case c == 0x00:
			out = append(out, make([]byte, MonoLineBytes)...)
		case c == 0xFF:
			out = append(out, bytes.Repeat([]byte{0xFF}, MonoLineBytes)...)
		case int(c) <= MonoLineBytes:
			if i+int(c) > len(comp) {
				return nil, fmt.Errorf("evolis: compressed mono line %d at byte %d: count %d runs past the end", line, i-1, c)
			}
			out = append(out, comp[i:i+int(c)]...)
			out = append(out, make([]byte, MonoLineBytes-int(c))...)
			i += int(c)
		default:
			return nil, fmt.Errorf("evolis: compressed mono line %d at byte %d: count %d over %d", line, i-1, c, MonoLineBytes)
		}
	}
	if i != len(comp) {
		return nil, fmt.Errorf("evolis: compressed mono panel has %d bytes after the last line", len(comp)-i)
	}
	return out, nil
}

// DecodeColour unpacks Y, M or C data (EncodeColour's output) into a
// print-order plane of levels 0..levels-1 (not rescaled to 0..255).
func DecodeColour(packed []byte, levels int) (*image.Gray, error) {
	bits := bitsFor(levels)
	if bits == 0 {
		return nil, CheckLevels(levels)
	}
	if len(packed) != ColourPanelBytes(levels) {
		return nil, fmt.Errorf("evolis: colour panel is %d bytes: want %d at %d levels", len(packed), ColourPanelBytes(levels), levels)
	}
	p := image.NewGray(image.Rect(0, 0, DotsPerLine, Lines))
	var acc uint32
	var n, j int
	mask := uint32(1)<<bits - 1
	for _, b := range packed {
		acc = acc<<8 | uint32(b)
		n += 8
		for n >= bits {
			p.Pix[j] = byte(acc >> (n - bits) & mask)
			j++
			n -= bits
		}
	}
	return p, nil
}

// DecompressColour inverts CompressColour into a print-order plane of levels
// 0..levels-1. Malformed input is an error naming the byte offset.
func DecompressColour(comp []byte, levels int) (*image.Gray, error) {
	bits := bitsFor(levels)
	if bits == 0 {
		return nil, CheckLevels(levels)
	}
	mask := byte(1)<<bits - 1
	p := image.NewGray(image.Rect(0, 0, DotsPerLine, Lines))
	x, y := 0, 0
	for i := 0; i < len(comp); i++ {
		if y >= Lines {
			return nil, fmt.Errorf("evolis: compressed colour panel has data after line %d at byte %d", Lines, i)
		}
		b := comp[i]
		if b&0x80 == 0 {
			if b > mask {
				return nil, fmt.Errorf("evolis: compressed colour byte %d: value %d over %d levels", i, b, levels)
			}
			p.Pix[y*p.Stride+x] = b
			x++
		} else {
			if i+1 >= len(comp) {
				return nil, fmt.Errorf("evolis: compressed colour byte %d: run without a count", i)
			}
			i++
			v := b & mask
			count := int(comp[i])
			if count == 0 {
				x = DotsPerLine
			} else {
				if bits < 7 {
					for bit := bits; bit < 7; bit++ {
						if b&(1<<bit) != 0 {
							count += 256
						}
					}
				}
				if x+count > DotsPerLine {
					return nil, fmt.Errorf("evolis: compressed colour byte %d: run of %d passes the end of line %d", i-1, count, y)
				}
				row := p.Pix[y*p.Stride+x : y*p.Stride+x+count]
				for k := range row {
					row[k] = v
				}
				x += count
			}
		}
		if x >= DotsPerLine {
			x = 0
			y++
		}
	}
	if y != Lines || x != 0 {
		return nil, fmt.Errorf("evolis: compressed colour panel ends at line %d of %d", y, Lines)
	}
	return p, nil
}

// Panel names as the Db command spells them.
const (
	PanelY = "y"
	PanelM = "m"
	PanelC = "c"
	PanelK = "k"
	PanelO = "o"
)

// PanelCommand returns the complete download command for one print-order
// plane: ESC Db;<panel>;<levels>;<data> CR, or ESC Dbc;<panel>;<levels>;
// <byte count>;<data> CR when compress is set. levels is ignored for k and o
// (always 2).
func PanelCommand(name string, p *image.Gray, levels int, compress bool) ([]byte, error) {
	var data []byte
	var err error
	lv := levels
	switch name {
	case PanelK, PanelO:
		lv = 2
		data = EncodeMono(p)
		if compress {
			data, err = CompressMono(data)
		}
	case PanelY, PanelM, PanelC:
		if compress {
			data, err = CompressColour(p, levels)
		} else {
			data, err = EncodeColour(p, levels)
		}
	default:
		return nil, fmt.Errorf("evolis: panel %q: want y, m, c, k or o", name)
	}
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(data) + 32)
	b.WriteByte(esc)
	if compress {
		b.WriteString("Dbc;" + name + ";" + strconv.Itoa(lv) + ";" + strconv.Itoa(len(data)) + ";")
	} else {
		b.WriteString("Db;" + name + ";" + strconv.Itoa(lv) + ";")
	}
	b.Write(data)
	b.WriteByte(cr)
	return b.Bytes(), nil
}
