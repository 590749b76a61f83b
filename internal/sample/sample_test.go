package sample

import (
	"bytes"
	"encoding/base64"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestCardFields(t *testing.T) {
	day := time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)
	numbers := map[string]bool{}
	for i := range 2 * len(People) {
		f := CardFields(i, day)
		p := People[i%len(People)]
		if f.Name != p.Name || f.DOB != p.DOB || f.Gender != p.Gender || !bytes.Equal(f.Photo, Photo(i)) {
			t.Errorf("card %d does not hold person %d and photo %d", i, i%len(People), i)
		}
		if f.Issue != 1 || f.Issued != "2026-01-15" || f.Expires != "2031-01-15" {
			t.Errorf("card %d: issue %d issued %s expires %s; want 1, 2026-01-15, 2031-01-15", i, f.Issue, f.Issued, f.Expires)
		}
		if numbers[f.Number] {
			t.Errorf("card %d: card number %s twice", i, f.Number)
		}
		numbers[f.Number] = true
	}
	if n := CardFields(0, day).Number; n != "SAMPLE-000001" {
		t.Errorf("card 0 is number %s, want SAMPLE-000001", n)
	}
}

func TestPeopleCoverage(t *testing.T) {
	var long, combining bool
	genders := map[string]bool{}
	for _, p := range People {
		if p.Name != norm.NFC.String(p.Name) {
			t.Errorf("%s: name is not NFC; Body would differ from what Parse returns", p.Why)
		}
		n := utf8.RuneCountInString(p.Name)
		if n > 80 {
			t.Errorf("%s: name has %d characters, over 80", p.Why, n)
		}
		if n >= 70 {
			long = true
		}
		for _, r := range norm.NFC.String(p.Name) {
			if unicode.Is(unicode.Mn, r) {
				combining = true
			}
		}
		genders[p.Gender] = true
	}
	if !long {
		t.Error("no sample name of 70-80 characters")
	}
	if !combining {
		t.Error("no sample name that keeps combining marks under NFC")
	}
	for _, g := range []string{"F", "M", "X", "Non-binary", "Two-Spirit"} {
		if !genders[g] {
			t.Errorf("no sample person with gender %q", g)
		}
	}
}

func TestPhotos(t *testing.T) {
	for i := range 12 {
		b := Photo(i)
		img, format, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("photo %d: %v", i, err)
		}
		want := "jpeg"
		if PhotoIsPNG(i) {
			want = "png"
		}
		if format != want {
			t.Errorf("photo %d is %s, want %s", i, format, want)
		}
		if s := img.Bounds().Size(); s.X != 300 || s.Y != 400 {
			t.Errorf("photo %d is %v, want 300x400", i, s)
		}
		if n := base64.StdEncoding.EncodedLen(len(b)); n > 128<<10 {
			t.Errorf("photo %d is %d bytes base64, want well under 512 KiB", i, n)
		}
		// Not a flat fill: the cartoon has a face on a background.
		if img.At(150, 10) == img.At(150, 180) {
			t.Errorf("photo %d: background and face have the same colour", i)
		}
	}
	if !bytes.Equal(Photo(3), Photo(3)) {
		t.Error("Photo is not deterministic")
	}
	p := Photo(0)
	p[0] = 0
	if Photo(0)[0] == 0 {
		t.Error("Photo returned the cached slice; callers can corrupt it")
	}
}

func TestHugeHeaders(t *testing.T) {
	for name, b := range map[string][]byte{
		"png":  HugePNGHeader(20000, 20000),
		"jpeg": HugeJPEGHeader(20000, 20000),
	} {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: DecodeConfig: %v", name, err)
		}
		if format != name || cfg.Width != 20000 || cfg.Height != 20000 {
			t.Errorf("%s: header says %s %dx%d", name, format, cfg.Width, cfg.Height)
		}
		if _, _, err := image.Decode(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: full decode of a header-only image succeeded", name)
		}
	}
}
