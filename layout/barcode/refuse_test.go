package barcode

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/cityid/printerd/internal/keyfile"
)

// pack zlib-compresses and Base45-encodes raw CWT bytes.
func pack(t testing.TB, raw []byte) string {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return Base45Encode(z.Bytes())
}

// unpack undoes Base45, zlib and the CWT tag of a barcode text.
func unpack(t testing.TB, text string) *cose.Sign1Message {
	t.Helper()
	z, err := Base45Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := inflate(z)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte{0xd8, tagCWT}) {
		t.Fatalf("no CWT tag: % x", raw[:4])
	}
	msg := new(cose.Sign1Message)
	if err := msg.UnmarshalCBOR(raw[2:]); err != nil {
		t.Fatal(err)
	}
	return msg
}

// repack encodes msg (keeping its signature) as barcode text, with the
// CWT tag when tag61 is set.
func repack(t testing.TB, msg *cose.Sign1Message, tag61 bool) string {
	t.Helper()
	b, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	if tag61 {
		b = append([]byte{0xd8, tagCWT}, b...)
	}
	return pack(t, b)
}

// signPayload signs arbitrary payload bytes as Sign does, so claim
// decoding can be tested on properly signed but malformed claims.
func signPayload(t testing.TB, key crypto.Signer, payload []byte) string {
	t.Helper()
	alg, err := algorithm(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := keyfile.KID(key.Public())
	signer, err := cose.NewSigner(alg, key)
	if err != nil {
		t.Fatal(err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		t.Fatal(err)
	}
	return repack(t, msg, true)
}

// personal are the fixture's personal values; no error may contain them.
var personal = []string{fixture.Name, "Zo", "Testperson", fixture.DOB, "19900228", fixture.Gender}

func checkNoPersonalData(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, p := range personal {
		if strings.Contains(err.Error(), p) {
			t.Errorf("error message holds personal data %q: %v", p, err)
		}
	}
}

func TestVerifyTampered(t *testing.T) {
	key, pub := newKey(t, keyfile.ES256)
	text, err := Sign(fixture, key)
	if err != nil {
		t.Fatal(err)
	}
	edKey, edPub := newKey(t, keyfile.Ed25519)
	_, otherPub := newKey(t, keyfile.ES256)

	changed := func(f func(*cwt)) string {
		msg := unpack(t, text)
		var w cwt
		if err := decMode.Unmarshal(msg.Payload, &w); err != nil {
			t.Fatal(err)
		}
		f(&w)
		msg.Payload, err = encMode.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return repack(t, msg, true) // the old signature stays
	}
	for _, tc := range []struct {
		name string
		text string
		keys []keyfile.Public
		want error
	}{
		{"changed name", changed(func(w *cwt) { w.Identity.Name = "Mallory Example" }), []keyfile.Public{pub}, ErrBadSignature},
		{"changed birth date", changed(func(w *cwt) { w.Identity.DOB = "19800228" }), []keyfile.Public{pub}, ErrBadSignature},
		{"changed expiry", changed(func(w *cwt) { w.Exp += 86400 * 365 }), []keyfile.Public{pub}, ErrBadSignature},
		{"changed issue", changed(func(w *cwt) { w.Identity.Issue++ }), []keyfile.Public{pub}, ErrBadSignature},
		{"wrong key under the kid", text, []keyfile.Public{{KID: pub.KID, Key: otherPub.Key}}, ErrBadSignature},
		{"ed25519 key under the ES256 kid", text, []keyfile.Public{{KID: pub.KID, Key: edPub.Key}}, ErrBadSignature},
		{"unknown kid", text, []keyfile.Public{otherPub, edPub}, ErrUnknownKey},
		{"no trusted keys", text, nil, ErrUnknownKey},
		{"signed by another trusted key", func() string { s, _ := Sign(fixture, edKey); return s }(), []keyfile.Public{pub}, ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Verify(tc.text, tc.keys)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
			checkNoPersonalData(t, err)
		})
	}
	// the untouched text still verifies with the right key among others
	if _, kid, err := Verify(text, []keyfile.Public{otherPub, edPub, pub}); err != nil || kid != pub.KID {
		t.Fatalf("Verify: %v (kid %s)", err, kid)
	}
	// a Public without KID is matched by its key
	if _, _, err := Verify(text, []keyfile.Public{{Key: pub.Key}}); err != nil {
		t.Fatalf("Verify with KID computed from the key: %v", err)
	}
}

func TestVerifyFormat(t *testing.T) {
	key, pub := newKey(t, keyfile.ES256)
	text, err := Sign(fixture, key)
	if err != nil {
		t.Fatal(err)
	}
	keys := []keyfile.Public{pub}
	zlibOf := func(b []byte) string { return pack(t, b) }
	bomb := zlibOf(append([]byte{0xd8, tagCWT}, make([]byte, 100_000)...))
	noTag := func() string { b, _ := unpack(t, text).MarshalCBOR(); return pack(t, b) }()
	untagged := func() string {
		m := unpack(t, text)
		u := (*cose.UntaggedSign1Message)(m)
		b, err := u.MarshalCBOR()
		if err != nil {
			t.Fatal(err)
		}
		return pack(t, append([]byte{0xd8, tagCWT}, b...))
	}()
	header := func(f func(h cose.ProtectedHeader, u cose.UnprotectedHeader)) string {
		m := unpack(t, text)
		m.Headers.RawProtected, m.Headers.RawUnprotected = nil, nil
		f(m.Headers.Protected, m.Headers.Unprotected)
		return repack(t, m, true)
	}
	detached := func() string {
		m := unpack(t, text)
		raw, err := cbor.Marshal(cbor.Tag{Number: tagCWT, Content: cbor.Tag{Number: tagSign1, Content: []any{m.Headers.RawProtected, map[any]any{}, nil, m.Signature}}})
		if err != nil {
			t.Fatal(err)
		}
		return pack(t, raw)
	}()
	trailing := func() string {
		z, _ := Base45Decode(text)
		return Base45Encode(append(z, 0, 0))
	}()
	for _, tc := range []struct {
		name  string
		text  string
		stage string
		msg   string // substring of the error
	}{
		{"empty", "", StageText, "empty"},
		{"too long", strings.Repeat("A", MaxText+1), StageText, "more than"},
		{"lower case", strings.ToLower(text), StageBase45, "not in the base45 alphabet"},
		{"garbage", "ABCDE!", StageBase45, "offset 5"},
		{"length 1 mod 3", text[:len(text)/3*3-2], StageBase45, "single character"},
		{"base45 overflow", "GGW" + text[3:], StageBase45, "exceeds two bytes"},
		{"truncated", text[:len(text)/3*3-30], StageZlib, ""},
		{"truncated to 3", text[:3], StageZlib, ""},
		{"not zlib", Base45Encode([]byte("plain text, not compressed")), StageZlib, "no zlib header"},
		{"zlib bomb", bomb, StageZlib, "more than 4096 bytes"},
		{"bytes after zlib", trailing, StageZlib, "after the zlib stream"},
		{"zlib of non-CBOR", zlibOf([]byte{0xff, 0x00}), StageCWT, ""},
		{"no CWT tag", noTag, StageCWT, "want 61"},
		{"other tag", zlibOf([]byte{0xd8, 0x3c, 0x01}), StageCWT, "want 61"},
		{"untagged COSE_Sign1", untagged, StageCOSE, "COSE_Sign1"},
		{"detached payload", detached, StageCOSE, "detached"},
		{"CWT tag around an int", zlibOf([]byte{0xd8, tagCWT, 0x01}), StageCOSE, ""},
		{"no kid", header(func(h cose.ProtectedHeader, u cose.UnprotectedHeader) { delete(h, cose.HeaderLabelKeyID) }), StageHeader, "kid: missing"},
		{"kid only unprotected", header(func(h cose.ProtectedHeader, u cose.UnprotectedHeader) {
			u[cose.HeaderLabelKeyID] = h[cose.HeaderLabelKeyID]
			delete(h, cose.HeaderLabelKeyID)
		}), StageHeader, "kid: missing"},
		{"short kid", header(func(h cose.ProtectedHeader, u cose.UnprotectedHeader) { h[cose.HeaderLabelKeyID] = []byte{1, 2, 3, 4} }), StageHeader, "8-byte"},
		{"text kid", func() string {
			m := unpack(t, text)
			inner, _ := cbor.Marshal(map[int]any{1: -7, 4: "abcdefgh"})
			m.Headers.RawProtected, _ = cbor.Marshal(inner)
			return repack(t, m, true)
		}(), StageCOSE, "kid"},
		{"ES384", header(func(h cose.ProtectedHeader, u cose.UnprotectedHeader) { h.SetAlgorithm(cose.AlgorithmES384) }), StageHeader, "want -7"},
		{"no alg", header(func(h cose.ProtectedHeader, u cose.UnprotectedHeader) { delete(h, cose.HeaderLabelAlgorithm) }), StageHeader, "alg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Verify(tc.text, keys)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Stage != tc.stage {
				t.Fatalf("err = %v, want stage %s", err, tc.stage)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want it to say %q", err, tc.msg)
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
			checkNoPersonalData(t, err)
		})
	}
}

// TestVerifyStrictClaims signs malformed claim sets properly: the
// signature holds, the claims decoding must still refuse them.
func TestVerifyStrictClaims(t *testing.T) {
	key, pub := newKey(t, keyfile.Ed25519)
	good, err := toCWT(fixture)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v any) []byte {
		b, err := encMode.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	claimsMap := func(f func(top map[int]any, id map[int]any)) []byte {
		id := map[int]any{KeyNumber: good.Identity.Number, KeyName: good.Identity.Name, KeyDOB: good.Identity.DOB, KeyGender: good.Identity.Gender, KeyIssue: good.Identity.Issue}
		top := map[int]any{KeyIss: good.Iss, KeyExp: good.Exp, KeyIat: good.Iat, KeyIdentity: id}
		f(top, id)
		return enc(top)
	}
	type unsorted struct { // identity first: not the deterministic order
		Identity identity `cbor:"169,keyasint"`
		Iss      string   `cbor:"1,keyasint"`
		Exp      int64    `cbor:"4,keyasint"`
		Iat      int64    `cbor:"6,keyasint"`
	}
	unsortedEnc, _ := cbor.EncOptions{}.EncMode()
	nonDet, err := unsortedEnc.Marshal(unsorted{good.Identity, good.Iss, good.Exp, good.Iat})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		msg     string
	}{
		{"extra claim 169 key 9", claimsMap(func(top, id map[int]any) { id[9] = 3 }), "unexpected key 9"},
		{"extra CWT claim", claimsMap(func(top, id map[int]any) { top[2] = "subject" }), "unexpected key 2"},
		{"no gender", claimsMap(func(top, id map[int]any) { delete(id, KeyGender) }), "key 80 missing"},
		{"no issue", claimsMap(func(top, id map[int]any) { delete(id, KeyIssue) }), "key 81 missing"},
		{"no exp", claimsMap(func(top, id map[int]any) { delete(top, KeyExp) }), "key 4 missing"},
		{"no claim 169", claimsMap(func(top, id map[int]any) { delete(top, KeyIdentity) }), "key 169 missing"},
		{"iss an int", claimsMap(func(top, id map[int]any) { top[KeyIss] = 7 }), "cannot unmarshal"},
		{"name bytes", claimsMap(func(top, id map[int]any) { id[KeyName] = []byte("x") }), "cannot unmarshal"},
		{"negative issue", claimsMap(func(top, id map[int]any) { id[KeyIssue] = -1 }), "cannot unmarshal"},
		{"iat not midnight", claimsMap(func(top, id map[int]any) { top[KeyIat] = good.Iat + 3600 }), "iat: want 00:00 UTC"},
		{"exp before iat", claimsMap(func(top, id map[int]any) { top[KeyExp] = good.Iat - 86400 }), "exp: before iat"},
		{"negative exp", claimsMap(func(top, id map[int]any) { top[KeyExp] = -86400 }), "exp: want 00:00 UTC"},
		{"dob with dashes", claimsMap(func(top, id map[int]any) { id[KeyDOB] = fixture.DOB }), "want YYYYMMDD"},
		{"dob not a date", claimsMap(func(top, id map[int]any) { id[KeyDOB] = "19901340" }), "want YYYYMMDD"},
		{"name not NFC", claimsMap(func(top, id map[int]any) { id[KeyName] = "Zoe\u0308 Testperson" }), "not in NFC"},
		{"empty name", claimsMap(func(top, id map[int]any) { id[KeyName] = "" }), "full name: empty"},
		{"empty iss", claimsMap(func(top, id map[int]any) { top[KeyIss] = "" }), "iss: empty"},
		{"long number", claimsMap(func(top, id map[int]any) { id[KeyNumber] = strings.Repeat("9", 40) }), "more than 32"},
		{"not deterministic", nonDet, "deterministic"},
		{"not a map", enc([]int{1, 2}), "want a map"},
		{"text keys", enc(map[string]any{"iss": "CITY"}), "want a map"},
		{"tag inside", enc(map[int]any{KeyIss: cbor.Tag{Number: 1, Content: 0}}), ""},
		{"duplicate key", []byte{0xa2, 0x01, 0x61, 'A', 0x01, 0x61, 'B'}, "want a map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := signPayload(t, key, tc.payload)
			c, _, err := Verify(text, []keyfile.Public{pub})
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Stage != StageClaims {
				t.Fatalf("err = %v, want a claims FormatError", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want it to say %q", err, tc.msg)
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
			checkNoPersonalData(t, err)
		})
	}
	// the same helper with the good claims verifies: the cases above fail
	// for their claims, not for the helper
	if _, _, err := Verify(signPayload(t, key, enc(good)), []keyfile.Public{pub}); err != nil {
		t.Fatalf("good claims through signPayload: %v", err)
	}
}
