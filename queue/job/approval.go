package job

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/trust"
)

// Approval errors. Verify wraps one of them with %w and says which header
// is wrong; match them with errors.Is.
var (
	// ErrNoApproval: the Approval-Key or Approval-Signature header is missing.
	ErrNoApproval = errors.New("job: approval missing")
	// ErrUnknownKey: Approval-Key is not the id of a trusted approver key.
	ErrUnknownKey = errors.New("job: unknown approval key")
	// ErrBadSignature: Approval-Signature is not base64 of an Ed25519
	// signature, or does not verify over the body with that key.
	ErrBadSignature = errors.New("job: bad approval signature")
)

// Sign signs body, the exact bytes to publish, as an enrollment system
// does. It returns the Approval-Key header value (the key id, 16 hex
// digits, as internal/keyfile computes it) and the Approval-Signature value
// (standard base64 of the Ed25519 signature over body).
func Sign(key ed25519.PrivateKey, body []byte) (kid, sigB64 string, err error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", "", fmt.Errorf("job: sign: Ed25519 private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	kid, err = keyfile.KIDHex(key.Public())
	if err != nil {
		return "", "", fmt.Errorf("job: sign: %w", err)
	}
	return kid, base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)), nil
}

// Verifier checks approvals against a fixed set of trusted approver keys.
// It is safe for concurrent use.
type Verifier struct {
	keys map[string]ed25519.PublicKey
}

// NewVerifier trusts the given approver keys. Approver keys must be
// Ed25519; any other key type, a key id that does not match its key, or an
// empty list is an error.
func NewVerifier(keys []keyfile.Public) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("job: no trusted approver keys: add the enrollment system's Ed25519 approver .pub files")
	}
	v := &Verifier{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for _, k := range keys {
		name := k.Path
		if name == "" {
			name = k.KID
		}
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("job: approver key %s is %T: approver keys must be Ed25519 (printerd keys new --kind approver)", name, k.Key)
		}
		kid, err := keyfile.KIDHex(pub)
		if err != nil {
			return nil, fmt.Errorf("job: approver key %s: %w", name, err)
		}
		if k.KID != "" && k.KID != kid {
			return nil, fmt.Errorf("job: approver key %s: key id %s does not match the key (%s)", name, k.KID, kid)
		}
		if _, dup := v.keys[kid]; dup {
			return nil, fmt.Errorf("job: approver key %s: key id %s given twice", name, kid)
		}
		v.keys[kid] = pub
	}
	return v, nil
}

// LoadVerifier trusts every *.pub file in dir (see keyfile.LoadDir). A
// directory without one, or holding a key that is not Ed25519, is an error;
// so is a directory or key file that group or others may write (anyone
// who can add a key can approve jobs).
func LoadVerifier(dir string) (*Verifier, error) {
	if err := trust.CheckDir(dir); err != nil {
		return nil, fmt.Errorf("job: approver keys: %w", err)
	}
	keys, err := keyfile.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("job: approver keys: %w", err)
	}
	for _, k := range keys {
		if err := trust.CheckFile(k.Path); err != nil {
			return nil, fmt.Errorf("job: approver keys: %w", err)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("job: no approver keys (*.pub) in %s: add the enrollment system's Ed25519 public keys", dir)
	}
	return NewVerifier(keys)
}

// KIDs returns the trusted key ids, sorted.
func (v *Verifier) KIDs() []string {
	out := make([]string, 0, len(v.keys))
	for k := range v.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Verify checks that sigB64 (the Approval-Signature header) is a valid
// Ed25519 signature over exactly body by the trusted key kid (the
// Approval-Key header). Call it before trusting anything Parse says about
// body. Errors wrap ErrNoApproval, ErrUnknownKey or ErrBadSignature.
func (v *Verifier) Verify(body []byte, kid, sigB64 string) error {
	switch {
	case kid == "" && sigB64 == "":
		return fmt.Errorf("%w: no %s or %s header", ErrNoApproval, HeaderKey, HeaderSignature)
	case kid == "":
		return fmt.Errorf("%w: no %s header", ErrNoApproval, HeaderKey)
	case sigB64 == "":
		return fmt.Errorf("%w: no %s header", ErrNoApproval, HeaderSignature)
	}
	if !isKID(kid) {
		return fmt.Errorf("%w: %s header must be 16 lowercase hex digits", ErrUnknownKey, HeaderKey)
	}
	pub, ok := v.keys[kid]
	if !ok {
		return fmt.Errorf("%w: %s %s is not a trusted approver key", ErrUnknownKey, HeaderKey, kid)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sigB64)
	if err != nil {
		return fmt.Errorf("%w: %s header is not standard base64", ErrBadSignature, HeaderSignature)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %s header holds %d bytes, want a %d-byte Ed25519 signature", ErrBadSignature, HeaderSignature, len(sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, body, sig) {
		return fmt.Errorf("%w: %s does not verify over the body with key %s", ErrBadSignature, HeaderSignature, kid)
	}
	return nil
}

// ParseAt verifies the approval of body and only then parses it with
// ParseAt. A verification error is returned as is (not a *FieldError).
func (v *Verifier) ParseAt(body []byte, kid, sigB64 string, now time.Time) (*Job, error) {
	if err := v.Verify(body, kid, sigB64); err != nil {
		return nil, err
	}
	return ParseAt(body, now)
}

func isKID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
