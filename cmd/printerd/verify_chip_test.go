package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/drivers/chip/vchip"
	"github.com/cityid/printerd/layout/credential"
)

// chipFiles writes the fixture's credential, sealed under can, as a chip
// image, an NDEF file and an NDEF message, encoded onto a virtual chip by
// the same host code the printer's encoder runs.
func chipFiles(t *testing.T, text, can string) (image, file, message string) {
	t.Helper()
	msg, err := credential.Encode(text, can)
	if err != nil {
		t.Fatal(err)
	}
	c, err := vchip.New(vchip.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := t4t.Encode(context.Background(), c, msg); err != nil {
		t.Fatal(err)
	}
	im := c.Image()
	b, err := im.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	image, file, message = filepath.Join(dir, "chip.json"), filepath.Join(dir, "ndef.bin"), filepath.Join(dir, "msg.ndef")
	for p, data := range map[string][]byte{image: b, file: im.NDEF, message: msg} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return image, file, message
}

func TestVerifyChip(t *testing.T) {
	dir, text, _, kid := verifySetup(t, "es256")
	pub := filepath.Join(dir, "issuer.pub")
	const can = "1618 0339 8874"
	image, file, message := chipFiles(t, text, can)
	tampered := filepath.Join(t.TempDir(), "tampered.json")
	b, _ := os.ReadFile(image)
	var j map[string]string
	json.Unmarshal(b, &j)
	nd := []byte(j["ndef_file"])
	nd[200] = "01"[(strings.IndexByte("0123456789abcdef", nd[200])+1)%2] // one ciphertext digit
	j["ndef_file"] = string(nd)
	b, _ = json.Marshal(j)
	os.WriteFile(tampered, b, 0o600)

	personal := []string{"Testa", "Nobody", "1985-07-14", "19850714", "woman", "C-000777-1"}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
	}{
		{"image", []string{"verify", "--chip", image, "--can", can, "--keys", pub}, exitOK,
			[]string{"signature: valid (kid " + kid + ")", "name:        Testa Q. Nobody", "birth date:  1985-07-14", "gender:      woman"}},
		{"NDEF file", []string{"verify", "--chip", file, "--can", "161803398874", "--keys", pub}, exitOK, []string{"signature: valid"}},
		{"NDEF message", []string{"verify", "--chip", message, "--can", "1618-0339-8874", "--keys", pub}, exitOK, []string{"signature: valid"}},
		{"wrong CAN", []string{"verify", "--chip", image, "--can", "1618 0339 8875", "--keys", pub}, exitFail, []string{"INVALID"}},
		{"short CAN", []string{"verify", "--chip", image, "--can", "161803", "--keys", pub}, exitFail, []string{"INVALID"}},
		{"tampered", []string{"verify", "--chip", tampered, "--can", can, "--keys", pub}, exitFail, []string{"INVALID"}},
		{"not a chip", []string{"verify", "--chip", pub, "--can", can, "--keys", pub}, exitFail, []string{"INVALID"}},
		{"no CAN", []string{"verify", "--chip", image, "--keys", pub}, exitUsage, nil},
		{"CAN alone", []string{"verify", "--text", text, "--can", can, "--keys", pub}, exitUsage, nil},
		{"chip and text", []string{"verify", "--chip", image, "--text", text, "--can", can, "--keys", pub}, exitUsage, nil},
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
			shown := errOut
			if code != exitOK {
				shown += out // a failed check shows nothing personal anywhere
			}
			for _, s := range append(personal, "16180339887") {
				if strings.Contains(shown, s) {
					t.Errorf("output shows %q:\n%s\n%s", s, out, errOut)
				}
			}
		})
	}
	// Positive control for the search above: the right CAN shows every value.
	_, out, _ := kvRun(t, "verify", "--json", "--chip", image, "--can", can, "--keys", pub)
	for _, s := range []string{"Testa", "1985-07-14", "woman", "C-000777-1"} {
		if !strings.Contains(out, s) {
			t.Errorf("the opened chip's JSON lacks %q:\n%s", s, out)
		}
	}
}
