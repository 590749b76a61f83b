package barcode

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityid/printerd/internal/keyfile"
)

func TestKeyListRoundTrip(t *testing.T) {
	ecKey, ecPub := newKey(t, keyfile.ES256)
	_, edPub := newKey(t, keyfile.Ed25519)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC)
	a, err := NewKeyListEntry(ecPub.Key, from, to)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewKeyListEntry(edPub.Key, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteKeyList(&buf, []KeyListEntry{a, b}); err != nil {
		t.Fatal(err)
	}
	// the published form, as an outside verifier reads it
	var raw []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw[0]["kid"] != ecPub.KID || raw[0]["alg"] != "ES256" || raw[0]["valid_from"] != "2026-01-01T00:00:00Z" ||
		!strings.HasPrefix(raw[0]["key"].(string), "-----BEGIN PUBLIC KEY-----") || raw[1]["alg"] != "EdDSA" {
		t.Errorf("published list: %s", buf.String())
	}
	if _, ok := raw[1]["valid_to"]; ok {
		t.Error("open validity written as a date")
	}
	list, err := ReadKeyList(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].KID != ecPub.KID || !list[0].ValidFrom.Equal(from) || !list[0].ValidTo.Equal(to) {
		t.Fatalf("read back %+v", list)
	}
	p, err := list[0].Public()
	if err != nil {
		t.Fatal(err)
	}
	text, err := Sign(fixture, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, kid, err := Verify(text, []keyfile.Public{p}); err != nil || kid != ecPub.KID {
		t.Fatalf("verify with a key from the list: %v", err)
	}
	for _, tc := range []struct {
		at   time.Time
		okay bool
	}{
		{from, true}, {to, true}, {from.Add(-time.Second), false}, {to.Add(time.Second), false},
	} {
		if err := list[0].ValidAt(tc.at); (err == nil) != tc.okay {
			t.Errorf("ValidAt(%v) = %v", tc.at, err)
		}
	}
	if err := list[1].ValidAt(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("open validity: %v", err)
	}
}

func TestKeyListRefuses(t *testing.T) {
	_, ecPub := newKey(t, keyfile.ES256)
	_, edPub := newKey(t, keyfile.Ed25519)
	good, _ := NewKeyListEntry(ecPub.Key, time.Time{}, time.Time{})
	ed, _ := NewKeyListEntry(edPub.Key, time.Time{}, time.Time{})
	list := func(f func(e *KeyListEntry)) string {
		e := good
		f(&e)
		b, _ := json.Marshal([]KeyListEntry{e})
		return string(b)
	}
	dup, _ := json.Marshal([]KeyListEntry{good, good})
	for _, tc := range []struct {
		name, json, want string
	}{
		{"wrong kid", list(func(e *KeyListEntry) { e.KID = edPub.KID }), "the key's id is"},
		{"wrong alg", list(func(e *KeyListEntry) { e.Alg = "EdDSA" }), "the key is ES256"},
		{"no alg", list(func(e *KeyListEntry) { e.Alg = "" }), "alg"},
		{"key of another entry", list(func(e *KeyListEntry) { e.Key = ed.Key }), "the key's id is"},
		{"bad pem", list(func(e *KeyListEntry) { e.Key = "nope" }), "no PEM PUBLIC KEY"},
		{"to before from", list(func(e *KeyListEntry) {
			e.ValidFrom = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			e.ValidTo = time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
		}), "valid_to is before valid_from"},
		{"duplicate", string(dup), "listed twice"},
		{"not an array", `{"kid":"x"}`, "want a JSON array"},
		{"unknown field", `[{"kid":"x","alg":"ES256","key":"","colour":1}]`, "unknown field"},
		{"bad date", `[{"kid":"x","alg":"ES256","key":"","valid_from":"soon"}]`, "want a JSON array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadKeyList(strings.NewReader(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewKeyListEntry("not a key", time.Time{}, time.Time{}); err == nil {
		t.Error("NewKeyListEntry of a non-key succeeded")
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	k1, _ := keyfile.New(keyfile.ES256)
	k2, _ := keyfile.New(keyfile.Ed25519)
	if err := keyfile.WritePair(dir, "one", k1); err != nil {
		t.Fatal(err)
	}
	e2, _ := NewKeyListEntry(k2.Public(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{})
	var buf bytes.Buffer
	WriteKeyList(&buf, []KeyListEntry{e2})
	listPath := filepath.Join(dir, "list.json")
	os.WriteFile(listPath, buf.Bytes(), 0o644)
	pubPath := filepath.Join(dir, "one.pub")

	keys, entries, err := LoadKeys(pubPath, listPath)
	if err != nil {
		t.Fatal(err)
	}
	kid1, _ := keyfile.KIDHex(k1.Public())
	if len(keys) != 2 || keys[0].KID != kid1 || keys[1].KID != e2.KID || keys[1].Path != listPath {
		t.Fatalf("keys %+v", keys)
	}
	if _, ok := entries[e2.KID]; !ok || len(entries) != 1 {
		t.Errorf("entries %v, want the list's key only", entries)
	}
	if _, _, err := LoadKeys(pubPath, pubPath); err == nil || !strings.Contains(err.Error(), "same key") {
		t.Errorf("duplicate: %v", err)
	}
	if _, _, err := LoadKeys(filepath.Join(dir, "one.key")); err == nil || !strings.Contains(err.Error(), "want a PUBLIC KEY PEM or a JSON key list") {
		t.Errorf("private key file: %v", err)
	}
	if _, _, err := LoadKeys(filepath.Join(dir, "missing.pub")); err == nil {
		t.Error("missing file loaded")
	}
}
