package magicard

import (
	"fmt"
	"image"
	"strconv"
	"strings"
)

// Rect is an overcoat rectangle as PCT (area) and NCT (hole) tokens carry
// it: x1,y1,x2,y2 in dots, corners included; x runs along the card's long
// edge from the left, y across the short edge from the bottom edge (the
// card seen from the side being printed, landscape).
type Rect struct{ X1, Y1, X2, Y2 int }

// String writes the rectangle as the token value "x1,y1,x2,y2".
func (r Rect) String() string {
	return strconv.Itoa(r.X1) + "," + strconv.Itoa(r.Y1) + "," + strconv.Itoa(r.X2) + "," + strconv.Itoa(r.Y2)
}

// ParseRect reads "x1,y1,x2,y2".
func ParseRect(s string) (Rect, error) {
	f := strings.Split(s, ",")
	if len(f) != 4 {
		return Rect{}, fmt.Errorf("magicard: rectangle %q: want x1,y1,x2,y2", s)
	}
	var v [4]int
	for i, x := range f {
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 || n > 4096 {
			return Rect{}, fmt.Errorf("magicard: rectangle %q: field %d is not a dot position", s, i+1)
		}
		v[i] = n
	}
	if v[2] < v[0] || v[3] < v[1] {
		return Rect{}, fmt.Errorf("magicard: rectangle %q: second corner before the first", s)
	}
	return Rect{v[0], v[1], v[2], v[3]}, nil
}

// Overcoat is a side's overcoat as the protocol expresses it: on or off
// (OVR), the areas to coat (PCT) and the holes left in them (NCT).
type Overcoat struct {
	On    bool
	Areas []Rect
	Holes []Rect
}

// MaxHoles is the number of NCT holes the driver sends at most (inferred:
// the sources show one hole at a time; two are assumed to be accepted).
const MaxHoles = 2

// lastRow is the design row printed at image dot 0 (y = 0 in PCT terms):
// y_pct = lastRow - design row.
const lastRow = CropTop + ImageDots - 1

// OvercoatRects reduces an O plane (design orientation, 1016 x 648, 255 =
// varnish) to what the protocol can say: one PCT area, the bounding box of
// the varnish on the printed part of the card (the full default area when
// that is the whole card), and at most MaxHoles NCT holes, the bounding
// boxes of the unvarnished regions inside it (merged, nearest first, when
// there are more). Lost is the number of dots the O plane asked to varnish
// that the rectangles leave bare: dots inside a hole's bounding box, and
// holes merged together. The rectangles never varnish a dot the plane left
// free. The 3 rows at each long edge that the printer does not print are
// ignored.
func OvercoatRects(o *image.Gray, l Layout) (oc Overcoat, lost int, err error) {
	if o.Rect != image.Rect(0, 0, 1016, 648) {
		return oc, 0, fmt.Errorf("magicard: overcoat plane is %v, want 1016x648", o.Rect.Size())
	}
	const w, y0, y1 = Lines, CropTop, lastRow
	on := func(x, y int) bool { return o.Pix[y*o.Stride+x] >= 128 }
	// Bounding box of the varnish.
	bx0, by0, bx1, by1 := w, y1+1, -1, -1
	for y := y0; y <= y1; y++ {
		for x := range w {
			if on(x, y) {
				bx0, bx1 = min(bx0, x), max(bx1, x)
				by0, by1 = min(by0, y), max(by1, y)
			}
		}
	}
	if bx1 < 0 {
		return oc, 0, nil // no varnish: OVR off
	}
	oc.On = true
	if bx0 == 0 && by0 == y0 && bx1 == w-1 && by1 == y1 {
		oc.Areas = []Rect{fullOvercoat[l]}
	} else {
		oc.Areas = []Rect{designRect(bx0, by0, bx1, by1)}
	}
	// Unvarnished regions inside the box: 4-connected components.
	bw, bh := bx1-bx0+1, by1-by0+1
	seen := make([]bool, bw*bh)
	var holes []image.Rectangle
	var stack []int32
	for y := by0; y <= by1; y++ {
		for x := bx0; x <= bx1; x++ {
			i := (y-by0)*bw + (x - bx0)
			if seen[i] || on(x, y) {
				continue
			}
			r := image.Rect(x, y, x+1, y+1)
			seen[i] = true
			stack = append(stack[:0], int32(i))
			for len(stack) > 0 {
				c := int(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
				cx, cy := c%bw+bx0, c/bw+by0
				r = r.Union(image.Rect(cx, cy, cx+1, cy+1))
				for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
					nx, ny := cx+d[0], cy+d[1]
					if nx < bx0 || nx > bx1 || ny < by0 || ny > by1 {
						continue
					}
					ni := (ny-by0)*bw + (nx - bx0)
					if !seen[ni] && !on(nx, ny) {
						seen[ni] = true
						stack = append(stack, int32(ni))
					}
				}
			}
			holes = append(holes, r)
		}
	}
	holes = mergeHoles(holes)
	for _, h := range holes {
		for y := h.Min.Y; y < h.Max.Y; y++ {
			for x := h.Min.X; x < h.Max.X; x++ {
				if on(x, y) {
					lost++
				}
			}
		}
		oc.Holes = append(oc.Holes, designRect(h.Min.X, h.Min.Y, h.Max.X-1, h.Max.Y-1))
	}
	return oc, lost, nil
}

// mergeHoles merges overlapping boxes, then the pair whose union grows the
// least, until at most MaxHoles remain.
func mergeHoles(h []image.Rectangle) []image.Rectangle {
	for {
		merged := false
		for i := 0; i < len(h) && !merged; i++ {
			for j := i + 1; j < len(h); j++ {
				if h[i].Overlaps(h[j]) {
					h[i] = h[i].Union(h[j])
					h = append(h[:j], h[j+1:]...)
					merged = true
					break
				}
			}
		}
		if merged {
			continue
		}
		if len(h) <= MaxHoles {
			return h
		}
		bi, bj, best := 0, 1, -1
		area := func(r image.Rectangle) int { return r.Dx() * r.Dy() }
		for i := range h {
			for j := i + 1; j < len(h); j++ {
				g := area(h[i].Union(h[j])) - area(h[i]) - area(h[j])
				if best < 0 || g < best {
					bi, bj, best = i, j, g
				}
			}
		}
		h[bi] = h[bi].Union(h[bj])
		h = append(h[:bj], h[bj+1:]...)
	}
}

// designRect converts design corners (column x, row y, both included) to
// protocol coordinates (y from the bottom printed row).
func designRect(x0, y0, x1, y1 int) Rect {
	return Rect{X1: x0, Y1: lastRow - y1, X2: x1, Y2: lastRow - y0}
}
