package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/cityid/printerd/queue/internal/strictjson"
)

// MaxSealedJSON is the largest sealed part Parse reads, in bytes of JSON.
const MaxSealedJSON = 2 << 20

// maxCT bounds the content ciphertext: the largest plaintext
// EncodePerson makes, plus the tag.
const maxCT = 3*(2+65535) + 4 + MaxPhoto + TagSize

type wireWrap struct {
	KID string `json:"kid"`
	Enc string `json:"enc"`
	Key string `json:"key"`
}

type wireSealed struct {
	Suite      Suite      `json:"suite"`
	Recipients []wireWrap `json:"recipients"`
	Nonce      string     `json:"nonce"`
	CT         string     `json:"ct"`
}

var b64 = base64.StdEncoding.Strict()

// MarshalJSON writes the sealed part as
// {"suite":{"kem":K,"kdf":1,"aead":2},"recipients":[{"kid":"..","enc":"..","key":".."}],"nonce":"..","ct":".."}
// with byte strings in standard base64 with padding.
func (s *Sealed) MarshalJSON() ([]byte, error) {
	w := wireSealed{
		Suite:      s.Suite,
		Recipients: make([]wireWrap, len(s.Recipients)),
		Nonce:      b64.EncodeToString(s.Nonce),
		CT:         b64.EncodeToString(s.CT),
	}
	for i, r := range s.Recipients {
		w.Recipients[i] = wireWrap{KID: r.KID, Enc: b64.EncodeToString(r.Enc), Key: b64.EncodeToString(r.Key)}
	}
	return json.Marshal(w)
}

// UnmarshalJSON is Parse, so a Sealed inside a larger JSON body is read
// just as strictly.
func (s *Sealed) UnmarshalJSON(b []byte) error {
	p, err := Parse(b)
	if err != nil {
		return err
	}
	*s = *p
	return nil
}

var sealedSchema = strictjson.Schema{
	"suite":      {"kem": nil, "kdf": nil, "aead": nil},
	"recipients": {"kid": nil, "enc": nil, "key": nil},
	"nonce":      nil,
	"ct":         nil,
}

// Parse reads a sealed part strictly: one JSON object of at most
// MaxSealedJSON bytes of valid UTF-8, field names exactly as in the format
// (no unknown, differently cased or repeated name), byte strings in
// standard base64 with padding and no line breaks, and every size and
// suite rule of the format (Sealed.Check). Errors are *FormatError.
func Parse(b []byte) (*Sealed, error) {
	if len(b) > MaxSealedJSON {
		return nil, &FormatError{"sealed", fmt.Sprintf("must be at most %d bytes", MaxSealedJSON)}
	}
	if !utf8.Valid(b) {
		return nil, &FormatError{"sealed", "must be valid UTF-8"}
	}
	if err := strictjson.Check(b, "sealed", sealedSchema); err != nil {
		return nil, jsonError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireSealed
	if err := dec.Decode(&w); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &FormatError{"sealed", "must be one JSON object with nothing after it"}
	}
	s := &Sealed{Suite: w.Suite}
	var err error
	if s.Nonce, err = decode64("nonce", w.Nonce); err != nil {
		return nil, err
	}
	if s.CT, err = decode64("ct", w.CT); err != nil {
		return nil, err
	}
	for i, r := range w.Recipients {
		x := Wrap{KID: r.KID}
		if x.Enc, err = decode64(fmt.Sprintf("recipients[%d].enc", i), r.Enc); err != nil {
			return nil, err
		}
		if x.Key, err = decode64(fmt.Sprintf("recipients[%d].key", i), r.Key); err != nil {
			return nil, err
		}
		s.Recipients = append(s.Recipients, x)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

func decode64(field, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, &FormatError{field, "must be standard base64 without line breaks"}
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, &FormatError{field, "must be standard base64 with padding (RFC 4648 section 4)"}
	}
	return b, nil
}

// check applies the suite and size rules of the format.
func (s *Sealed) check() error {
	if _, err := KEM(s.Suite.KEM); err != nil {
		return err
	}
	if s.Suite.KDF != KDFSHA256 {
		return &FormatError{"suite.kdf", fmt.Sprintf("must be %d (HKDF-SHA256)", KDFSHA256)}
	}
	if s.Suite.AEAD != AEADAES256 {
		return &FormatError{"suite.aead", fmt.Sprintf("must be %d (AES-256-GCM)", AEADAES256)}
	}
	if len(s.Recipients) == 0 || len(s.Recipients) > MaxRecipients {
		return &FormatError{"recipients", fmt.Sprintf("must hold 1 to %d keys", MaxRecipients)}
	}
	seen := map[string]bool{}
	for i, r := range s.Recipients {
		field := fmt.Sprintf("recipients[%d]", i)
		if !isKID(r.KID) {
			return &FormatError{field + ".kid", "must be 16 lowercase hex digits"}
		}
		if seen[r.KID] {
			return &FormatError{field + ".kid", "appears more than once"}
		}
		seen[r.KID] = true
		if n := encSize(s.Suite.KEM); len(r.Enc) != n {
			return &FormatError{field + ".enc", fmt.Sprintf("must be %d bytes for suite.kem %d", n, s.Suite.KEM)}
		}
		if len(r.Key) != WrappedKeySize {
			return &FormatError{field + ".key", fmt.Sprintf("must be %d bytes", WrappedKeySize)}
		}
	}
	if len(s.Nonce) != NonceSize {
		return &FormatError{"nonce", fmt.Sprintf("must be %d bytes", NonceSize)}
	}
	if len(s.CT) < TagSize+2+2+2+4 || len(s.CT) > maxCT {
		return &FormatError{"ct", fmt.Sprintf("must be %d to %d bytes", TagSize+10, maxCT)}
	}
	return nil
}

func isKID(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// jsonError turns an encoding/json error into a *FormatError without
// quoting the input.
func jsonError(err error) error {
	var je *strictjson.Error
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &je):
		return &FormatError{je.Field, je.Rule}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "sealed"
		}
		return &FormatError{field, "must be a JSON " + jsonType(te.Type.Kind().String())}
	case errors.As(err, &se):
		return &FormatError{"sealed", fmt.Sprintf("must be valid JSON (syntax error at byte %d)", se.Offset)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FormatError{"sealed", "must be valid JSON (cut short)"}
	}
	return &FormatError{"sealed", "must be valid JSON"}
}

func jsonType(kind string) string {
	switch kind {
	case "uint16":
		return "integer from 0 to 65535"
	case "string":
		return "string"
	case "slice":
		return "array"
	case "struct":
		return "object"
	}
	return "value of the right type"
}
