package barcode

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"io"
	"math/big"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/cityid/printerd/internal/keyfile"
)

// TestIndependentVerification checks a barcode the way an outside verifier
// would, without go-cose or this package's decoder: Base45, zlib, a plain
// CBOR decoder, and crypto/ecdsa or crypto/ed25519 over the Sig_structure
// ["Signature1", protected, empty bstr, payload], with raw r||s for ES256.
func TestIndependentVerification(t *testing.T) {
	for _, alg := range []string{keyfile.ES256, keyfile.Ed25519} {
		t.Run(alg, func(t *testing.T) {
			key, _ := newKey(t, alg)
			text, err := Sign(fixture, key)
			if err != nil {
				t.Fatal(err)
			}
			z, err := Base45Decode(text)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := zlib.NewReader(bytes.NewReader(z))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			var cwtTag cbor.Tag
			if err := cbor.Unmarshal(raw, &cwtTag); err != nil {
				t.Fatal(err)
			}
			if cwtTag.Number != 61 {
				t.Fatalf("outer tag %d, want 61 (CWT)", cwtTag.Number)
			}
			sign1, ok := cwtTag.Content.(cbor.Tag)
			if !ok || sign1.Number != 18 {
				t.Fatalf("inner item %T, want tag 18 (COSE_Sign1)", cwtTag.Content)
			}
			arr, ok := sign1.Content.([]any)
			if !ok || len(arr) != 4 {
				t.Fatalf("COSE_Sign1 is %T, want a 4-element array", sign1.Content)
			}
			protected, _ := arr[0].([]byte)
			unprotected, _ := arr[1].(map[any]any)
			payload, _ := arr[2].([]byte)
			sig, _ := arr[3].([]byte)
			if protected == nil || unprotected == nil || payload == nil || sig == nil {
				t.Fatalf("COSE_Sign1 element types: %T %T %T %T", arr[0], arr[1], arr[2], arr[3])
			}
			if len(unprotected) != 0 {
				t.Errorf("unprotected header %v, want empty", unprotected)
			}
			var hdr map[int]any
			if err := cbor.Unmarshal(protected, &hdr); err != nil {
				t.Fatal(err)
			}
			wantAlg := map[string]int64{keyfile.ES256: -7, keyfile.Ed25519: -8}[alg]
			if a, _ := hdr[1].(int64); a != wantAlg || len(hdr) != 2 {
				t.Errorf("protected header %v, want alg %d and kid", hdr, wantAlg)
			}
			kid, _ := keyfile.KID(key.Public())
			if k, _ := hdr[4].([]byte); !bytes.Equal(k, kid) {
				t.Errorf("kid %x, want %x", hdr[4], kid)
			}
			toBeSigned, err := cbor.Marshal([]any{"Signature1", protected, []byte{}, payload})
			if err != nil {
				t.Fatal(err)
			}
			switch pub := key.Public().(type) {
			case *ecdsa.PublicKey:
				if len(sig) != 64 {
					t.Fatalf("ES256 signature is %d bytes, want 64 (raw r||s)", len(sig))
				}
				h := sha256.Sum256(toBeSigned)
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				if !ecdsa.Verify(pub, h[:], r, s) {
					t.Fatal("crypto/ecdsa does not verify the signature over the Sig_structure")
				}
				h[0] ^= 1
				if ecdsa.Verify(pub, h[:], r, s) {
					t.Fatal("crypto/ecdsa verifies a changed digest")
				}
			case ed25519.PublicKey:
				if !ed25519.Verify(pub, toBeSigned, sig) {
					t.Fatal("crypto/ed25519 does not verify the signature over the Sig_structure")
				}
			}
			// the claims, read by hand
			var claims map[int]any
			if err := cbor.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			id, _ := claims[169].(map[any]any)
			if claims[1] != "CITY" || id == nil || id[uint64(1)] != fixture.Number || id[uint64(4)] != fixture.Name ||
				id[uint64(8)] != "19900228" || id[uint64(80)] != fixture.Gender || id[uint64(81)] != uint64(2) {
				t.Errorf("claims read by hand: %v", claims)
			}
			if iat, _ := claims[6].(uint64); iat != 1795564800 { // 2026-11-25T00:00:00Z
				t.Errorf("iat %v, want 1795564800", claims[6])
			}
		})
	}
}
