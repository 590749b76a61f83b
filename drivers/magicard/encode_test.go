package magicard

import (
	"bytes"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
)

var fixedNow = func() time.Time { return time.Unix(0x66000000, 0) }

// TestPlaneSizes checks the plane sizes the notes give: KEE 512,064 and
// 85,344 bytes (T, R); KGE 585,216 and 97,536 (V's constants).
func TestPlaneSizes(t *testing.T) {
	for _, tc := range []struct {
		l            Layout
		colour, mono int
	}{{KEE, 512064, 85344}, {KGE, 585216, 97536}} {
		if got := tc.l.PlaneBytes(true); got != tc.colour {
			t.Errorf("%s colour plane %d bytes, want %d", tc.l, got, tc.colour)
		}
		if got := tc.l.PlaneBytes(false); got != tc.mono {
			t.Errorf("%s K plane %d bytes, want %d", tc.l, got, tc.mono)
		}
	}
}

// TestDotPositions checks the packing formulas at the points the notes
// spell out: KEE dot d at byte d/8, MSB first; KGE dots 0..287 on even
// bits from byte 24, dots 288..671 on odd bits from byte 0; every dot has
// its own bit.
func TestDotPositions(t *testing.T) {
	for _, tc := range []struct {
		l    Layout
		dot  int
		off  int
		mask byte
	}{
		{KEE, 0, 0, 0x80}, {KEE, 7, 0, 0x01}, {KEE, 8, 1, 0x80}, {KEE, 671, 83, 0x01},
		{KGE, 0, 24, 0x80}, {KGE, 1, 24, 0x20}, {KGE, 3, 24, 0x02}, {KGE, 4, 25, 0x80}, {KGE, 16, 28, 0x80}, {KGE, 287, 95, 0x02},
		{KGE, 288, 0, 0x40}, {KGE, 291, 0, 0x01}, {KGE, 292, 1, 0x40}, {KGE, 671, 95, 0x01},
	} {
		off, mask := tc.l.dotPos(tc.dot)
		if off != tc.off || mask != tc.mask {
			t.Errorf("%s dot %d at byte %d mask %#02x, want byte %d mask %#02x", tc.l, tc.dot, off, mask, tc.off, tc.mask)
		}
	}
	for _, l := range []Layout{KEE, KGE} {
		seen := map[[2]int]bool{}
		for d := range HeadDots {
			off, mask := l.dotPos(d)
			k := [2]int{off, int(mask)}
			if seen[k] || off >= l.lineBytes() {
				t.Fatalf("%s dot %d: byte %d mask %#02x reused or out of the line", l, d, off, mask)
			}
			seen[k] = true
		}
	}
	if KEE.FirstDot(50) != 16 || KGE.FirstDot(50) != 15 || KEE.FirstDot(10) != 31 || KGE.FirstDot(99) != 0 {
		t.Fatal("FirstDot does not follow 66-P / 65-P with P clamped to 35..65")
	}
}

// TestColourBits checks that a 6-bit level lands least significant bit
// plane first: level 0x2A (from 0xA8) sets sub-rows 1, 3 and 5 only.
func TestColourBits(t *testing.T) {
	g := card.NewPlane()
	g.Pix[CropTop*g.Stride+0] = 0xA8 // design (0, 3): line 0, image dot 0
	out := make([]byte, KEE.PlaneBytes(true))
	packPlane(out, g, KEE, true, 16, false)
	for j := 0; j < 6; j++ {
		want := byte(0)
		if 0x2A&(1<<j) != 0 {
			want = 0x80 // head dot 16: byte 2, MSB
		}
		if got := out[j*84+2]; got != want {
			t.Errorf("sub-row %d byte 2 = %#02x, want %#02x", j, got, want)
		}
	}
}

// TestHeader checks the framing and the header of a two-sided card with
// magnetic tracks: 64 x 0x05, SOH ',', V's token order, no comma before
// 0x1C, SZ sizes, plane trailers, ETX; the back page carries PAG2.
func TestHeader(t *testing.T) {
	c := card.Card{Ribbon: card.YMCKO, Mag: [3]string{"CITYID", "123456", ""}}
	c.Front = card.Side{Y: card.NewPlane(), M: card.NewPlane(), C: card.NewPlane(), K: card.NewPlane(), O: full()}
	c.Back = &card.Side{K: card.NewPlane()}
	b, err := EncodeCard(c, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, append(bytes.Repeat([]byte{5}, 64), 1, ',')) {
		t.Fatal("job does not start with 64 x 0x05, 0x01, ','")
	}
	end := bytes.IndexByte(b, 0x1C)
	hdr := string(b[66:end])
	want := "NOC1,VER1.0,LANENG,TDT66000000,COEH,MAG1,%CITYID?,MAG2,;123456?,KEE,RT2,SLWOFF,DPXON,BACK,PAG1,IMFBGRK,XCO0,YCO0,WID1016,HGT642,OVRON,PCT0,0,1025,641,ICC0,SZB512064,SZG512064,SZR512064,SZK85344"
	if hdr != want {
		t.Fatalf("front header\n got %s\nwant %s", hdr, want)
	}
	pos := end + 1
	for _, l := range "BGRK" {
		n := 512064
		if l == 'K' {
			n = 85344
		}
		pos += n
		if string(b[pos:pos+3]) != "\x1c"+string(l)+":" {
			t.Fatalf("plane %c not followed by 0x1C %c ':'", l, l)
		}
		pos += 3
	}
	if b[pos] != 3 {
		t.Fatalf("front page ends with %#02x, want ETX", b[pos])
	}
	back := string(b[pos+1+66 : pos+1+66+bytes.IndexByte(b[pos+1+66:], 0x1C)])
	if want := "NOC1,VER1.0,LANENG,TDT66000000,KEE,RT2,SLWOFF,DPXON,PAG2,IMFK,XCO0,YCO0,WID1016,HGT642,OVROFF,ICC0,SZK85344"; back != want {
		t.Fatalf("back header\n got %s\nwant %s", back, want)
	}
	if b[len(b)-1] != 3 || bytes.Contains(b, []byte(",\x1c")) {
		t.Fatal("stream does not end with ETX, or a comma comes right before 0x1C")
	}
}

func full() *image.Gray {
	g := card.NewPlane()
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	return g
}

// TestOvercoatRects checks the reduction of O planes to PCT/NCT.
func TestOvercoatRects(t *testing.T) {
	hole := func(g *image.Gray, r image.Rectangle) *image.Gray {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				g.Pix[y*g.Stride+x] = 0
			}
		}
		return g
	}
	tests := []struct {
		name string
		o    *image.Gray
		want Overcoat
		lost int
	}{
		{"none", card.NewPlane(), Overcoat{}, 0},
		{"full", full(), Overcoat{On: true, Areas: []Rect{{0, 0, 1015, 641}}}, 0},
		{"stripe hole", hole(full(), image.Rect(0, 50, 1016, 150)), Overcoat{On: true, Areas: []Rect{{0, 0, 1015, 641}}, Holes: []Rect{{0, 495, 1015, 594}}}, 0},
		{"area", hole(full(), image.Rect(500, 0, 1016, 648)), Overcoat{On: true, Areas: []Rect{{0, 0, 499, 641}}}, 0},
		{"three holes", hole(hole(hole(full(), image.Rect(10, 10, 20, 20)), image.Rect(30, 10, 40, 20)), image.Rect(900, 500, 910, 510)),
			Overcoat{On: true, Areas: []Rect{{0, 0, 1015, 641}}, Holes: []Rect{{10, 625, 39, 634}, {900, 135, 909, 144}}}, 100},
	}
	for _, tc := range tests {
		got, lost, err := OvercoatRects(tc.o, KGE)
		if err != nil {
			t.Fatal(err)
		}
		if got.On != tc.want.On || len(got.Areas) != len(tc.want.Areas) || len(got.Holes) != len(tc.want.Holes) || lost != tc.lost {
			t.Fatalf("%s: %+v lost %d, want %+v lost %d", tc.name, got, lost, tc.want, tc.lost)
		}
		for i := range got.Areas {
			if got.Areas[i] != tc.want.Areas[i] {
				t.Fatalf("%s: area %v, want %v", tc.name, got.Areas[i], tc.want.Areas[i])
			}
		}
		for i := range got.Holes {
			if got.Holes[i] != tc.want.Holes[i] {
				t.Fatalf("%s: hole %v, want %v", tc.name, got.Holes[i], tc.want.Holes[i])
			}
		}
	}
}

// TestRefusals checks that cards the protocol cannot carry are refused
// before anything is sent, with the rule named and no track data.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		mag  [3]string
		rule string
	}{
		{[3]string{"A,B"}, "field separator"},
		{[3]string{"~~~"}, "outside 0x20-0x5F"},
		{[3]string{"", "12A"}, "outside 0x30-0x3F"},
		{[3]string{"%X"}, "sentinel"},
		{[3]string{strings.Repeat("A", 77)}, "at most 76"},
	} {
		_, err := EncodeCard(card.Card{Mag: tc.mag}, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.rule) {
			t.Errorf("track %q: %v, want an error saying %q", tc.mag, err, tc.rule)
		}
		for _, tr := range tc.mag {
			if tr != "" && err != nil && strings.Contains(err.Error(), tr) {
				t.Errorf("error %q repeats the track data", err)
			}
		}
	}
	if _, err := EncodeCard(card.Card{Ribbon: card.KO}, Options{Ribbon: card.YMCKO}); err == nil {
		t.Error("a KO card on a YMCKO printer was not refused")
	}
	if _, err := LayoutForModel("Rio Pro 360"); err == nil || !strings.Contains(err.Error(), "Optima") {
		t.Errorf("Rio Pro 360: %v, want the Optima refusal", err)
	}
}
