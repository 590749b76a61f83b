package keyfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewWriteLoad(t *testing.T) {
	for _, tc := range []struct {
		alg  string
		want string
	}{
		{ES256, "*ecdsa.PrivateKey"},
		{"", "*ecdsa.PrivateKey"},
		{"ES256", "*ecdsa.PrivateKey"},
		{Ed25519, "ed25519.PrivateKey"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			key, err := New(tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "keys")
			if err := WritePair(dir, "issuer", key); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(dir, "issuer.key"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("issuer.key mode %o, want 600", st.Mode().Perm())
			}
			back, err := LoadPrivate(filepath.Join(dir, "issuer.key"))
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(back); got != tc.want {
				t.Errorf("loaded %s, want %s", got, tc.want)
			}
			pub, err := LoadPublic(filepath.Join(dir, "issuer.pub"))
			if err != nil {
				t.Fatal(err)
			}
			a, _ := KIDHex(pub)
			b, _ := KIDHex(back.Public())
			c, _ := KIDHex(key.Public())
			if a != b || b != c {
				t.Errorf("kids differ: pub %s, loaded %s, made %s", a, b, c)
			}
			// a second WritePair must not replace the key
			other, _ := New(tc.alg)
			if err := WritePair(dir, "issuer", other); err == nil {
				t.Fatal("WritePair replaced an existing key")
			}
			again, err := LoadPrivate(filepath.Join(dir, "issuer.key"))
			if err != nil {
				t.Fatal(err)
			}
			if k, _ := KIDHex(again.Public()); k != c {
				t.Error("the key changed after a refused WritePair")
			}
		})
	}
	if _, err := New("rsa"); err == nil || !strings.Contains(err.Error(), "keyfile: algorithm") {
		t.Errorf("New(rsa) = %v, want an algorithm error", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *ecdsa.PrivateKey:
		return "*ecdsa.PrivateKey"
	case ed25519.PrivateKey:
		return "ed25519.PrivateKey"
	}
	return "other"
}

func TestKIDIsSHA256OfSPKI(t *testing.T) {
	key, _ := New(ES256)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	kid, err := KID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kid, sum[:8]) || len(kid) != 8 {
		t.Errorf("KID %x, want %x", kid, sum[:8])
	}
	h, _ := KIDHex(key.Public())
	if h != hex.EncodeToString(sum[:8]) || len(h) != 16 {
		t.Errorf("KIDHex %s", h)
	}
	if _, err := KID(struct{}{}); err == nil {
		t.Error("KID of a non-key succeeded")
	}
}

func writeFile(t *testing.T, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask may have dropped bits
		t.Fatal(err)
	}
	return p
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadPrivateRefuses(t *testing.T) {
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p8, _ := x509.MarshalPKCS8PrivateKey(ec)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384der, _ := x509.MarshalPKCS8PrivateKey(p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsader, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	for _, tc := range []struct {
		name  string
		data  []byte
		mode  os.FileMode
		want  string // substring of the error, "" for success
		isErr error
	}{
		{"pkcs8 0600", pemBytes("PRIVATE KEY", p8), 0o600, "", nil},
		{"pkcs8 0400", pemBytes("PRIVATE KEY", p8), 0o400, "", nil},
		{"sec1 (openssl ecparam)", pemBytes("EC PRIVATE KEY", sec1), 0o600, "", nil},
		{"group readable", pemBytes("PRIVATE KEY", p8), 0o640, "chmod 600", ErrPermissive},
		{"world readable", pemBytes("PRIVATE KEY", p8), 0o644, "mode 644", ErrPermissive},
		{"no pem", []byte("hello"), 0o600, "no PEM block", nil},
		{"public key pem", pemBytes("PUBLIC KEY", []byte{1, 2}), 0o600, "want PRIVATE KEY", nil},
		{"bad der", pemBytes("PRIVATE KEY", []byte{1, 2, 3}), 0o600, "keyfile:", nil},
		{"P-384", pemBytes("PRIVATE KEY", p384der), 0o600, "want P-256", nil},
		{"RSA", pemBytes("PRIVATE KEY", rsader), 0o600, "want ECDSA P-256 or Ed25519", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".key", tc.data, tc.mode)
			k, err := LoadPrivate(p)
			if tc.want == "" {
				if err != nil || k == nil {
					t.Fatalf("LoadPrivate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.isErr != nil && !errors.Is(err, tc.isErr) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.isErr)
			}
		})
	}
	if _, err := LoadPrivate(filepath.Join(dir, "missing.key")); err == nil {
		t.Error("LoadPrivate of a missing file succeeded")
	}
}

func TestParsePublic(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecder, _ := x509.MarshalPKIXPublicKey(ec.Public())
	edpub, _, _ := ed25519.GenerateKey(rand.Reader)
	edder, _ := x509.MarshalPKIXPublicKey(edpub)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384der, _ := x509.MarshalPKIXPublicKey(p384.Public())
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsader, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"ecdsa", pemBytes("PUBLIC KEY", ecder), ""},
		{"ed25519", pemBytes("PUBLIC KEY", edder), ""},
		{"P-384", pemBytes("PUBLIC KEY", p384der), "want P-256"},
		{"RSA", pemBytes("PUBLIC KEY", rsader), "want ECDSA P-256 or Ed25519"},
		{"private type", pemBytes("PRIVATE KEY", ecder), "no PEM PUBLIC KEY block"},
		{"garbage", []byte("nope"), "no PEM PUBLIC KEY block"},
		{"bad der", pemBytes("PUBLIC KEY", []byte{0x30, 0x01}), "asn1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublic(tc.data)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	var kids []string
	for _, n := range []string{"b", "a", "c"} {
		k, _ := New(Ed25519)
		if err := WritePair(dir, n, k); err != nil {
			t.Fatal(err)
		}
		kid, _ := KIDHex(k.Public())
		kids = append(kids, kid)
	}
	writeFile(t, dir, "notes.txt", []byte("not a key"), 0o644)
	got, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d keys, want 3", len(got))
	}
	for i, want := range []struct{ name, kid string }{{"a", kids[1]}, {"b", kids[0]}, {"c", kids[2]}} {
		if filepath.Base(got[i].Path) != want.name+".pub" || got[i].KID != want.kid {
			t.Errorf("key %d: %s %s, want %s.pub %s", i, got[i].Path, got[i].KID, want.name, want.kid)
		}
	}
	// the same key under two names is an error
	b, _ := os.ReadFile(filepath.Join(dir, "a.pub"))
	writeFile(t, dir, "z.pub", b, 0o644)
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "same key") {
		t.Errorf("duplicate key: err = %v", err)
	}
	// a broken .pub is an error naming the file
	writeFile(t, dir, "z.pub", []byte("broken"), 0o644)
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "z.pub") {
		t.Errorf("broken key: err = %v", err)
	}
	if got, err := LoadDir(t.TempDir()); err != nil || len(got) != 0 {
		t.Errorf("empty dir: %v %v", got, err)
	}
}

// TestOpenSSLKeys checks that keys made with openssl load and have the key
// id the CLI.md openssl recipe gives.
func TestOpenSSLKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not found: install it (apt-get install openssl); scripts/deps.sh test does")
	}
	dir := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		gen  []string
	}{
		{"ec", []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.key"}},
		{"ed25519", []string{"genpkey", "-algorithm", "ed25519", "-out", "ed25519.key"}},
		{"sec1", []string{"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sec1.key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(tc.gen...)
			keyPath := filepath.Join(dir, tc.name+".key")
			if err := os.Chmod(keyPath, 0o600); err != nil {
				t.Fatal(err)
			}
			run("pkey", "-in", tc.name+".key", "-pubout", "-out", tc.name+".pub")
			der := run("pkey", "-pubin", "-in", tc.name+".pub", "-outform", "DER")
			sum := sha256.Sum256(der)
			want := hex.EncodeToString(sum[:8])
			key, err := LoadPrivate(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := LoadPublic(filepath.Join(dir, tc.name+".pub"))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []any{key.Public(), pub} {
				if got, _ := KIDHex(k); got != want {
					t.Errorf("kid %s, openssl recipe gives %s", got, want)
				}
			}
		})
	}
}
