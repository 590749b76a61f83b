package barcode

import (
	"crypto"
	"errors"
	"image"
	"image/draw"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
)

// fixture is an obviously invented person.
var fixture = Claims{
	Issuer:  "CITY",
	Issued:  "2026-11-25",
	Expires: "2036-11-24",
	Number:  "C-000123-7",
	Issue:   2,
	Name:    "Zoë Testperson-Exampleton",
	DOB:     "1990-02-28",
	Gender:  "nonbinary",
}

func newKey(t testing.TB, alg string) (crypto.Signer, keyfile.Public) {
	t.Helper()
	k, err := keyfile.New(alg)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := keyfile.KIDHex(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k, keyfile.Public{KID: kid, Key: k.Public()}
}

// onCard places a symbol on a card-sized white image, as the K panel
// renderer does, with other black content around it.
func onCard(sym *image.Gray) *image.Gray {
	card := image.NewGray(image.Rect(0, 0, 1016, 648))
	for i := range card.Pix {
		card.Pix[i] = 0xff
	}
	// some text-like black bars
	for y := 40; y < 60; y++ {
		for x := 40; x < 500; x++ {
			card.Pix[y*card.Stride+x] = 0
		}
	}
	at := image.Pt(1016-sym.Bounds().Dx()-30, 648-sym.Bounds().Dy()-30)
	draw.Draw(card, sym.Bounds().Add(at), sym, image.Point{}, draw.Src)
	return card
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		alg   string
		level ECLevel
	}{
		{keyfile.ES256, ECQ},
		{keyfile.Ed25519, ECQ},
		{keyfile.ES256, ECM},
	} {
		t.Run(tc.alg+"-"+string(rune(tc.level)), func(t *testing.T) {
			key, pub := newKey(t, tc.alg)
			text, err := Sign(fixture, key)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(text); n < 240 || n > 320 {
				t.Errorf("barcode text is %d characters, want about 260-300", n)
			}
			ver, err := QRVersion(text, tc.level)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d Base45 characters, %d bytes, QR version %d-%c", tc.alg, len(text), len(text)/3*2, ver, tc.level)
			if ver < 8 || ver > 13 {
				t.Errorf("QR version %d, want 10-13 or so", ver)
			}
			sym, err := QR(text, tc.level, 4)
			if err != nil {
				t.Fatal(err)
			}
			if want := (17 + 4*ver + 8) * 4; sym.Bounds().Dx() != want || sym.Bounds().Dy() != want {
				t.Errorf("symbol is %v, want %dx%d", sym.Bounds(), want, want)
			}
			for _, img := range []struct {
				name string
				img  image.Image
			}{{"symbol", sym}, {"card", onCard(sym)}} {
				got, err := Scan(img.img)
				if err != nil {
					t.Fatalf("scan %s: %v", img.name, err)
				}
				if got != text {
					t.Fatalf("scan %s: text differs from what was signed", img.name)
				}
			}
			c, kid, err := Verify(text, []keyfile.Public{pub})
			if err != nil {
				t.Fatal(err)
			}
			if kid != pub.KID {
				t.Errorf("kid %s, want %s", kid, pub.KID)
			}
			if err := Compare(c, fixture); err != nil {
				t.Error(err)
			}
			if *c != fixture {
				t.Errorf("claims differ:\n got %+v\nwant %+v", *c, fixture)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	key, pub := newKey(t, keyfile.ES256)
	_, other := newKey(t, keyfile.ES256)
	text, err := Sign(fixture, key)
	if err != nil {
		t.Fatal(err)
	}
	other.KID = pub.KID // same id, different key: the signature must fail
	for _, tc := range []struct {
		name string
		keys []keyfile.Public
		want error
	}{
		{"no keys", nil, ErrUnknownKey},
		{"wrong key under right kid", []keyfile.Public{other}, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Verify(text, tc.keys)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
