package sim

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"

	"github.com/cityid/printerd/drivers/evolis"
)

// Hand-built panels: bit order, packing and every compressed form.
func TestDecodeHandBuilt(t *testing.T) {
	t.Run("mono MSB first", func(t *testing.T) {
		data := make([]byte, monoPanelBytes)
		data[0] = 0x80               // line 0, dot 0
		data[monoLineBytes+1] = 0x01 // line 1, dot 15
		plane := make([]byte, planeSize)
		if err := decodeMono(data, plane); err != nil {
			t.Fatal(err)
		}
		for i, v := range plane {
			want := byte(0)
			if i == 0 || i == dotsPerLine+15 {
				want = 255
			}
			if v != want {
				t.Fatalf("dot %d = %d, want %d", i, v, want)
			}
		}
	})
	t.Run("5-bit packing", func(t *testing.T) {
		data := make([]byte, 5*dotsPerLine/8*lines)
		// Dots 0..7 = 31, 0, 1, 16, 0, 0, 0, 31 in 40 bits.
		bits := uint64(31)<<35 | 0<<30 | 1<<25 | 16<<20 | 31
		for k := 0; k < 5; k++ {
			data[k] = byte(bits >> (32 - 8*k))
		}
		plane := make([]byte, planeSize)
		if err := decodeColour(data, 32, plane); err != nil {
			t.Fatal(err)
		}
		want := []byte{255, 0, 8, 132, 0, 0, 0, 255}
		if !bytes.Equal(plane[:8], want) {
			t.Fatalf("dots %v, want %v", plane[:8], want)
		}
	})
	t.Run("colour runs and spare bits", func(t *testing.T) {
		// Line 0: 3 dots of value 5, then one of 31, then the rest blank.
		// Line 1: a run of 648 = 256 (bit 5) + 256 (bit 6) + 136 of value 31.
		// Lines 2..: blank.
		comp := []byte{0x85, 3, 31, 0x80, 0}
		comp = append(comp, 0x80|0x40|0x20|31, 136)
		for i := 2; i < lines; i++ {
			comp = append(comp, 0x80, 0)
		}
		plane := make([]byte, planeSize)
		if err := decompressColour(comp, 32, 0, plane); err != nil {
			t.Fatal(err)
		}
		if got := plane[:5]; !bytes.Equal(got, []byte{41, 41, 41, 255, 0}) {
			t.Fatalf("line 0 starts %v", got)
		}
		if bytes.Count(plane[dotsPerLine:2*dotsPerLine], []byte{255}) != dotsPerLine {
			t.Fatal("line 1 not full")
		}
		if bytes.Count(plane[2*dotsPerLine:], []byte{0}) != planeSize-2*dotsPerLine {
			t.Fatal("lines 2.. not blank")
		}
	})
	t.Run("mono lines from a first line", func(t *testing.T) {
		comp := append([]byte{2, 0xF0, 0x01, 0xFF}, make([]byte, lines-10-2)...)
		plane := make([]byte, planeSize)
		if err := decompressMono(comp, 10, plane); err != nil {
			t.Fatal(err)
		}
		row := plane[10*dotsPerLine : 11*dotsPerLine]
		if !bytes.Equal(row[:16], []byte{255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255}) || bytes.Count(row[16:], []byte{0}) != dotsPerLine-16 {
			t.Fatalf("line 10 = %v", row[:16])
		}
		if bytes.Count(plane[11*dotsPerLine:12*dotsPerLine], []byte{255}) != dotsPerLine {
			t.Fatal("line 11 not black")
		}
		if bytes.Count(plane[:10*dotsPerLine], []byte{0}) != 10*dotsPerLine {
			t.Fatal("lines before the first not white")
		}
	})
}

func TestDecodeMalformed(t *testing.T) {
	plane := make([]byte, planeSize)
	tests := []struct {
		name string
		err  error
	}{
		{"mono short", decodeMono(make([]byte, 10), plane)},
		{"colour wrong size", decodeColour(make([]byte, 10), 32, plane)},
		{"colour levels", decodeColour(make([]byte, 10), 16, plane)},
		{"mono count over 81", decompressMono([]byte{82}, 0, plane)},
		{"mono count past end", decompressMono([]byte{5, 1}, 0, plane)},
		{"mono too few lines", decompressMono([]byte{0}, 0, plane)},
		{"mono bytes after last line", decompressMono(make([]byte, lines+1), 0, plane)},
		{"colour value over levels", decompressColour([]byte{40}, 32, 0, plane)},
		{"colour run without count", decompressColour([]byte{0x81}, 32, 0, plane)},
		{"colour run past line end", decompressColour([]byte{0x81, 200, 0x81, 200, 0x81, 249}, 32, 0, plane)},
		{"colour too few lines", decompressColour([]byte{0x80, 0}, 32, 0, plane)},
		{"colour data after last line", decompressColour(append(bytes.Repeat([]byte{0x80, 0}, lines), 1), 32, 0, plane)},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// randomPlane is a print-order plane with runs and noise, so that every
// compressed form occurs.
func randomPlane(seed uint64, mono bool) *image.Gray {
	r := rand.New(rand.NewPCG(seed, 1))
	g := image.NewGray(image.Rect(0, 0, dotsPerLine, lines))
	for y := 0; y < lines; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+dotsPerLine]
		switch y % 5 {
		case 0: // blank
		case 1: // full
			for x := range row {
				row[x] = 255
			}
		case 2: // runs
			v := byte(r.IntN(256))
			for x := range row {
				if r.IntN(40) == 0 {
					v = byte(r.IntN(256))
				}
				row[x] = v
			}
		default: // noise, blank tail
			for x := range row[:r.IntN(dotsPerLine)] {
				row[x] = byte(r.IntN(256))
			}
		}
		if mono {
			for x := range row {
				if row[x] >= 128 {
					row[x] = 255
				} else {
					row[x] = 0
				}
			}
		}
	}
	return g
}

// Panels encoded by the driver's encoders decode to what was encoded.
func TestRoundTripWithDriverEncoders(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, name := range []string{"k", "o", "y", "m", "c"} {
			for _, levels := range []int{32, 64, 128} {
				mono := name == "k" || name == "o"
				if mono && levels != 32 {
					continue
				}
				t.Run(fmt.Sprintf("%s-%d-compress%v", name, levels, compress), func(t *testing.T) {
					src := randomPlane(uint64(levels)+uint64(name[0]), mono)
					stream, err := evolis.PanelCommand(name, src, levels, compress)
					if err != nil {
						t.Fatal(err)
					}
					src2 := newBytesSource(stream[1:])
					c, err := readCommand(src2)
					if err != nil {
						t.Fatalf("readCommand: %v", err)
					}
					plane := make([]byte, planeSize)
					if err := c.payload.decode(plane); err != nil {
						t.Fatalf("decode: %v", err)
					}
					scale := scaleTable(max(levels, 2))
					for i, v := range src.Pix {
						want := v
						if !mono {
							lv := (int(v)*(levels-1) + 127) / 255
							want = scale[lv]
						} else if v >= 128 {
							want = 255
						}
						if plane[i] != want {
							t.Fatalf("dot (%d,%d) = %d, want %d", i%dotsPerLine, i/dotsPerLine, plane[i], want)
						}
					}
				})
			}
		}
	}
}
