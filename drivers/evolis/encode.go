package evolis

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"math/bits"
	"strconv"
	"sync"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/transpose"
)

// Print-order geometry: every panel is sent 648 dots wide and 1016 lines long.
const (
	DotsPerLine = card.Height // 648
	Lines       = card.Width  // 1016
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
	if err := toPrintOrder(dst.Pix, src, rotation); err != nil {
		return nil, err
	}
	return dst, nil
}

// toPrintOrder writes the print-order rotation of src into dst
// (DotsPerLine x Lines bytes, stride DotsPerLine), or zeroes for a nil
// plane. It moves blocks of 8 x 8 dots: 8 loads of 8 bytes, a transpose in
// registers, 8 stores.
func toPrintOrder(dst []byte, src *image.Gray, rotation int) error {
	if src == nil {
		clear(dst)
		return nil
	}
	b := src.Bounds()
	if b.Dx() != card.Width || b.Dy() != card.Height {
		return fmt.Errorf("evolis: plane is %dx%d: want %dx%d landscape", b.Dx(), b.Dy(), card.Width, card.Height)
	}
	dst = dst[:DotsPerLine*Lines]
	pix, stride := src.Pix, src.Stride // Pix starts at Bounds().Min
	// x outer: the 8 design rows (or columns' rows) of a block of dots are
	// read along memory for every line.
	for x := 0; x < DotsPerLine; x += 8 { // DotsPerLine is a multiple of 8
		for y := 0; y < Lines; y += 8 { // y: print line = design column (or its mirror); Lines is a multiple of 8
			// aj byte k is the dot x+j of line y+k.
			var a0, a1, a2, a3, a4, a5, a6, a7 uint64
			if rotation == 270 {
				// dot x of line y is design (y, card.Height-1-x): design
				// rows card.Height-1-x-j, columns y..y+7.
				o := (card.Height-1-x)*stride + y
				r := pix[o-7*stride : o+8]
				le := binary.LittleEndian
				a0 = le.Uint64(r[7*stride:])
				a1 = le.Uint64(r[6*stride:])
				a2 = le.Uint64(r[5*stride:])
				a3 = le.Uint64(r[4*stride:])
				a4 = le.Uint64(r[3*stride:])
				a5 = le.Uint64(r[2*stride:])
				a6 = le.Uint64(r[stride:])
				a7 = le.Uint64(r)
			} else {
				// dot x of line y is design (card.Width-1-y, x): design
				// rows x+j, columns card.Width-8-y..card.Width-1-y
				// right to left.
				o := x*stride + card.Width - 8 - y
				r := pix[o : o+7*stride+8]
				be := binary.BigEndian
				a0 = be.Uint64(r)
				a1 = be.Uint64(r[stride:])
				a2 = be.Uint64(r[2*stride:])
				a3 = be.Uint64(r[3*stride:])
				a4 = be.Uint64(r[4*stride:])
				a5 = be.Uint64(r[5*stride:])
				a6 = be.Uint64(r[6*stride:])
				a7 = be.Uint64(r[7*stride:])
			}
			// Transpose the 8 x 8 bytes: byte k of aj to byte j of ak.
			a0, a1, a2, a3, a4, a5, a6, a7 = transpose.Bytes8x8(a0, a1, a2, a3, a4, a5, a6, a7)
			o := y*DotsPerLine + x
			w := dst[o : o+7*DotsPerLine+8]
			le := binary.LittleEndian
			le.PutUint64(w, a0)
			le.PutUint64(w[DotsPerLine:], a1)
			le.PutUint64(w[2*DotsPerLine:], a2)
			le.PutUint64(w[3*DotsPerLine:], a3)
			le.PutUint64(w[4*DotsPerLine:], a4)
			le.PutUint64(w[5*DotsPerLine:], a5)
			le.PutUint64(w[6*DotsPerLine:], a6)
			le.PutUint64(w[7*DotsPerLine:], a7)
		}
	}
	return nil
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
	dst := card.NewPlane()
	for y := 0; y < Lines; y++ {
		for x := 0; x < DotsPerLine; x++ {
			var dx, dy int
			if rotation == 270 {
				dx, dy = y, card.Height-1-x
			} else {
				dx, dy = card.Width-1-y, x
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

// levelTables holds level for every value, per supported level count.
var levelTables = func() map[int]*[256]byte {
	m := map[int]*[256]byte{}
	for _, levels := range []int{32, 64, 128} {
		t := new([256]byte)
		for v := range t {
			t[v] = level(uint8(v), levels)
		}
		m[levels] = t
	}
	return m
}()

// EncodeMono packs a print-order K or O plane 1 bit per dot, most
// significant bit first: a dot is set when its value is 128 or more.
func EncodeMono(p *image.Gray) []byte {
	return appendMono(make([]byte, 0, MonoPanelBytes), p)
}

// appendMono appends EncodeMono's output to dst.
func appendMono(dst []byte, p *image.Gray) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, MonoPanelBytes)...)
	out := dst[n:]
	for y := 0; y < Lines; y++ {
		row := p.Pix[y*p.Stride : y*p.Stride+DotsPerLine]
		line := out[y*MonoLineBytes : (y+1)*MonoLineBytes]
		for i := range line {
			// The top bit of each of 8 dots, gathered by one multiply:
			// dot j's bit lands on bit 7-j of the top byte.
			m := binary.LittleEndian.Uint64(row[i*8:i*8+8]) >> 7 & 0x0101010101010101
			line[i] = byte(m * 0x8040201008040201 >> 56)
		}
	}
	return dst
}

// EncodeColour packs a print-order Y, M or C plane at levels 32, 64 or 128
// (5, 6 or 7 bits a dot), most significant bit first, back to back.
func EncodeColour(p *image.Gray, levels int) ([]byte, error) {
	if bitsFor(levels) == 0 {
		return nil, CheckLevels(levels)
	}
	return appendColour(make([]byte, 0, ColourPanelBytes(levels)), p, levels), nil
}

// appendColour appends EncodeColour's output to dst; levels must be valid.
// A line (648 dots) is 81 groups of 8 dots, and 8 dots of n bits are n
// whole bytes, so each group is packed on its own.
func appendColour(dst []byte, p *image.Gray, levels int) []byte {
	bits := bitsFor(levels)
	lut := levelTables[levels]
	n := len(dst)
	dst = append(dst, make([]byte, ColourPanelBytes(levels))...)
	out := dst[n:]
	o := 0
	for y := 0; y < Lines; y++ {
		row := p.Pix[y*p.Stride : y*p.Stride+DotsPerLine]
		for x := 0; x < DotsPerLine; x += 8 {
			d := row[x : x+8]
			acc := uint64(lut[d[0]])<<(7*bits) | uint64(lut[d[1]])<<(6*bits) |
				uint64(lut[d[2]])<<(5*bits) | uint64(lut[d[3]])<<(4*bits) |
				uint64(lut[d[4]])<<(3*bits) | uint64(lut[d[5]])<<(2*bits) |
				uint64(lut[d[6]])<<bits | uint64(lut[d[7]])
			acc <<= 64 - 8*bits // the group's bits at the top
			if o+8 <= len(out) {
				// 8 bytes at once; the next group overwrites the extra.
				binary.BigEndian.PutUint64(out[o:], acc)
			} else {
				for i := range out[o : o+bits] {
					out[o+i] = byte(acc >> (56 - 8*i))
				}
			}
			o += bits
		}
	}
	return dst
}

// CompressMono compresses packed K or O data (EncodeMono's output) line by
// line: 0x00 a white line, 0xFF a black line, otherwise a count N (1-81)
// and the first N bytes of the line, the rest of the line being white.
func CompressMono(packed []byte) ([]byte, error) {
	if len(packed) != MonoPanelBytes {
		return nil, fmt.Errorf("evolis: mono panel is %d bytes: want %d", len(packed), MonoPanelBytes)
	}
	return appendCompressedMono(make([]byte, 0, MonoPanelBytes+Lines), packed), nil
}

// appendCompressedMono appends CompressMono's output for packed (of
// MonoPanelBytes) to out.
func appendCompressedMono(out, packed []byte) []byte {
	for y := 0; y < Lines; y++ {
		line := packed[y*MonoLineBytes : (y+1)*MonoLineBytes]
		n := len(line)
		for n > 0 && line[n-1] == 0 {
			n--
		}
		switch {
		case n == 0:
			out = append(out, 0x00)
		case allFF(line):
			out = append(out, 0xFF)
		default:
			out = append(out, byte(n))
			out = append(out, line[:n]...)
		}
	}
	return out
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
	return appendCompressedColour(make([]byte, 0, 2*Lines), p, levels), nil
}

// appendCompressedColour appends CompressColour's output to out; levels
// must be valid.
func appendCompressedColour(out []byte, p *image.Gray, levels int) []byte {
	bits := bitsFor(levels)
	maxRun := 511
	if bits == 7 {
		maxRun = 255
	}
	lut := levelTables[levels]
	var vals [DotsPerLine]byte
	for y := 0; y < Lines; y++ {
		for x, v := range p.Pix[y*p.Stride : y*p.Stride+DotsPerLine] {
			vals[x] = lut[v]
		}
		end := DotsPerLine
		for end > 0 && vals[end-1] == 0 {
			end--
		}
		for x := 0; x < end; {
			v := vals[x]
			run := sameRun(vals[x:end], min(end-x, maxRun))
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
	return out
}

// sameRun returns how many of the first limit bytes of b (limit >= 1)
// equal b[0] before the first that differs; past 8, it compares 8 at a
// time.
func sameRun(b []byte, limit int) int {
	v := b[0]
	run := 1
	for run < limit && run < 8 && b[run] == v { // most runs are short
		run++
	}
	if run < 8 {
		return run
	}
	rep := uint64(v) * 0x0101010101010101
	for run+8 <= limit {
		if d := binary.LittleEndian.Uint64(b[run:run+8]) ^ rep; d != 0 {
			return run + bits.TrailingZeros64(d)/8
		}
		run += 8
	}
	for run < limit && b[run] == v {
		run++
	}
	return run
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

// scratch holds reusable buffers for compressing a panel.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// PanelCommand returns the complete download command for one print-order
// plane: ESC Db;<panel>;<levels>;<data> CR, or ESC Dbc;<panel>;<levels>;
// <byte count>;<data> CR when compress is set. levels is ignored for k and o
// (always 2).
func PanelCommand(name string, p *image.Gray, levels int, compress bool) ([]byte, error) {
	lv := levels
	switch name {
	case PanelK, PanelO:
		lv = 2
	case PanelY, PanelM, PanelC:
		if err := CheckLevels(levels); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("evolis: panel %q: want y, m, c, k or o", name)
	}
	if !compress {
		head := "Db;" + name + ";" + strconv.Itoa(lv) + ";"
		size := MonoPanelBytes
		if lv != 2 {
			size = ColourPanelBytes(lv)
		}
		b := make([]byte, 0, 1+len(head)+size+1)
		b = append(b, esc)
		b = append(b, head...)
		if lv == 2 {
			b = appendMono(b, p)
		} else {
			b = appendColour(b, p, lv)
		}
		return append(b, cr), nil
	}
	bufp := scratch.Get().(*[]byte)
	defer scratch.Put(bufp)
	data := (*bufp)[:0]
	if lv == 2 {
		packed := appendMono(data, p)
		data = appendCompressedMono(packed[MonoPanelBytes:], packed)
		*bufp = packed[:0]
	} else {
		data = appendCompressedColour(data, p, lv)
		*bufp = data[:0]
	}
	head := "Dbc;" + name + ";" + strconv.Itoa(lv) + ";" + strconv.Itoa(len(data)) + ";"
	b := make([]byte, 0, 1+len(head)+len(data)+1)
	b = append(b, esc)
	b = append(b, head...)
	b = append(b, data...)
	return append(b, cr), nil
}

// printOrderPlanes holds reusable print-order planes for EncodeCard.
var printOrderPlanes = sync.Pool{New: func() any { return image.NewGray(image.Rect(0, 0, DotsPerLine, Lines)) }}

// printOrderCommand is PanelCommand for a design plane: it rotates the
// plane into a pooled print-order plane (opts.Rotation, already validated)
// and encodes it at opts.Levels, compressed if opts.Compress.
func printOrderCommand(name string, plane *image.Gray, opts Options) ([]byte, error) {
	po := printOrderPlanes.Get().(*image.Gray)
	defer printOrderPlanes.Put(po)
	if err := toPrintOrder(po.Pix, plane, opts.Rotation); err != nil {
		return nil, err
	}
	return PanelCommand(name, po, opts.Levels, opts.Compress)
}
