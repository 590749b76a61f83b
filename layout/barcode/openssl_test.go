package barcode

import (
	"bytes"
	"compress/zlib"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/cityid/printerd/internal/keyfile"
)

// TestOpenSSLVerifies has openssl check the barcode signature: a crypto
// stack that is not Go's, given only the public key PEM, the Sig_structure
// bytes and the signature (DER-wrapped r, s for ES256).
func TestOpenSSLVerifies(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not found: install it (apt-get install openssl); scripts/deps.sh test does")
	}
	for _, alg := range []string{keyfile.ES256, keyfile.Ed25519} {
		t.Run(alg, func(t *testing.T) {
			key, _ := newKey(t, alg)
			text, err := Sign(fixture, key)
			if err != nil {
				t.Fatal(err)
			}
			z, _ := Base45Decode(text)
			zr, err := zlib.NewReader(bytes.NewReader(z))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(zr)
			var outer, inner cbor.RawTag
			if err := cbor.Unmarshal(raw, &outer); err != nil {
				t.Fatal(err)
			}
			if err := cbor.Unmarshal(outer.Content, &inner); err != nil {
				t.Fatal(err)
			}
			var arr []cbor.RawMessage
			if err := cbor.Unmarshal(inner.Content, &arr); err != nil || len(arr) != 4 {
				t.Fatalf("COSE_Sign1: %v", err)
			}
			var protected, payload, sig []byte
			cbor.Unmarshal(arr[0], &protected)
			cbor.Unmarshal(arr[2], &payload)
			cbor.Unmarshal(arr[3], &sig)
			tbs, _ := cbor.Marshal([]any{"Signature1", protected, []byte{}, payload})

			dir := t.TempDir()
			der, _ := x509.MarshalPKIXPublicKey(key.Public())
			write := func(name string, b []byte) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			pubPath := write("issuer.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			tbsPath := write("tbs.bin", tbs)
			var args []string
			if alg == keyfile.ES256 {
				derSig, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
				args = []string{"dgst", "-sha256", "-verify", pubPath, "-signature", write("sig.der", derSig), tbsPath}
			} else {
				args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", tbsPath, "-sigfile", write("sig.bin", sig)}
			}
			out, err := exec.Command("openssl", args...).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("Verified")) {
				t.Fatalf("openssl %v: %v\n%s", args, err, out)
			}
			// and openssl refuses a changed payload
			tbs[len(tbs)-1] ^= 1
			write("tbs.bin", tbs)
			if out, err := exec.Command("openssl", args...).CombinedOutput(); err == nil {
				t.Fatalf("openssl verified a changed payload: %s", out)
			}
		})
	}
}
