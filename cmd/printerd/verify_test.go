package main

import (
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
)

// verifyFixture is an obviously invented person.
var verifyFixture = barcode.Claims{
	Issuer: "CITY", Issued: "2026-11-25", Expires: "2036-11-24",
	Number: "C-000777-1", Issue: 1, Name: "Testa Q. Nobody", DOB: "1985-07-14", Gender: "woman",
}

// verifySetup makes an issuer key pair with printerd keys new, signs the
// fixture with it and writes a card-sized PNG with the QR code.
func verifySetup(t *testing.T, alg string) (dir, text, pngPath, kid string) {
	t.Helper()
	dir = t.TempDir()
	if code, _, e := kvRun(t, "keys", "new", "--kind", "issuer", "--alg", alg, "--out", dir); code != exitOK {
		t.Fatalf("keys new: %d %s", code, e)
	}
	key, err := keyfile.LoadPrivate(filepath.Join(dir, "issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	kid, _ = keyfile.KIDHex(key.Public())
	text, err = barcode.Sign(verifyFixture, key)
	if err != nil {
		t.Fatal(err)
	}
	sym, err := barcode.QR(text, barcode.ECQ, 4)
	if err != nil {
		t.Fatal(err)
	}
	card := image.NewRGBA(image.Rect(0, 0, 1016, 648))
	draw.Draw(card, card.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(card, sym.Bounds().Add(image.Pt(600, 150)), sym, image.Point{}, draw.Src)
	pngPath = filepath.Join(dir, "front.png")
	f, err := os.Create(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, card); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, text, pngPath, kid
}

func TestVerifyCommand(t *testing.T) {
	dir, text, pngPath, kid := verifySetup(t, "es256")
	pub := filepath.Join(dir, "issuer.pub")
	lists := t.TempDir()
	list := filepath.Join(lists, "keys.json")
	if code, _, e := kvRun(t, "keys", "publish", "--out", list, pub); code != exitOK {
		t.Fatalf("publish: %s", e)
	}
	oldList := filepath.Join(lists, "old.json")
	if code, _, e := kvRun(t, "keys", "publish", "--out", oldList, "--valid-to", "2020-01-01", pub); code != exitOK {
		t.Fatalf("publish: %s", e)
	}
	other := t.TempDir()
	if code, _, e := kvRun(t, "keys", "new", "--kind", "issuer", "--out", other); code != exitOK {
		t.Fatalf("keys new: %s", e)
	}
	otherPub := filepath.Join(other, "issuer.pub")
	// the same text with one character of the signature region changed
	tampered := text[:len(text)-10] + string("0123456789"[(strings.IndexByte("0123456789ABCDEF", text[len(text)-10])+1)%10]) + text[len(text)-9:]

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings wanted on stdout
		noStderr []string // substrings that must not reach stderr
	}{
		{"text with pub", []string{"verify", "--text", text, "--keys", pub}, exitOK,
			[]string{"signature: valid (kid " + kid + ")", "name:        Testa Q. Nobody", "card number: C-000777-1", "birth date:  1985-07-14", "gender:      woman"}, nil},
		{"image with list", []string{"verify", "--image", pngPath, "--keys", list}, exitOK,
			[]string{"signature: valid (kid " + kid + ")", "expires:     2036-11-24"}, nil},
		{"several keys after --keys", []string{"verify", "--keys", otherPub, pub, "--text", text}, exitOK,
			[]string{"signature: valid"}, nil},
		{"key directory", []string{"verify", "--text", text, "--keys", dir}, exitOK, []string{"signature: valid"}, nil},
		{"same key twice", []string{"verify", "--text", text, "--keys", pub, list}, exitFail, nil, nil},
		{"empty key directory", []string{"verify", "--text", text, "--keys", t.TempDir()}, exitFail, nil, nil},
		{"unknown key", []string{"verify", "--text", text, "--keys", otherPub}, exitFail,
			[]string{"signature: INVALID"}, []string{"Testa", "1985"}},
		{"tampered", []string{"verify", "--text", tampered, "--keys", pub}, exitFail,
			[]string{"signature: INVALID"}, []string{"Testa", "1985"}},
		{"garbage", []string{"verify", "--text", "HELLO WORLD", "--keys", pub}, exitFail, []string{"INVALID"}, nil},
		{"key outside validity", []string{"verify", "--text", text, "--keys", oldList}, exitFail, []string{"INVALID"}, []string{"Testa"}},
		{"no input", []string{"verify", "--keys", pub}, exitUsage, nil, nil},
		{"both inputs", []string{"verify", "--text", text, "--image", pngPath, "--keys", pub}, exitUsage, nil, nil},
		{"no keys", []string{"verify", "--text", text}, exitUsage, nil, nil},
		{"missing key file", []string{"verify", "--text", text, "--keys", filepath.Join(dir, "nope.pub")}, exitFail, nil, nil},
		{"missing image", []string{"verify", "--image", filepath.Join(dir, "nope.png"), "--keys", pub}, exitFail, nil, nil},
		{"image without code", []string{"verify", "--image", kvBlankPNG(t), "--keys", pub}, exitFail, nil, nil},
		{"help", []string{"verify", "--help"}, exitOK, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := kvRun(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range append(tc.noStderr, "Testa", "1985-07-14", "woman") {
				if strings.Contains(errOut, s) {
					t.Errorf("stderr holds personal data %q:\n%s", s, errOut)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		code, out, _ := kvRun(t, "verify", "--json", "--image", pngPath, "--keys", pub)
		if code != exitOK {
			t.Fatalf("exit %d", code)
		}
		var res verifyResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !res.Valid || res.KID != kid || res.Claims == nil || res.Claims.Name != verifyFixture.Name || res.Claims.Issue != 1 || res.Expired {
			t.Errorf("json result %+v", res)
		}
		code, out, _ = kvRun(t, "verify", "--json", "--text", tampered, "--keys", pub)
		if code != exitFail {
			t.Fatalf("tampered: exit %d", code)
		}
		res = verifyResult{}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Valid || res.Error == "" || res.Claims != nil {
			t.Errorf("tampered json: %v %+v", err, res)
		}
	})
}

func TestVerifyCommandEdDSA(t *testing.T) {
	dir, _, pngPath, kid := verifySetup(t, "ed25519")
	code, out, errOut := kvRun(t, "verify", "--image", pngPath, "--keys", filepath.Join(dir, "issuer.pub"))
	if code != exitOK || !strings.Contains(out, "signature: valid (kid "+kid+")") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// kvBlankPNG writes a white card-sized PNG with no barcode.
func kvBlankPNG(t *testing.T) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 300, 200))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	p := filepath.Join(t.TempDir(), "blank.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return p
}
