// Package barcode makes and checks the signed barcode on the card: a CBOR
// Web Token (RFC 8392) signed as COSE_Sign1 (RFC 9052) and laid out as the
// IANA-registered identity claim 169 (MOSIP "Claim 169" QR code
// specification, version 1.2.2), zlib-compressed, Base45 encoded (RFC 9285)
// and carried in a QR code in alphanumeric mode: the pipeline of the EU
// Digital COVID Certificate. See shared/signed-barcode.md.
//
// # Layout
//
// The barcode text is Base45(zlib(61(18([protected, {}, payload, signature])))):
// CBOR tag 61 (CWT) around tag 18 (COSE_Sign1), as the Claim 169
// specification shows. The protected header holds alg (-7 ES256 for an
// ECDSA P-256 key, -8 EdDSA for an Ed25519 key) and kid (4), the 8-byte key
// id of internal/keyfile (first 8 bytes of SHA-256 over the public key's
// DER SubjectPublicKeyInfo). The unprotected header is empty. For ES256 the
// signature is raw r||s (64 bytes) over the Sig_structure
//
//	["Signature1", protected, h'', payload]
//
// The payload is the CWT claims set in deterministic CBOR (RFC 8949 core
// deterministic encoding, fxamacker/cbor CoreDetEncOptions):
//
//	1 (iss):   text, short issuer code
//	4 (exp):   int, expiry date as NumericDate at 00:00 UTC
//	6 (iat):   int, issue date as NumericDate at 00:00 UTC
//	169:       map (Claim 169 identity data)
//	  1:  text, card number as printed (Claim 169 "ID")
//	  4:  text, full name as printed, NFC UTF-8 (Claim 169 "Full Name")
//	  8:  text, date of birth YYYYMMDD (Claim 169 "Date of Birth")
//	  80: text, self-designated gender as printed (printerd key, see below)
//	  81: uint, issue counter of the card number (printerd key, see below)
//
// # Keys 80 and 81
//
// Claim 169 key 9 (Gender) only takes the integers 1, 2 and 3, which cannot
// hold a self-designated gender as printed, so printerd does not use it.
// Claim 169 1.2.2 leaves 24-49 unassigned for future demographic
// attributes, 66-74 for future biometrics and 75-99 for "any other data",
// and allows unassigned numbers in closed ecosystems where issuer and
// verifier agree. printerd takes 80 (gender as printed text) and 81 (issue
// counter) from the "any other data" range, away from the demographic range
// that the working group is most likely to assign next. A generic Claim 169
// reader shows them as unknown attributes; printerd's verifier requires
// them.
//
// # Verification
//
// Verify is strict: at most MaxText characters of Base45, a zlib stream (no
// Brotli) that inflates to at most MaxDecompressed bytes with nothing after
// it, the two tags, alg and kid in the protected header, a trusted key with
// that kid and the same algorithm, a valid signature, and then exactly the
// claim keys above with their types, dates at midnight UTC, an NFC name and
// the deterministic encoding. Errors match ErrFormat (a *FormatError names
// the stage), ErrUnknownKey or ErrBadSignature, and never contain a claim
// value. Verify does not judge expiry: that is the caller's policy.
//
// # Symbol
//
// QR draws the text with github.com/boombuler/barcode/qr in alphanumeric
// mode at an exact integer number of dots a module, with a 4-module quiet
// zone. The fixture card (287 Base45 characters, 191 bytes) is QR version
// 12 at level Q and 10 at M: 73 modules with the quiet zone, 292 dots or
// 24.7 mm at 4 dots a module; a 67-character name makes it 14-Q (27.4 mm).
//
// Scan reads a symbol or a whole card image (any image type; transparent
// pixels count as paper) with gozxing: TRY_HARDER, hybrid then
// global-histogram binarizer, both polarities (a mostly dark image, such as
// a K panel plane where 255 is ink, inverted first). gozxing's detector
// misjudges the module size of about 2 % of sharp, integer-scaled symbols
// (false finder patterns in the data), so when the image fails at its own
// size Scan tries it as a pure symbol and then rescaled to 1/2, 2/3 and 3/4.
// Errors match ErrNotFound.
//
// # Published keys
//
// Verifiers get the trusted public keys as a JSON list (WriteKeyList,
// ReadKeyList): [{"kid", "alg", "key" (PEM), "valid_from", "valid_to"}].
// LoadKeys reads such lists and single .pub PEM files.
package barcode
