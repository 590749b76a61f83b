package layout

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
	"github.com/cityid/printerd/layout/credential"
)

func chipJSON(t testing.TB) string {
	t.Helper()
	b, err := builtin.ReadFile("templates/municipal-id-chip.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEncodingSectionsRefused: a stripe never carries a person's field,
// and a chip section is only accepted with its access number printed.
func TestEncodingSectionsRefused(t *testing.T) {
	base := chipJSON(t)
	const mag = `"mag": {"track1": "{card.number}", "track2": "{card.issue}={card.expires|digits}"}`
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string
	}{
		{"name on the stripe", mag, `"mag": {"track1": "{card.number} {card.name}"}`, []string{"mag track1", "{card.name} is personal data"}},
		{"dob on the stripe", mag, `"mag": {"track2": "{card.dob|digits}"}`, []string{"mag track2", "{card.dob} is personal data"}},
		{"gender on the stripe", mag, `"mag": {"track3": "{gender}"}`, []string{"mag track3", "{gender} is personal data"}},
		{"photo on the stripe", mag, `"mag": {"track1": "{card.photo}"}`, []string{"{card.photo} is personal data"}},
		{"unknown placeholder", mag, `"mag": {"track1": "{card.colour}"}`, []string{"{card.colour} unknown"}},
		{"unknown modifier", mag, `"mag": {"track1": "{card.number|upper}"}`, []string{"only modifier is digits"}},
		{"unbalanced", mag, `"mag": {"track1": "{card.number"}`, []string{"unbalanced"}},
		{"unknown mag key", mag, `"mag": {"track4": "1"}`, []string{`unknown field "track4"`}},
		{"chip without credential", `"credential": true`, `"credential": false`, []string{"chip: credential must be true"}},
		{"bad interface", `"interface": "contactless"`, `"interface": "bluetooth"`, []string{`interface "bluetooth"`}},
		{"can not printed", `"field": "chip.can"`, `"field": "issue"`, []string{"no element prints field chip.can"}},
		{"can without chip", `,
  "chip": {"credential": true, "interface": "contactless", "link_uid": false}`, ``, []string{"chip.can printed but the template has no chip section"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(base, tc.old, tc.new, 1)
			if data == base {
				t.Fatalf("replacement %q not found", tc.old)
			}
			_, err := ParseTemplate([]byte(data), openBuiltin)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestChipTemplateRender: the chip template's card carries the stripe's
// clear tracks, and a chip payload that opens with the printed access
// number to exactly the barcode's signed credential; the default template
// carries neither.
func TestChipTemplateRender(t *testing.T) {
	key := newKey(t, keyfile.ES256)
	const can = "123456789012"
	r := newRenderer(t, Options{Issuer: key, NewCAN: func() (string, error) { return can, nil }})
	f := sampleFields(t, 1)
	c, err := r.Render(context.Background(), "municipal-id-chip", f)
	if err != nil {
		t.Fatal(err)
	}
	digits := strings.ReplaceAll(f.Expires, "-", "")
	if want := [3]string{f.Number, "1=" + digits, ""}; c.Panels.Mag != want {
		t.Errorf("mag %q, want %q", c.Panels.Mag, want)
	}
	if c.CAN != can {
		t.Errorf("CAN %q, want %q", c.CAN, can)
	}
	ch := c.Panels.Chip
	if ch == nil || ch.Interface != card.Contactless || ch.LinkUID || len(ch.NDEF) == 0 {
		t.Fatalf("chip payload %+v", ch)
	}
	got, err := credential.Decode(ch.NDEF, can)
	if err != nil {
		t.Fatal(err)
	}
	if got != c.Barcode {
		t.Error("the chip's credential differs from the barcode's")
	}
	if _, _, err := barcode.Verify(got, trusted(t, key)); err != nil {
		t.Errorf("chip credential does not verify: %v", err)
	}
	if _, err := credential.Decode(ch.NDEF, "999999999999"); err == nil {
		t.Error("another access number opened the chip")
	}
	if bytes.Contains(ch.NDEF, []byte(f.Name)) || bytes.Contains(ch.NDEF, []byte(f.DOB)) {
		t.Error("the chip payload holds personal data in clear")
	}
	// the access number is printed on the back, in groups of four
	e := r.Template("municipal-id-chip").element("can")
	if n := count(c.Panels.Back.K, e.Box.Rect(), func(v uint8) bool { return v != 0 }); n == 0 {
		t.Error("nothing printed in the access number's box")
	}

	plain, err := r.Render(context.Background(), "", f)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Panels.Chip != nil || plain.Panels.Mag != [3]string{} || plain.CAN != "" {
		t.Errorf("the default template encodes: mag %q chip %v", plain.Panels.Mag, plain.Panels.Chip != nil)
	}
}
