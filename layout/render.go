package layout

import (
	"context"
	"crypto"
	"embed"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/text/unicode/norm"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
	"github.com/cityid/printerd/layout/credential"
)

//go:embed templates
var builtin embed.FS

// DefaultTemplate is the name of the built-in template.
const DefaultTemplate = "municipal-id"

// Fields are the printed fields of one card. Name, DOB, Gender and Photo are
// personal data: they never appear in errors or logs.
type Fields struct {
	Number  string
	Issue   int
	Name    string
	DOB     string // YYYY-MM-DD
	Gender  string
	Issued  string // YYYY-MM-DD
	Expires string // YYYY-MM-DD
	Photo   []byte // JPEG or PNG file bytes
	// PhotoImage, if set, is the photo already decoded and checked by the
	// caller (the job contract decodes it to validate it); Photo is then
	// not decoded again.
	PhotoImage image.Image
}

// Options configure a Renderer. Zero values are documented per field.
type Options struct {
	// Templates is a directory of extra *.json templates (and the images
	// they name); "" means only the built-in template.
	Templates string
	// Issuer signs the barcode (ECDSA P-256 -> ES256, Ed25519 -> EdDSA). Required.
	Issuer crypto.Signer
	// IssuerCode is the iss claim; "" means "CITY".
	IssuerCode string
	// Trusted are the keys the self-check verifies against; nil means the
	// issuer's own public key.
	Trusted []keyfile.Public
	// Ribbon decides the panels; "" means ymcko.
	Ribbon card.Ribbon
	// NewCAN, if set, makes the card access number of each chip card
	// (tests); nil means credential.NewCAN (12 random digits).
	NewCAN func() (string, error)
}

// Renderer lays out cards from templates. It is safe for concurrent use.
type Renderer struct {
	opts      Options
	tf        *typefaces
	templates map[string]*Template
	// scaled holds each image element pre-scaled into its box, keyed by
	// template name + "/" + element id.
	scaled map[string]*image.RGBA
	// scalers caches photo scalers by size.
	scalers scalers
}

// New loads the fonts and templates and checks the options.
func New(opts Options) (*Renderer, error) {
	if opts.Issuer == nil {
		return nil, errors.New("layout: options: issuer key missing")
	}
	if opts.IssuerCode == "" {
		opts.IssuerCode = "CITY"
	}
	if opts.Ribbon == "" {
		opts.Ribbon = card.YMCKO
	}
	if err := opts.Ribbon.Valid(); err != nil {
		return nil, fmt.Errorf("layout: options: %w", err)
	}
	kid, err := keyfile.KIDHex(opts.Issuer.Public())
	if err != nil {
		return nil, fmt.Errorf("layout: options: issuer key: %w", err)
	}
	if opts.Trusted == nil {
		opts.Trusted = []keyfile.Public{{KID: kid, Key: opts.Issuer.Public(), Path: "issuer"}}
	} else if !slices.ContainsFunc(opts.Trusted, func(p keyfile.Public) bool { return p.KID == kid }) {
		return nil, fmt.Errorf("layout: options: the issuer key (kid %s) is not among the trusted keys, so every card would fail the self-check", kid)
	}
	tf, err := loadTypefaces()
	if err != nil {
		return nil, err
	}
	r := &Renderer{opts: opts, tf: tf, templates: map[string]*Template{}, scaled: map[string]*image.RGBA{}}
	sub, err := fs.Sub(builtin, "templates")
	if err != nil {
		return nil, fmt.Errorf("layout: built-in templates: %w", err)
	}
	if err := r.loadDir(sub, "built-in"); err != nil {
		return nil, err
	}
	if opts.Templates != "" {
		if st, err := os.Stat(opts.Templates); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("layout: templates directory %s: not a readable directory", opts.Templates)
		}
		if err := r.loadDir(os.DirFS(opts.Templates), opts.Templates); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Renderer) loadDir(fsys fs.FS, where string) error {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return fmt.Errorf("layout: templates %s: %w", where, err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return fmt.Errorf("layout: templates %s: %w", where, err)
		}
		t, err := ParseTemplate(b, func(name string) ([]byte, error) { return fs.ReadFile(fsys, name) })
		if err != nil {
			return fmt.Errorf("%w (in %s/%s)", err, where, n)
		}
		if _, dup := r.templates[t.Name]; dup {
			return fmt.Errorf("layout: template %s (in %s/%s): a template of that name is already loaded", t.Name, where, n)
		}
		if err := r.checkStatic(t); err != nil {
			return fmt.Errorf("%w (in %s/%s)", err, where, n)
		}
		r.templates[t.Name] = t
		for _, f := range []*Face{&t.Front, &t.Back} {
			for i := range f.Elements {
				e := &f.Elements[i]
				if e.Type != ElemImage {
					continue
				}
				box := e.Box.Rect()
				dst := image.NewRGBA(image.Rect(0, 0, box.Dx(), box.Dy()))
				containBox(dst, dst.Bounds(), t.images[e.Src])
				r.scaled[t.Name+"/"+e.ID] = dst
			}
		}
	}
	return nil
}

// checkStatic lays out every label and static text of t once, so that a
// template whose fixed text cannot be drawn or does not fit is refused when
// it is loaded, not when a card is due.
func (r *Renderer) checkStatic(t *Template) error {
	sh := r.newShapers()
	for _, side := range []struct {
		name string
		f    *Face
	}{{"front", &t.Front}, {"back", &t.Back}} {
		for i := range side.f.Elements {
			e := &side.f.Elements[i]
			if e.Type != ElemLabel && e.Type != ElemText {
				continue
			}
			s := sh.regular
			if e.Bold {
				s = sh.bold
			}
			if _, err := s.fit(e.Text, e.Box.Rect(), e.Size, e.MinSize, e.Lines, e.Align); err != nil {
				return fmt.Errorf("layout: template %s: %s element %d (%q): text %w", t.Name, side.name, i, e.ID, err)
			}
		}
	}
	return nil
}

// Templates lists the names of the loaded templates, sorted.
func (r *Renderer) Templates() []string {
	out := make([]string, 0, len(r.templates))
	for n := range r.templates {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Template returns a loaded template by name, or nil. It is shared: do not
// modify it.
func (r *Renderer) Template(name string) *Template { return r.templates[name] }

// Ribbon reports the ribbon the renderer makes panels for.
func (r *Renderer) Ribbon() card.Ribbon { return r.opts.Ribbon }

// Card is a rendered, signed and self-checked card.
type Card struct {
	// Front and Back are previews: a composite of what would be printed.
	Front, Back *image.RGBA
	// Panels are the planes a driver prints. Panels.Label is left empty for
	// the caller (a job id).
	Panels card.Card
	// Barcode is the signed barcode text (Base45) printed on the card.
	Barcode string
	// CAN is the card access number printed on a chip card's face, which
	// opens its chip's credential; "" for a card without a chip. Like the
	// fields it is printed, never logged.
	CAN string

	sides    [2]*sideDraw // for the PDF proof
	kid      string       // key that verified the barcode in the self-check
	template string
}

// FieldError is a render error that concerns one printed field or template
// element. It names the field or element and the rule, never the value.
type FieldError struct {
	Field string // field name (e.g. "name") or "element <id>"
	Rule  string
	Err   error // cause, if any
}

// Error implements error: "layout: <field>: <rule>[: cause]".
func (e *FieldError) Error() string {
	s := "layout: " + e.Field + ": " + e.Rule
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// ErrSelfCheck is wrapped by Render when the rendered card's barcode does
// not scan, verify or match the fields.
var ErrSelfCheck = errors.New("layout: self-check failed")

// Render lays out a card from the template and fields, signs the barcode,
// makes the panels for the renderer's ribbon and checks the barcode back
// from the rendered K panel. A card that fails the check is not returned.
func (r *Renderer) Render(ctx context.Context, template string, f Fields) (*Card, error) {
	return r.RenderFor(ctx, "", template, f)
}

// RenderFor is Render for the ribbon a printer has; "" means the
// renderer's (Options.Ribbon). A template that may not be printed on that
// ribbon (Template.Ribbons) is an error wrapping card.ErrRibbon.
func (r *Renderer) RenderFor(ctx context.Context, ribbon card.Ribbon, template string, f Fields) (*Card, error) {
	if ribbon == "" {
		ribbon = r.opts.Ribbon
	}
	if err := ribbon.Valid(); err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("layout: render: %w", err)
	}
	if template == "" {
		template = DefaultTemplate
	}
	t := r.templates[template]
	if t == nil {
		return nil, fmt.Errorf("layout: template %q unknown: have %s", template, strings.Join(r.Templates(), ", "))
	}
	if err := t.PrintableOn(ribbon); err != nil {
		return nil, err
	}
	f.Name = norm.NFC.String(f.Name)
	f.Gender = norm.NFC.String(f.Gender)
	values, err := fieldValues(f)
	if err != nil {
		return nil, err
	}
	var can string
	if t.Chip != nil {
		if can, err = r.newCAN(); err != nil {
			return nil, fmt.Errorf("layout: chip access number: %w", err)
		}
		values[FieldCAN] = credential.FormatCAN(can)
	}
	claims := barcode.Claims{
		Issuer: r.opts.IssuerCode, Issued: f.Issued, Expires: f.Expires,
		Number: f.Number, Issue: f.Issue, Name: f.Name, DOB: f.DOB, Gender: f.Gender,
	}
	text, err := barcode.Sign(claims, r.opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("layout: sign barcode: %w", err)
	}
	var photo image.Image
	if t.hasPhoto() {
		photo, err = f.PhotoImage, nil
		if photo == nil {
			photo, err = decodeImage(f.Photo, MaxPhotoBytes, MaxPhotoSide)
		} else if b := photo.Bounds(); b.Dx() < 1 || b.Dy() < 1 || b.Dx() > MaxPhotoSide || b.Dy() > MaxPhotoSide {
			err = fmt.Errorf("size %dx%d: not within 1x1 and %dx%d", b.Dx(), b.Dy(), MaxPhotoSide, MaxPhotoSide)
		}
		if err != nil {
			return nil, &FieldError{Field: "photo", Rule: "must be a JPEG or PNG of at most 4096x4096 pixels", Err: err}
		}
	}
	c := &Card{Barcode: text, Panels: card.Card{Ribbon: ribbon}}
	sh := r.newShapers()
	var bcSide *sideDraw
	for i, face := range []*Face{&t.Front, &t.Back} {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("layout: render: %w", err)
		}
		sd, err := r.drawSide(t, face, values, photo, text, sh)
		if err != nil {
			return nil, err
		}
		c.sides[i] = sd
		if sd.barcode != nil {
			bcSide = sd
		}
	}
	front := c.sides[0].panels(ribbon.SidePanels(false))
	back := c.sides[1].panels(ribbon.SidePanels(true))
	c.Panels.Front, c.Panels.Back = front, &back
	c.Front = c.sides[0].preview(front)
	c.Back = c.sides[1].preview(back)

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("layout: render: %w", err)
	}
	kid, err := r.selfCheck(bcSide, claims)
	if err != nil {
		return nil, err
	}
	c.kid, c.template = kid, t.Name
	if err := t.encodeCard(c, f, can); err != nil {
		return nil, err
	}
	return c, nil
}

// fieldValues returns the printed text of each field, refusing empty ones.
func fieldValues(f Fields) (map[string]string, error) {
	v := map[string]string{
		FieldName: f.Name, FieldDOB: f.DOB, FieldGender: f.Gender, FieldNumber: f.Number,
		FieldIssued: f.Issued, FieldExpires: f.Expires, FieldIssue: strconv.Itoa(f.Issue),
	}
	for _, k := range []string{FieldNumber, FieldName, FieldDOB, FieldGender, FieldIssued, FieldExpires} {
		if strings.TrimSpace(v[k]) == "" {
			return nil, &FieldError{Field: k, Rule: "is empty"}
		}
	}
	if f.Issue < 1 {
		return nil, &FieldError{Field: FieldIssue, Rule: "must be 1 or more"}
	}
	return v, nil
}

func (t *Template) hasPhoto() bool {
	for _, f := range []*Face{&t.Front, &t.Back} {
		for _, e := range f.Elements {
			if e.Type == ElemPhoto && e.Panel != PanelNone {
				return true
			}
		}
	}
	return false
}

// shapers holds per-render text shapers (sfnt buffers are not shareable).
type shapers struct{ regular, bold *shaper }

func (r *Renderer) newShapers() *shapers {
	return &shapers{
		regular: &shaper{chain: []*typeface{r.tf.regular}},
		bold:    &shaper{chain: []*typeface{r.tf.bold, r.tf.regular}},
	}
}

// whiteCard is the pixels of a blank (white, opaque) RGBA card.
var whiteCard = func() []uint8 {
	p := make([]uint8, 4*card.Width*card.Height)
	for i := range p {
		p[i] = 0xff
	}
	return p
}()

// sideDraw is one rendered side: the colour layer, the K plane, the
// overlay-free areas and what was placed where (for the PDF proof).
type sideDraw struct {
	colour  *image.RGBA // white where nothing colour is printed
	k       *image.Gray // 0 or 255
	oFree   []image.Rectangle
	dirty   []image.Rectangle // where the colour layer may not be white
	photos  []image.Rectangle // photos in the colour layer (also not white)
	items   []item
	barcode *image.Rectangle // where the QR is, if on this side
}

// item is one placed element, as the PDF proof redraws it.
type item struct {
	e     *Element
	r     image.Rectangle
	text  *textBlock
	img   image.Image // photo, image or QR as placed (r's size)
	field string      // for text: which field, "" for static text
}

func (r *Renderer) drawSide(t *Template, face *Face, values map[string]string, photo image.Image, bc string, sh *shapers) (*sideDraw, error) {
	full := image.Rect(0, 0, card.Width, card.Height)
	sd := &sideDraw{colour: image.NewRGBA(full), k: card.NewPlane()}
	copy(sd.colour.Pix, whiteCard)
	for _, a := range face.OverlayFree {
		sd.oFree = append(sd.oFree, a.Box.Rect())
	}
	for i := range face.Elements {
		e := &face.Elements[i]
		if e.NoOverlay {
			sd.oFree = append(sd.oFree, e.Box.Rect())
		}
		if e.Panel == PanelNone {
			continue
		}
		box := e.Box.Rect()
		it := item{e: e, r: box}
		switch e.Type {
		case ElemBackground, ElemRect:
			if e.Panel == PanelK {
				fillGray(sd.k, box, 255)
			} else {
				draw.Draw(sd.colour, box, image.NewUniform(e.rgb), image.Point{}, draw.Src)
				sd.dirty = append(sd.dirty, box)
			}
		case ElemPhoto:
			img := image.NewRGBA(box)
			fillBox(img, box, photo, &r.scalers)
			it.img = img
			if e.Panel == PanelK {
				ditherInto(sd.k, img, box, false)
			} else {
				draw.Draw(sd.colour, box, img, box.Min, draw.Src)
				sd.photos = append(sd.photos, box)
			}
		case ElemImage:
			src := r.scaled[t.Name+"/"+e.ID]
			it.img = src
			if e.Panel == PanelK {
				g := image.NewRGBA(box)
				draw.Draw(g, box, image.White, image.Point{}, draw.Src)
				draw.Draw(g, box, src, image.Point{}, draw.Over)
				ditherInto(sd.k, g, box, true)
			} else {
				draw.Draw(sd.colour, box, src, image.Point{}, draw.Over)
				sd.dirty = append(sd.dirty, box)
			}
		case ElemField, ElemLabel, ElemText:
			s := sh.regular
			if e.Bold {
				s = sh.bold
			}
			txt, name := e.Text, "element "+e.ID
			if e.Type == ElemField {
				txt, name = values[e.Field], e.Field
				it.field = e.Field
			}
			tb, err := s.fit(txt, box, e.Size, e.MinSize, e.Lines, e.Align)
			if err != nil {
				return nil, &FieldError{Field: name, Rule: err.Error()}
			}
			it.text = tb
			// rasterise only around the ink (with a dot for anti-aliasing):
			// boxes are often much larger than their text
			area := tb.ink.Inset(-1).Intersect(box)
			if area.Empty() {
				break
			}
			mask, err := tb.raster(area)
			if err != nil {
				return nil, &FieldError{Field: name, Rule: "cannot draw", Err: err}
			}
			if e.Panel == PanelK {
				thresholdInto(sd.k, mask, area)
			} else {
				draw.DrawMask(sd.colour, area, image.NewUniform(e.rgb), image.Point{}, mask, area.Min, draw.Over)
				sd.dirty = append(sd.dirty, area)
			}
		case ElemBarcode:
			qr, err := qrFor(bc, e, box)
			if err != nil {
				return nil, err
			}
			qb := qr.Bounds()
			at := image.Rect(0, 0, qb.Dx(), qb.Dy()).Add(image.Pt(box.Min.X+(box.Dx()-qb.Dx())/2, box.Min.Y+(box.Dy()-qb.Dy())/2))
			// black on white: no colour under the code, K exactly the modules
			draw.Draw(sd.colour, at, image.White, image.Point{}, draw.Src)
			for y := 0; y < qb.Dy(); y++ {
				src := qr.Pix[qr.PixOffset(qb.Min.X, qb.Min.Y+y):]
				dst := sd.k.Pix[sd.k.PixOffset(at.Min.X, at.Min.Y+y):]
				for x := 0; x < qb.Dx(); x++ {
					if src[x] < 128 {
						dst[x] = 255
					} else {
						dst[x] = 0
					}
				}
			}
			it.r, it.img = at, qr
			sd.barcode = &at
		}
		sd.items = append(sd.items, it)
	}
	return sd, nil
}

// qrFor draws the barcode at the element's preferred error correction,
// falling back from Q to M when the box is too small.
func qrFor(text string, e *Element, box image.Rectangle) (*image.Gray, error) {
	levels := []barcode.ECLevel{barcode.ECQ, barcode.ECM}
	if e.EC == "M" {
		levels = levels[1:]
	}
	var need image.Rectangle
	for _, l := range levels {
		qr, err := barcode.QR(text, l, 4)
		if err != nil {
			return nil, &FieldError{Field: "element " + e.ID, Rule: "cannot draw the signed barcode", Err: err}
		}
		if qr.Bounds().Dx() <= box.Dx() && qr.Bounds().Dy() <= box.Dy() {
			return qr, nil
		}
		need = qr.Bounds()
	}
	return nil, &FieldError{Field: "element " + e.ID,
		Rule: fmt.Sprintf("box is %dx%d dots but the signed barcode needs %dx%d", box.Dx(), box.Dy(), need.Dx(), need.Dy())}
}
