package credential

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout/barcode"
)

var update = flag.Bool("update", false, "rewrite testdata/vector.json with a fresh issuer key and signature")

// vector is testdata/vector.json, the test vector of docs/chip-credential.md.
type vector struct {
	Comment    string         `json:"comment"`
	CAN        string         `json:"can"`
	Params     Params         `json:"argon2id"`
	Salt       string         `json:"salt"`
	Nonce      string         `json:"nonce"`
	Key        string         `json:"key"`
	Barcode    string         `json:"barcode_text"`
	Credential string         `json:"credential"`
	Payload    string         `json:"record_payload"`
	NDEF       string         `json:"ndef_message"`
	IssuerKey  string         `json:"issuer_public_key"`
	Claims     barcode.Claims `json:"claims"`
}

const vectorPath = "testdata/vector.json"

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeVector(t *testing.T) {
	text, keys := signFixture(t)
	cred, _ := barcode.Base45Decode(text)
	salt := bytes.Repeat([]byte{0x5A}, saltLen)
	nonce := bytes.Repeat([]byte{0xA5}, nonceLen)
	payload, err := seal(bytes.NewReader(append(bytes.Clone(salt), nonce...)), cred, testCAN, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := Message(payload)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(keys[0].Key)
	can, _ := ParseCAN(testCAN)
	v := vector{
		Comment:    "printerd chip credential version 1 test vector (docs/chip-credential.md); an invented person",
		CAN:        can,
		Params:     DefaultParams,
		Salt:       hex.EncodeToString(salt),
		Nonce:      hex.EncodeToString(nonce),
		Key:        hex.EncodeToString(argon2.IDKey([]byte(can), salt, uint32(DefaultParams.Time), DefaultParams.MemoryKiB, DefaultParams.Lanes, keyLen)),
		Barcode:    text,
		Credential: hex.EncodeToString(cred),
		Payload:    hex.EncodeToString(payload),
		NDEF:       hex.EncodeToString(msg),
		IssuerKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		Claims:     fixture,
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.MkdirAll(filepath.Dir(vectorPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorPath, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVector checks the published test vector: the key derivation, the
// exact sealed bytes for the given salt and nonce, the NDEF message, and
// that opening it with the CAN gives the barcode that verifies with the
// issuer key to the claims.
func TestVector(t *testing.T) {
	if *update {
		writeVector(t)
	}
	b, err := os.ReadFile(vectorPath)
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	salt, nonce, cred := unhex(t, v.Salt), unhex(t, v.Nonce), unhex(t, v.Credential)
	key := argon2.IDKey([]byte(v.CAN), salt, uint32(v.Params.Time), v.Params.MemoryKiB, v.Params.Lanes, keyLen)
	if hex.EncodeToString(key) != v.Key {
		t.Fatal("Argon2id key differs from the vector")
	}
	payload, err := seal(bytes.NewReader(append(bytes.Clone(salt), nonce...)), cred, v.CAN, v.Params)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(payload) != v.Payload {
		t.Fatal("sealed payload differs from the vector")
	}
	msg, err := Message(payload)
	if err != nil || hex.EncodeToString(msg) != v.NDEF {
		t.Fatalf("NDEF message differs from the vector (%v)", err)
	}
	text, err := Decode(unhex(t, v.NDEF), v.CAN)
	if err != nil {
		t.Fatal(err)
	}
	if text != v.Barcode {
		t.Fatal("decoded credential is not the vector's barcode text")
	}
	pub, err := keyfile.ParsePublic([]byte(v.IssuerKey))
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := barcode.Verify(text, []keyfile.Public{{Key: pub}})
	if err != nil {
		t.Fatal(err)
	}
	if err := barcode.Compare(c, v.Claims); err != nil {
		t.Fatal(err)
	}
}
