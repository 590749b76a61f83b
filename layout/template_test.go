package layout

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
)

func builtinJSON(t testing.TB) string {
	t.Helper()
	b, err := builtin.ReadFile("templates/municipal-id.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func openBuiltin(name string) ([]byte, error) { return builtin.ReadFile("templates/" + name) }

func TestParseTemplateRefuses(t *testing.T) {
	base := builtinJSON(t)
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string // all in the error
	}{
		{"unknown field", `"field": "gender"`, `"field": "sex"`, []string{`element 11 ("gender")`, `field "sex" unknown`}},
		{"missing field", `"field": "dob", `, ``, []string{`("dob")`, "field missing"}},
		{"signed field not printed", `"field": "gender"`, `"field": "issue"`, []string{"no element prints field gender"}},
		{"over the right edge", `"x": 51, "y": 9.2, "w": 32`, `"x": 60, "y": 9.2, "w": 32`, []string{`("qr")`, "overlaps the card edge"}},
		{"over the top edge", `"id": "photo", "type": "photo", "box": {"x": 3.5, "y": 14.5`, `"id": "photo", "type": "photo", "box": {"x": 3.5, "y": -1`, []string{`("photo")`, "card edge"}},
		{"barcode too small", `"w": 32, "h": 32`, `"w": 25, "h": 25`, []string{`("qr")`, "below the barcode minimum of 26.08 x 26.08 mm"}},
		{"barcode through colour", `"id": "qr", "type": "barcode",`, `"id": "qr", "type": "barcode", "panel": "ymc",`, []string{`("qr")`, "k panel only"}},
		{"unknown json key", `"size": 12, "bold": true`, `"size": 12, "blod": true`, []string{`unknown field "blod"`}},
		{"unknown type", `"type": "photo"`, `"type": "hologram"`, []string{`("photo")`, `type "hologram" unknown`}},
		{"duplicate id", `"id": "stripe"`, `"id": "band"`, []string{`("band")`, "id used twice"}},
		{"bad colour", `"#1f4e8c"`, `"blue"`, []string{`colour "blue"`}},
		{"image outside dir", `"src": "crest.png"`, `"src": "../crest.png"`, []string{`("crest")`, "relative file name"}},
		{"image missing", `"src": "crest.png"`, `"src": "nope.png"`, []string{`("crest")`, `image "nope.png"`}},
		{"min size above size", `"size": 11, "min_size": 4`, `"size": 11, "min_size": 12`, []string{`("name")`, "min_size"}},
		{"four lines", `"lines": 3, "bold": true`, `"lines": 4, "bold": true`, []string{`("name")`, "lines"}},
		{"no barcode", `"type": "barcode", "box"`, `"type": "rect", "colour": "#ffffff", "box"`, []string{"0 barcode elements"}},
		{"bad name", `"name": "municipal-id"`, `"name": "Municipal ID!"`, []string{"name must be"}},
		{"trailing data", "", "", []string{"trailing data"}},
		{"not json", "", "", []string{"layout: template:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(base, tc.old, tc.new, 1)
			switch tc.name {
			case "trailing data":
				data += "{}"
			case "not json":
				data = "{"
			default:
				if data == base {
					t.Fatalf("test edit %q not found in the built-in template", tc.old)
				}
			}
			_, err := ParseTemplate([]byte(data), openBuiltin)
			if err == nil {
				t.Fatal("template accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestNewRefusesBadTemplateDir(t *testing.T) {
	base := builtinJSON(t)
	for _, tc := range []struct {
		name, json, want string
	}{
		{"static text too long", strings.Replace(strings.Replace(base, `"name": "municipal-id"`, `"name": "long-text"`, 1),
			`"text": "Holder's signature"`, `"text": "`+strings.Repeat("Holder's signature ", 10)+`"`, 1),
			`back element 7 ("label-signature"): text does not fit`},
		{"static text undrawable", strings.Replace(strings.Replace(base, `"name": "municipal-id"`, `"name": "han-text"`, 1),
			`"text": "Holder's signature"`, `"text": "署名"`, 1),
			`("label-signature"): text contains a character the card fonts cannot draw`},
		{"same name as built-in", base, "already loaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			crest, _ := openBuiltin("crest.png")
			os.WriteFile(filepath.Join(dir, "crest.png"), crest, 0o644)
			if err := os.WriteFile(filepath.Join(dir, "t.json"), []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := New(Options{Issuer: newKey(t, keyfile.ES256), Templates: dir})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("missing dir", func(t *testing.T) {
		_, err := New(Options{Issuer: newKey(t, keyfile.ES256), Templates: filepath.Join(t.TempDir(), "nope")})
		if err == nil || !strings.Contains(err.Error(), "not a readable directory") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no issuer", func(t *testing.T) {
		if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "issuer key missing") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad ribbon", func(t *testing.T) {
		if _, err := New(Options{Issuer: newKey(t, keyfile.ES256), Ribbon: "cmy"}); err == nil || !strings.Contains(err.Error(), "ribbon") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestTemplatesDir(t *testing.T) {
	key := newKey(t, keyfile.ES256)
	r := newRenderer(t, Options{Issuer: key, Templates: "../testdata/templates"})
	if got := strings.Join(r.Templates(), ","); got != "compact-qr-front,municipal-id,municipal-id-chip" {
		t.Fatalf("templates %s", got)
	}
	f := sampleFields(t, 1)
	c, err := r.Render(context.Background(), "compact-qr-front", f)
	if err != nil {
		t.Fatal(err)
	}
	checkBarcode(t, c.Panels.Front.K, trusted(t, key), f) // the code is on the front here
	// the title is colour text: on Y/M/C, not on K
	title := r.Template("compact-qr-front").element("title").Box.Rect()
	if n := count(c.Panels.Front.K, title, func(v uint8) bool { return v != 0 }); n != 0 {
		t.Fatalf("colour title put %d dots on K", n)
	}
	if n := count(c.Panels.Front.C, title, func(v uint8) bool { return v > 128 }); n < 500 {
		t.Fatalf("colour title has %d strong cyan dots", n)
	}
	chip := r.Template("compact-qr-front").element("chip").Box.Rect()
	if n := count(c.Panels.Back.O, chip, func(v uint8) bool { return v != 0 }); n != 0 {
		t.Fatalf("overlay on %d dots of the chip area", n)
	}
	if os.Getenv("LAYOUT_OUT") != "" {
		c.WritePNGs(filepath.Join(os.Getenv("LAYOUT_OUT"), "compact"))
	}
}

func FuzzParseTemplate(f *testing.F) {
	base := builtinJSON(f)
	f.Add([]byte(base))
	compact, err := os.ReadFile("../testdata/templates/compact-qr-front.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(compact)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name":"x","front":{"elements":[{"id":"a","type":"barcode","box":{"x":0,"y":0,"w":30,"h":30}}]},"back":{"elements":[]}}`))
	f.Add([]byte(`{"name":"x","front":{"elements":[{"id":"a","type":"field","field":"name","size":1e308,"box":{"x":1e308,"y":0,"w":1,"h":1}}]}}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := ParseTemplate(data, openBuiltin)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "layout: template") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		// an accepted template keeps every element on the card
		for _, face := range []*Face{&tpl.Front, &tpl.Back} {
			for _, e := range face.Elements {
				b := *e.Box
				if b.X < 0 || b.Y < 0 || b.X+b.W > CardWidthMM+1e-6 || b.Y+b.H > CardHeightMM+1e-6 || b.W <= 0 || b.H <= 0 {
					t.Fatalf("accepted element %s off the card: %+v", e.ID, b)
				}
				if e.Type == ElemBarcode && (e.Box.Rect().Dx() < MinBarcodeDots || e.Box.Rect().Dy() < MinBarcodeDots) {
					t.Fatalf("accepted a barcode below the minimum")
				}
			}
		}
	})
}

func TestBoxRectBleeds(t *testing.T) {
	for _, tc := range []struct {
		box  Box
		want image.Rectangle
	}{
		{Box{0, 0, CardWidthMM, CardHeightMM}, image.Rect(0, 0, 1016, 648)}, // whole card: whole plane
		{Box{0, 0, 10, 10}, image.Rect(0, 0, 121, 123)},                     // touches top-left: bleeds there
		{Box{10, 10, 10, 10}, image.Rect(121, 123, 239, 241)},               // inside: card centred in the plane
		{Box{75.6, 43.98, 10, 10}, image.Rect(895, 525, 1016, 648)},         // touches bottom-right
		{Box{51, 9.2, 32, 32}, image.Rect(605, 114, 983, 492)},              // the built-in barcode box
	} {
		if got := tc.box.Rect(); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.box, got, tc.want)
		}
	}
}
