package evolis

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"github.com/cityid/printerd/card"
)

// testCard returns a deterministic card: smooth gradients and a noisy
// patch (a stand-in for a photo) on Y, M and C; a border, a grid and a
// barcode-like pattern on K; O full.
func testCard(r card.Ribbon) card.Card {
	c := card.Card{Label: "test-job-0001", Ribbon: r}
	rnd := rand.New(rand.NewPCG(1, 2))
	if r.Colour() {
		c.Front.Y, c.Front.M, c.Front.C = card.NewPlane(), card.NewPlane(), card.NewPlane()
		for y := 0; y < card.Height; y++ {
			for x := 0; x < card.Width; x++ {
				c.Front.Y.SetGray(x, y, grayOf(x*255/card.Width))
				c.Front.M.SetGray(x, y, grayOf(y*255/card.Height))
				if x > 60 && x < 360 && y > 150 && y < 550 { // photo area
					c.Front.C.SetGray(x, y, grayOf(rnd.IntN(256)))
				}
			}
		}
	}
	c.Front.K = card.NewPlane()
	for y := 0; y < card.Height; y++ {
		for x := 0; x < card.Width; x++ {
			border := x < 8 || y < 8 || x >= card.Width-8 || y >= card.Height-8
			grid := x%100 == 0 || y%100 == 0
			bars := y > 560 && y < 620 && x > 400 && (x/3)%3 != 0
			if border || grid || bars {
				c.Front.K.SetGray(x, y, grayOf(255))
			}
		}
	}
	if r.Overlay() {
		c.Front.O = card.NewPlane()
		for i := range c.Front.O.Pix {
			c.Front.O.Pix[i] = 255
		}
	}
	return c
}

func grayOf(v int) color.Gray { return color.Gray{Y: uint8(v)} }

func TestPanelSizes(t *testing.T) {
	if MonoPanelBytes != 82296 {
		t.Fatalf("MonoPanelBytes = %d, want 82296", MonoPanelBytes)
	}
	for levels, want := range map[int]int{32: 411480, 64: 493776, 128: 576072} {
		if got := ColourPanelBytes(levels); got != want {
			t.Errorf("ColourPanelBytes(%d) = %d, want %d", levels, got, want)
		}
		p := image.NewGray(image.Rect(0, 0, DotsPerLine, Lines))
		b, err := EncodeColour(p, levels)
		if err != nil || len(b) != want {
			t.Errorf("EncodeColour(levels %d) = %d bytes, %v; want %d", levels, len(b), err, want)
		}
	}
}

func TestRotation(t *testing.T) {
	src := card.NewPlane()
	src.Pix[0] = 255                                     // design top-left
	src.Pix[(card.Height-1)*src.Stride+card.Width-1] = 7 // design bottom-right
	tests := []struct {
		rotation int
		tlX, tlY int // where the design's top-left lands in print order
		brX, brY int
	}{
		{270, DotsPerLine - 1, 0, 0, Lines - 1},
		{90, 0, Lines - 1, DotsPerLine - 1, 0},
	}
	for _, tt := range tests {
		po, err := ToPrintOrder(src, tt.rotation)
		if err != nil {
			t.Fatal(err)
		}
		if b := po.Bounds(); b.Dx() != DotsPerLine || b.Dy() != Lines {
			t.Fatalf("rotation %d: print order is %v", tt.rotation, b)
		}
		if po.GrayAt(tt.tlX, tt.tlY).Y != 255 || po.GrayAt(tt.brX, tt.brY).Y != 7 {
			t.Errorf("rotation %d: corners not where expected", tt.rotation)
		}
		back, err := FromPrintOrder(po, tt.rotation)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.Pix, src.Pix) {
			t.Errorf("rotation %d: FromPrintOrder(ToPrintOrder(p)) != p", tt.rotation)
		}
	}
	if _, err := ToPrintOrder(src, 180); err == nil {
		t.Error("ToPrintOrder(180) accepted")
	}
	if _, err := ToPrintOrder(image.NewGray(image.Rect(0, 0, 648, 1016)), 270); err == nil {
		t.Error("ToPrintOrder accepted a portrait plane")
	}
}

func TestMonoRoundTrip(t *testing.T) {
	c := testCard(card.KO)
	for name, plane := range map[string]*image.Gray{"k": c.Front.K, "o": c.Front.O, "blank": card.NewPlane()} {
		po, _ := ToPrintOrder(plane, 270)
		packed := EncodeMono(po)
		if len(packed) != MonoPanelBytes {
			t.Fatalf("%s: %d bytes", name, len(packed))
		}
		dec, err := DecodeMono(packed)
		if err != nil || !bytes.Equal(dec.Pix, po.Pix) {
			t.Fatalf("%s: DecodeMono(EncodeMono) differs: %v", name, err)
		}
		comp, err := CompressMono(packed)
		if err != nil {
			t.Fatal(err)
		}
		if len(comp) >= len(packed) {
			t.Errorf("%s: compressed %d bytes, not smaller than %d", name, len(comp), len(packed))
		}
		un, err := DecompressMono(comp)
		if err != nil || !bytes.Equal(un, packed) {
			t.Fatalf("%s: DecompressMono(CompressMono) differs: %v", name, err)
		}
	}
	// MSB first: the first dot of a line is bit 7 of its first byte.
	po := image.NewGray(image.Rect(0, 0, DotsPerLine, Lines))
	po.Pix[0], po.Pix[9] = 255, 200
	b := EncodeMono(po)
	if b[0] != 0x80 || b[1] != 0x40 {
		t.Errorf("EncodeMono first bytes = %#x %#x, want 0x80 0x40", b[0], b[1])
	}
}

func TestColourRoundTrip(t *testing.T) {
	c := testCard(card.YMCKO)
	for _, levels := range []int{32, 64, 128} {
		for name, plane := range map[string]*image.Gray{"y": c.Front.Y, "m": c.Front.M, "c": c.Front.C, "blank": nil} {
			po, _ := ToPrintOrder(plane, 270)
			want := image.NewGray(po.Rect)
			for i, v := range po.Pix {
				want.Pix[i] = level(v, levels)
			}
			packed, err := EncodeColour(po, levels)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := DecodeColour(packed, levels)
			if err != nil || !bytes.Equal(dec.Pix, want.Pix) {
				t.Fatalf("levels %d %s: DecodeColour(EncodeColour) differs: %v", levels, name, err)
			}
			comp, err := CompressColour(po, levels)
			if err != nil {
				t.Fatal(err)
			}
			un, err := DecompressColour(comp, levels)
			if err != nil || !bytes.Equal(un.Pix, want.Pix) {
				t.Fatalf("levels %d %s: DecompressColour(CompressColour) differs: %v", levels, name, err)
			}
		}
	}
	// 255 maps to the top level, 0 to none.
	if level(255, 32) != 31 || level(0, 32) != 0 || level(255, 128) != 127 {
		t.Error("level() does not span 0..levels-1")
	}
}

func TestCompressColourRuns(t *testing.T) {
	po := image.NewGray(image.Rect(0, 0, DotsPerLine, Lines))
	for x := 0; x < DotsPerLine; x++ { // line 0 all full
		po.Pix[x] = 255
	}
	comp, err := CompressColour(po, 32)
	if err != nil {
		t.Fatal(err)
	}
	// Line 0: a 511-dot run (bit 5 adds 256) and a 137-dot run; then 1015
	// blank lines of 0x80 0x00.
	want := []byte{0x80 | 0x20 | 31, 255, 0x80 | 31, 137}
	if !bytes.Equal(comp[:4], want) || len(comp) != 4+2*(Lines-1) {
		t.Fatalf("CompressColour = % x... (%d bytes), want % x and %d bytes", comp[:4], len(comp), want, 4+2*(Lines-1))
	}
}

func TestDecompressMalformed(t *testing.T) {
	mono := [][]byte{{}, {82}, {5, 1, 2}, append(bytes.Repeat([]byte{0}, Lines), 0)}
	for _, in := range mono {
		if _, err := DecompressMono(in); err == nil {
			t.Errorf("DecompressMono(% x) accepted", in[:min(len(in), 8)])
		}
	}
	colour := [][]byte{{}, {0x80}, {0x40}, {0x9F, 0xFF, 0x9F, 0xFF, 0x9F, 0xFF}}
	for _, in := range colour {
		if _, err := DecompressColour(in, 32); err == nil {
			t.Errorf("DecompressColour(% x) accepted", in)
		}
	}
}

func FuzzDecompress(f *testing.F) {
	f.Add([]byte{0x00, 0xFF, 3, 1, 2, 3}, uint8(32))
	f.Add([]byte{0x80, 0x00, 0x9F, 0x10, 0x05}, uint8(64))
	f.Fuzz(func(t *testing.T, b []byte, lv uint8) {
		levels := []int{32, 64, 128}[int(lv)%3]
		if p, err := DecompressColour(b, levels); err == nil && len(p.Pix) != DotsPerLine*Lines {
			t.Fatalf("DecompressColour gave %d dots", len(p.Pix))
		}
		if m, err := DecompressMono(b); err == nil && len(m) != MonoPanelBytes {
			t.Fatalf("DecompressMono gave %d bytes", len(m))
		}
	})
}

func TestEncodeCard(t *testing.T) {
	for _, compress := range []bool{false, true} {
		c := testCard(card.YMCKO)
		c.Back = &card.Side{K: c.Front.K}
		c.Mag = [3]string{"", "4111111111111111=2512", ""}
		stream, err := EncodeCard(c, Options{Compress: compress})
		if err != nil {
			t.Fatal(err)
		}
		// Walk the stream command by command, taking payloads by length.
		var names []string
		rest := stream
		for len(rest) > 0 && rest[0] == esc {
			name, n := nextCommand(t, rest, compress)
			names = append(names, name)
			rest = rest[n:]
		}
		if len(rest) != 64 || !bytes.Equal(rest, make([]byte, 64)) {
			t.Fatalf("compress=%v: stream ends with %d bytes, want 64 NULs", compress, len(rest))
		}
		want := []string{"Pem", "Pr", "Ss", "Pmt", "Dm", "Smw", "Sr", "y", "m", "c", "k", "o", "Sv", "y", "m", "c", "k", "o", "Se"}
		if len(names) != len(want) {
			t.Fatalf("compress=%v: commands %v, want %v", compress, names, want)
		}
		for i := range want {
			if names[i] != want[i] {
				t.Fatalf("compress=%v: commands %v, want %v", compress, names, want)
			}
		}
	}
}

// nextCommand parses one command at the start of b, returning its name (the
// panel for a download) and length.
func nextCommand(t *testing.T, b []byte, compress bool) (string, int) {
	t.Helper()
	fields := bytes.SplitN(b[1:min(len(b), 48)], []byte(";"), 5)
	name := string(bytes.TrimRight(fields[0], "\r"))
	if i := bytes.IndexByte([]byte(name), '\r'); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "Db":
		panelName := string(fields[1])
		head := 1 + len("Db;") + len(fields[1]) + 1 + len(fields[2]) + 1
		n := MonoPanelBytes
		if panelName != "k" && panelName != "o" {
			n = ColourPanelBytes(32)
		}
		if b[head+n] != cr {
			t.Fatalf("Db;%s payload not followed by CR", panelName)
		}
		return panelName, head + n + 1
	case "Dbc":
		panelName := string(fields[1])
		var n int
		for _, c := range fields[3] {
			n = n*10 + int(c-'0')
		}
		head := 1 + len("Dbc;") + len(fields[1]) + 1 + len(fields[2]) + 1 + len(fields[3]) + 1
		if b[head+n] != cr {
			t.Fatalf("Dbc;%s payload not followed by CR", panelName)
		}
		return panelName, head + n + 1
	}
	i := bytes.IndexByte(b, cr)
	full := string(b[1:i])
	if j := bytes.IndexByte([]byte(full), ';'); j >= 0 {
		full = full[:j]
	}
	return full, i + 1
}
