package seal

import (
	"bytes"
	"crypto/hpke"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// keyring is a test Keyring: the keys it holds, by id.
type keyring map[string]hpke.PrivateKey

func (k keyring) PrivateKey(kid string) (hpke.PrivateKey, error) {
	if sk, ok := k[kid]; ok {
		return sk, nil
	}
	return nil, fmt.Errorf("test keyring: %s: %w", kid, ErrKeyGone)
}

func newKeys(t testing.TB, kem uint16, n int) ([]Recipient, []hpke.PrivateKey) {
	t.Helper()
	k, err := KEM(kem)
	if err != nil {
		t.Fatal(err)
	}
	var rs []Recipient
	var sks []hpke.PrivateKey
	for range n {
		sk, err := k.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, Recipient{KeyID: KeyID(sk.PublicKey()), PublicKey: sk.PublicKey()})
		sks = append(sks, sk)
	}
	return rs, sks
}

// testPerson is an invented person with a distinctive photo.
func testPerson(photoSize int) Person {
	photo := make([]byte, photoSize)
	for i := range photo {
		photo[i] = byte(i*7 + i>>8)
	}
	return Person{Name: "Zyxwa Quorbel-Ňemcová", DOB: "1987-03-14", Gender: "x-test", Photo: photo}
}

func testClear() ClearFields {
	return ClearFields{
		V: 2, JobID: "0b7f3a52-8e0c-4c4e-9d57-3f1d2a6b9c10", Site: "town-hall", Pool: "front-desk",
		Kind: "issue", Template: "municipal-id", CardNumber: "CID-000123", CardIssue: 1,
		Issued: "2026-11-30", Expires: "2036-11-29",
	}
}

func samePerson(t *testing.T, got, want Person) {
	t.Helper()
	if got.Name != want.Name || got.DOB != want.DOB || got.Gender != want.Gender || !bytes.Equal(got.Photo, want.Photo) {
		t.Fatalf("opened person differs (name %v, dob %v, gender %v, photo %v equal)",
			got.Name == want.Name, got.DOB == want.DOB, got.Gender == want.Gender, bytes.Equal(got.Photo, want.Photo))
	}
}

func TestRoundTrip(t *testing.T) {
	for _, kem := range []uint16{KEMXWing, KEMX25519} {
		for _, n := range []int{1, 3} {
			t.Run(fmt.Sprintf("kem%#x/%d", kem, n), func(t *testing.T) {
				rs, sks := newKeys(t, kem, n)
				p, c := testPerson(60<<10), testClear()
				s, err := Seal(rand.Reader, p, c, rs)
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Recipients) != n || s.Suite != (Suite{kem, KDFSHA256, AEADAES256}) {
					t.Fatalf("sealed: %d recipients, suite %+v", len(s.Recipients), s.Suite)
				}
				// the photo is encrypted once, whatever the number of recipients
				if want := 2 + len(p.Name) + 2 + len(p.DOB) + 2 + len(p.Gender) + 4 + len(p.Photo) + TagSize; len(s.CT) != want {
					t.Errorf("ct %d bytes, want %d", len(s.CT), want)
				}
				raw, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				for _, secret := range [][]byte{[]byte(p.Name), []byte(p.DOB), p.Photo[:64]} {
					if bytes.Contains(raw, secret) {
						t.Fatal("sealed JSON holds a personal value in the clear")
					}
				}
				back, err := Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				for i, sk := range sks { // each recipient alone opens it
					got, err := Open(back, c, keyring{rs[i].KeyID: sk})
					if err != nil {
						t.Fatalf("recipient %d: %v", i, err)
					}
					samePerson(t, got, p)
				}
			})
		}
	}
}

func TestMovedRefused(t *testing.T) {
	rs, sks := newKeys(t, KEMXWing, 2)
	p, c := testPerson(1000), testClear()
	s, err := Seal(rand.Reader, p, c, rs)
	if err != nil {
		t.Fatal(err)
	}
	kr := keyring{rs[0].KeyID: sks[0], rs[1].KeyID: sks[1]}
	if _, err := Open(s, c, kr); err != nil {
		t.Fatalf("control: %v", err)
	}
	for _, tc := range []struct {
		name string
		move func(*ClearFields)
	}{
		{"v", func(c *ClearFields) { c.V = 1 }},
		{"job_id", func(c *ClearFields) { c.JobID = "0b7f3a52-8e0c-4c4e-9d57-3f1d2a6b9c11" }},
		{"site", func(c *ClearFields) { c.Site = "harbour" }},
		{"pool", func(c *ClearFields) { c.Pool = "back-office" }},
		{"kind", func(c *ClearFields) { c.Kind = "reprint" }},
		{"template", func(c *ClearFields) { c.Template = "other" }},
		{"card.number", func(c *ClearFields) { c.CardNumber = "CID-000124" }},
		{"card.issue", func(c *ClearFields) { c.CardIssue = 2 }},
		{"card.issued", func(c *ClearFields) { c.Issued = "2026-12-01" }},
		{"card.expires", func(c *ClearFields) { c.Expires = "2036-11-30" }},
		{"reprint.of_job", func(c *ClearFields) { c.ReprintOfJob = "x" }},
		{"reprint.reason", func(c *ClearFields) { c.ReprintReason = "lost" }},
		{"reprint.requested_by", func(c *ClearFields) { c.ReprintRequestedBy = "x" }},
		// fields shifting between neighbours must not give the same bytes
		{"site/pool boundary", func(c *ClearFields) { c.Site, c.Pool = "town-hallf", "ront-desk" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moved := c
			tc.move(&moved)
			_, err := Open(s, moved, kr)
			if !errors.Is(err, ErrBinding) {
				t.Fatalf("opened with another job's clear fields: err %v, want ErrBinding", err)
			}
		})
	}
}

func TestKeyGone(t *testing.T) {
	rs, sks := newKeys(t, KEMX25519, 2)
	p, c := testPerson(100), testClear()
	s, err := Seal(rand.Reader, p, c, rs)
	if err != nil {
		t.Fatal(err)
	}
	other, otherSK := newKeys(t, KEMX25519, 1)
	for _, tc := range []struct {
		name string
		kr   keyring
	}{
		{"empty keyring", keyring{}},
		{"another daemon's key", keyring{other[0].KeyID: otherSK[0]}},
		{"both keys destroyed", func() keyring {
			k := keyring{rs[0].KeyID: sks[0], rs[1].KeyID: sks[1]}
			delete(k, rs[0].KeyID)
			delete(k, rs[1].KeyID)
			return k
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(s, c, tc.kr); !errors.Is(err, ErrKeyGone) {
				t.Fatalf("err %v, want ErrKeyGone", err)
			}
		})
	}
	// one of two keys left is enough
	if _, err := Open(s, c, keyring{rs[1].KeyID: sks[1]}); err != nil {
		t.Fatalf("second key alone: %v", err)
	}
	if _, err := Open(nil, c, keyring{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil sealed part: %v", err)
	}
	// nil rand means crypto/rand
	if s2, err := Seal(nil, p, c, rs); err != nil || bytes.Equal(s2.Nonce, s.Nonce) {
		t.Fatalf("Seal with nil rand: %v", err)
	}
	// a keyring failure other than a missing key is not ErrKeyGone
	if _, err := Open(s, c, failing{}); err == nil || errors.Is(err, ErrKeyGone) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("failing keyring: %v", err)
	}
}

type failing struct{}

func (failing) PrivateKey(string) (hpke.PrivateKey, error) { return nil, errors.New("disk on fire") }

func TestTamperedRefused(t *testing.T) {
	for _, kem := range []uint16{KEMXWing, KEMX25519} {
		rs, sks := newKeys(t, kem, 1)
		p, c := testPerson(500), testClear()
		kr := keyring{rs[0].KeyID: sks[0]}
		good, err := Seal(rand.Reader, p, c, rs)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(good)
		for _, tc := range []struct {
			name   string
			tamper func(*Sealed)
			want   error
		}{
			{"ct first byte", func(s *Sealed) { s.CT[0] ^= 1 }, ErrBinding},
			{"ct tag", func(s *Sealed) { s.CT[len(s.CT)-1] ^= 0x80 }, ErrBinding},
			{"nonce", func(s *Sealed) { s.Nonce[3] ^= 1 }, ErrBinding},
			{"enc", func(s *Sealed) { s.Recipients[0].Enc[5] ^= 1 }, ErrBinding},
			{"enc last byte", func(s *Sealed) { s.Recipients[0].Enc[len(s.Recipients[0].Enc)-1] ^= 1 }, ErrBinding},
			{"wrapped key", func(s *Sealed) { s.Recipients[0].Key[0] ^= 1 }, ErrBinding},
			{"wrapped key tag", func(s *Sealed) { s.Recipients[0].Key[47] ^= 1 }, ErrBinding},
			{"kid", func(s *Sealed) { s.Recipients[0].KID = "0000000000000000" }, ErrKeyGone},
			{"suite kem", func(s *Sealed) { s.Suite.KEM ^= KEMXWing ^ KEMX25519 }, ErrMalformed},
		} {
			t.Run(fmt.Sprintf("kem%#x/%s", kem, tc.name), func(t *testing.T) {
				s, err := Parse(raw) // a fresh copy
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Open(s, c, kr); err != nil {
					t.Fatalf("control: %v", err)
				}
				tc.tamper(s)
				if _, err := Open(s, c, kr); !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
			})
		}
	}
}

func TestSealRefuses(t *testing.T) {
	xw, _ := newKeys(t, KEMXWing, 2)
	x25, _ := newKeys(t, KEMX25519, 1)
	p, c := testPerson(10), testClear()
	badKID := xw[0]
	badKID.KeyID = strings.Repeat("0", 16)
	for _, tc := range []struct {
		name  string
		p     Person
		c     ClearFields
		rs    []Recipient
		field string
	}{
		{"no recipients", p, c, nil, "recipients"},
		{"mixed KEMs", p, c, []Recipient{xw[0], x25[0]}, "recipients[1]"},
		{"wrong kid", p, c, []Recipient{badKID}, "recipients[0].kid"},
		{"same key twice", p, c, []Recipient{xw[0], xw[0]}, "recipients[1].kid"},
		{"bad utf-8 name", Person{Name: "\xff"}, c, xw, "person.name"},
		{"photo too big", Person{Photo: make([]byte, MaxPhoto+1)}, c, xw, "person.photo"},
		{"negative issue", p, ClearFields{CardIssue: -1}, xw, "card.issue"},
		{"long site", p, ClearFields{Site: strings.Repeat("s", 65536)}, xw, "site"},
		{"too many recipients", p, c, make([]Recipient, MaxRecipients+1), "recipients"},
		{"no public key", p, c, []Recipient{xw[0], {KeyID: xw[1].KeyID}}, "recipients[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Seal(rand.Reader, tc.p, tc.c, tc.rs)
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err %v, want a FormatError on %s", err, tc.field)
			}
		})
	}
}

func TestAADBytes(t *testing.T) {
	c := ClearFields{V: 2, JobID: "j", Site: "s", Pool: "p", Kind: "reprint", Template: "t",
		CardNumber: "N-1", CardIssue: 12, Issued: "2026-01-02", Expires: "2030-01-02",
		ReprintOfJob: "o", ReprintReason: "lost", ReprintRequestedBy: "é"}
	got, err := c.AAD()
	if err != nil {
		t.Fatal(err)
	}
	want := "000f" + hex.EncodeToString([]byte("printerd-job-v2")) +
		"0001" + "32" + "0001" + "6a" + "0001" + "73" + "0001" + "70" +
		"0007" + hex.EncodeToString([]byte("reprint")) + "0001" + "74" +
		"0003" + hex.EncodeToString([]byte("N-1")) + "0002" + "3132" +
		"000a" + hex.EncodeToString([]byte("2026-01-02")) + "000a" + hex.EncodeToString([]byte("2030-01-02")) +
		"0001" + "6f" + "0004" + hex.EncodeToString([]byte("lost")) + "0002" + "c3a9"
	if hex.EncodeToString(got) != want {
		t.Fatalf("AAD\n got %x\nwant %s", got, want)
	}
	// an issue job: the reprint fields are present with length 0
	c2 := testClear()
	got, _ = c2.AAD()
	if !bytes.HasSuffix(got, []byte{0, 0, 0, 0, 0, 0}) {
		t.Errorf("issue AAD does not end with three empty fields: %x", got[len(got)-8:])
	}
}

func TestPersonCodec(t *testing.T) {
	p := Person{Name: "Ab", DOB: "2000-01-01", Gender: "f", Photo: []byte{1, 2, 3}}
	b, err := EncodePerson(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "0002" + "4162" + "000a" + hex.EncodeToString([]byte("2000-01-01")) + "0001" + "66" + "00000003" + "010203"
	if hex.EncodeToString(b) != want {
		t.Fatalf("encoded %x, want %s", b, want)
	}
	back, err := DecodePerson(b)
	if err != nil {
		t.Fatal(err)
	}
	samePerson(t, back, p)
	clear(b) // the photo was copied out
	if !bytes.Equal(back.Photo, []byte{1, 2, 3}) {
		t.Fatal("decoded photo aliases the plaintext buffer")
	}
	enc, _ := EncodePerson(p)
	for _, tc := range []struct {
		name  string
		b     []byte
		field string
	}{
		{"empty", nil, "person.name"},
		{"cut in name", enc[:3], "person.name"},
		{"cut in photo length", enc[:len(enc)-5], "person.photo"},
		{"cut in photo", enc[:len(enc)-1], "person.photo"},
		{"trailing byte", append(append([]byte(nil), enc...), 0), "person"},
		{"bad utf-8 gender", []byte{0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0, 0}, "person.gender"},
		{"photo length over limit", []byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, "person.photo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePerson(tc.b)
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err %v, want a FormatError on %s", err, tc.field)
			}
		})
	}
}

func TestWipe(t *testing.T) {
	p := testPerson(100)
	photo := p.Photo
	p.Wipe()
	if !bytes.Equal(photo, make([]byte, 100)) || p.Name != "" || p.Photo != nil {
		t.Fatal("Wipe left data")
	}
}
