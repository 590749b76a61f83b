package credential

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/internal/ndef"
	"github.com/cityid/printerd/layout/barcode"
)

// fixture is an obviously invented person with distinctive values.
var fixture = barcode.Claims{
	Issuer: "CITY", Issued: "2026-11-25", Expires: "2036-11-24",
	Number: "C-904417-2", Issue: 2, Name: "Quillon Xavienne Brumblewick", DOB: "1964-02-29", Gender: "nonbinary",
}

const testCAN = "3141 5926 5358"

func signFixture(t testing.TB) (string, []keyfile.Public) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	text, err := barcode.Sign(fixture, key)
	if err != nil {
		t.Fatal(err)
	}
	return text, []keyfile.Public{{Key: key.Public()}}
}

func TestEncodeDecodeVerify(t *testing.T) {
	text, keys := signFixture(t)
	msg, err := Encode(text, testCAN)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(msg, "314159265358")
	if err != nil {
		t.Fatal(err)
	}
	if got != text {
		t.Fatal("the chip's credential is not the barcode's")
	}
	c, _, err := barcode.Verify(got, keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := barcode.Compare(c, fixture); err != nil {
		t.Fatal(err)
	}
	// The padding hides the name's length: a one-letter name gives the same size.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, name := range []string{"Q", strings.Repeat("Ŵ", 128)} {
		other := fixture
		other.Name = name
		text2, err := barcode.Sign(other, key)
		if err != nil {
			t.Fatal(err)
		}
		msg2, err := Encode(text2, testCAN)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg2) != len(msg) {
			t.Errorf("NDEF message of %d bytes for a %d-byte name, %d for the fixture: padding should hide it", len(msg2), len(name), len(msg))
		}
	}
}

func TestWrongCANOrAltered(t *testing.T) {
	text, _ := signFixture(t)
	msg, err := Encode(text, testCAN)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := PayloadOf(msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(msg, "314159265359"); !errors.Is(err, ErrCAN) {
		t.Fatalf("wrong CAN: %v, want ErrCAN", err)
	}
	for _, off := range []int{2 /* params */, 10 /* salt */, 30 /* nonce */, 40 /* ciphertext */, len(payload) - 1 /* tag */} {
		bad := bytes.Clone(payload)
		bad[off] ^= 0x01
		_, err := Open(bad, testCAN)
		if off == 2 {
			// t from 3 to 2 is still in bounds: the header is authenticated
			if !errors.Is(err, ErrCAN) {
				t.Errorf("byte %d altered: %v, want ErrCAN", off, err)
			}
			continue
		}
		if !errors.Is(err, ErrCAN) {
			t.Errorf("byte %d altered: %v, want ErrCAN", off, err)
		}
	}
	if strings.Contains(ErrCAN.Error(), "3141") {
		t.Fatal("error names the CAN")
	}
}

func TestParseCAN(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"314159265358", "314159265358", true},
		{"3141 5926 5358", "314159265358", true},
		{"3141-5926-5358", "314159265358", true},
		{"31415926535", "", false},
		{"3141592653589", "", false},
		{"31415926535x", "", false},
		{"３１４１５９２６５３５８", "", false}, // full-width digits are not ASCII
		{"", "", false},
	} {
		got, err := ParseCAN(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseCAN(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrCANFormat) {
			t.Errorf("ParseCAN(%q): %v, want ErrCANFormat", tc.in, err)
		}
	}
	for range 20 {
		can, err := NewCAN()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseCAN(can); err != nil {
			t.Fatalf("NewCAN gave %d characters: %v", len(can), err)
		}
	}
	if got := FormatCAN("314159265358"); got != "3141 5926 5358" {
		t.Fatalf("FormatCAN = %q", got)
	}
}

func TestPayloadOfRefuses(t *testing.T) {
	text, _ := signFixture(t)
	msg, err := Encode(text, testCAN)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := PayloadOf(msg)
	mk := func(r ...ndef.Record) []byte {
		b, err := ndef.Marshal(r...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rec := ndef.Record{TNF: ndef.TNFExternal, Type: []byte(RecordType), Payload: payload}
	with := func(f func(p []byte)) []byte {
		p := bytes.Clone(payload)
		f(p)
		r := rec
		r.Payload = p
		return mk(r)
	}
	upper := rec
	upper.Type = []byte(strings.ToUpper(RecordType))
	if _, err := PayloadOf(mk(upper)); err != nil {
		t.Errorf("upper-case external type refused: %v", err)
	}
	for _, tc := range []struct {
		name, rule string
		msg        []byte
	}{
		{"not NDEF", "ndef", []byte{0x00, 0x01}},
		{"two records", "2 records", mk(rec, rec)},
		{"media type", "TNF 2", mk(ndef.Record{TNF: ndef.TNFMedia, Type: []byte(RecordType), Payload: payload})},
		{"other type", "is not", mk(ndef.Record{TNF: ndef.TNFExternal, Type: []byte("cityid.example:other"), Payload: payload})},
		{"id", "id", mk(ndef.Record{TNF: ndef.TNFExternal, Type: []byte(RecordType), ID: []byte("1"), Payload: payload})},
		{"version", "byte 0", with(func(p []byte) { p[0] = 2 })},
		{"kdf", "byte 1", with(func(p []byte) { p[1] = 2 })},
		{"passes", "byte 2", with(func(p []byte) { p[2] = 200 })},
		{"memory", "bytes 3-6", with(func(p []byte) { p[3] = 0x40 })},
		{"lanes", "byte 7", with(func(p []byte) { p[7] = 0 })},
		{"short", "payload of", mk(ndef.Record{TNF: ndef.TNFExternal, Type: []byte(RecordType), Payload: payload[:60]})},
		{"ragged", "ciphertext of", mk(ndef.Record{TNF: ndef.TNFExternal, Type: []byte(RecordType), Payload: append(bytes.Clone(payload), 0)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PayloadOf(tc.msg)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("PayloadOf = %v, want ErrFormat naming %q", err, tc.rule)
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cred []byte
		can  string
		p    Params
	}{
		{"bad CAN", []byte{1}, "123", DefaultParams},
		{"empty credential", nil, testCAN, DefaultParams},
		{"huge credential", make([]byte, MaxCredential+1), testCAN, DefaultParams},
		{"weak params", []byte{1}, testCAN, Params{Time: 1, MemoryKiB: 1024, Lanes: 1}},
	} {
		if _, err := Seal(tc.cred, tc.can, tc.p); err == nil {
			t.Errorf("%s: Seal accepted it", tc.name)
		}
	}
}

// FuzzPayloadOf checks that the strict parser never panics and that what
// it accepts is one external record of the right type with a version 1
// header.
func FuzzPayloadOf(f *testing.F) {
	text, _ := signFixture(f)
	msg, err := Encode(text, testCAN)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add([]byte{0xD4, 3, 2, 'a', ':', 'b', 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := PayloadOf(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		if p[0] != Version || p[1] != KDFArgon2id || (len(p)-headerLen-tagLen)%padBlock != 0 {
			t.Fatalf("accepted a payload with a bad header: % x", p[:8])
		}
	})
}

// BenchmarkSeal is the cost of sealing one card's credential (one Argon2id
// derivation with DefaultParams, what a guesser pays per CAN tried).
func BenchmarkSeal(b *testing.B) {
	text, _ := signFixture(b)
	cred, _ := barcode.Base45Decode(text)
	for range b.N {
		if _, err := Seal(cred, testCAN, DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
}
