// Package barcode makes and checks the signed barcode on the card: a CWT
// (COSE_Sign1) laid out as identity claim 169, zlib-compressed, Base45
// encoded and carried in a QR code (see ../shared/signed-barcode.md).
//
// CONTRACT (stub): the signatures below are what layout/ and cmd/printerd
// code against; the barcode work fills in the bodies.
package barcode

import (
	"crypto"
	"errors"
	"image"

	"github.com/cityid/printerd/internal/keyfile"
)

// Claims are the fields the barcode signs, exactly as printed.
type Claims struct {
	Issuer  string // iss: short issuer code, e.g. "CITY"
	Issued  string // iat as YYYY-MM-DD
	Expires string // exp as YYYY-MM-DD
	Number  string // card number as printed
	Issue   int    // issue counter
	Name    string // full name as printed (NFC)
	DOB     string // YYYY-MM-DD
	Gender  string // self-designated gender as printed
}

// ECLevel is a QR error-correction level.
type ECLevel byte

// QR error-correction levels used on cards.
const (
	ECM ECLevel = 'M'
	ECQ ECLevel = 'Q'
)

var errStub = errors.New("barcode: not implemented yet")

// Sign returns the barcode text (Base45) for the claims, signed with key
// (ECDSA P-256 -> ES256, Ed25519 -> EdDSA).
func Sign(c Claims, key crypto.Signer) (string, error) { return "", errStub }

// QR draws text as a QR code in alphanumeric mode: moduleDots dots a
// module, exact integer scaling, a 4-module quiet zone included; black
// modules are 0, white 255.
func QR(text string, level ECLevel, moduleDots int) (*image.Gray, error) { return nil, errStub }

// Scan finds and decodes one QR code in img and returns its text.
func Scan(img image.Image) (string, error) { return "", errStub }

// Verify decodes barcode text, checks its signature against the trusted
// keys (by kid) and returns the claims and the signing key's id.
func Verify(text string, keys []keyfile.Public) (*Claims, string, error) {
	return nil, "", errStub
}
