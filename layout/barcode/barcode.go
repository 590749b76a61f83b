package barcode

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
	"golang.org/x/text/unicode/norm"

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

// CWT and Claim 169 keys the barcode uses. See doc.go for the choice of
// KeyGender and KeyIssue.
const (
	KeyIss      = 1   // CWT iss
	KeyExp      = 4   // CWT exp
	KeyIat      = 6   // CWT iat
	KeyIdentity = 169 // CWT identity-data (Claim 169)

	KeyNumber = 1  // Claim 169 ID
	KeyName   = 4  // Claim 169 Full Name
	KeyDOB    = 8  // Claim 169 Date of Birth, YYYYMMDD
	KeyGender = 80 // closed-ecosystem key: self-designated gender as printed text
	KeyIssue  = 81 // closed-ecosystem key: issue counter of the card number
)

// CBOR tags around the COSE_Sign1 (RFC 8392 section 6, RFC 9052).
const (
	tagCWT   = 61
	tagSign1 = 18
)

// Limits on what Sign accepts and Verify decodes.
const (
	// MaxDecompressed bounds the zlib-decompressed CWT: a real one is about
	// 200 bytes, so anything larger is refused before it is decoded.
	MaxDecompressed = 4096
	// MaxText is the longest barcode text Verify looks at: the alphanumeric
	// capacity of the largest QR code.
	MaxText = 4296

	maxIssuer = 64
	maxNumber = 32
	maxName   = 320 // 80 characters (the job contract) of up to 4 bytes in UTF-8
	maxGender = 96  // 24 characters of up to 4 bytes
)

// Errors Verify returns; match them with errors.Is.
var (
	// ErrFormat is a barcode that is not a well-formed printerd CWT; the
	// *FormatError that wraps it names the stage that failed.
	ErrFormat = errors.New("barcode: malformed barcode")
	// ErrUnknownKey is a barcode signed by a key that is not trusted.
	ErrUnknownKey = errors.New("barcode: signed by an unknown key")
	// ErrBadSignature is a barcode whose signature does not hold.
	ErrBadSignature = errors.New("barcode: signature does not verify")
	// ErrMismatch is a verified barcode whose fields are not the expected
	// ones; the *MismatchError that wraps it names the field.
	ErrMismatch = errors.New("barcode: signed fields differ")
)

// Decoding stages a FormatError names.
const (
	StageText    = "text"
	StageBase45  = "base45"
	StageZlib    = "zlib"
	StageCWT     = "cwt"
	StageCOSE    = "cose"
	StageHeader  = "header"
	StageClaims  = "claims"
	StageSigning = "signing"
)

// FormatError is a malformed barcode: the decoding stage that failed and
// why. It never holds a claim value.
type FormatError struct {
	Stage string // one of the Stage constants
	Err   error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("barcode: malformed barcode at stage %s: %v", e.Stage, e.Err)
}

// Unwrap lets errors.Is match ErrFormat and the cause.
func (e *FormatError) Unwrap() []error { return []error{ErrFormat, e.Err} }

func formatErr(stage string, format string, args ...any) error {
	return &FormatError{Stage: stage, Err: fmt.Errorf(format, args...)}
}

// MismatchError names the first Claims field that differs (by field name
// only, never by value).
type MismatchError struct {
	Field string // a Claims field name, e.g. "Name"
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("barcode: signed field %s differs from the job", e.Field)
}

// Unwrap lets errors.Is match ErrMismatch.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// cwt is the CWT claims set. Field order and tags give the deterministic
// layout; no field is optional.
type cwt struct {
	Iss      string   `cbor:"1,keyasint"`
	Exp      int64    `cbor:"4,keyasint"`
	Iat      int64    `cbor:"6,keyasint"`
	Identity identity `cbor:"169,keyasint"`
}

// identity is the Claim 169 map.
type identity struct {
	Number string `cbor:"1,keyasint"`
	Name   string `cbor:"4,keyasint"`
	DOB    string `cbor:"8,keyasint"`
	Gender string `cbor:"80,keyasint"`
	Issue  uint64 `cbor:"81,keyasint"`
}

var (
	encMode    cbor.EncMode
	decMode    cbor.DecMode // claims: strict, no tags
	tagDecMode cbor.DecMode // the outer CWT tag
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   4,
		MaxArrayElements:  16,
		MaxMapPairs:       16,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	tagDecMode, err = cbor.DecOptions{
		IndefLength:     cbor.IndefLengthForbidden,
		MaxNestedLevels: 8,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

const dateLayout = "2006-01-02"

// numericDate turns YYYY-MM-DD into seconds since the epoch at 00:00 UTC.
func numericDate(field, s string) (int64, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return 0, fmt.Errorf("barcode: claims: %s: want a date YYYY-MM-DD", field)
	}
	return t.Unix(), nil
}

// checkText validates a text claim by field name and rule, never value.
func checkText(field, s string, max int, empty bool) error {
	switch {
	case s == "" && !empty:
		return fmt.Errorf("barcode: claims: %s: must not be empty", field)
	case len(s) > max:
		return fmt.Errorf("barcode: claims: %s: %d bytes, more than %d", field, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("barcode: claims: %s: not valid UTF-8", field)
	}
	return nil
}

// toCWT checks c and lays it out as the CWT claims set.
func toCWT(c Claims) (cwt, error) {
	var w cwt
	c.Name = norm.NFC.String(c.Name)
	for _, f := range []struct {
		name, v string
		max     int
		empty   bool
	}{
		{"Issuer", c.Issuer, maxIssuer, false},
		{"Number", c.Number, maxNumber, false},
		{"Name", c.Name, maxName, false},
		{"Gender", c.Gender, maxGender, true},
	} {
		if err := checkText(f.name, f.v, f.max, f.empty); err != nil {
			return w, err
		}
	}
	iat, err := numericDate("Issued", c.Issued)
	if err != nil {
		return w, err
	}
	exp, err := numericDate("Expires", c.Expires)
	if err != nil {
		return w, err
	}
	if iat < 0 {
		return w, errors.New("barcode: claims: Issued: must be 1970-01-01 or later")
	}
	if exp < iat {
		return w, errors.New("barcode: claims: Expires: must not be before Issued")
	}
	dob, err := time.Parse(dateLayout, c.DOB)
	if err != nil {
		return w, errors.New("barcode: claims: DOB: want a date YYYY-MM-DD")
	}
	if c.Issue < 0 {
		return w, fmt.Errorf("barcode: claims: Issue: must be 0 to %d", math.MaxInt)
	}
	w = cwt{
		Iss: c.Issuer,
		Exp: exp,
		Iat: iat,
		Identity: identity{
			Number: c.Number,
			Name:   c.Name,
			DOB:    dob.Format("20060102"),
			Gender: c.Gender,
			Issue:  uint64(c.Issue),
		},
	}
	return w, nil
}

// algorithm returns the COSE algorithm for a public key.
func algorithm(pub crypto.PublicKey) (cose.Algorithm, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return 0, errors.New("barcode: ECDSA key is not on P-256")
		}
		return cose.AlgorithmES256, nil
	case ed25519.PublicKey:
		return cose.AlgorithmEdDSA, nil
	}
	return 0, fmt.Errorf("barcode: key type %T: want ECDSA P-256 or Ed25519", pub)
}

// Sign returns the barcode text (Base45) for the claims, signed with key
// (ECDSA P-256 -> ES256, Ed25519 -> EdDSA). The name is signed in NFC.
func Sign(c Claims, key crypto.Signer) (string, error) {
	if key == nil {
		return "", errors.New("barcode: sign: no key")
	}
	w, err := toCWT(c)
	if err != nil {
		return "", err
	}
	payload, err := encMode.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("barcode: encode claims: %w", err)
	}
	alg, err := algorithm(key.Public())
	if err != nil {
		return "", err
	}
	kid, err := keyfile.KID(key.Public())
	if err != nil {
		return "", fmt.Errorf("barcode: %w", err)
	}
	signer, err := cose.NewSigner(alg, key)
	if err != nil {
		return "", fmt.Errorf("barcode: signer: %w", err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return "", fmt.Errorf("barcode: sign: %w", err)
	}
	sign1, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("barcode: encode COSE_Sign1: %w", err)
	}
	tagged, err := encMode.Marshal(cbor.Tag{Number: tagCWT, Content: cbor.RawMessage(sign1)})
	if err != nil {
		return "", fmt.Errorf("barcode: encode CWT tag: %w", err)
	}
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if err != nil {
		return "", fmt.Errorf("barcode: zlib: %w", err)
	}
	if _, err := zw.Write(tagged); err != nil {
		return "", fmt.Errorf("barcode: zlib: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("barcode: zlib: %w", err)
	}
	return Base45Encode(z.Bytes()), nil
}

// Verify decodes barcode text, checks its signature against the trusted
// keys (by kid) and returns the claims and the signing key's id.
//
// Errors match ErrFormat (a *FormatError names the stage), ErrUnknownKey or
// ErrBadSignature. They never contain a claim value.
func Verify(text string, keys []keyfile.Public) (*Claims, string, error) {
	msg, err := decodeSign1(text)
	if err != nil {
		return nil, "", err
	}
	alg, kid, err := protected(msg)
	if err != nil {
		return nil, "", err
	}
	pub, err := findKey(kid, keys)
	if err != nil {
		return nil, "", err
	}
	keyAlg, err := algorithm(pub)
	if err != nil {
		return nil, "", fmt.Errorf("%w: kid %s: %v", ErrUnknownKey, kid, err)
	}
	if keyAlg != alg {
		return nil, "", fmt.Errorf("%w: barcode says %v but key %s is %v", ErrBadSignature, alg, kid, keyAlg)
	}
	verifier, err := cose.NewVerifier(alg, pub)
	if err != nil {
		return nil, "", fmt.Errorf("%w: key %s: %v", ErrBadSignature, kid, err)
	}
	if err := msg.Verify(nil, verifier); err != nil {
		return nil, "", fmt.Errorf("%w (kid %s)", ErrBadSignature, kid)
	}
	c, err := decodeClaims(msg.Payload)
	if err != nil {
		return nil, "", err
	}
	return c, kid, nil
}

// decodeSign1 runs Base45, zlib and the CWT/COSE_Sign1 tags.
func decodeSign1(text string) (*cose.Sign1Message, error) {
	if text == "" {
		return nil, formatErr(StageText, "empty")
	}
	if len(text) > MaxText {
		return nil, formatErr(StageText, "%d characters, more than %d", len(text), MaxText)
	}
	z, err := Base45Decode(text)
	if err != nil {
		return nil, &FormatError{Stage: StageBase45, Err: err}
	}
	raw, err := inflate(z)
	if err != nil {
		return nil, &FormatError{Stage: StageZlib, Err: err}
	}
	// Claim 169 carries the COSE_Sign1 in the CWT tag: 61(18([...])).
	var outer cbor.RawTag
	if err := tagDecMode.Unmarshal(raw, &outer); err != nil {
		return nil, formatErr(StageCWT, "want CBOR tag %d: %w", tagCWT, err)
	}
	if outer.Number != tagCWT {
		return nil, formatErr(StageCWT, "CBOR tag %d: want %d (CWT)", outer.Number, tagCWT)
	}
	msg := new(cose.Sign1Message)
	if err := msg.UnmarshalCBOR(outer.Content); err != nil {
		return nil, formatErr(StageCOSE, "want a tagged COSE_Sign1: %w", err)
	}
	if msg.Payload == nil {
		return nil, formatErr(StageCOSE, "detached payload")
	}
	return msg, nil
}

// inflate decompresses zlib data, refusing more than MaxDecompressed bytes
// and anything after the zlib stream.
func inflate(z []byte) ([]byte, error) {
	if len(z) < 2 || z[0]&0x0f != 8 {
		return nil, errors.New("no zlib header (brotli and raw data are not accepted)")
	}
	br := bytes.NewReader(z)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, MaxDecompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxDecompressed {
		return nil, fmt.Errorf("decompresses to more than %d bytes", MaxDecompressed)
	}
	// Reach the checksum: ReadAll stops at io.EOF only after it is checked.
	if br.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the zlib stream", br.Len())
	}
	return out, nil
}

// protected returns the algorithm and the hex key id from the protected
// header; both must be there.
func protected(msg *cose.Sign1Message) (cose.Algorithm, string, error) {
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil {
		return 0, "", formatErr(StageHeader, "alg: %w", err)
	}
	if alg != cose.AlgorithmES256 && alg != cose.AlgorithmEdDSA {
		return 0, "", formatErr(StageHeader, "alg %d: want -7 (ES256) or -8 (EdDSA)", int(alg))
	}
	if err := checkCritical(msg.Headers.Protected); err != nil {
		return 0, "", err
	}
	v, ok := msg.Headers.Protected[cose.HeaderLabelKeyID]
	if !ok {
		return 0, "", formatErr(StageHeader, "kid: missing from the protected header")
	}
	kid, ok := v.([]byte)
	if !ok || len(kid) != 8 {
		return 0, "", formatErr(StageHeader, "kid: want an 8-byte string")
	}
	return alg, hex.EncodeToString(kid), nil
}

// checkCritical refuses a protected header whose crit parameter (RFC 9052
// section 3.1) names a header parameter printerd does not process: only
// alg and kid are understood, so a code that requires its verifier to
// understand anything else is not one printerd may accept.
func checkCritical(h cose.ProtectedHeader) error {
	v, ok := h[cose.HeaderLabelCritical]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return formatErr(StageHeader, "crit: want a non-empty array of header labels")
	}
	for _, l := range list {
		switch n := l.(type) {
		case int64:
			if n == cose.HeaderLabelAlgorithm || n == cose.HeaderLabelKeyID {
				continue
			}
		case uint64:
			if n == uint64(cose.HeaderLabelAlgorithm) || n == uint64(cose.HeaderLabelKeyID) {
				continue
			}
		}
		return formatErr(StageHeader, "crit: the code marks header parameter %v critical; printerd processes only alg (1) and kid (4)", l)
	}
	return nil
}

// findKey returns the trusted key with the given hex kid.
func findKey(kid string, keys []keyfile.Public) (crypto.PublicKey, error) {
	for _, k := range keys {
		id := k.KID
		if id == "" && k.Key != nil {
			id, _ = keyfile.KIDHex(k.Key)
		}
		if strings.EqualFold(id, kid) && k.Key != nil {
			return k.Key, nil
		}
	}
	return nil, fmt.Errorf("%w: kid %s is not among the %d trusted keys", ErrUnknownKey, kid, len(keys))
}

// mapKeys decodes a CBOR map's keys and checks they are exactly want.
func mapKeys(stage, what string, data []byte, want []uint64) error {
	var m map[uint64]cbor.RawMessage
	if err := decMode.Unmarshal(data, &m); err != nil {
		return formatErr(stage, "%s: want a map with unsigned integer keys: %w", what, err)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			return formatErr(stage, "%s: key %d missing", what, k)
		}
	}
	if len(m) != len(want) {
		for k := range m {
			found := false
			for _, w := range want {
				found = found || k == w
			}
			if !found {
				return formatErr(stage, "%s: unexpected key %d", what, k)
			}
		}
	}
	if id, ok := m[KeyIdentity]; ok && what == "claims set" {
		return mapKeys(stage, "claim 169", id, []uint64{KeyNumber, KeyName, KeyDOB, KeyGender, KeyIssue})
	}
	return nil
}

// decodeClaims decodes the CWT payload strictly: exactly the keys Sign
// writes, the right types, dates at midnight UTC, NFC name, and the
// deterministic encoding Sign produces.
func decodeClaims(payload []byte) (*Claims, error) {
	if err := mapKeys(StageClaims, "claims set", payload, []uint64{KeyIss, KeyExp, KeyIat, KeyIdentity}); err != nil {
		return nil, err
	}
	var w cwt
	if err := decMode.Unmarshal(payload, &w); err != nil {
		return nil, formatErr(StageClaims, "%w", err)
	}
	again, err := encMode.Marshal(w)
	if err != nil || !bytes.Equal(again, payload) {
		return nil, formatErr(StageClaims, "not in deterministic CBOR encoding")
	}
	c := &Claims{
		Issuer: w.Iss,
		Number: w.Identity.Number,
		Name:   w.Identity.Name,
		Gender: w.Identity.Gender,
	}
	for _, d := range []struct {
		field string
		secs  int64
		out   *string
	}{{"iat", w.Iat, &c.Issued}, {"exp", w.Exp, &c.Expires}} {
		if d.secs%86400 != 0 || d.secs < 0 || d.secs > 253402214400 {
			return nil, formatErr(StageClaims, "%s: want 00:00 UTC of a date from 1970 to 9999", d.field)
		}
		*d.out = time.Unix(d.secs, 0).UTC().Format(dateLayout)
	}
	if w.Exp < w.Iat {
		return nil, formatErr(StageClaims, "exp: before iat")
	}
	dob, err := time.Parse("20060102", w.Identity.DOB)
	if err != nil || len(w.Identity.DOB) != 8 {
		return nil, formatErr(StageClaims, "claim 169 key %d (date of birth): want YYYYMMDD", KeyDOB)
	}
	c.DOB = dob.Format(dateLayout)
	if w.Identity.Issue > math.MaxInt {
		return nil, formatErr(StageClaims, "claim 169 key %d (issue): too large", KeyIssue)
	}
	c.Issue = int(w.Identity.Issue)
	if !norm.NFC.IsNormalString(c.Name) {
		return nil, formatErr(StageClaims, "claim 169 key %d (full name): not in NFC", KeyName)
	}
	for _, f := range []struct {
		key   int
		field string
		v     string
		max   int
		empty bool
	}{
		{KeyIss, "iss", c.Issuer, maxIssuer, false},
		{KeyNumber, "claim 169 ID", c.Number, maxNumber, false},
		{KeyName, "claim 169 full name", c.Name, maxName, false},
		{KeyGender, "claim 169 gender text", c.Gender, maxGender, true},
	} {
		if f.v == "" && !f.empty {
			return nil, formatErr(StageClaims, "%s: empty", f.field)
		}
		if len(f.v) > f.max {
			return nil, formatErr(StageClaims, "%s: %d bytes, more than %d", f.field, len(f.v), f.max)
		}
	}
	return c, nil
}

// Compare reports the first field of c that differs from want, by field
// name only (a *MismatchError matching ErrMismatch). want's name is taken
// in NFC, as Sign signs it.
func Compare(c *Claims, want Claims) error {
	if c == nil {
		return &MismatchError{Field: "Claims"}
	}
	want.Name = norm.NFC.String(want.Name)
	for _, f := range []struct {
		name     string
		got, exp string
	}{
		{"Issuer", c.Issuer, want.Issuer},
		{"Issued", c.Issued, want.Issued},
		{"Expires", c.Expires, want.Expires},
		{"Number", c.Number, want.Number},
		{"Issue", fmt.Sprint(c.Issue), fmt.Sprint(want.Issue)},
		{"Name", c.Name, want.Name},
		{"DOB", c.DOB, want.DOB},
		{"Gender", c.Gender, want.Gender},
	} {
		if f.got != f.exp {
			return &MismatchError{Field: f.name}
		}
	}
	return nil
}
