package barcode

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
)

// KeyListEntry is one published verification key: what a verifier needs
// to trust an issuer key during its validity.
type KeyListEntry struct {
	KID       string    `json:"kid"`                 // 16 lowercase hex digits
	Alg       string    `json:"alg"`                 // "ES256" or "EdDSA"
	Key       string    `json:"key"`                 // SubjectPublicKeyInfo PEM
	ValidFrom time.Time `json:"valid_from,omitzero"` // first day cards may be issued under the key
	ValidTo   time.Time `json:"valid_to,omitzero"`   // last moment cards may be issued under the key
}

// NewKeyListEntry describes pub for a key list. Zero times leave the
// validity open on that side.
func NewKeyListEntry(pub crypto.PublicKey, from, to time.Time) (KeyListEntry, error) {
	alg, err := algorithm(pub)
	if err != nil {
		return KeyListEntry{}, err
	}
	kid, err := keyfile.KIDHex(pub)
	if err != nil {
		return KeyListEntry{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return KeyListEntry{}, fmt.Errorf("barcode: key list: %w", err)
	}
	algName := "ES256"
	if alg != -7 {
		algName = "EdDSA"
	}
	return KeyListEntry{
		KID:       kid,
		Alg:       algName,
		Key:       string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		ValidFrom: from,
		ValidTo:   to,
	}, nil
}

// Public checks the entry (the key parses, its kid and alg match it) and
// returns it as a trusted key.
func (e KeyListEntry) Public() (keyfile.Public, error) {
	pub, err := keyfile.ParsePublic([]byte(e.Key))
	if err != nil {
		return keyfile.Public{}, fmt.Errorf("barcode: key list: kid %s: key: %w", e.KID, err)
	}
	kid, err := keyfile.KIDHex(pub)
	if err != nil {
		return keyfile.Public{}, err
	}
	if !strings.EqualFold(kid, e.KID) {
		return keyfile.Public{}, fmt.Errorf("barcode: key list: kid %s: the key's id is %s", e.KID, kid)
	}
	want, err := NewKeyListEntry(pub, e.ValidFrom, e.ValidTo)
	if err != nil {
		return keyfile.Public{}, err
	}
	if e.Alg != want.Alg {
		return keyfile.Public{}, fmt.Errorf("barcode: key list: kid %s: alg %q: the key is %s", e.KID, e.Alg, want.Alg)
	}
	if !e.ValidFrom.IsZero() && !e.ValidTo.IsZero() && e.ValidTo.Before(e.ValidFrom) {
		return keyfile.Public{}, fmt.Errorf("barcode: key list: kid %s: valid_to is before valid_from", e.KID)
	}
	return keyfile.Public{KID: kid, Key: pub}, nil
}

// ValidAt reports an error if t (a card's issue date) is outside the
// entry's validity.
func (e KeyListEntry) ValidAt(t time.Time) error {
	if !e.ValidFrom.IsZero() && t.Before(e.ValidFrom) {
		return fmt.Errorf("barcode: key %s: card issued before the key's valid_from", e.KID)
	}
	if !e.ValidTo.IsZero() && t.After(e.ValidTo) {
		return fmt.Errorf("barcode: key %s: card issued after the key's valid_to", e.KID)
	}
	return nil
}

// WriteKeyList writes entries as an indented JSON array.
func WriteKeyList(w io.Writer, entries []KeyListEntry) error {
	if entries == nil {
		entries = []KeyListEntry{}
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return fmt.Errorf("barcode: key list: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("barcode: key list: %w", err)
	}
	return nil
}

// ReadKeyList reads a JSON key list and checks every entry (see
// KeyListEntry.Public). Two entries with the same kid are an error.
func ReadKeyList(r io.Reader) ([]KeyListEntry, error) {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	var list []KeyListEntry
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("barcode: key list: want a JSON array of {kid, alg, key, valid_from, valid_to}: %w", err)
	}
	seen := map[string]bool{}
	for i, e := range list {
		p, err := e.Public()
		if err != nil {
			return nil, fmt.Errorf("%w (entry %d)", err, i)
		}
		if seen[p.KID] {
			return nil, fmt.Errorf("barcode: key list: kid %s listed twice", p.KID)
		}
		seen[p.KID] = true
		list[i].KID = p.KID
	}
	return list, nil
}

// LoadKeys reads trusted keys from files: each a SubjectPublicKeyInfo PEM
// (.pub) or a JSON key list. It returns the keys and, for keys from lists,
// their entries by kid (for ValidAt). A kid seen twice is an error.
func LoadKeys(paths ...string) ([]keyfile.Public, map[string]KeyListEntry, error) {
	var keys []keyfile.Public
	entries := map[string]KeyListEntry{}
	seen := map[string]string{}
	add := func(p keyfile.Public) error {
		if prev, ok := seen[p.KID]; ok {
			return fmt.Errorf("barcode: %s and %s hold the same key (kid %s)", prev, p.Path, p.KID)
		}
		seen[p.KID] = p.Path
		keys = append(keys, p)
		return nil
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("barcode: keys: %w", err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
			list, err := ReadKeyList(bytes.NewReader(b))
			if err != nil {
				return nil, nil, fmt.Errorf("%w (in %s)", err, path)
			}
			for _, e := range list {
				p, _ := e.Public()
				p.Path = path
				if err := add(p); err != nil {
					return nil, nil, err
				}
				entries[p.KID] = e
			}
			continue
		}
		pub, err := keyfile.ParsePublic(b)
		if err != nil {
			return nil, nil, fmt.Errorf("barcode: keys: %s: want a PUBLIC KEY PEM or a JSON key list: %w", path, err)
		}
		kid, err := keyfile.KIDHex(pub)
		if err != nil {
			return nil, nil, err
		}
		if err := add(keyfile.Public{KID: kid, Key: pub, Path: path}); err != nil {
			return nil, nil, err
		}
	}
	return keys, entries, nil
}
