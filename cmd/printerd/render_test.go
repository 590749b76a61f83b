package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/layout/barcode"
)

func renderRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), append([]string{"render"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// kOf reads a rendered preview back as a K plane: black dots are resin.
func kOf(t *testing.T, path string) *image.Gray {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, card.Width, card.Height) {
		t.Fatalf("%s is %v, want %dx%d", path, img.Bounds(), card.Width, card.Height)
	}
	k := card.NewPlane()
	for y := 0; y < card.Height; y++ {
		for x := 0; x < card.Width; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0x4000 && g < 0x4000 && bl < 0x4000 {
				k.Pix[k.PixOffset(x, y)] = 255
			}
		}
	}
	return k
}

func TestRenderCommand(t *testing.T) {
	dir := t.TempDir()
	key, err := keyfile.New(keyfile.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyfile.WritePair(dir, "issuer", key); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "issuer.key")
	jobPath := "../../testdata/jobs/issue-vietnamese.json"
	out := filepath.Join(dir, "out")

	code, stdout, stderr := renderRun(jobPath, "--issuer-key", keyPath, "--out", out)
	if code != exitOK {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "Nguy") {
		t.Fatal("render printed personal data")
	}
	for _, name := range []string{"front.png", "back.png", "proof.pdf"} {
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	pdf, _ := os.ReadFile(filepath.Join(out, "proof.pdf"))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatal("proof.pdf is not a PDF")
	}
	// the barcode on back.png verifies with the issuer's public key
	text, err := layout.ScanPanel(kOf(t, filepath.Join(out, "back.png")), image.Rectangle{})
	if err != nil {
		t.Fatalf("scan back.png: %v", err)
	}
	kid, _ := keyfile.KIDHex(key.Public())
	claims, _, err := barcode.Verify(text, []keyfile.Public{{KID: kid, Key: key.Public()}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if claims.Number != "SAMPLE-000002" {
		t.Fatalf("card number %q", claims.Number)
	}

	// printerd verify --image reads the card printerd render made
	for _, side := range []string{"back.png"} {
		var vout, verr bytes.Buffer
		code := dispatch(context.Background(), []string{"verify", "--image", filepath.Join(out, side), "--keys", filepath.Join(dir, "issuer.pub")}, &vout, &verr)
		if code != exitOK || !strings.Contains(vout.String(), "SAMPLE-000002") {
			t.Fatalf("verify --image %s: exit %d\n%s%s", side, code, vout.String(), verr.String())
		}
	}

	loose := filepath.Join(dir, "loose.key")
	b, _ := os.ReadFile(keyPath)
	os.WriteFile(loose, b, 0o644)
	os.Chmod(loose, 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"v":1}`), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, exitOK, "usage: printerd render"},
		{"no job", []string{"--issuer-key", keyPath, "--out", out}, exitUsage, "exactly one JOB.json"},
		{"no key", []string{jobPath, "--out", out}, exitUsage, "--issuer-key is required"},
		{"no out", []string{jobPath, "--issuer-key", keyPath}, exitUsage, "--out is required"},
		{"bad ribbon", []string{jobPath, "--issuer-key", keyPath, "--out", out, "--ribbon", "rgb"}, exitUsage, "ribbon"},
		{"unknown flag", []string{jobPath, "--colour"}, exitUsage, "flag provided but not defined"},
		{"bad job", []string{bad, "--issuer-key", keyPath, "--out", out}, exitFail, "job:"},
		{"missing job", []string{filepath.Join(dir, "nope.json"), "--issuer-key", keyPath, "--out", out}, exitFail, "no such file"},
		{"key readable by others", []string{jobPath, "--issuer-key", loose, "--out", out}, exitFail, "chmod 600"},
		{"unknown template", []string{jobPath, "--issuer-key", keyPath, "--out", out, "--template", "nope"}, exitFail, `template "nope" unknown`},
		{"mono ribbon and templates dir", []string{jobPath, "--issuer-key", keyPath, "--out", filepath.Join(dir, "ko"),
			"--ribbon", "ko", "--templates", "../../testdata/templates", "--template", "compact-qr-front"}, exitOK, "compact-qr-front"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := renderRun(tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
}
