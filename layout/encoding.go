package layout

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/layout/credential"
)

// FieldCAN is the field a chip template prints its card access number
// with: the number a verifier reads off the face to open the chip.
const FieldCAN = "chip.can"

// MagSpec says what a template writes on the magnetic stripe: each track a
// pattern of literal text and placeholders of the job's clear fields,
// {card.number}, {card.issue}, {card.issued} and {card.expires}, each
// optionally with |digits to keep only its digits ({card.expires|digits}
// is 20361124). Personal fields are refused: a stripe is read by any
// reader, with no key.
type MagSpec struct {
	Track1 string `json:"track1,omitempty"`
	Track2 string `json:"track2,omitempty"`
	Track3 string `json:"track3,omitempty"`
}

// ChipSpec says that the card's chip is encoded: with the signed
// credential sealed under the printed card access number (Credential, the
// one content supported), reached through the printer's contactless
// station or its contacts (Interface), and whether the chip's UID links
// the card to another system and is kept (LinkUID).
type ChipSpec struct {
	Credential bool   `json:"credential"`
	Interface  string `json:"interface,omitempty"` // contactless (default) or contact
	LinkUID    bool   `json:"link_uid,omitempty"`
}

// magFields are the clear fields a stripe may carry; personFields never.
var (
	magFields    = map[string]bool{"card.number": true, "card.issue": true, "card.issued": true, "card.expires": true}
	personFields = map[string]bool{
		"card.name": true, "card.dob": true, "card.gender": true, "card.photo": true,
		"name": true, "dob": true, "gender": true, "photo": true,
	}
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
)

const maxTrackPattern = 200

func (m *MagSpec) tracks() [3]string { return [3]string{m.Track1, m.Track2, m.Track3} }

// check validates each track pattern: known clear placeholders only.
func (m *MagSpec) check() error {
	for i, p := range m.tracks() {
		if len(p) > maxTrackPattern {
			return fmt.Errorf("mag track%d: pattern longer than %d bytes", i+1, maxTrackPattern)
		}
		rest := placeholder.ReplaceAllStringFunc(p, func(string) string { return "" })
		if strings.ContainsAny(rest, "{}") {
			return fmt.Errorf("mag track%d: unbalanced { or }", i+1)
		}
		for _, sm := range placeholder.FindAllStringSubmatch(p, -1) {
			name, mod, _ := strings.Cut(sm[1], "|")
			if personFields[name] {
				return fmt.Errorf("mag track%d: {%s} is personal data: a stripe carries only the clear fields card.number, card.issue, card.issued and card.expires", i+1, name)
			}
			if !magFields[name] {
				return fmt.Errorf("mag track%d: {%s} unknown: want card.number, card.issue, card.issued or card.expires", i+1, name)
			}
			if mod != "" && mod != "digits" {
				return fmt.Errorf("mag track%d: {%s|%s}: the only modifier is digits", i+1, name, mod)
			}
		}
	}
	return nil
}

// expand fills the track patterns from the job's clear fields.
func (m *MagSpec) expand(f Fields) [3]string {
	clear := map[string]string{
		"card.number": f.Number, "card.issue": strconv.Itoa(f.Issue),
		"card.issued": f.Issued, "card.expires": f.Expires,
	}
	var out [3]string
	for i, p := range m.tracks() {
		out[i] = placeholder.ReplaceAllStringFunc(p, func(s string) string {
			name, mod, _ := strings.Cut(s[1:len(s)-1], "|")
			v := clear[name]
			if mod == "digits" {
				v = strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return r
					}
					return -1
				}, v)
			}
			return v
		})
	}
	return out
}

// check validates the chip section and fills in the default interface.
func (c *ChipSpec) check() error {
	if !c.Credential {
		return errors.New("chip: credential must be true (the signed credential is the one content a chip carries)")
	}
	switch c.Interface {
	case "":
		c.Interface = card.Contactless
	case card.Contactless, card.Contact:
	default:
		return fmt.Errorf("chip: interface %q: want contactless or contact", c.Interface)
	}
	return nil
}

// encoding checks the template's mag and chip sections against what it
// prints: a chip template prints its access number, and only it does.
func (t *Template) checkEncoding(printed map[string]bool) error {
	if t.Mag != nil {
		if err := t.Mag.check(); err != nil {
			return fmt.Errorf("layout: template %s: %w", t.Name, err)
		}
	}
	switch {
	case t.Chip != nil:
		if err := t.Chip.check(); err != nil {
			return fmt.Errorf("layout: template %s: %w", t.Name, err)
		}
		if !printed[FieldCAN] {
			return fmt.Errorf("layout: template %s: chip: no element prints field %s, without which nobody can read the chip", t.Name, FieldCAN)
		}
	case printed[FieldCAN]:
		return fmt.Errorf("layout: template %s: field %s printed but the template has no chip section", t.Name, FieldCAN)
	}
	return nil
}

// newCAN returns a card access number from the options' source.
func (r *Renderer) newCAN() (string, error) {
	if r.opts.NewCAN != nil {
		can, err := r.opts.NewCAN()
		if err != nil {
			return "", err
		}
		return credential.ParseCAN(can)
	}
	return credential.NewCAN()
}

// encodeCard sets the card's stripe tracks and chip payload from the
// template: the tracks from the clear fields, the chip's NDEF message from
// the signed barcode text sealed under can.
func (t *Template) encodeCard(c *Card, f Fields, can string) error {
	if t.Mag != nil {
		c.Panels.Mag = t.Mag.expand(f)
	}
	if t.Chip == nil {
		return nil
	}
	msg, err := credential.Encode(c.Barcode, can)
	if err != nil {
		return fmt.Errorf("layout: chip credential: %w", err)
	}
	c.Panels.Chip = &card.ChipPayload{Interface: t.Chip.Interface, NDEF: msg, LinkUID: t.Chip.LinkUID}
	c.CAN = can
	return nil
}
