package epoch

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue/internal/lenprefix"
	"github.com/cityid/printerd/queue/internal/strictjson"
	"github.com/cityid/printerd/queue/seal"
)

// Signer is a daemon's long-term Ed25519 key: it signs the daemon's epoch
// key announcements, and enrollment systems pin its public half.
type Signer struct {
	Key ed25519.PrivateKey
	KID string // keyfile.KIDHex of the public key
}

// LoadOrCreateSigner reads dir/name.key (PKCS#8 PEM, mode 0600), or, when
// it does not exist, makes an Ed25519 key and writes dir/name.key and
// dir/name.pub (the public key enrollment systems pin) with
// keyfile.WritePair.
func LoadOrCreateSigner(dir, name string) (*Signer, error) {
	path := filepath.Join(dir, name+".key")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		k, err := keyfile.New(keyfile.Ed25519)
		if err != nil {
			return nil, err
		}
		if err := keyfile.WritePair(dir, name, k); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	k, err := keyfile.LoadPrivate(path)
	if err != nil {
		return nil, err
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("epoch: %s: daemon key must be Ed25519", path)
	}
	kid, err := keyfile.KIDHex(ed.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{Key: ed, KID: kid}, nil
}

// AnnouncementV is the version of the announcement format.
const AnnouncementV = 1

// SigLabel is the first field of an announcement's signature input.
const SigLabel = "printerd-epoch-key-v1"

// Announcement is one epoch public key as a daemon publishes it. In JSON,
// pub and sig are standard base64 with padding; start and end are RFC 3339
// UTC with a Z and whole seconds.
type Announcement struct {
	V      int    `json:"v"`      // AnnouncementV
	Site   string `json:"site"`   // the site the daemon prints for
	Daemon string `json:"daemon"` // the daemon's long-term key id
	Epoch  string `json:"epoch"`  // epoch id, 20061102T150405Z
	Start  string `json:"start"`  // e.g. 2026-11-30T00:00:00Z
	End    string `json:"end"`
	KEM    uint16 `json:"kem"` // HPKE KEM id
	KID    string `json:"kid"` // seal.KeyID of the public key
	Public []byte `json:"pub"` // RFC 9180 SerializePublicKey
	Sig    []byte `json:"sig"` // Ed25519 over SigningInput
}

// SigningInput is what the daemon's key signs: SigLabel, then site,
// daemon, epoch, start, end, kem (decimal ASCII), kid and the public key
// bytes, each as a 2-byte big-endian length and the bytes.
func (a *Announcement) SigningInput() ([]byte, error) {
	var b []byte
	var err error
	for _, f := range []string{SigLabel, a.Site, a.Daemon, a.Epoch, a.Start, a.End, strconv.Itoa(int(a.KEM)), a.KID} {
		if b, err = lenprefix.AppendString(b, f); err != nil {
			return nil, fmt.Errorf("epoch: announcement: %w", err)
		}
	}
	if b, err = lenprefix.Append(b, a.Public); err != nil {
		return nil, fmt.Errorf("epoch: announcement pub: %w", err)
	}
	return b, nil
}

// Announce makes the signed announcement of one of the daemon's keys.
func Announce(site string, sg *Signer, k Key) (*Announcement, error) {
	if err := checkToken("site", site); err != nil {
		return nil, err
	}
	a := &Announcement{V: AnnouncementV, Site: site, Daemon: sg.KID, Epoch: k.Epoch,
		Start: k.Start.UTC().Format(time.RFC3339), End: k.End.UTC().Format(time.RFC3339),
		KEM: k.KEM, KID: k.ID, Public: k.Public.Bytes()}
	in, err := a.SigningInput()
	if err != nil {
		return nil, err
	}
	a.Sig = ed25519.Sign(sg.Key, in)
	return a, nil
}

// Errors Verify reports, besides a malformed announcement.
var (
	ErrUnpinned  = errors.New("epoch: announcement: daemon key is not pinned for this site")
	ErrSignature = errors.New("epoch: announcement: signature does not verify with the pinned daemon key")
	ErrMalformed = errors.New("epoch: announcement: malformed")
)

func malformed(field, rule string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, field, rule)
}

// Verify checks an announcement for a site against the pinned long-term
// keys of the site's daemons and returns the key it announces. It refuses
// another site's announcement, a daemon not pinned, a bad signature, and
// any field that breaks the format.
func Verify(a *Announcement, site string, pinned []keyfile.Public) (Key, error) {
	if a.V != AnnouncementV {
		return Key{}, malformed("v", "must be 1")
	}
	if a.Site != site {
		return Key{}, malformed("site", "must be the site asked for")
	}
	var pub ed25519.PublicKey
	for _, p := range pinned {
		if p.KID == a.Daemon {
			pub, _ = p.Key.(ed25519.PublicKey)
		}
	}
	if pub == nil {
		return Key{}, ErrUnpinned
	}
	in, err := a.SigningInput()
	if err != nil {
		return Key{}, malformed("announcement", "fields must be at most 65535 bytes")
	}
	if len(a.Sig) != ed25519.SignatureSize || !ed25519.Verify(pub, in, a.Sig) {
		return Key{}, ErrSignature
	}
	// The daemon signed it; still check it is well formed.
	start, err := time.Parse(time.RFC3339, a.Start)
	if err != nil || start.UTC().Format(time.RFC3339) != a.Start {
		return Key{}, malformed("start", "must be RFC 3339 UTC like 2026-11-30T00:00:00Z")
	}
	end, err := time.Parse(time.RFC3339, a.End)
	if err != nil || end.UTC().Format(time.RFC3339) != a.End || !start.Before(end) {
		return Key{}, malformed("end", "must be RFC 3339 UTC like 2026-12-01T00:00:00Z, after start")
	}
	if a.Epoch != start.UTC().Format(idLayout) {
		return Key{}, malformed("epoch", "must be start as 20061102T150405Z")
	}
	kem, err := seal.KEM(a.KEM)
	if err != nil {
		return Key{}, malformed("kem", "must be 25722 (MLKEM768-X25519) or 32 (DHKEM(X25519))")
	}
	pk, err := kem.NewPublicKey(a.Public)
	if err != nil {
		return Key{}, malformed("pub", "must be a public key of the KEM")
	}
	if seal.KeyID(pk) != a.KID {
		return Key{}, malformed("kid", "must be the key id of pub")
	}
	return Key{ID: a.KID, Epoch: a.Epoch, KEM: a.KEM, Start: start.UTC(), End: end.UTC(), Public: pk}, nil
}

var announcementSchema = strictjson.Schema{"v": nil, "site": nil, "daemon": nil, "epoch": nil,
	"start": nil, "end": nil, "kem": nil, "kid": nil, "pub": nil, "sig": nil}

// MaxAnnouncement is the largest announcement ParseAnnouncement reads.
const MaxAnnouncement = 8 << 10

// ParseAnnouncement reads an announcement strictly: one JSON object of at
// most MaxAnnouncement bytes, no unknown, differently cased or repeated
// field, nothing after it. It does not verify it.
func ParseAnnouncement(b []byte) (*Announcement, error) {
	if len(b) > MaxAnnouncement {
		return nil, malformed("json", "must be at most 8 KiB")
	}
	var je *strictjson.Error
	if err := strictjson.Check(b, "json", announcementSchema); errors.As(err, &je) {
		return nil, malformed(je.Field, je.Rule)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var a Announcement
	if err := dec.Decode(&a); err != nil {
		return nil, malformed("json", "must be one announcement object with known fields only")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("json", "must have nothing after the object")
	}
	return &a, nil
}

// checkToken refuses a site or id that cannot be one token of a KV key.
func checkToken(field, s string) error {
	if s == "" || len(s) > 64 || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return fmt.Errorf("epoch: %s: must be 1-64 of A-Z, a-z, 0-9, - and _", field)
	}
	return nil
}
