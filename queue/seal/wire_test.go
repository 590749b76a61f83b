package seal

import (
	"bytes"
	"crypto/hpke"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestBothLayersBound checks that the key wrap and the content encryption
// each refuse another job's associated data on their own, so neither
// binding hides a missing other.
func TestBothLayersBound(t *testing.T) {
	rs, sks := newKeys(t, KEMXWing, 1)
	c := testClear()
	s, err := Seal(rand.Reader, testPerson(100), c, rs)
	if err != nil {
		t.Fatal(err)
	}
	moved := c
	moved.JobID = "0b7f3a52-8e0c-4c4e-9d57-3f1d2a6b9c11"
	aad, _ := c.AAD()
	movedAAD, _ := moved.AAD()
	unwrap := func(aad []byte) ([]byte, error) {
		r, err := hpke.NewRecipient(s.Recipients[0].Enc, sks[0], hpke.HKDFSHA256(), hpke.AES256GCM(), WrapInfo(aad))
		if err != nil {
			t.Fatal(err)
		}
		return r.Open(nil, s.Recipients[0].Key)
	}
	key, err := unwrap(aad)
	if err != nil {
		t.Fatalf("unwrap with the job's AAD: %v", err)
	}
	if _, err := unwrap(movedAAD); err == nil {
		t.Fatal("key wrap opened with another job's AAD")
	}
	if _, err := openContent(key, s.Nonce, s.CT, aad); err != nil {
		t.Fatalf("content with the job's AAD: %v", err)
	}
	if _, err := openContent(key, s.Nonce, s.CT, movedAAD); err == nil {
		t.Fatal("content opened with another job's AAD")
	}
	// the wrap is the single-shot HPKE Seal of RFC 9180 with that info
	if k, err := hpke.Open(sks[0], hpke.HKDFSHA256(), hpke.AES256GCM(), WrapInfo(aad), append(append([]byte(nil), s.Recipients[0].Enc...), s.Recipients[0].Key...)); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("single-shot hpke.Open of enc||key: %v", err)
	}
	if len(WrapInfo(aad)) != 59 {
		t.Fatalf("info is %d bytes, want 59", len(WrapInfo(aad)))
	}
}

func sealedJSON(t testing.TB, kem uint16, n int) []byte {
	t.Helper()
	rs, _ := newKeys(t, kem, n)
	s, err := Seal(rand.Reader, testPerson(64), testClear(), rs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit decodes the sealed JSON into generic values, lets f change them,
// and encodes it again.
func edit(t *testing.T, raw []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rcpt(m map[string]any, i int) map[string]any {
	return m["recipients"].([]any)[i].(map[string]any)
}

func TestParseRefuses(t *testing.T) {
	good := sealedJSON(t, KEMX25519, 2)
	if _, err := Parse(good); err != nil {
		t.Fatalf("control: %v", err)
	}
	str := string(good)
	for _, tc := range []struct {
		name  string
		raw   []byte
		field string
		rule  string
	}{
		{"not json", []byte("{"), "sealed", "cut short"},
		{"array", []byte("[]"), "sealed", "JSON object"},
		{"string", []byte(`"x"`), "sealed", "JSON object"},
		{"trailing", append(append([]byte(nil), good...), []byte(" {}")...), "sealed", "nothing after"},
		{"bad utf-8", append(append([]byte(nil), good[:len(good)-1]...), 0xff, '}'), "sealed", "UTF-8"},
		{"too large", append(bytes.Repeat([]byte(" "), MaxSealedJSON), good...), "sealed", "at most"},
		{"unknown top field", edit(t, good, func(m map[string]any) { m["name"] = "x" }), "sealed", "unknown field"},
		{"unknown suite field", edit(t, good, func(m map[string]any) { m["suite"].(map[string]any)["mode"] = 0 }), "suite", "unknown field"},
		{"unknown recipient field", edit(t, good, func(m map[string]any) { rcpt(m, 1)["x"] = 1 }), "recipients[1]", "unknown field"},
		{"wrong case", []byte(strings.Replace(str, `"nonce"`, `"Nonce"`, 1)), "nonce", "wrong case"},
		{"duplicate", []byte(strings.Replace(str, `"nonce":`, `"ct":"AAAA","nonce":`, 1)), "ct", "more than once"},
		{"duplicate in recipient", []byte(strings.Replace(str, `"kid":`, `"key":"","kid":`, 1)), "recipients[0].key", "more than once"},
		{"kem as string", edit(t, good, func(m map[string]any) { m["suite"].(map[string]any)["kem"] = "32" }), "suite.kem", "integer"},
		{"kem too big", edit(t, good, func(m map[string]any) { m["suite"].(map[string]any)["kem"] = 70000 }), "suite.kem", "integer"},
		{"unknown kem", edit(t, good, func(m map[string]any) { m["suite"].(map[string]any)["kem"] = 0x10 }), "suite.kem", "must be"},
		{"other kdf", edit(t, good, func(m map[string]any) { m["suite"].(map[string]any)["kdf"] = 2 }), "suite.kdf", "HKDF-SHA256"},
		{"other aead", edit(t, good, func(m map[string]any) { m["suite"].(map[string]any)["aead"] = 3 }), "suite.aead", "AES-256-GCM"},
		{"no recipients", edit(t, good, func(m map[string]any) { m["recipients"] = []any{} }), "recipients", "1 to 16"},
		{"recipients missing", edit(t, good, func(m map[string]any) { delete(m, "recipients") }), "recipients", "1 to 16"},
		{"recipients not array", edit(t, good, func(m map[string]any) { m["recipients"] = "x" }), "recipients", "array"},
		{"kid upper case", edit(t, good, func(m map[string]any) { rcpt(m, 0)["kid"] = "ABCDEF0123456789" }), "recipients[0].kid", "lowercase hex"},
		{"kid short", edit(t, good, func(m map[string]any) { rcpt(m, 0)["kid"] = "abc" }), "recipients[0].kid", "lowercase hex"},
		{"kid twice", edit(t, good, func(m map[string]any) { rcpt(m, 1)["kid"] = rcpt(m, 0)["kid"] }), "recipients[1].kid", "more than once"},
		{"enc bad base64", edit(t, good, func(m map[string]any) { rcpt(m, 1)["enc"] = "!!!!" }), "recipients[1].enc", "base64"},
		{"enc url base64", edit(t, good, func(m map[string]any) { rcpt(m, 1)["enc"] = "-_-_" }), "recipients[1].enc", "base64"},
		{"enc no padding", edit(t, good, func(m map[string]any) { rcpt(m, 1)["enc"] = "AAA" }), "recipients[1].enc", "base64"},
		{"enc with newline", edit(t, good, func(m map[string]any) { e := rcpt(m, 1)["enc"].(string); rcpt(m, 1)["enc"] = e[:4] + "\n" + e[4:] }), "recipients[1].enc", "line breaks"},
		{"enc wrong size", edit(t, good, func(m map[string]any) { rcpt(m, 1)["enc"] = "AAAA" }), "recipients[1].enc", "32 bytes"},
		{"key wrong size", edit(t, good, func(m map[string]any) { rcpt(m, 0)["key"] = "AAAA" }), "recipients[0].key", "48 bytes"},
		{"nonce wrong size", edit(t, good, func(m map[string]any) { m["nonce"] = "AAAA" }), "nonce", "12 bytes"},
		{"ct too short", edit(t, good, func(m map[string]any) { m["ct"] = "AAAA" }), "ct", "bytes"},
		{"ct null", edit(t, good, func(m map[string]any) { m["ct"] = nil }), "ct", "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.raw)
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Rule, tc.rule) {
				t.Fatalf("err %v, want field %s rule ~%q", err, tc.field, tc.rule)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Error("a FormatError does not match ErrMalformed")
			}
		})
	}
}

// TestUnmarshalInBody checks that a Sealed field inside a larger JSON body
// is parsed as strictly as by Parse.
func TestUnmarshalInBody(t *testing.T) {
	good := sealedJSON(t, KEMXWing, 1)
	var body struct {
		Sealed *Sealed `json:"sealed"`
	}
	if err := json.Unmarshal([]byte(`{"sealed":`+string(good)+`}`), &body); err != nil || body.Sealed == nil {
		t.Fatalf("good body: %v", err)
	}
	bad := strings.Replace(string(good), `"nonce"`, `"nonce2":"",  "nonce"`, 1)
	err := json.Unmarshal([]byte(`{"sealed":`+bad+`}`), &body)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("body with an unknown field in sealed: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sealedJSON(f, KEMXWing, 1))
	f.Add(sealedJSON(f, KEMX25519, 3))
	f.Add([]byte(`{"suite":{"kem":32,"kdf":1,"aead":2},"recipients":[{"kid":"0123456789abcdef","enc":"","key":""}],"nonce":"","ct":""}`))
	f.Add([]byte(`{"recipients":[[{}]],"suite":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Parse(raw)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FormatError: %v", err)
			}
			if len(fe.Field) > 40 || len(fe.Rule) > 120 {
				t.Fatalf("error text looks like it quotes input: %v", err)
			}
			return
		}
		// what Parse accepts marshals to JSON that Parse reads back the same
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		out2, _ := json.Marshal(back)
		if !bytes.Equal(out, out2) {
			t.Fatal("marshal is not stable")
		}
	})
}

func FuzzDecodePerson(f *testing.F) {
	enc, _ := EncodePerson(testPerson(40))
	f.Add(enc)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePerson(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not a FormatError: %v", err)
			}
			return
		}
		// what decodes encodes back to the same bytes: one encoding per person
		again, err := EncodePerson(p)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encode differs (%v)", err)
		}
	})
}
