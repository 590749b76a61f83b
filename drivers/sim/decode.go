package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Print-order geometry: every panel arrives 648 dots wide and 1016 lines long.
const (
	dotsPerLine    = 648
	lines          = 1016
	monoLineBytes  = dotsPerLine / 8       // 81
	monoPanelBytes = monoLineBytes * lines // 82,296
	planeSize      = dotsPerLine * lines
)

// errPanel is wrapped by every decoding error: the printer answers it with
// ERROR PARAMETRES.
var errPanel = errors.New("sim: malformed panel")

// bitsFor returns the bits per dot for a Y, M or C level count, or 0.
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

// rawPanelBytes is the size of an uncompressed Db payload, or 0 when the
// panel and levels do not go together.
func rawPanelBytes(panel byte, levels int) int {
	switch panel {
	case 'k', 'o':
		if levels == 2 {
			return monoPanelBytes
		}
	case 'y', 'm', 'c':
		if b := bitsFor(levels); b != 0 {
			return b * dotsPerLine / 8 * lines
		}
	}
	return 0
}

// decodeMono unpacks a 1-bit panel (MSB first, 81 bytes a line) into a
// print-order plane of 0 and 255.
func decodeMono(data []byte, dst []byte) error {
	if len(data) != monoPanelBytes {
		return fmt.Errorf("%w: mono panel is %d bytes, want %d", errPanel, len(data), monoPanelBytes)
	}
	unpackBits(dst[:len(data)*8], data)
	return nil
}

// unpackBits writes the dots of packed (MSB first) into dst, 8 a byte: 255
// for a set bit, 0 for a clear one.
func unpackBits(dst, packed []byte) {
	dst = dst[:len(packed)*8]
	for i, b := range packed {
		binary.LittleEndian.PutUint64(dst[i*8:i*8+8], unpacked[b])
	}
}

// unpacked holds the 8 dots of every byte, as unpackBits writes them.
var unpacked = func() (t [256]uint64) {
	for b := range t {
		for k := 0; k < 8; k++ {
			if b&(0x80>>k) != 0 {
				t[b] |= 0xFF << (8 * k)
			}
		}
	}
	return t
}()

// decodeColour unpacks a 5-, 6- or 7-bit panel (dots packed back to back,
// MSB first) into a print-order plane scaled to 0..255.
func decodeColour(data []byte, levels int, dst []byte) error {
	bits := bitsFor(levels)
	if bits == 0 {
		return fmt.Errorf("%w: levels %d, want 32, 64 or 128", errPanel, levels)
	}
	if want := bits * dotsPerLine / 8 * lines; len(data) != want {
		return fmt.Errorf("%w: colour panel is %d bytes, want %d at %d levels", errPanel, len(data), want, levels)
	}
	var scale [128]byte // indexed by 7 bits at most: no bounds checks
	copy(scale[:], scaleTables[levels])
	mask := uint64(1)<<bits - 1&127
	// 8 dots of n bits are n whole bytes: take each group of 8 at once.
	dst = dst[:planeSize]
	for o, j := 0, 0; j < planeSize; o, j = o+bits, j+8 {
		var g uint64
		if o+8 <= len(data) {
			g = binary.BigEndian.Uint64(data[o:]) >> (64 - 8*bits)
		} else {
			for _, b := range data[o : o+bits] {
				g = g<<8 | uint64(b)
			}
		}
		d := dst[j : j+8]
		d[0] = scale[g>>(7*bits)&mask]
		d[1] = scale[g>>(6*bits)&mask]
		d[2] = scale[g>>(5*bits)&mask]
		d[3] = scale[g>>(4*bits)&mask]
		d[4] = scale[g>>(3*bits)&mask]
		d[5] = scale[g>>(2*bits)&mask]
		d[6] = scale[g>>bits&mask]
		d[7] = scale[g&mask]
	}
	return nil
}

// scaleTables holds scaleTable for 2 (mono), 32, 64 and 128 levels.
var scaleTables = map[int][]byte{2: scaleTable(2), 32: scaleTable(32), 64: scaleTable(64), 128: scaleTable(128)}

// scaleTable maps a level 0..levels-1 to a density 0..255.
func scaleTable(levels int) []byte {
	t := make([]byte, levels)
	for v := range t {
		t[v] = byte((v*255 + (levels-1)/2) / (levels - 1))
	}
	return t
}

// decompressMono expands a compressed K or O panel (Dbc) line by line from
// line first: 0x00 a white line, 0xFF a black line, otherwise a count N
// (1-81) and the first N bytes of the line, the rest white. Lines before
// first are white. The data must cover exactly the lines first..1015.
// A nil dst checks the data without writing it.
func decompressMono(comp []byte, first int, dst []byte) error {
	i := 0
	for line := first; line < lines; line++ {
		if i >= len(comp) {
			return fmt.Errorf("%w: compressed mono panel ends at line %d of %d", errPanel, line, lines)
		}
		c := int(comp[i])
		i++
		var row []byte
		if dst != nil {
			row = dst[line*dotsPerLine : (line+1)*dotsPerLine]
		}
		switch {
		case c == 0x00:
		case c == 0xFF:
			for k := range row {
				row[k] = 255
			}
		case c <= monoLineBytes:
			if i+c > len(comp) {
				return fmt.Errorf("%w: compressed mono line %d at byte %d: count %d runs past the end", errPanel, line, i-1, c)
			}
			if row != nil {
				unpackBits(row, comp[i:i+c])
			}
			i += c
		default:
			return fmt.Errorf("%w: compressed mono line %d at byte %d: count %d over %d", errPanel, line, i-1, c, monoLineBytes)
		}
	}
	if i != len(comp) {
		return fmt.Errorf("%w: compressed mono panel has %d bytes after the last line", errPanel, len(comp)-i)
	}
	return nil
}

// decompressColour expands a compressed Y, M or C panel (Dbc) from line
// first: a byte with the top bit clear is one dot of that value; with the top
// bit set its low bits are the value and the next byte a repeat count (0: the
// rest of the line is blank). In 5- and 6-bit modes each spare high bit of
// the first byte (bits 5 and 6, or bit 6) that is set adds 256 to the count.
// A run may not pass the end of a line, and the data must end on the last.
// A nil dst checks the data without writing it.
func decompressColour(comp []byte, levels, first int, dst []byte) error {
	bits := bitsFor(levels)
	if bits == 0 {
		return fmt.Errorf("%w: levels %d, want 32, 64 or 128", errPanel, levels)
	}
	scale := scaleTables[levels]
	mask := byte(1)<<bits - 1
	x, y := 0, first
	for i := 0; i < len(comp); i++ {
		if y >= lines {
			return fmt.Errorf("%w: compressed colour panel has data after line %d at byte %d", errPanel, lines, i)
		}
		b := comp[i]
		var row []byte
		if dst != nil {
			row = dst[y*dotsPerLine : (y+1)*dotsPerLine]
		}
		if b&0x80 == 0 {
			if b > mask {
				return fmt.Errorf("%w: compressed colour byte %d: value %d over %d levels", errPanel, i, b, levels)
			}
			if row != nil {
				row[x] = scale[b]
			}
			x++
		} else {
			if i+1 >= len(comp) {
				return fmt.Errorf("%w: compressed colour byte %d: run without a count", errPanel, i)
			}
			i++
			v := scale[b&mask]
			count := int(comp[i])
			if count == 0 {
				x = dotsPerLine
			} else {
				for bit := bits; bit < 7; bit++ {
					if b&(1<<bit) != 0 {
						count += 256
					}
				}
				if x+count > dotsPerLine {
					return fmt.Errorf("%w: compressed colour byte %d: run of %d passes the end of line %d", errPanel, i-1, count, y)
				}
				if v != 0 && row != nil {
					r := row[x : x+count]
					for k := range r {
						r[k] = v
					}
				}
				x += count
			}
		}
		if x >= dotsPerLine {
			x = 0
			y++
		}
	}
	if y != lines || x != 0 {
		return fmt.Errorf("%w: compressed colour panel ends at line %d of %d", errPanel, y, lines)
	}
	return nil
}

// panelData is a panel download as received (Db or Dbc payload), decoded
// into a print-order plane only when its card is composited.
type panelData struct {
	compressed bool
	levels     int // 2 for K and O
	first      int // Dbc: the first line sent
	data       []byte
}

// check reports whether the panel would decode, without decoding it.
func (p panelData) check() error {
	switch {
	case !p.compressed && p.levels == 2:
		if len(p.data) != monoPanelBytes {
			return fmt.Errorf("%w: mono panel is %d bytes, want %d", errPanel, len(p.data), monoPanelBytes)
		}
	case !p.compressed:
		bits := bitsFor(p.levels)
		if bits == 0 {
			return fmt.Errorf("%w: levels %d, want 32, 64 or 128", errPanel, p.levels)
		}
		if want := bits * dotsPerLine / 8 * lines; len(p.data) != want {
			return fmt.Errorf("%w: colour panel is %d bytes, want %d at %d levels", errPanel, len(p.data), want, p.levels)
		}
	case p.levels == 2:
		return decompressMono(p.data, p.first, nil)
	default:
		return decompressColour(p.data, p.levels, p.first, nil)
	}
	return nil
}

// decode writes the print-order plane (0..255 densities) into dst, which
// must be planeSize zero bytes.
func (p panelData) decode(dst []byte) error {
	switch {
	case !p.compressed && p.levels == 2:
		return decodeMono(p.data, dst)
	case !p.compressed:
		return decodeColour(p.data, p.levels, dst)
	case p.levels == 2:
		return decompressMono(p.data, p.first, dst)
	default:
		return decompressColour(p.data, p.levels, p.first, dst)
	}
}
