package layout

import (
	"errors"
	"image"
	"strings"
	"testing"
	"unicode/utf8"
)

func testShapers(t testing.TB) *shapers {
	t.Helper()
	tf, err := loadTypefaces()
	if err != nil {
		t.Fatal(err)
	}
	return (&Renderer{tf: tf}).newShapers()
}

// inkOutside rasterises b over a margin around box and counts the covered
// pixels outside box: text that overflows shows up there.
func inkOutside(t *testing.T, b *textBlock, box image.Rectangle) (outside, inside int) {
	t.Helper()
	mask, err := b.raster(box.Inset(-60))
	if err != nil {
		t.Fatal(err)
	}
	mb := mask.Bounds()
	for y := mb.Min.Y; y < mb.Max.Y; y++ {
		for x := mb.Min.X; x < mb.Max.X; x++ {
			if mask.Pix[mask.PixOffset(x, y)] == 0 {
				continue
			}
			if image.Pt(x, y).In(box) {
				inside++
			} else {
				outside++
			}
		}
	}
	return outside, inside
}

func TestFitShrinksThenWraps(t *testing.T) {
	sh := testShapers(t)
	box := Box{31, 16.7, 52, 7.2}.Rect() // the built-in name box
	for _, tc := range []struct {
		name  string
		text  string
		lines int
		small bool // shrunk below the full size
	}{
		{"short", "Bo Ek", 1, false},
		{"accents", "Zofia Żółćńska-Próbna", 1, false},
		{"stacked vietnamese capitals", "ỄỆẶ Ẫ Ở", 1, false},
		{"combining", "Q̣̄uinn W̌̃ẙ̄ Testa", 1, false},
		{"shrinks", "Alexandrina Konstancja Wilhelmina", 1, true},
		{"wraps", "Maximiliana Aurelia Konstancja Eleonora Wilhelmina Testowska-Przykładowa Junior", 2, true},
		{"one long word", strings.Repeat("Przykładowa", 6), 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := sh.bold.fit(tc.text, box, 11, 6, 2, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(b.lines) != tc.lines {
				t.Fatalf("%d lines, want %d", len(b.lines), tc.lines)
			}
			if (b.pt < 11) != tc.small {
				t.Fatalf("size %.2f pt", b.pt)
			}
			if b.pt < 6 {
				t.Fatalf("size %.2f pt below the minimum", b.pt)
			}
			out, in := inkOutside(t, b, box)
			if out != 0 || in == 0 {
				t.Fatalf("%d ink pixels outside the box, %d inside", out, in)
			}
			if !b.ink.In(box) {
				t.Fatalf("ink bounds %v leave box %v", b.ink, box)
			}
		})
	}
	t.Run("too long", func(t *testing.T) {
		_, err := sh.bold.fit(strings.Repeat("W", 80), box, 11, 6, 2, "")
		if !errors.Is(err, errTooLong) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("one line only", func(t *testing.T) {
		_, err := sh.bold.fit("Maximiliana Aurelia Konstancja Eleonora Wilhelmina", box, 11, 8, 1, "")
		if !errors.Is(err, errTooLong) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestMarksSitOverTheirBase(t *testing.T) {
	sh := testShapers(t)
	for _, tc := range []struct {
		text  string // base + marks that NFC leaves uncomposed
		above int    // marks above, outermost last
		below int
	}{
		{"X\u0302", 1, 0},       // X with circumflex: no precomposed form
		{"Q\u0323\u0304", 1, 1}, // dot below, macron
		{"W\u030c\u0303", 2, 0}, // caron then tilde, stacked
		{"y\u030a\u0304", 1, 0}, // NFC makes ẙ; the macron stacks over its ring
		{"M\u0330", 0, 1},       // tilde below
		{"q\u0307\u0301\u0300", 3, 0},
	} {
		t.Run(tc.text, func(t *testing.T) {
			cs, err := sh.regular.shape(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1 || len(cs[0].glyphs) != 1+tc.above+tc.below {
				t.Fatalf("%d clusters, %d glyphs", len(cs), len(cs[0].glyphs))
			}
			base := cs[0].glyphs[0].ink
			top, bottom := base.y0, base.y1
			for _, g := range cs[0].glyphs[1:] {
				mid := (g.ink.x0 + g.ink.x1) / 2
				if mid < base.x0 || mid > base.x1 {
					t.Fatalf("mark %U centred at %.3f em, base spans %.3f-%.3f", g.r, mid, base.x0, base.x1)
				}
				switch {
				case g.ink.y1 <= base.y0: // above: each clears what is below it
					if g.ink.y1 > top+1e-9 {
						t.Fatalf("mark %U overlaps the marks under it", g.r)
					}
					top = g.ink.y0
				case g.ink.y0 >= base.y1:
					if g.ink.y0 < bottom-1e-9 {
						t.Fatalf("mark %U overlaps the marks above it", g.r)
					}
					bottom = g.ink.y1
				default:
					t.Fatalf("mark %U overlaps its base (%.3f..%.3f vs %.3f..%.3f)", g.r, g.ink.y0, g.ink.y1, base.y0, base.y1)
				}
			}
		})
	}
}

func TestUndrawableCharacter(t *testing.T) {
	sh := testShapers(t)
	for _, s := range []string{"漢字", "a\uE000", "\U0001D11E", "a\x00b"} {
		if _, err := sh.bold.shape(s); !errors.Is(err, errNoGlyph) {
			t.Errorf("%+q: err %v, want errNoGlyph", s, err)
		}
	}
	for _, s := range []string{"שלום", "Test مرحبا"} {
		if _, err := sh.bold.shape(s); !errors.Is(err, errRTL) {
			t.Errorf("%+q: err %v, want errRTL", s, err)
		}
	}
	for _, s := range []string{"Łódź", "İstanbul ığ", "Þórdís Ðögg", "Nguyễn Thị Mẫu", "Ærøskøbing", "Ŋ ŧ ß"} {
		if _, err := sh.bold.shape(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func FuzzFitText(f *testing.F) {
	for _, s := range []string{"Bo Ek", "Q̣̄uinn W̌̃ẙ̄ Testa", "Maximiliana Aurelia Konstancja Eleonora Wilhelmina Testowska-Przykładowa Junior", "\u0301\u0301x", " ", "ǅ ﬃ"} {
		f.Add(s)
	}
	sh := testShapers(f)
	box := Box{31, 16.7, 52, 7.2}.Rect()
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 100 {
			return
		}
		b, err := sh.bold.fit(s, box, 11, 6, 2, "")
		if err != nil {
			if !errors.Is(err, errNoGlyph) && !errors.Is(err, errTooLong) && !errors.Is(err, errRTL) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !b.ink.Empty() && !b.ink.In(box) {
			t.Fatalf("ink %v leaves box %v", b.ink, box)
		}
	})
}
