package card

import (
	"errors"
	"fmt"
	"image"
)

// Card geometry at the printers' native 300 dpi, in design (landscape) orientation.
// Drivers rotate to print order (648 x 1016) themselves.
const (
	Width  = 1016 // dots across an ID-1 card, landscape
	Height = 648  // dots down an ID-1 card, landscape
	DPI    = 300
)

// Ribbon names a ribbon type by its panels, as the Evolis `Pr` command does.
type Ribbon string

// Ribbon types printerd supports.
const (
	YMCKO  Ribbon = "ymcko"
	YMCKOK Ribbon = "ymckok"
	KO     Ribbon = "ko"
	K      Ribbon = "k"
)

// Colour reports whether the ribbon has Y, M and C panels.
func (r Ribbon) Colour() bool { return r == YMCKO || r == YMCKOK }

// Overlay reports whether the ribbon has an O (overlay) panel.
func (r Ribbon) Overlay() bool { return r == YMCKO || r == YMCKOK || r == KO }

// Panels says which ribbon panels one side of a card is printed with. K
// (resin black) is printed on every side of every ribbon.
type Panels struct {
	Colour  bool // Y, M and C
	Overlay bool // O
}

// SidePanels is the rule of which panels each side of a card gets on
// ribbon r: the front gets every panel the ribbon has; so does the back,
// except on YMCKOK, whose panel set is Y, M, C, K, O for the front and
// then a second K for the back, so the back is black only and unvarnished.
// Layout makes planes and drivers send panels by this one rule.
func (r Ribbon) SidePanels(back bool) Panels {
	if back && r == YMCKOK {
		return Panels{}
	}
	return Panels{Colour: r.Colour(), Overlay: r.Overlay()}
}

// ErrRibbon is wrapped by errors that say a card cannot be printed on the
// ribbon a printer has (a template made for colour on a black ribbon):
// loading another ribbon fixes it, so the job waits for a clerk instead of
// being refused for good.
var ErrRibbon = errors.New("card: not printable on this ribbon")

// Valid reports an error naming the ribbon if it is not one printerd supports.
func (r Ribbon) Valid() error {
	switch r {
	case YMCKO, YMCKOK, KO, K:
		return nil
	}
	return fmt.Errorf("card: ribbon %q: want ymcko, ymckok, ko or k", string(r))
}

// Side is one printed side of a card. Every plane is Width x Height in design
// orientation. A pixel value is the amount of that panel to transfer at that
// dot: 0 none, 255 full. Y, M and C carry continuous densities; K and O are
// 1-bit panels and hold only 0 or 255. A nil plane is not printed.
type Side struct {
	Y, M, C *image.Gray
	K       *image.Gray // resin black: text and barcodes
	O       *image.Gray // overlay varnish
}

// Card is what a driver prints: a front, an optional back, optional magnetic
// tracks, and a label used only to name the card in simulator output and
// diagnostics (a job id; never personal data).
type Card struct {
	Label  string
	Ribbon Ribbon
	Front  Side
	Back   *Side
	// Mag holds ISO 7811 tracks 1-3; an empty string leaves the track unwritten.
	Mag [3]string
	// Chip, if set, is written onto the card's chip at the printer's
	// encoder station before the card is printed.
	Chip *ChipPayload
}

// Chip interfaces: where the printer moves the card to reach its chip.
const (
	Contactless = "contactless" // the contactless station (Evolis Sic)
	Contact     = "contact"     // the smart-card contacts (Evolis Sis)
)

// ChipPayload is what goes onto a card's chip: an NDEF message (the
// credential sealed under the card access number printed on the face,
// never clear personal data) and whether the chip's UID is to be kept.
type ChipPayload struct {
	// Interface is Contactless or Contact.
	Interface string
	// NDEF is the NDEF message written as the chip's NDEF file.
	NDEF []byte
	// LinkUID says the card is linked to another system (transit,
	// library) by its chip's UID: only then does the driver report it.
	LinkUID bool
	// UID is set by the driver after a successful encoding when LinkUID
	// is true; otherwise it stays nil. It is the one output field of a
	// card: the payload is shared by pointer with the caller of Print.
	UID []byte
}

// NewPlane returns a blank (all zero) plane of card size.
func NewPlane() *image.Gray { return image.NewGray(image.Rect(0, 0, Width, Height)) }
