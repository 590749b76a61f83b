package layout

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/sample"
	"github.com/cityid/printerd/layout/barcode"
)

// claimsOf is what the barcode must carry for f.
func claimsOf(f Fields) barcode.Claims {
	return barcode.Claims{Issuer: "CITY", Issued: f.Issued, Expires: f.Expires, Number: f.Number,
		Issue: f.Issue, Name: f.Name, DOB: f.DOB, Gender: f.Gender}
}

// checkBarcode scans the barcode from a rendered K plane, verifies it with
// keys and compares it with the fields.
func checkBarcode(t *testing.T, k *image.Gray, keys []keyfile.Public, f Fields) {
	t.Helper()
	text, err := ScanPanel(k, image.Rectangle{})
	if err != nil {
		t.Fatalf("scan K panel: %v", err)
	}
	got, _, err := barcode.Verify(text, keys)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := barcode.Compare(got, claimsOf(f)); err != nil {
		t.Fatalf("compare: %v", err)
	}
}

func trusted(t testing.TB, key crypto.Signer) []keyfile.Public {
	t.Helper()
	kid, err := keyfile.KIDHex(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return []keyfile.Public{{KID: kid, Key: key.Public()}}
}

// checkPlanes asserts the panel contract: card size, K and O only 0/255.
func checkPlanes(t *testing.T, s card.Side, colour, overlay bool) {
	t.Helper()
	if (s.Y != nil) != colour || (s.M != nil) != colour || (s.C != nil) != colour {
		t.Fatalf("YMC present = %v, want %v", s.Y != nil, colour)
	}
	if (s.O != nil) != overlay {
		t.Fatalf("O present = %v, want %v", s.O != nil, overlay)
	}
	for _, p := range []*image.Gray{s.Y, s.M, s.C, s.K, s.O} {
		if p != nil && (p.Rect != image.Rect(0, 0, card.Width, card.Height)) {
			t.Fatalf("plane %v, want %dx%d", p.Rect, card.Width, card.Height)
		}
	}
	for _, p := range []*image.Gray{s.K, s.O} {
		if p == nil {
			continue
		}
		for _, v := range p.Pix {
			if v != 0 && v != 255 {
				t.Fatalf("1-bit plane holds %d", v)
			}
		}
	}
}

// TestRenderEverySamplePerson renders every invented person of
// internal/sample (the people of testdata/jobs: diacritics, combining
// marks, a long name, PNG and JPEG photos), issues 1 to 3, signed with
// each issuer key algorithm, and checks the panels, the previews and the
// barcode read back from the K panel. LAYOUT_OUT=DIR keeps the previews.
func TestRenderEverySamplePerson(t *testing.T) {
	out := os.Getenv("LAYOUT_OUT")
	for _, alg := range []string{keyfile.ES256, keyfile.Ed25519} {
		key := newKey(t, alg)
		r := newRenderer(t, Options{Issuer: key})
		keys := trusted(t, key)
		for i := range sample.People {
			name := fmt.Sprintf("%s-%d", alg, i)
			t.Run(name, func(t *testing.T) {
				f := sampleFields(t, i)
				f.Issue = 1 + i%3
				c, err := r.Render(context.Background(), DefaultTemplate, f)
				if err != nil {
					t.Fatalf("render %s: %v", sample.People[i].Why, err)
				}
				checkPlanes(t, c.Panels.Front, true, true)
				checkPlanes(t, *c.Panels.Back, true, true)
				checkBarcode(t, c.Panels.Back.K, keys, f)
				if c.Front.Rect.Size() != (image.Point{card.Width, card.Height}) || c.Back.Rect.Size() != (image.Point{card.Width, card.Height}) {
					t.Fatalf("previews %v and %v: want %dx%d", c.Front.Rect, c.Back.Rect, card.Width, card.Height)
				}
				if out != "" {
					if err := c.WritePNGs(filepath.Join(out, name)); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

func TestSelfCheckRefuses(t *testing.T) {
	key := newKey(t, keyfile.ES256)
	other := newKey(t, keyfile.ES256)
	f := sampleFields(t, 0)

	t.Run("wrong key", func(t *testing.T) {
		// New refuses a trusted list without the issuer key ...
		if _, err := New(Options{Issuer: key, Trusted: trusted(t, other)}); err == nil || !strings.Contains(err.Error(), "not among the trusted keys") {
			t.Fatalf("New: %v", err)
		}
		// ... and the self-check refuses a card whose code another key signed
		r := newRenderer(t, Options{Issuer: key})
		r.opts.Trusted = trusted(t, other)
		c, err := r.Render(context.Background(), DefaultTemplate, f)
		if c != nil || !errors.Is(err, ErrSelfCheck) || !errors.Is(err, barcode.ErrUnknownKey) {
			t.Fatalf("got card %v, err %v; want no card and a self-check error for an unknown key", c != nil, err)
		}
	})

	t.Run("rotation: several trusted keys", func(t *testing.T) {
		r := newRenderer(t, Options{Issuer: key, Trusted: append(trusted(t, other), trusted(t, key)...)})
		if _, err := r.Render(context.Background(), DefaultTemplate, f); err != nil {
			t.Fatal(err)
		}
	})

	r := newRenderer(t, Options{Issuer: key})
	c, err := r.Render(context.Background(), DefaultTemplate, f)
	if err != nil {
		t.Fatal(err)
	}
	changes := []struct {
		field  string
		change func(*barcode.Claims)
	}{
		{"Name", func(c *barcode.Claims) { c.Name += "x" }},
		{"DOB", func(c *barcode.Claims) { c.DOB = "1999-09-09" }},
		{"Gender", func(c *barcode.Claims) { c.Gender = "M" }},
		{"Number", func(c *barcode.Claims) { c.Number = "SAMPLE-999999" }},
		{"Issue", func(c *barcode.Claims) { c.Issue++ }},
		{"Expires", func(c *barcode.Claims) { c.Expires = "2099-01-01" }},
		{"Issuer", func(c *barcode.Claims) { c.Issuer = "EVIL" }},
	}
	for _, tc := range changes {
		t.Run("changed "+tc.field, func(t *testing.T) {
			want := claimsOf(f)
			tc.change(&want)
			_, err := r.selfCheck(c.sides[1], want)
			var mm *barcode.MismatchError
			if !errors.Is(err, ErrSelfCheck) || !errors.As(err, &mm) || mm.Field != tc.field {
				t.Fatalf("self-check with changed %s: %v", tc.field, err)
			}
			if strings.Contains(err.Error(), f.Name) {
				t.Fatal("error quotes the name")
			}
		})
	}
	t.Run("damaged barcode", func(t *testing.T) {
		sd := *c.sides[1]
		k := card.NewPlane()
		copy(k.Pix, sd.k.Pix)
		sd.k = k
		fillGray(k, sd.barcode.Inset(sd.barcode.Dx()/4), 0) // wipe the middle of the code
		if _, err := r.selfCheck(&sd, claimsOf(f)); !errors.Is(err, ErrSelfCheck) {
			t.Fatalf("self-check of a wiped code: %v", err)
		}
	})
}

func TestRibbons(t *testing.T) {
	key := newKey(t, keyfile.ES256)
	keys := trusted(t, key)
	f := sampleFields(t, 2)
	for _, tc := range []struct {
		ribbon               card.Ribbon
		frontColour, backCol bool
		frontO, backO        bool
	}{
		{card.YMCKO, true, true, true, true},
		{card.YMCKOK, true, false, true, false},
		{card.KO, false, false, true, true},
		{card.K, false, false, false, false},
	} {
		t.Run(string(tc.ribbon), func(t *testing.T) {
			r := newRenderer(t, Options{Issuer: key, Ribbon: tc.ribbon})
			c, err := r.Render(context.Background(), DefaultTemplate, f)
			if err != nil {
				t.Fatal(err)
			}
			if c.Panels.Ribbon != tc.ribbon {
				t.Fatalf("ribbon %s", c.Panels.Ribbon)
			}
			checkPlanes(t, c.Panels.Front, tc.frontColour, tc.frontO)
			checkPlanes(t, *c.Panels.Back, tc.backCol, tc.backO)
			checkBarcode(t, c.Panels.Back.K, keys, f)

			photo := r.Template(DefaultTemplate).element("photo").Box.Rect()
			inkK := count(c.Panels.Front.K, photo, func(v uint8) bool { return v == 255 })
			if tc.frontColour {
				if inkK != 0 {
					t.Fatalf("colour ribbon: photo put %d dots on K", inkK)
				}
				if count(c.Panels.Front.C, photo, func(v uint8) bool { return v > 0 }) == 0 {
					t.Fatal("colour ribbon: photo has no cyan")
				}
			} else if inkK < photo.Dx()*photo.Dy()/20 || inkK == photo.Dx()*photo.Dy() {
				t.Fatalf("mono ribbon: photo dithered to %d of %d K dots", inkK, photo.Dx()*photo.Dy())
			}
			if tc.backO {
				sig := r.Template(DefaultTemplate).Back.OverlayFree[0].Box.Rect()
				if n := count(c.Panels.Back.O, sig, func(v uint8) bool { return v != 0 }); n != 0 {
					t.Fatalf("overlay on %d dots of the signature strip", n)
				}
				if n := count(c.Panels.Back.O, c.Panels.Back.O.Rect, func(v uint8) bool { return v == 0 }); n != sig.Dx()*sig.Dy() {
					t.Fatalf("%d dots without overlay, want just the signature strip (%d)", n, sig.Dx()*sig.Dy())
				}
			}
			if tc.backCol {
				// the code is black on white: no colour under it
				qr := *c.sides[1].barcode
				for _, p := range []*image.Gray{c.Panels.Back.Y, c.Panels.Back.M, c.Panels.Back.C} {
					if n := count(p, qr, func(v uint8) bool { return v != 0 }); n != 0 {
						t.Fatalf("%d colour dots under the barcode", n)
					}
				}
			}
		})
	}
}

func count(p *image.Gray, r image.Rectangle, pred func(uint8) bool) int {
	n := 0
	r = r.Intersect(p.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if pred(p.Pix[p.PixOffset(x, y)]) {
				n++
			}
		}
	}
	return n
}

func (t *Template) element(id string) *Element {
	for _, f := range []*Face{&t.Front, &t.Back} {
		for i := range f.Elements {
			if f.Elements[i].ID == id {
				return &f.Elements[i]
			}
		}
	}
	return nil
}

func TestRenderBadInput(t *testing.T) {
	r := newRenderer(t, Options{})
	good := sampleFields(t, 0)
	png0 := sampleFields(t, 0).Photo // sample 0 is a PNG
	jpg1 := sampleFields(t, 1).Photo // sample 1 is a JPEG
	for _, tc := range []struct {
		name   string
		change func(*Fields)
		want   string // in the error
	}{
		{"truncated png", func(f *Fields) { f.Photo = png0[:len(png0)/2] }, "photo"},
		{"truncated jpeg", func(f *Fields) { f.Photo = jpg1[:len(jpg1)/2] }, "truncated"},
		{"huge png", func(f *Fields) { f.Photo = hugePNG(20000, 20000) }, "larger than 4096x4096"},
		{"huge jpeg", func(f *Fields) { f.Photo = hugeJPEG(5000, 300) }, "larger than 4096x4096"},
		{"not an image", func(f *Fields) { f.Photo = []byte("GIF89a nonsense") }, "photo"},
		{"no photo", func(f *Fields) { f.Photo = nil }, "photo"},
		{"han in name", func(f *Fields) { f.Name = "Test 漢 Person" }, "layout: name: contains a character the card fonts cannot draw"},
		{"cjk in gender", func(f *Fields) { f.Gender = "女" }, "layout: gender: contains a character"},
		{"private use in name", func(f *Fields) { f.Name = "Test \uE000" }, "layout: name: contains a character"},
		{"control in name", func(f *Fields) { f.Name = "Test\x07Person" }, "layout: name:"},
		{"empty name", func(f *Fields) { f.Name = "" }, "layout: name: is empty"},
		{"issue 0", func(f *Fields) { f.Issue = 0 }, "layout: issue"},
		{"name too long", func(f *Fields) { f.Name = strings.Repeat("WWWWWWWWW ", 20) }, "layout: name: does not fit"}, // 200 characters: more than the contract allows
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.change(&f)
			c, err := r.Render(context.Background(), DefaultTemplate, f)
			if err == nil || c != nil {
				t.Fatal("rendered a card from bad input")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
			for _, pd := range []string{f.Name, f.Gender} {
				if pd != "" && pd != good.Gender && strings.Contains(err.Error(), pd) {
					t.Fatalf("error %q quotes personal data", err)
				}
			}
		})
	}
	t.Run("unknown template", func(t *testing.T) {
		if _, err := r.Render(context.Background(), "nope", good); err == nil || !strings.Contains(err.Error(), `template "nope" unknown`) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.Render(ctx, DefaultTemplate, good); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestNFCInputsRenderAlike(t *testing.T) {
	r := newRenderer(t, Options{Issuer: ed25519.NewKeyFromSeed(make([]byte, 32))})
	f := sampleFields(t, 0)
	f.Name = "Zofia Żółćńska"
	a, err := r.Render(context.Background(), DefaultTemplate, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Name = "Zofia Z\u0307o\u0301ł\u0107n\u0301ska" // decomposed
	b, err := r.Render(context.Background(), DefaultTemplate, f)
	if err != nil {
		t.Fatal(err)
	}
	if a.Barcode != b.Barcode || !bytes.Equal(a.Panels.Front.K.Pix, b.Panels.Front.K.Pix) {
		t.Fatal("decomposed and precomposed names render differently")
	}
}

func TestWritePNGs(t *testing.T) {
	// a fixed Ed25519 key signs deterministically: the same code every run
	r := newRenderer(t, Options{Issuer: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))})
	f := sampleFields(t, 3)
	c, err := r.Render(context.Background(), DefaultTemplate, f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.WritePNGs(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"front.png", "back.png"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b[:64], []byte("pHYs")) {
			t.Fatalf("%s: no pHYs (300 dpi) chunk", name)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds() != image.Rect(0, 0, card.Width, card.Height) {
			t.Fatalf("%s: %v", name, img.Bounds())
		}
		if name == "back.png" {
			// printerd verify --image reads the preview as a phone photo would
			text, err := barcode.Scan(img)
			if err != nil {
				t.Fatalf("scan back.png: %v", err)
			}
			if text != c.Barcode {
				t.Fatal("back.png carries another barcode")
			}
		}
	}
}

func TestProofPDF(t *testing.T) {
	for _, ribbon := range []card.Ribbon{card.YMCKO, card.K} {
		t.Run(string(ribbon), func(t *testing.T) {
			r := newRenderer(t, Options{Ribbon: ribbon})
			c, err := r.Render(context.Background(), DefaultTemplate, sampleFields(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := c.WriteProofPDF(&buf); err != nil {
				t.Fatal(err)
			}
			pdf := buf.Bytes()
			for _, want := range []string{
				"%PDF-",
				"/MediaBox [0 0 595.28 841.89]", // A4
				"/FontFile2",                    // embedded TrueType: vector text
				"/Subtype /Image",               // photo, crest, barcode
			} {
				if !bytes.Contains(pdf, []byte(want)) {
					t.Fatalf("proof lacks %q", want)
				}
			}
			if n := bytes.Count(pdf, []byte("/Subtype /Image")); n < 3 {
				t.Fatalf("%d images, want photo, crest and barcode", n)
			}
		})
	}
}

// hugePNG is a valid PNG header claiming w x h pixels.
func hugePNG(w, h uint32) []byte { return samplePhotoHeader("png", w, h) }

// hugeJPEG is a JPEG header claiming w x h pixels.
func hugeJPEG(w, h uint32) []byte { return samplePhotoHeader("jpeg", w, h) }

func TestConcurrentRender(t *testing.T) {
	r := newRenderer(t, Options{Issuer: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))})
	want := make([]*Card, 4)
	for i := range want {
		c, err := r.Render(context.Background(), DefaultTemplate, sampleFields(t, i))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = c
	}
	got := make([]*Card, 4)
	errs := make([]error, 4)
	done := make(chan int)
	for i := range got {
		go func() {
			got[i], errs[i] = r.Render(context.Background(), DefaultTemplate, sampleFields(t, i))
			done <- i
		}()
	}
	for range got {
		<-done
	}
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(got[i].Front.Pix, want[i].Front.Pix) || !bytes.Equal(got[i].Panels.Back.K.Pix, want[i].Panels.Back.K.Pix) {
			t.Fatalf("card %d rendered concurrently differs from the serial render", i)
		}
	}
}

func TestTransparentPhotoPrintsBlank(t *testing.T) {
	// a PNG whose left half is transparent: that half must print nothing
	img := image.NewNRGBA(image.Rect(0, 0, 300, 400))
	for y := 0; y < 400; y++ {
		for x := 150; x < 300; x++ {
			img.Pix[img.PixOffset(x, y)+0] = 200
			img.Pix[img.PixOffset(x, y)+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	f := sampleFields(t, 0)
	f.Photo = buf.Bytes()
	r := newRenderer(t, Options{})
	c, err := r.Render(context.Background(), DefaultTemplate, f)
	if err != nil {
		t.Fatal(err)
	}
	box := r.Template(DefaultTemplate).element("photo").Box.Rect()
	left := image.Rect(box.Min.X, box.Min.Y, box.Min.X+box.Dx()/3, box.Max.Y)
	right := image.Rect(box.Max.X-box.Dx()/3, box.Min.Y, box.Max.X, box.Max.Y)
	for _, p := range []*image.Gray{c.Panels.Front.Y, c.Panels.Front.M, c.Panels.Front.C} {
		if n := count(p, left, func(v uint8) bool { return v > 8 }); n != 0 {
			t.Fatalf("transparent part of the photo prints %d colour dots", n)
		}
	}
	if n := count(c.Panels.Front.C, right, func(v uint8) bool { return v > 8 }); n == 0 {
		t.Fatal("opaque part of the photo prints no cyan")
	}
}

func TestBuiltinBarcodeIsLevelQ(t *testing.T) {
	r := newRenderer(t, Options{})
	for i := range 10 {
		c, err := r.Render(context.Background(), DefaultTemplate, sampleFields(t, i))
		if err != nil {
			t.Fatal(err)
		}
		q, err := barcode.QR(c.Barcode, barcode.ECQ, 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.sides[1].barcode.Size(); got != q.Bounds().Size() {
			t.Fatalf("sample %d: code drawn %v, level Q at 4 dots a module is %v", i, got, q.Bounds().Size())
		}
		// 4 dots a module: every run of black or white along a row is a multiple of 4
		k, at := c.Panels.Back.K, c.sides[1].barcode
		y := at.Min.Y + 16 + 4*10 + 1 // inside module row 10
		run := 0
		for x := at.Min.X; x <= at.Max.X; x++ {
			if x < at.Max.X && x > at.Min.X && k.Pix[k.PixOffset(x, y)] == k.Pix[k.PixOffset(x-1, y)] {
				run++
				continue
			}
			if x > at.Min.X && (run+1)%4 != 0 {
				t.Fatalf("sample %d: a run of %d dots in a QR row", i, run+1)
			}
			run = 0
		}
	}
}
