// Package keyfile reads and writes the PEM key files printerd uses: issuer
// keys (ECDSA P-256 or Ed25519) that sign card barcodes and approver keys
// (Ed25519) that sign jobs, and computes their key ids.
//
// A key id (kid) is the first 8 bytes of SHA-256 over the public key's DER
// SubjectPublicKeyInfo; as text, 16 lowercase hex digits. Files made with
// openssl work the same.
package keyfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Algorithms for New.
const (
	ES256   = "es256"
	Ed25519 = "ed25519"
)

// KID returns the 8-byte key id of a public key.
func KID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("keyfile: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:8], nil
}

// KIDHex returns the key id of a public key as 16 lowercase hex digits.
func KIDHex(pub crypto.PublicKey) (string, error) {
	kid, err := KID(pub)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(kid), nil
}

// New makes a key pair: ES256 (ECDSA P-256) or Ed25519.
func New(alg string) (crypto.Signer, error) {
	switch strings.ToLower(alg) {
	case ES256, "", "p256", "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("keyfile: algorithm %q: want es256 or ed25519", alg)
}

// WritePair writes dir/name.key (PKCS#8 PEM, mode 0600) and dir/name.pub
// (SubjectPublicKeyInfo PEM, mode 0644). It refuses to overwrite a key.
func WritePair(dir, name string, key crypto.Signer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("keyfile: encode private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("keyfile: encode public key: %w", err)
	}
	keyPath := filepath.Join(dir, name+".key")
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyfile: %w (remove the old key first if you mean to replace it)", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: privDER}); err != nil {
		f.Close()
		os.Remove(keyPath) // a half-written key would block the next try
		return fmt.Errorf("keyfile: write %s: %w", keyPath, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(keyPath)
		return fmt.Errorf("keyfile: write %s: %w", keyPath, err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(filepath.Join(dir, name+".pub"), pubPEM, 0o644); err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	return nil
}

// ErrPermissive is returned for a private key file that others can read.
var ErrPermissive = errors.New("keyfile: private key is readable by group or others")

// LoadPrivate reads a PKCS#8 PEM private key (ECDSA P-256 or Ed25519). It
// refuses a file that group or others can read or write.
func LoadPrivate(path string) (crypto.Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %o; run chmod 600 %s", ErrPermissive, path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("keyfile: %s: no PEM block", path)
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("keyfile: %s: PEM type %q: want PRIVATE KEY", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("keyfile: %s: %w", path, err)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("keyfile: %s: ECDSA curve %s: want P-256", path, k.Curve.Params().Name)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("keyfile: %s: key type %T: want ECDSA P-256 or Ed25519", path, k)
}

// LoadPublic reads a SubjectPublicKeyInfo PEM public key (ECDSA P-256 or Ed25519).
func LoadPublic(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	pub, err := ParsePublic(b)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %s: %w", path, err)
	}
	return pub, nil
}

// ParsePublic parses a SubjectPublicKeyInfo PEM public key.
func ParsePublic(pemBytes []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("no PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA curve %s: want P-256", p.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("key type %T: want ECDSA P-256 or Ed25519", pub)
	}
	return pub, nil
}

// Public is a trusted public key with its id and where it came from.
type Public struct {
	KID  string // 16 hex digits
	Key  crypto.PublicKey
	Path string
}

// LoadDir reads every *.pub file in dir, sorted by name. Two files with the
// same key id are an error.
func LoadDir(dir string) ([]Public, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.pub"))
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	sort.Strings(paths)
	seen := map[string]string{}
	var out []Public
	for _, p := range paths {
		pub, err := LoadPublic(p)
		if err != nil {
			return nil, err
		}
		kid, err := KIDHex(pub)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[kid]; ok {
			return nil, fmt.Errorf("keyfile: %s and %s hold the same key (kid %s)", prev, p, kid)
		}
		seen[kid] = p
		out = append(out, Public{KID: kid, Key: pub, Path: p})
	}
	return out, nil
}
