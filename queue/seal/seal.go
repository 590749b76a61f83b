package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hpke"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// HPKE algorithm ids (RFC 9180 and draft-ietf-hpke-pq registries).
const (
	KEMXWing   uint16 = 0x647a // MLKEM768-X25519 (X-Wing), the default
	KEMX25519  uint16 = 0x0020 // DHKEM(X25519, HKDF-SHA256)
	KDFSHA256  uint16 = 0x0001 // HKDF-SHA256
	AEADAES256 uint16 = 0x0002 // AES-256-GCM
)

// WrapLabel starts the HPKE info string of every key wrap (WrapInfo).
const WrapLabel = "printerd-job-v2 content key"

// WrapInfo returns the HPKE info of the key wraps of a job: the ASCII
// WrapLabel followed by the 32 bytes of SHA-256 over the job's associated
// data (59 bytes, within the 64 bytes every HPKE implementation must take).
// The associated data goes into info, not into the HPKE aad, so that
// single-shot HPKE APIs without an aad parameter (Go's hpke.Seal,
// pyca/cryptography's Suite.encrypt) can seal and open the wraps.
func WrapInfo(aad []byte) []byte {
	sum := sha256.Sum256(aad)
	return append([]byte(WrapLabel), sum[:]...)
}

// Sizes of the fixed-size parts.
const (
	ContentKeySize = 32 // AES-256 key
	NonceSize      = 12 // AES-GCM nonce
	TagSize        = 16 // AES-GCM tag
	WrappedKeySize = ContentKeySize + TagSize
	MaxRecipients  = 16
)

// KEM returns the HPKE KEM for an id Seal and Open accept: KEMXWing or
// KEMX25519.
func KEM(id uint16) (hpke.KEM, error) {
	switch id {
	case KEMXWing:
		return hpke.MLKEM768X25519(), nil
	case KEMX25519:
		return hpke.DHKEM(ecdh.X25519()), nil
	}
	return nil, &FormatError{"suite.kem", fmt.Sprintf("must be %d (MLKEM768-X25519) or %d (DHKEM(X25519, HKDF-SHA256))", KEMXWing, KEMX25519)}
}

// encSize is the size of the encapsulated key of each accepted KEM.
func encSize(kem uint16) int {
	if kem == KEMXWing {
		return 1120
	}
	return 32
}

// KeyID returns the id of an epoch public key: the first 8 bytes of
// SHA-256 over the 2-byte big-endian KEM id followed by the serialised
// public key (RFC 9180 SerializePublicKey), as 16 lowercase hex digits.
func KeyID(pub hpke.PublicKey) string {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint16(nil, pub.KEM().ID()))
	h.Write(pub.Bytes())
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Errors Open reports; match them with errors.Is.
var (
	// ErrKeyGone: none of the part's recipient keys is held (destroyed
	// after its retention, or never this daemon's). Enrollment should seal
	// the job to the current keys and submit it again.
	ErrKeyGone = errors.New("seal: no recipient key of this sealed part is held here (destroyed or unknown): seal again to the current keys and re-submit")
	// ErrBinding: a recipient key is held but the part does not open with
	// this job's clear fields: it was moved from another job or altered.
	ErrBinding = errors.New("seal: sealed part does not open with this job's clear fields (moved from another job, or altered)")
	// ErrMalformed matches every *FormatError.
	ErrMalformed = errors.New("seal: malformed")
)

// FormatError is a malformed sealed part or input: the field and the rule
// it broke. It never carries a value.
type FormatError struct {
	Field string // e.g. "recipients[1].enc"
	Rule  string // e.g. "must be 1120 bytes for suite.kem 25722"
}

func (e *FormatError) Error() string { return "seal: " + e.Field + ": " + e.Rule }

// Is makes errors.Is(err, ErrMalformed) true.
func (e *FormatError) Is(target error) bool { return target == ErrMalformed }

// Suite names the HPKE algorithms of a sealed part.
type Suite struct {
	KEM  uint16 `json:"kem"`
	KDF  uint16 `json:"kdf"`
	AEAD uint16 `json:"aead"`
}

// Wrap is the content key wrapped for one recipient.
type Wrap struct {
	KID string // recipient key id (KeyID)
	Enc []byte // HPKE encapsulated key
	Key []byte // HPKE ciphertext of the content key (32 + 16 bytes)
}

// Sealed is the sealed part of a v2 job. Marshal it with json.Marshal and
// read it with Parse (or json.Unmarshal, which calls Parse).
type Sealed struct {
	Suite      Suite
	Recipients []Wrap
	Nonce      []byte // content AEAD nonce
	CT         []byte // content ciphertext with its tag
}

// Recipient is a key a job is sealed to: a daemon's current epoch key.
type Recipient struct {
	KeyID     string // KeyID(PublicKey); Seal checks it
	PublicKey hpke.PublicKey
}

// Keyring finds this daemon's epoch private key by key id. It returns an
// error matching ErrKeyGone for a key it does not hold (destroyed or
// unknown); any other error stops Open.
type Keyring interface {
	PrivateKey(kid string) (hpke.PrivateKey, error)
}

// Seal encrypts the person's fields for the recipients, bound to the
// clear fields. rand supplies the content key and nonce (nil means
// crypto/rand.Reader, what production uses); HPKE takes its ephemeral keys
// from crypto/rand itself. Every recipient must use the same KEM.
func Seal(rand io.Reader, p Person, c ClearFields, recipients []Recipient) (*Sealed, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	if len(recipients) == 0 || len(recipients) > MaxRecipients {
		return nil, &FormatError{"recipients", fmt.Sprintf("must be 1 to %d keys", MaxRecipients)}
	}
	for i, r := range recipients {
		if r.PublicKey == nil {
			return nil, &FormatError{fmt.Sprintf("recipients[%d]", i), "has no public key"}
		}
	}
	kem := recipients[0].PublicKey.KEM().ID()
	if _, err := KEM(kem); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, r := range recipients {
		field := fmt.Sprintf("recipients[%d]", i)
		if r.PublicKey.KEM().ID() != kem {
			return nil, &FormatError{field, "must use the same KEM as recipients[0]"}
		}
		if r.KeyID != KeyID(r.PublicKey) {
			return nil, &FormatError{field + ".kid", "must be KeyID of the public key"}
		}
		if seen[r.KeyID] {
			return nil, &FormatError{field + ".kid", "appears more than once"}
		}
		seen[r.KeyID] = true
	}
	aad, err := c.AAD()
	if err != nil {
		return nil, err
	}
	pt, err := EncodePerson(p)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	key := make([]byte, ContentKeySize)
	defer clear(key)
	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, fmt.Errorf("seal: content key: %w", err)
	}
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	ct, err := sealContent(key, nonce, pt, aad)
	if err != nil {
		return nil, err
	}
	info := WrapInfo(aad)
	s := &Sealed{
		Suite: Suite{KEM: kem, KDF: KDFSHA256, AEAD: AEADAES256},
		Nonce: nonce,
		CT:    ct,
	}
	for _, r := range recipients {
		enc, sender, err := hpke.NewSender(r.PublicKey, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
		if err != nil {
			return nil, fmt.Errorf("seal: wrap for %s: %w", r.KeyID, err)
		}
		wrapped, err := sender.Seal(nil, key)
		if err != nil {
			return nil, fmt.Errorf("seal: wrap for %s: %w", r.KeyID, err)
		}
		s.Recipients = append(s.Recipients, Wrap{KID: r.KeyID, Enc: enc, Key: wrapped})
	}
	return s, nil
}

// Open decrypts a sealed part with the first recipient key the keyring
// holds, checking that it belongs to the job with these clear fields. The
// caller should Wipe the Person after the card.
func Open(s *Sealed, c ClearFields, keys Keyring) (Person, error) {
	if s == nil {
		return Person{}, &FormatError{"sealed", "is missing"}
	}
	if err := s.check(); err != nil {
		return Person{}, err
	}
	aad, err := c.AAD()
	if err != nil {
		return Person{}, err
	}
	info := WrapInfo(aad)
	var key []byte
	held := false
	for i, w := range s.Recipients {
		sk, err := keys.PrivateKey(w.KID)
		if errors.Is(err, ErrKeyGone) {
			continue
		}
		if err != nil {
			return Person{}, fmt.Errorf("seal: key %s: %w", w.KID, err)
		}
		held = true
		if sk.KEM().ID() != s.Suite.KEM {
			return Person{}, &FormatError{fmt.Sprintf("recipients[%d].kid", i), "names a key of another KEM than suite.kem"}
		}
		r, err := hpke.NewRecipient(w.Enc, sk, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
		if err != nil {
			continue // a damaged enc: try another recipient, else ErrBinding
		}
		if k, err := r.Open(nil, w.Key); err == nil {
			key = k
			break
		}
	}
	if !held {
		return Person{}, ErrKeyGone
	}
	if key == nil {
		return Person{}, ErrBinding
	}
	defer clear(key)
	pt, err := openContent(key, s.Nonce, s.CT, aad)
	if err != nil {
		return Person{}, ErrBinding
	}
	defer clear(pt)
	return DecodePerson(pt)
}

func contentAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: content key: %w", err)
	}
	return cipher.NewGCM(b)
}

// sealContent is AES-256-GCM of the plaintext under the content key.
func sealContent(key, nonce, pt, aad []byte) ([]byte, error) {
	a, err := contentAEAD(key)
	if err != nil {
		return nil, err
	}
	return a.Seal(make([]byte, 0, len(pt)+TagSize), nonce, pt, aad), nil
}

func openContent(key, nonce, ct, aad []byte) ([]byte, error) {
	a, err := contentAEAD(key)
	if err != nil {
		return nil, err
	}
	return a.Open(make([]byte, 0, len(ct)), nonce, ct, aad)
}
