package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/sample"
	"github.com/cityid/printerd/layout/barcode"
)

// TestVerifyHostile: an expired card exits 1 saying so (its signature is
// still valid); control characters and ANSI escapes in a signed name are
// shown escaped, never sent raw to the terminal; an image whose header
// asks for 40 GB is refused from its header.
func TestVerifyHostile(t *testing.T) {
	dir, _, _, _ := verifySetup(t, "es256")
	pub := filepath.Join(dir, "issuer.pub")
	key, err := keyfile.LoadPrivate(filepath.Join(dir, "issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c barcode.Claims) string {
		text, err := barcode.Sign(c, key)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	expired := verifyFixture
	expired.Issued, expired.Expires = "2010-01-01", "2020-01-01"
	code, out, errs := kvRun(t, "verify", "--text", sign(expired), "--keys", pub)
	if code != exitFail || !strings.Contains(out, "signature: valid") || !strings.Contains(out+errs, "expired on 2020-01-01") {
		t.Errorf("expired card: exit %d, %q %q; want 1, a valid signature and the expiry named", code, out, errs)
	}
	code, out, _ = kvRun(t, "verify", "--text", sign(expired), "--keys", pub, "--json")
	if code != exitFail || !strings.Contains(out, `"expired": true`) {
		t.Errorf("expired card --json: exit %d, %q", code, out)
	}

	ansi := verifyFixture
	ansi.Name = "Testa\x1b[2J\x1b]0;pwned\x07 Nobody\r"
	ansi.Gender = "w\u202eoman"
	code, out, errs = kvRun(t, "verify", "--text", sign(ansi), "--keys", pub)
	if code != exitOK || strings.ContainsAny(out, "\x1b\x07\r\u202e") || !strings.Contains(out, `Testa\x1b[2J`) {
		t.Errorf("ANSI in a signed name: exit %d, stdout %q %q; want the escapes shown escaped", code, out, errs)
	}

	huge := filepath.Join(t.TempDir(), "huge.png")
	os.WriteFile(huge, sample.PNGHeader(100000, 100000, 8, 6), 0o644)
	code, _, errs = kvRun(t, "verify", "--image", huge, "--keys", pub)
	if code != exitFail || !strings.Contains(errs, "100000x100000") {
		t.Errorf("a PNG header asking for 40 GB: exit %d, %q; want 1 naming the size", code, errs)
	}
}
