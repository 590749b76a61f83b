package layout

import (
	"errors"
	"fmt"
	"image"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
	"golang.org/x/text/unicode/norm"

	"github.com/cityid/printerd/layout/fonts"
)

// typeface is one parsed font. sfnt.Font is safe for concurrent use with a
// Buffer per goroutine.
type typeface struct {
	f   *sfnt.Font
	upe float64 // units per em
	// metrics in em (ascent and descent positive)
	ascent, descent, height float64

	cache  sync.Map     // rune -> glyphInfo
	cached atomic.Int64 // entries stored (approximately)
}

// typefaces holds the embedded fonts, parsed once.
type typefaces struct {
	regular, bold *typeface
}

func loadTypefaces() (*typefaces, error) {
	load := func(b []byte) (*typeface, error) {
		f, err := sfnt.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("layout: embedded font: %w", err)
		}
		upe := float64(f.UnitsPerEm())
		var buf sfnt.Buffer
		m, err := f.Metrics(&buf, fixed.Int26_6(f.UnitsPerEm())<<6, font.HintingNone)
		if err != nil {
			return nil, fmt.Errorf("layout: embedded font metrics: %w", err)
		}
		return &typeface{f: f, upe: upe,
			ascent:  float64(m.Ascent) / 64 / upe,
			descent: float64(m.Descent) / 64 / upe,
			height:  float64(m.Height) / 64 / upe}, nil
	}
	r, err := load(fonts.Regular)
	if err != nil {
		return nil, err
	}
	b, err := load(fonts.Bold)
	if err != nil {
		return nil, err
	}
	return &typefaces{regular: r, bold: b}, nil
}

// glyph is one positioned glyph of laid-out text, in em units relative to
// the start of its line's baseline (y down).
type glyph struct {
	tf   *typeface
	idx  sfnt.GlyphIndex
	r    rune
	x, y float64
	ink  rectF // ink bounds in em, positioned
}

type rectF struct{ x0, y0, x1, y1 float64 }

func (a rectF) union(b rectF) rectF {
	if a.x0 >= a.x1 || a.y0 >= a.y1 {
		return b
	}
	if b.x0 >= b.x1 || b.y0 >= b.y1 {
		return a
	}
	return rectF{math.Min(a.x0, b.x0), math.Min(a.y0, b.y0), math.Max(a.x1, b.x1), math.Max(a.y1, b.y1)}
}

func (a rectF) shift(dx, dy float64) rectF { return rectF{a.x0 + dx, a.y0 + dy, a.x1 + dx, a.y1 + dy} }

// cluster is a base character with the combining marks that follow it.
type cluster struct {
	glyphs  []glyph // base first, marks after; x relative to cluster start
	advance float64
	space   bool
	ink     rectF
}

// errNoGlyph is wrapped when a character has no glyph in the card fonts.
var errNoGlyph = errors.New("contains a character the card fonts cannot draw")

// errRTL is wrapped for right-to-left or joining scripts, which need a
// bidi and shaping engine the renderer does not have.
var errRTL = errors.New("contains right-to-left text, which the card renderer cannot lay out")

// rtlScripts are scripts written right to left (most also join letters).
var rtlScripts = []*unicode.RangeTable{unicode.Hebrew, unicode.Arabic, unicode.Syriac, unicode.Thaana,
	unicode.Nko, unicode.Samaritan, unicode.Mandaic}

// shaper lays out text in one style. It is not safe for concurrent use.
type shaper struct {
	chain []*typeface // first that has the glyph wins
	buf   sfnt.Buffer
	z     *vector.Rasterizer // reused between text blocks
}

func (s *shaper) lookup(r rune) (*typeface, sfnt.GlyphIndex, rectF, float64, error) {
	for _, tf := range s.chain {
		g, ok := tf.glyph(&s.buf, r)
		if ok {
			return tf, g.idx, g.ink, g.adv, nil
		}
	}
	return nil, 0, rectF{}, 0, errNoGlyph
}

// glyphInfo is a glyph's index, ink bounds and advance in em.
type glyphInfo struct {
	idx sfnt.GlyphIndex
	ink rectF
	adv float64
	ok  bool // the font has the glyph
}

// glyph looks r up in the font, through a cache (the same labels and most
// letters recur on every card).
func (tf *typeface) glyph(buf *sfnt.Buffer, r rune) (glyphInfo, bool) {
	if v, ok := tf.cache.Load(r); ok {
		g := v.(glyphInfo)
		return g, g.ok
	}
	var g glyphInfo
	if idx, err := tf.f.GlyphIndex(buf, r); err == nil && idx != 0 {
		ppem := fixed.Int26_6(tf.f.UnitsPerEm()) << 6
		if b, adv, err := tf.f.GlyphBounds(buf, idx, ppem, font.HintingNone); err == nil {
			u := 64 * tf.upe
			g = glyphInfo{idx: idx, ok: true, adv: float64(adv) / u,
				ink: rectF{float64(b.Min.X) / u, float64(b.Min.Y) / u, float64(b.Max.X) / u, float64(b.Max.Y) / u}}
		}
	}
	if tf.cached.Add(1) <= maxCachedGlyphs {
		tf.cache.Store(r, g)
	}
	return g, g.ok
}

// maxCachedGlyphs bounds the glyph cache of each typeface.
const maxCachedGlyphs = 4096

// isMark reports whether r combines with the character before it.
func isMark(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me) || norm.NFC.PropertiesString(string(r)).CCC() != 0
}

// shape turns NFC text into clusters. Marks that did not compose with their
// base under NFC are placed over (or under) the base glyph's ink, stacking
// outwards, since the fonts carry no shaping tables we can apply.
func (s *shaper) shape(text string) ([]cluster, error) {
	text = norm.NFC.String(text)
	var out []cluster
	const gap = 0.06 // em between a glyph and a mark, and between marks
	for _, r := range text {
		if r == '\t' || r == '\n' || r == '\r' {
			r = ' '
		}
		if unicode.IsControl(r) {
			return nil, errNoGlyph
		}
		if unicode.In(r, rtlScripts...) {
			// the fonts have some of these glyphs, but drawing them left
			// to right and unjoined would print a wrong name
			return nil, errRTL
		}
		tf, idx, ink, adv, err := s.lookup(r)
		if err != nil {
			return nil, err
		}
		if isMark(r) && len(out) > 0 && !out[len(out)-1].space {
			c := &out[len(out)-1]
			base := c.glyphs[0].ink
			// centre the mark's ink over the base's ink
			dx := (base.x0+base.x1)/2 - (ink.x0+ink.x1)/2
			dy := 0.0
			ccc := norm.NFC.PropertiesString(string(r)).CCC()
			above, below := c.ink.y0, c.ink.y1
			switch {
			case ccc == 228 || ccc == 230 || ccc == 232 || ccc == 233 || ccc == 234 || ccc == 214 || (ccc == 0 && ink.y1 <= 0):
				// above: sit on top of everything stacked so far
				dy = above - gap - ink.y1
			case ccc == 218 || ccc == 220 || ccc == 222:
				// below: hang under everything stacked so far
				dy = below + gap - ink.y0
			case ccc == 202:
				// attached below (cedilla, ogonek): the font's height, centred
			default:
				// horn, overlays and the rest: where the font puts them after the base
				dx = c.advance
			}
			g := glyph{tf: tf, idx: idx, r: r, x: dx, y: dy, ink: ink.shift(dx, dy)}
			c.glyphs = append(c.glyphs, g)
			c.ink = c.ink.union(g.ink)
			continue
		}
		c := cluster{advance: adv, space: unicode.IsSpace(r)}
		c.glyphs = []glyph{{tf: tf, idx: idx, r: r, ink: ink}}
		c.ink = ink
		out = append(out, c)
	}
	return out, nil
}

// line is one laid-out line: clusters with x positions, in em.
type line struct {
	clusters []cluster
	xs       []float64
	width    float64 // advance width, trailing spaces excluded
	ink      rectF
}

func makeLine(cs []cluster) line {
	// trim spaces at both ends
	for len(cs) > 0 && cs[0].space {
		cs = cs[1:]
	}
	for len(cs) > 0 && cs[len(cs)-1].space {
		cs = cs[:len(cs)-1]
	}
	l := line{clusters: cs}
	x := 0.0
	for _, c := range cs {
		l.xs = append(l.xs, x)
		if !c.space {
			l.ink = l.ink.union(c.ink.shift(x, 0))
		}
		x += c.advance
	}
	l.width = x
	return l
}

// wrap splits clusters into at most two lines of at most width em, breaking
// at spaces (or after hyphens), and within a word only if the word alone is
// too wide. It returns nil if the text does not fit in two lines.
func wrap2(cs []cluster, width float64) []line {
	full := makeLine(cs)
	best := -1
	bestW := math.Inf(1)
	// try every break point; prefer the one that balances the lines at a word boundary
	for i := 1; i < len(cs); i++ {
		atWord := cs[i].space || (i > 0 && cs[i-1].glyphs[0].r == '-')
		if !atWord {
			continue
		}
		a, b := makeLine(cs[:i]), makeLine(cs[i:])
		if a.width <= width && b.width <= width && len(a.clusters) > 0 && len(b.clusters) > 0 {
			w := math.Max(a.width, b.width)
			if w < bestW {
				best, bestW = i, w
			}
		}
	}
	if best < 0 {
		// no word break fits: break inside the longest run that fits on line one
		for i := len(cs) - 1; i >= 1; i-- {
			a, b := makeLine(cs[:i]), makeLine(cs[i:])
			if a.width <= width && b.width <= width {
				best = i
				break
			}
		}
	}
	if best < 0 {
		_ = full
		return nil
	}
	return []line{makeLine(cs[:best]), makeLine(cs[best:])}
}

// wrap3 splits clusters into three lines of at most width em: the first
// line ends at a word break (or, if no word break fits, inside a word) and
// the rest is wrap2's; of the candidates it keeps the one whose widest
// line is narrowest. It returns nil if the text does not fit in three
// lines.
func wrap3(cs []cluster, width float64) []line {
	var best []line
	bestW := math.Inf(1)
	for _, words := range []bool{true, false} {
		for i := 1; i < len(cs)-1; i++ {
			atWord := cs[i].space || cs[i-1].glyphs[0].r == '-'
			if words != atWord {
				continue
			}
			a := makeLine(cs[:i])
			if a.width > width {
				break
			}
			rest := wrap2(cs[i:], width)
			if rest == nil || len(a.clusters) == 0 {
				continue
			}
			w := math.Max(a.width, math.Max(rest[0].width, rest[1].width))
			if w < bestW {
				best, bestW = append([]line{a}, rest...), w
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// textBlock is text fitted into a box: lines, the size in dots per em and
// each line's baseline origin in dots.
type textBlock struct {
	lines  []line
	em     float64 // size in dots (pixels per em)
	pt     float64 // size in points
	origin []pointF
	ink    image.Rectangle // ink bounds in dots
	style  *shaper
}

type pointF struct{ x, y float64 }

// errTooLong is wrapped when text does not fit its box even at the minimum size.
var errTooLong = errors.New("does not fit its box even at the minimum size on the allowed lines")

// fit lays out text in box r: at size pt if it fits on one line, else
// shrinking in quarter points down to minPt, else (if maxLines is 2 or 3)
// on two lines at the largest size from pt down to minPt that fits, else
// (if maxLines is 3) on three. The ink never
// leaves r.
func (s *shaper) fit(text string, r image.Rectangle, pt, minPt float64, maxLines int, align string) (*textBlock, error) {
	cs, err := s.shape(text)
	if err != nil {
		return nil, err
	}
	try := func(p float64, lines []line) *textBlock {
		em := p * 300 / 72
		tf := s.chain[0]
		b := &textBlock{lines: lines, em: em, pt: p, style: s}
		lh := tf.height * em
		// first baseline: font ascent below the top, pushed down if ink rises higher
		top := float64(r.Min.Y)
		var ink rectF
		for i, l := range lines {
			by := top + tf.ascent*em + float64(i)*lh
			if i == 0 && l.ink.y0*em+by < top {
				by = top - l.ink.y0*em
			}
			if i > 0 {
				prev := b.origin[i-1].y
				if by < prev+lh {
					by = prev + lh
				}
			}
			w := l.width * em
			x := float64(r.Min.X)
			switch align {
			case "centre", "center":
				x += (float64(r.Dx()) - w) / 2
			case "right":
				x += float64(r.Dx()) - w
			}
			// keep the ink inside: side bearings may reach past the origin
			if l.ink.x1*em+x > float64(r.Max.X) {
				x = float64(r.Max.X) - l.ink.x1*em
			}
			if l.ink.x0*em+x < float64(r.Min.X) {
				x = float64(r.Min.X) - l.ink.x0*em
			}
			b.origin = append(b.origin, pointF{x, by})
			ink = ink.union(rectF{l.ink.x0*em + x, l.ink.y0*em + by, l.ink.x1*em + x, l.ink.y1*em + by})
		}
		b.ink = image.Rect(int(math.Floor(ink.x0)), int(math.Floor(ink.y0)), int(math.Ceil(ink.x1)), int(math.Ceil(ink.y1)))
		if !b.ink.Empty() && !b.ink.In(r) {
			return nil
		}
		return b
	}
	one := []line{makeLine(cs)}
	for p := pt; p >= minPt-1e-9; p -= 0.25 {
		if b := try(p, one); b != nil {
			return b, nil
		}
	}
	for n, wrap := range []func([]cluster, float64) []line{wrap2, wrap3} {
		if maxLines < n+2 {
			break
		}
		for p := pt; p >= minPt-1e-9; p -= 0.25 {
			em := p * 300 / 72
			lines := wrap(cs, float64(r.Dx())/em)
			if lines == nil {
				continue
			}
			if b := try(p, lines); b != nil {
				return b, nil
			}
		}
	}
	return nil, errTooLong
}

// glyphs calls fn for every glyph of the block with its origin in dots.
func (b *textBlock) glyphs(fn func(g glyph, x, y float64)) {
	for i, l := range b.lines {
		o := b.origin[i]
		for j, c := range l.clusters {
			if c.space {
				continue
			}
			for _, g := range c.glyphs {
				fn(g, o.x+(l.xs[j]+g.x)*b.em, o.y+g.y*b.em)
			}
		}
	}
}

// raster draws the block's coverage into an alpha mask covering r.
func (b *textBlock) raster(r image.Rectangle) (*image.Alpha, error) {
	mask := image.NewAlpha(r)
	if b.ink.Empty() {
		return mask, nil
	}
	z := b.style.z
	if z == nil {
		z = vector.NewRasterizer(r.Dx(), r.Dy())
		b.style.z = z
	} else {
		z.Reset(r.Dx(), r.Dy())
	}
	ox, oy := float64(r.Min.X), float64(r.Min.Y)
	var err error
	var buf sfnt.Buffer
	b.glyphs(func(g glyph, x, y float64) {
		if err != nil {
			return
		}
		ppem := fixed.Int26_6(b.em * 64)
		segs, e := g.tf.f.LoadGlyph(&buf, g.idx, ppem, nil)
		if e != nil {
			err = fmt.Errorf("glyph outline: %w", e)
			return
		}
		gx, gy := float32(x-ox), float32(y-oy)
		for _, seg := range segs {
			a := seg.Args
			switch seg.Op {
			case sfnt.SegmentOpMoveTo:
				z.MoveTo(gx+f32(a[0].X), gy+f32(a[0].Y))
			case sfnt.SegmentOpLineTo:
				z.LineTo(gx+f32(a[0].X), gy+f32(a[0].Y))
			case sfnt.SegmentOpQuadTo:
				z.QuadTo(gx+f32(a[0].X), gy+f32(a[0].Y), gx+f32(a[1].X), gy+f32(a[1].Y))
			case sfnt.SegmentOpCubeTo:
				z.CubeTo(gx+f32(a[0].X), gy+f32(a[0].Y), gx+f32(a[1].X), gy+f32(a[1].Y), gx+f32(a[2].X), gy+f32(a[2].Y))
			}
		}
		z.ClosePath()
	})
	if err != nil {
		return nil, err
	}
	z.Draw(mask, mask.Bounds(), image.Opaque, mask.Bounds().Min)
	return mask, nil
}

func f32(v fixed.Int26_6) float32 { return float32(v) / 64 }

// plain reports the text of a line without marks repositioned, for callers
// that only need the characters.
func (l line) String() string {
	var sb strings.Builder
	for _, c := range l.clusters {
		for _, g := range c.glyphs {
			sb.WriteRune(g.r)
		}
	}
	return sb.String()
}
