package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"io/fs"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/cityid/printerd/card"
)

// Card size of ID-1 (ISO/IEC 7810) in millimetres.
const (
	CardWidthMM  = 85.60
	CardHeightMM = 53.98
)

// MinBarcodeDots is the smallest barcode box side in dots: a version-13 QR
// code (69 modules) plus a 4-module quiet zone each side, at 4 dots a module.
const MinBarcodeDots = (69 + 2*4) * 4

// Field names a template may print.
const (
	FieldName    = "name"
	FieldDOB     = "dob"
	FieldGender  = "gender"
	FieldNumber  = "number"
	FieldIssue   = "issue"
	FieldIssued  = "issued"
	FieldExpires = "expires"
)

// signedFields are signed into the barcode, so every template must print them.
var signedFields = []string{FieldName, FieldDOB, FieldGender, FieldNumber, FieldIssued, FieldExpires}

var knownFields = map[string]bool{
	FieldName: true, FieldDOB: true, FieldGender: true, FieldNumber: true,
	FieldIssue: true, FieldIssued: true, FieldExpires: true, FieldCAN: true,
}

// Element types.
const (
	ElemPhoto      = "photo"
	ElemField      = "field"
	ElemLabel      = "label"
	ElemText       = "text"
	ElemImage      = "image"
	ElemBarcode    = "barcode"
	ElemRect       = "rect"
	ElemBackground = "background"
)

// Panels an element can go on.
const (
	PanelColour = "ymc"  // the colour panels (Y, M, C)
	PanelK      = "k"    // resin black, 1 bit
	PanelNone   = "none" // not printed
)

// Template is a card design: a front and a back of an ID-1 card, each a
// list of elements placed in millimetres from the top-left corner of the
// landscape card. Templates are strict JSON files; see
// templates/municipal-id.json for the built-in one.
type Template struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"` // human description
	// Ribbons, if set, are the only ribbons the design may be printed on
	// (a design that needs colour lists ymcko and ymckok); empty means
	// every ribbon: colour is dithered to black on ko and k.
	Ribbons []card.Ribbon `json:"ribbons,omitempty"`
	Front   Face          `json:"front"`
	Back    Face          `json:"back"`
	// Mag, if set, says what goes on the magnetic stripe (clear fields only).
	Mag *MagSpec `json:"mag,omitempty"`
	// Chip, if set, says the chip is encoded with the sealed credential.
	Chip *ChipSpec `json:"chip,omitempty"`

	// images holds decoded image elements by src, loaded with the template.
	images map[string]image.Image
}

// Face is one side of a template.
type Face struct {
	// OverlayFree lists areas kept free of overlay varnish (O), e.g. a
	// signature strip or a chip.
	OverlayFree []Area    `json:"overlay_free,omitempty"`
	Elements    []Element `json:"elements"`
}

// Area is a named rectangle in millimetres.
type Area struct {
	ID  string `json:"id"`
	Box Box    `json:"box"`
}

// Box is a rectangle in millimetres from the card's top-left corner.
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// Element is one thing drawn on a face. Which members apply depends on Type.
type Element struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Box   *Box   `json:"box,omitempty"`   // all but background
	Panel string `json:"panel,omitempty"` // ymc, k or none; default by type

	Field string `json:"field,omitempty"` // field: which field
	Text  string `json:"text,omitempty"`  // label, text: the static text
	Src   string `json:"src,omitempty"`   // image: file in the template directory

	Colour  string  `json:"colour,omitempty"`   // #rrggbb for ymc text, rect, background
	Size    float64 `json:"size,omitempty"`     // text size in points
	MinSize float64 `json:"min_size,omitempty"` // field: smallest size before wrapping
	Lines   int     `json:"lines,omitempty"`    // field: at most this many lines (1 to 3)
	Bold    bool    `json:"bold,omitempty"`
	Align   string  `json:"align,omitempty"` // left (default), centre, right

	// NoOverlay keeps this element's box free of overlay varnish.
	NoOverlay bool `json:"no_overlay,omitempty"`

	// EC is the preferred QR error correction for a barcode: "Q" (default)
	// falls back to "M" when the box is too small; "M" uses M only.
	EC string `json:"ec,omitempty"`

	rgb color.RGBA // parsed Colour
}

// Max sizes that keep parsing cheap and bounded.
const (
	maxTemplateBytes = 1 << 20
	maxElements      = 200
	maxImageBytes    = 2 << 20
	maxImageSide     = 2048
)

var hexColour = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ParseTemplate decodes and validates a template. Unknown JSON fields are an
// error. open, if not nil, reads files that image elements name; without it
// image elements are refused.
func ParseTemplate(data []byte, open func(name string) ([]byte, error)) (*Template, error) {
	if len(data) > maxTemplateBytes {
		return nil, fmt.Errorf("layout: template: larger than %d bytes", maxTemplateBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t Template
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("layout: template: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("layout: template: trailing data after the JSON object")
	}
	if err := t.validate(open); err != nil {
		return nil, err
	}
	return &t, nil
}

var templateName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func (t *Template) validate(open func(string) ([]byte, error)) error {
	if !templateName.MatchString(t.Name) {
		return errors.New("layout: template: name must be 1-64 of a-z, 0-9 and -")
	}
	if len(t.Front.Elements)+len(t.Back.Elements) > maxElements {
		return fmt.Errorf("layout: template %s: more than %d elements", t.Name, maxElements)
	}
	for _, r := range t.Ribbons {
		if err := r.Valid(); err != nil {
			return fmt.Errorf("layout: template %s: ribbons: %w", t.Name, err)
		}
	}
	seen := map[string]bool{}
	printed := map[string]bool{}
	barcodes := 0
	for _, side := range []struct {
		name string
		f    *Face
	}{{"front", &t.Front}, {"back", &t.Back}} {
		for i, a := range side.f.OverlayFree {
			where := fmt.Sprintf("layout: template %s: %s overlay_free %d (%q)", t.Name, side.name, i, a.ID)
			if err := a.Box.check(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		photos := 0
		for i := range side.f.Elements {
			e := &side.f.Elements[i]
			where := fmt.Sprintf("layout: template %s: %s element %d (%q)", t.Name, side.name, i, e.ID)
			if e.ID == "" {
				return fmt.Errorf("%s: needs an id", where)
			}
			if seen[e.ID] {
				return fmt.Errorf("%s: id used twice", where)
			}
			seen[e.ID] = true
			if err := e.check(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			switch e.Type {
			case ElemField:
				printed[e.Field] = true
			case ElemBarcode:
				barcodes++
			case ElemPhoto:
				photos++
			case ElemImage:
				if open == nil {
					return fmt.Errorf("%s: image %q: no template directory to read it from", where, e.Src)
				}
				if _, ok := t.images[e.Src]; ok {
					break
				}
				b, err := open(e.Src)
				if err != nil {
					return fmt.Errorf("%s: image %q: %w", where, e.Src, err)
				}
				img, err := decodeImage(b, maxImageBytes, maxImageSide)
				if err != nil {
					return fmt.Errorf("%s: image %q: %w", where, e.Src, err)
				}
				if t.images == nil {
					t.images = map[string]image.Image{}
				}
				t.images[e.Src] = img
			}
		}
		if photos > 1 {
			return fmt.Errorf("layout: template %s: %s has %d photo elements, want at most 1", t.Name, side.name, photos)
		}
	}
	if barcodes != 1 {
		return fmt.Errorf("layout: template %s: has %d barcode elements, want exactly 1", t.Name, barcodes)
	}
	for _, f := range signedFields {
		if !printed[f] {
			return fmt.Errorf("layout: template %s: no element prints field %s, which the barcode signs", t.Name, f)
		}
	}
	return t.checkEncoding(printed)
}

// PrintableOn reports an error wrapping card.ErrRibbon when the template
// may not be printed on ribbon r, naming the template and its ribbons.
func (t *Template) PrintableOn(r card.Ribbon) error {
	if len(t.Ribbons) == 0 || slices.Contains(t.Ribbons, r) {
		return nil
	}
	names := make([]string, len(t.Ribbons))
	for i, tr := range t.Ribbons {
		names[i] = string(tr)
	}
	return fmt.Errorf("layout: template %s needs ribbon %s, the printer has %s: %w", t.Name, strings.Join(names, " or "), r, card.ErrRibbon)
}

// check validates a box against the card edges.
func (b Box) check() error {
	for _, v := range []float64{b.X, b.Y, b.W, b.H} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("box: not a number")
		}
	}
	const eps = 1e-9
	switch {
	case b.W <= 0 || b.H <= 0:
		return errors.New("box: width and height must be positive")
	case b.X < 0 || b.Y < 0 || b.X+b.W > CardWidthMM+eps || b.Y+b.H > CardHeightMM+eps:
		return fmt.Errorf("box: overlaps the card edge (card is %.2f x %.2f mm)", CardWidthMM, CardHeightMM)
	}
	return nil
}

// The printers' 1016 x 648 dots at 300 dpi (86.02 x 54.86 mm) are a little
// larger than the card: the card sits centred in them, and what touches a
// card edge bleeds to the edge of the plane.
const (
	BleedXMM = (card.Width*25.4/card.DPI - CardWidthMM) / 2   // about 0.21 mm
	BleedYMM = (card.Height*25.4/card.DPI - CardHeightMM) / 2 // about 0.44 mm
)

// Rect returns the box in dots at 300 dpi on the card plane. A box that
// touches a card edge extends over the bleed to the plane's edge.
func (b Box) Rect() image.Rectangle {
	const eps = 1e-6
	r := image.Rect(mmToDot(b.X+BleedXMM), mmToDot(b.Y+BleedYMM), mmToDot(b.X+b.W+BleedXMM), mmToDot(b.Y+b.H+BleedYMM))
	if b.X <= eps {
		r.Min.X = 0
	}
	if b.Y <= eps {
		r.Min.Y = 0
	}
	if b.X+b.W >= CardWidthMM-eps {
		r.Max.X = card.Width
	}
	if b.Y+b.H >= CardHeightMM-eps {
		r.Max.Y = card.Height
	}
	return r.Intersect(image.Rect(0, 0, card.Width, card.Height))
}

func mmToDot(mm float64) int { return int(math.Round(mm / 25.4 * card.DPI)) }

func (e *Element) check() error {
	defPanel := PanelK
	switch e.Type {
	case ElemPhoto, ElemImage, ElemRect, ElemBackground:
		defPanel = PanelColour
	case ElemField, ElemLabel, ElemText, ElemBarcode:
	case "":
		return errors.New("type missing: want photo, field, label, text, image, barcode, rect or background")
	default:
		return fmt.Errorf("type %q unknown: want photo, field, label, text, image, barcode, rect or background", e.Type)
	}
	if e.Panel == "" {
		e.Panel = defPanel
	}
	switch e.Panel {
	case PanelColour, PanelK, PanelNone:
	default:
		return fmt.Errorf("panel %q unknown: want ymc, k or none", e.Panel)
	}
	if e.Type == ElemBackground {
		if e.Box != nil {
			return errors.New("a background covers the whole side and takes no box")
		}
		e.Box = &Box{0, 0, CardWidthMM, CardHeightMM}
	}
	if e.Box == nil {
		return errors.New("box missing")
	}
	if err := e.Box.check(); err != nil {
		return err
	}
	e.rgb = color.RGBA{0, 0, 0, 255}
	if e.Colour != "" {
		if !hexColour.MatchString(e.Colour) {
			return fmt.Errorf("colour %q: want #rrggbb", e.Colour)
		}
		var r, g, b uint8
		fmt.Sscanf(e.Colour[1:], "%02x%02x%02x", &r, &g, &b)
		e.rgb = color.RGBA{r, g, b, 255}
	} else if e.Type == ElemRect || e.Type == ElemBackground {
		return errors.New("colour missing: want #rrggbb")
	}
	isText := e.Type == ElemField || e.Type == ElemLabel || e.Type == ElemText
	if !isText && (e.Size != 0 || e.MinSize != 0 || e.Lines != 0 || e.Bold || e.Align != "") {
		return errors.New("size, min_size, lines, bold and align apply only to field, label and text")
	}
	if e.Type != ElemField && e.Field != "" {
		return errors.New("field applies only to type field")
	}
	if e.Type != ElemLabel && e.Type != ElemText && e.Text != "" {
		return errors.New("text applies only to label and text")
	}
	if e.Type != ElemImage && e.Src != "" {
		return errors.New("src applies only to image")
	}
	if e.Type != ElemBarcode && e.EC != "" {
		return errors.New("ec applies only to barcode")
	}
	if isText {
		if e.Size == 0 {
			e.Size = 8
		}
		if math.IsNaN(e.Size) || e.Size < 4 || e.Size > 72 {
			return errors.New("size: want 4 to 72 points")
		}
		if e.MinSize == 0 {
			e.MinSize = e.Size
		}
		if math.IsNaN(e.MinSize) || e.MinSize < 4 || e.MinSize > e.Size {
			return errors.New("min_size: want 4 points up to size")
		}
		if e.Lines == 0 {
			e.Lines = 1
		}
		if e.Lines < 1 || e.Lines > 3 {
			return errors.New("lines: want 1, 2 or 3")
		}
		switch e.Align {
		case "", "left", "centre", "center", "right":
		default:
			return fmt.Errorf("align %q: want left, centre or right", e.Align)
		}
	}
	switch e.Type {
	case ElemField:
		if e.Field == "" {
			return errors.New("field missing: want name, dob, gender, number, issue, issued, expires or chip.can")
		}
		if !knownFields[e.Field] {
			return fmt.Errorf("field %q unknown: want name, dob, gender, number, issue, issued, expires or chip.can", e.Field)
		}
		if e.Panel == PanelNone && e.Field != FieldIssue {
			// chip.can too: a chip nobody can open is no use
			return fmt.Errorf("field %s is signed into the barcode and must be printed (panel ymc or k)", e.Field)
		}
	case ElemLabel, ElemText:
		if strings.TrimSpace(e.Text) == "" {
			return errors.New("text missing")
		}
		if len(e.Text) > 500 {
			return errors.New("text longer than 500 bytes")
		}
	case ElemImage:
		if e.Src == "" || path.IsAbs(e.Src) || strings.Contains(e.Src, "..") || strings.ContainsAny(e.Src, `\:`) || !fs.ValidPath(e.Src) {
			return errors.New("src: want a relative file name inside the template directory")
		}
	case ElemBarcode:
		if e.Panel != PanelK {
			return errors.New("a barcode goes on the k panel only, black on white")
		}
		r := e.Box.Rect()
		if r.Dx() < MinBarcodeDots || r.Dy() < MinBarcodeDots {
			return fmt.Errorf("box %.2f x %.2f mm is below the barcode minimum of %.2f x %.2f mm (a version-13 QR at 4 dots a module plus quiet zone)",
				e.Box.W, e.Box.H, dotToMM(MinBarcodeDots), dotToMM(MinBarcodeDots))
		}
		switch e.EC {
		case "":
			e.EC = "Q"
		case "Q", "M":
		default:
			return fmt.Errorf("ec %q: want Q or M", e.EC)
		}
	}
	return nil
}

func dotToMM(d int) float64 { return float64(d) / card.DPI * 25.4 }
