package magicard

import (
	"fmt"
	"image"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
)

// Layout is a Magicard line format: how one printed line of a plane is
// packed into bytes. It follows the printer family, not the USB product id.
type Layout string

// Line layouts of the text protocol.
const (
	// KEE is the Rio 2e / Tango 2e / Tango +L / XXL line: 84 bytes a
	// sub-row, dots MSB first.
	KEE Layout = "kee"
	// KGE is the Enduro / Enduro+ / Enduro 3E / Rio Pro / Pronto / MC200
	// line: 96 bytes a sub-row, dots interleaved on even and odd bits.
	KGE Layout = "kge"
)

// Valid reports an error naming the layout if it is not KEE or KGE.
func (l Layout) Valid() error {
	switch l {
	case KEE, KGE:
		return nil
	}
	return fmt.Errorf("magicard: line layout %q: want kee (Rio 2e, Tango 2e) or kge (Enduro, Rio Pro, Pronto)", string(l))
}

// Geometry of the text protocol at 300 dpi.
const (
	Lines       = 1016 // lines along the card's long edge
	ImageDots   = 642  // image dots on a line (across the short edge)
	HeadDots    = 672  // dots of the printhead line
	ColourBits  = 6    // bit-planes of a Y, M or C line (0..63, 63 most dye)
	CropTop     = (card.Height - ImageDots) / 2
	DefaultHead = 50 // head position P when the printer does not tell
)

// lineBytes is the bytes of one sub-row (one bit-plane of one line).
func (l Layout) lineBytes() int {
	if l == KGE {
		return 96
	}
	return 84
}

// PlaneBytes returns the size of one plane on the wire: a Y, M or C plane
// (colour) or a K plane.
func (l Layout) PlaneBytes(colour bool) int {
	n := l.lineBytes() * Lines
	if colour {
		n *= ColourBits
	}
	return n
}

// FirstDot returns the head dot where the first image dot lands for head
// position p (clamped to 35..65): 66-p on KEE, 65-p on KGE.
func (l Layout) FirstDot(p int) int {
	p = min(max(p, 35), 65)
	if l == KGE {
		return 65 - p
	}
	return 66 - p
}

// dotPos returns the byte and mask of head dot d in a sub-row.
func (l Layout) dotPos(d int) (int, byte) {
	if l == KEE {
		return d >> 3, 0x80 >> (d & 7)
	}
	if d < 288 {
		return 24 + 4*(d/16) + (d%16)/4, 0x80 >> (2 * (d % 4))
	}
	q := d - 288
	return 4*(q/16) + (q%16)/4, 0x80 >> (2*(q%4) + 1)
}

// Default overcoat areas (PCT) per layout.
var fullOvercoat = map[Layout]Rect{
	KEE: {0, 0, 1025, 641},
	KGE: {0, 0, 1015, 641},
}

// Plane letters on the wire: Y, M and C travel as B, G and R.
const (
	letterY = 'B'
	letterM = 'G'
	letterC = 'R'
	letterK = 'K'
)

// Framing bytes.
const (
	enq = 0x05 // lead ("ATTN/Clear")
	soh = 0x01
	etx = 0x03
	fs  = 0x1C
)

// JobLead is the number of 0x05 bytes before a job.
const JobLead = 64

// Version is written in the VER token.
const Version = "1.0"

// job holds what the header of one card needs besides its panels.
type job struct {
	layout   Layout
	head     string // printhead token: KEE, KGE, KGE2, ...
	headPos  int
	firmware string // appended to VER on KGE
	ribbon   card.Ribbon
	when     time.Time
	coerc    string // "H" or "L"
	flip     bool
}

// side is one page's encoded data.
type page struct {
	imf     string
	planes  []encPlane
	overlay bool
	pct     []Rect
	nct     []Rect
}

// encPlane is a plane to pack: its letter, its design plane (nil: blank)
// and whether it is a colour plane.
type encPlane struct {
	letter byte
	plane  *image.Gray
	colour bool
	size   int
}

// encodeSide packs one side. back turns the image 180 degrees more (the
// printer turns the card over).
func encodeSide(s card.Side, j job, back bool) (page, error) {
	var pg page
	panels := j.ribbon.SidePanels(back)
	colour := panels.Colour
	type src struct {
		letter byte
		plane  *image.Gray
		colour bool
	}
	var srcs []src
	if colour && (s.Y != nil || s.M != nil || s.C != nil) {
		srcs = append(srcs, src{letterY, s.Y, true}, src{letterM, s.M, true}, src{letterC, s.C, true})
		pg.imf = "BGR"
	}
	if s.K != nil {
		srcs = append(srcs, src{letterK, s.K, false})
		pg.imf += "K"
	}
	if len(srcs) == 0 {
		// V sends IMFK and one blank K plane for an empty side.
		srcs = append(srcs, src{letterK, nil, false})
		pg.imf = "K"
	}
	for _, x := range srcs {
		if x.plane != nil && x.plane.Rect != image.Rect(0, 0, card.Width, card.Height) {
			return pg, fmt.Errorf("magicard: plane %c is %v, want %dx%d", x.letter, x.plane.Rect.Size(), card.Width, card.Height)
		}
		pg.planes = append(pg.planes, encPlane{x.letter, x.plane, x.colour, j.layout.PlaneBytes(x.colour)})
	}
	if panels.Overlay && s.O != nil {
		oc, _, err := OvercoatRects(s.O, j.layout)
		if err != nil {
			return pg, err
		}
		pg.overlay, pg.pct, pg.nct = oc.On, oc.Areas, oc.Holes
	}
	return pg, nil
}

// packPlane packs a design-orientation plane (nil: blank) into out (of
// PlaneBytes, zeroed) in the wire format: line by line along the long edge; a colour line is 6 sub-rows,
// least significant bit first; a K line one sub-row. Design column x is
// line x (line 1015-x when flipped); design row CropTop+i is image dot i
// (641-i when flipped), placed at head dot first+i.
func packPlane(out []byte, g *image.Gray, l Layout, colour bool, first int, flip bool) {
	lb := l.lineBytes()
	sub := 1
	if colour {
		sub = ColourBits
	}
	if g == nil {
		return
	}
	var pos [ImageDots]struct {
		off  int
		mask byte
	}
	for i := range ImageDots {
		pos[i].off, pos[i].mask = l.dotPos(first + i)
	}
	// Row by row of the design: reads are sequential, and the writes of
	// one row hit the same byte of every line, which stays in cache.
	stride := lb * sub
	for i := range ImageDots {
		y := CropTop + i
		if flip {
			y = CropTop + ImageDots - 1 - i
		}
		src := g.Pix[y*g.Stride : y*g.Stride+Lines]
		p := pos[i]
		for x, v := range src {
			if v == 0 {
				continue
			}
			line := x
			if flip {
				line = Lines - 1 - x
			}
			o := line*stride + p.off
			if !colour {
				if v >= 128 {
					out[o] |= p.mask
				}
				continue
			}
			v >>= 2 // 0..63
			for b := 0; b < ColourBits; b++ {
				if v&(1<<b) != 0 {
					out[o+b*lb] |= p.mask
				}
			}
		}
	}
}

// header writes the tokens of one page's header, without the trailing
// comma (the firmware faults on a comma right before 0x1C).
func header(pg page, j job, pageNo int, back *page, mag []string) string {
	var t []string
	add := func(s ...string) { t = append(t, s...) }
	add("NOC1")
	ver := "VER" + Version
	if j.layout == KGE && j.firmware != "" {
		ver += "-" + j.firmware
	}
	add(ver, "LANENG", "TDT"+fmt.Sprintf("%08X", uint32(j.when.Unix())))
	if pageNo == 1 && len(mag) > 0 {
		add("COE" + j.coerc)
		for i, m := range mag {
			if m != "" {
				add("MAG"+strconv.Itoa(i+1), m)
			}
		}
	}
	add(j.head)
	if j.layout == KEE {
		add("RT2")
	}
	add("SLWOFF")
	if back != nil || pageNo == 2 {
		add("DPXON")
	} else {
		add("DPXOFF")
	}
	if pageNo == 1 && back != nil {
		add("BAC" + backFormat(*back))
	}
	add("PAG"+strconv.Itoa(pageNo), "IMF"+pg.imf, "XCO0", "YCO0", "WID1016", "HGT642")
	if pg.overlay {
		add("OVRON")
		for _, r := range pg.pct {
			add("PCT" + r.String())
		}
		for _, r := range pg.nct {
			add("NCT" + r.String())
		}
	} else {
		add("OVROFF")
	}
	add("ICC0")
	for _, p := range pg.planes {
		add(fmt.Sprintf("SZ%c%d", p.letter, p.size))
	}
	return strings.Join(t, ",")
}

// backFormat is the BAC value: C for colour, K, O, in that order.
func backFormat(pg page) string {
	s := ""
	if strings.Contains(pg.imf, "B") {
		s += "C"
	}
	if strings.Contains(pg.imf, "K") {
		s += "K"
	}
	if pg.overlay {
		s += "O"
	}
	return s
}

// appendPage frames one page: the 0x05 lead, SOH ',', the header, 0x1C,
// each plane (packed in place) followed by 0x1C <letter> ':', then ETX.
// back turns the page 180 degrees more than the job's default.
func appendPage(out []byte, hdr string, pg page, j job, back bool) []byte {
	for range JobLead {
		out = append(out, enq)
	}
	out = append(out, soh, ',')
	out = append(out, hdr...)
	out = append(out, fs)
	first := j.layout.FirstDot(j.headPos)
	for _, p := range pg.planes {
		n := len(out)
		out = append(out, make([]byte, p.size)...) // zeroed; no allocation within capacity
		packPlane(out[n:], p.plane, j.layout, p.colour, first, j.flip != back)
		out = append(out, fs, p.letter, ':')
	}
	return append(out, etx)
}

// encode builds the whole job stream of a card.
func encode(cd card.Card, j job) ([]byte, error) {
	if err := j.layout.Valid(); err != nil {
		return nil, err
	}
	if err := j.ribbon.Valid(); err != nil {
		return nil, fmt.Errorf("magicard: %w", err)
	}
	mag, err := magTokens(cd.Mag)
	if err != nil {
		return nil, err
	}
	front, err := encodeSide(cd.Front, j, false)
	if err != nil {
		return nil, fmt.Errorf("magicard: front: %w", err)
	}
	var back *page
	if cd.Back != nil {
		b, err := encodeSide(*cd.Back, j, true)
		if err != nil {
			return nil, fmt.Errorf("magicard: back: %w", err)
		}
		back = &b
	}
	size := 2 * (JobLead + 1024)
	for _, p := range front.planes {
		size += p.size + 3
	}
	if back != nil {
		for _, p := range back.planes {
			size += p.size + 3
		}
	}
	out := make([]byte, 0, size)
	out = appendPage(out, header(front, j, 1, back, mag), front, j, false)
	if back != nil {
		out = appendPage(out, header(*back, j, 2, nil, nil), *back, j, true)
	}
	return out, nil
}

// EncodeCard returns the job stream of one card as the printer takes it,
// for `printerd encode` and benchmarks: the front page and, for a
// two-sided card, the back page. What the driver reads from the printer
// before a job (head position, head type, firmware) comes from opts here:
// HeadPosition (zero: 50), Layout (zero: KEE) and no firmware suffix.
func EncodeCard(cd card.Card, opts Options) ([]byte, error) {
	o := opts.withDefaults()
	l := o.Layout
	if l == "" {
		l = KEE
	}
	ribbon, err := ribbonFor(cd, o.Ribbon)
	if err != nil {
		return nil, err
	}
	j := o.job(l, "", o.HeadPosition, "", ribbon)
	return encode(cd, j)
}

// ribbonFor picks the card's ribbon: the card's (which must match the
// loaded one when set), else the loaded one, else ymcko.
func ribbonFor(cd card.Card, loaded card.Ribbon) (card.Ribbon, error) {
	r := cd.Ribbon
	switch {
	case r == "" && loaded != "":
		r = loaded
	case r == "":
		r = card.YMCKO
	case loaded != "" && r != loaded:
		return "", fmt.Errorf("magicard: card needs ribbon %s but the printer is set up with %s", r, loaded)
	}
	if err := r.Valid(); err != nil {
		return "", fmt.Errorf("magicard: %w", err)
	}
	return r, nil
}

// badCard wraps a validation error as a BeforeFeed print error.
func badCard(err error) error {
	return &drivers.Error{Op: "print", Code: drivers.BadCommand, Feed: drivers.BeforeFeed, Err: err}
}
