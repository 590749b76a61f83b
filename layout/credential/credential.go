package credential

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/cityid/printerd/internal/ndef"
	"github.com/cityid/printerd/layout/barcode"
)

// RecordType is the NDEF record's NFC Forum external type (TNF 4).
const RecordType = "cityid.example:cred"

// CANDigits is the length of a card access number.
const CANDigits = 12

// Format constants of version 1.
const (
	Version      = 0x01
	KDFArgon2id  = 0x01
	saltLen      = 16
	nonceLen     = 12
	headerLen    = 8 + saltLen + nonceLen
	tagLen       = 16
	padBlock     = 64
	minPadded    = 512 // every credential with a name of up to 256 bytes pads to this
	keyLen       = 32
	lenFieldSize = 2
)

// MaxCredential bounds the credential a record carries: a signed barcode
// is about 200 bytes, its text at most barcode.MaxText Base45 characters.
const MaxCredential = 2 * barcode.MaxText / 3

// Params are Argon2id's cost parameters.
type Params struct {
	Time      uint8  `json:"t"`          // passes t
	MemoryKiB uint32 `json:"memory_kib"` // memory m in KiB
	Lanes     uint8  `json:"lanes"`      // parallelism p
}

// DefaultParams are the costs Seal uses: RFC 9106's second recommended
// option (t=3, m=64 MiB) with one lane, so that a verifier's phone and a
// guesser's core pay the same.
var DefaultParams = Params{Time: 3, MemoryKiB: 64 * 1024, Lanes: 1}

// Bounds Open enforces on a record's parameters: no weaker than OWASP's
// minimum for Argon2id (19 MiB, 2 passes), no costlier than a verifier can
// be asked to pay (a hostile chip must not make it allocate gigabytes).
const (
	MinMemoryKiB = 19 * 1024
	MaxMemoryKiB = 256 * 1024
	MinTime      = 2
	MaxTime      = 10
	MaxLanes     = 4
)

// Errors; match them with errors.Is. None of them holds the CAN or a
// credential byte.
var (
	// ErrFormat is a record or message that is not a version 1 credential;
	// the wrapping error names the byte and the rule.
	ErrFormat = errors.New("credential: malformed chip credential")
	// ErrCAN is a credential the access number does not open: a wrong or
	// mistyped CAN, or a record altered after it was sealed.
	ErrCAN = errors.New("credential: the card access number does not open this credential (wrong number, or the chip was altered)")
	// ErrCANFormat is an access number that is not CANDigits digits.
	ErrCANFormat = fmt.Errorf("credential: a card access number is %d digits (spaces and hyphens are ignored)", CANDigits)
)

// NewCAN returns a fresh random card access number, CANDigits digits from
// crypto/rand, uniform.
func NewCAN() (string, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(CANDigits), nil))
	if err != nil {
		return "", fmt.Errorf("credential: new CAN: %w", err)
	}
	return fmt.Sprintf("%0*d", CANDigits, n), nil
}

// ParseCAN normalises an access number as a person types it: spaces and
// hyphens are dropped, and what is left must be CANDigits ASCII digits.
func ParseCAN(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-':
		case r >= '0' && r <= '9' && b.Len() < CANDigits:
			b.WriteRune(r)
		default:
			return "", ErrCANFormat
		}
	}
	if b.Len() != CANDigits {
		return "", ErrCANFormat
	}
	return b.String(), nil
}

// FormatCAN writes an access number for the card face in groups of four
// digits ("1234 5678 9012").
func FormatCAN(can string) string {
	var b strings.Builder
	for i, r := range can {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// header is a record's clear part.
type header struct {
	params Params
	salt   []byte
	nonce  []byte
}

func (h header) marshal() []byte {
	b := []byte{Version, KDFArgon2id, h.params.Time}
	b = binary.BigEndian.AppendUint32(b, h.params.MemoryKiB)
	b = append(b, h.params.Lanes)
	b = append(b, h.salt...)
	return append(b, h.nonce...)
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// checkParams applies Open's bounds.
func checkParams(p Params) error {
	switch {
	case p.Time < MinTime || p.Time > MaxTime:
		return formatErr("byte 2: Argon2 passes %d, want %d to %d", p.Time, MinTime, MaxTime)
	case p.MemoryKiB < MinMemoryKiB || p.MemoryKiB > MaxMemoryKiB:
		return formatErr("bytes 3-6: Argon2 memory %d KiB, want %d to %d", p.MemoryKiB, MinMemoryKiB, MaxMemoryKiB)
	case p.Lanes < 1 || p.Lanes > MaxLanes:
		return formatErr("byte 7: Argon2 lanes %d, want 1 to %d", p.Lanes, MaxLanes)
	case p.MemoryKiB < 8*uint32(p.Lanes):
		return formatErr("bytes 3-7: Argon2 memory below 8 KiB a lane")
	}
	return nil
}

// parsePayload splits a record payload into its header and ciphertext,
// strictly.
func parsePayload(p []byte) (header, []byte, error) {
	var h header
	if len(p) < headerLen+minPadded+tagLen {
		return h, nil, formatErr("payload of %d bytes, want at least %d", len(p), headerLen+minPadded+tagLen)
	}
	if p[0] != Version {
		return h, nil, formatErr("byte 0: version %d, want %d", p[0], Version)
	}
	if p[1] != KDFArgon2id {
		return h, nil, formatErr("byte 1: KDF %d, want %d (Argon2id)", p[1], KDFArgon2id)
	}
	h.params = Params{Time: p[2], MemoryKiB: binary.BigEndian.Uint32(p[3:]), Lanes: p[7]}
	if err := checkParams(h.params); err != nil {
		return h, nil, err
	}
	h.salt = p[8 : 8+saltLen]
	h.nonce = p[8+saltLen : headerLen]
	ct := p[headerLen:]
	if (len(ct)-tagLen)%padBlock != 0 || len(ct)-tagLen > padded(lenFieldSize+MaxCredential) {
		return h, nil, formatErr("bytes %d on: ciphertext of %d bytes, want a multiple of %d from %d to %d, and the %d-byte tag",
			headerLen, len(ct)-tagLen, padBlock, minPadded, padded(lenFieldSize+MaxCredential), tagLen)
	}
	return h, ct, nil
}

// padded is the plaintext size for n bytes of length field and
// credential: at least minPadded, a multiple of padBlock.
func padded(n int) int { return max(minPadded, (n+padBlock-1)/padBlock*padBlock) }

// aead derives the key from can and h and returns AES-256-GCM under it.
func aead(can string, h header) (cipher.AEAD, error) {
	key := argon2.IDKey([]byte(can), h.salt, uint32(h.params.Time), h.params.MemoryKiB, h.params.Lanes, keyLen)
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("credential: aes: %w", err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("credential: gcm: %w", err)
	}
	return g, nil
}

// Seal encrypts cred under can (see ParseCAN) with the given costs and a
// fresh salt and nonce, and returns the record payload.
func Seal(cred []byte, can string, p Params) ([]byte, error) {
	return seal(rand.Reader, cred, can, p)
}

// seal is Seal reading the salt and nonce from r (test vectors).
func seal(r io.Reader, cred []byte, can string, p Params) ([]byte, error) {
	can, err := ParseCAN(can)
	if err != nil {
		return nil, err
	}
	if len(cred) == 0 || len(cred) > MaxCredential {
		return nil, fmt.Errorf("credential: seal: credential of %d bytes, want 1 to %d", len(cred), MaxCredential)
	}
	if err := checkParams(p); err != nil {
		return nil, fmt.Errorf("credential: seal: %w", err)
	}
	h := header{params: p, salt: make([]byte, saltLen), nonce: make([]byte, nonceLen)}
	if _, err := io.ReadFull(r, h.salt); err != nil {
		return nil, fmt.Errorf("credential: seal: salt: %w", err)
	}
	if _, err := io.ReadFull(r, h.nonce); err != nil {
		return nil, fmt.Errorf("credential: seal: nonce: %w", err)
	}
	g, err := aead(can, h)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, padded(lenFieldSize+len(cred)))
	binary.BigEndian.PutUint16(plain, uint16(len(cred)))
	copy(plain[lenFieldSize:], cred)
	defer clear(plain)
	hdr := h.marshal()
	return g.Seal(hdr, h.nonce, plain, hdr), nil
}

// Open decrypts a record payload with can and returns the credential.
// Errors match ErrCANFormat, ErrFormat or ErrCAN.
func Open(payload []byte, can string) ([]byte, error) {
	can, err := ParseCAN(can)
	if err != nil {
		return nil, err
	}
	h, ct, err := parsePayload(payload)
	if err != nil {
		return nil, err
	}
	g, err := aead(can, h)
	if err != nil {
		return nil, err
	}
	plain, err := g.Open(nil, h.nonce, ct, payload[:headerLen])
	if err != nil {
		return nil, ErrCAN
	}
	n := int(binary.BigEndian.Uint16(plain))
	if n == 0 || lenFieldSize+n > len(plain) || len(plain) != padded(lenFieldSize+n) {
		return nil, formatErr("plaintext: length field %d does not fit %d bytes of padded plaintext", n, len(plain))
	}
	for _, b := range plain[lenFieldSize+n:] {
		if b != 0 {
			return nil, formatErr("plaintext: non-zero padding")
		}
	}
	return plain[lenFieldSize : lenFieldSize+n], nil
}

// Message wraps a record payload in the NDEF message written to the chip:
// one record, TNF external, type RecordType, no id.
func Message(payload []byte) ([]byte, error) {
	return ndef.Marshal(ndef.Record{TNF: ndef.TNFExternal, Type: []byte(RecordType), Payload: payload})
}

// PayloadOf returns the record payload of a chip's NDEF message, strictly:
// exactly one record, TNF external, type RecordType (external type names
// compare case-insensitively), no id, and a well-formed version 1 header.
func PayloadOf(msg []byte) ([]byte, error) {
	recs, err := ndef.Parse(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if len(recs) != 1 {
		return nil, formatErr("NDEF message of %d records, want 1", len(recs))
	}
	r := recs[0]
	switch {
	case r.TNF != ndef.TNFExternal:
		return nil, formatErr("record TNF %d, want %d (external type)", r.TNF, ndef.TNFExternal)
	case !strings.EqualFold(string(r.Type), RecordType):
		return nil, formatErr("record type of %d bytes is not %q", len(r.Type), RecordType)
	case len(r.ID) != 0:
		return nil, formatErr("record has an id")
	}
	if _, _, err := parsePayload(r.Payload); err != nil {
		return nil, err
	}
	return r.Payload, nil
}

// Encode makes the chip's NDEF message for a card: the binary form of its
// signed barcode text (the bytes the QR code carries in Base45), sealed
// under can with DefaultParams.
func Encode(barcodeText, can string) ([]byte, error) {
	cred, err := barcode.Base45Decode(barcodeText)
	if err != nil {
		return nil, fmt.Errorf("credential: barcode text: %w", err)
	}
	payload, err := Seal(cred, can, DefaultParams)
	if err != nil {
		return nil, err
	}
	return Message(payload)
}

// Decode opens a chip's NDEF message with can and returns the signed
// barcode text it carries, to be checked with barcode.Verify.
func Decode(msg []byte, can string) (string, error) {
	payload, err := PayloadOf(msg)
	if err != nil {
		return "", err
	}
	cred, err := Open(payload, can)
	if err != nil {
		return "", err
	}
	return barcode.Base45Encode(cred), nil
}
