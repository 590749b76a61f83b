package barcode

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cityid/printerd/internal/keyfile"
)

func TestSignRefuses(t *testing.T) {
	key, _ := newKey(t, keyfile.ES256)
	for _, tc := range []struct {
		name string
		f    func(c *Claims)
		want string // field and rule
	}{
		{"no issuer", func(c *Claims) { c.Issuer = "" }, "Issuer: must not be empty"},
		{"no number", func(c *Claims) { c.Number = "" }, "Number: must not be empty"},
		{"long number", func(c *Claims) { c.Number = strings.Repeat("7", 33) }, "Number: 33 bytes, more than 32"},
		{"no name", func(c *Claims) { c.Name = "" }, "Name: must not be empty"},
		{"long name", func(c *Claims) { c.Name = strings.Repeat("Zoë ", 80) }, "Name: 400 bytes, more than 320"},
		{"name not UTF-8", func(c *Claims) { c.Name = "Zo\xff" }, "Name: not valid UTF-8"},
		{"long gender", func(c *Claims) { c.Gender = strings.Repeat("x", 97) }, "Gender: 97 bytes"},
		{"issued not a date", func(c *Claims) { c.Issued = "2026-13-01" }, "Issued: want a date YYYY-MM-DD"},
		{"expires not a date", func(c *Claims) { c.Expires = "25.11.2036" }, "Expires: want a date"},
		{"expires before issued", func(c *Claims) { c.Expires = "2020-01-01" }, "Expires: must not be before Issued"},
		{"dob compact", func(c *Claims) { c.DOB = "19900228" }, "DOB: want a date YYYY-MM-DD"},
		{"dob impossible", func(c *Claims) { c.DOB = "1990-02-30" }, "DOB: want a date"},
		{"negative issue", func(c *Claims) { c.Issue = -1 }, "Issue: must be 0 to "},
		{"issued before 1970", func(c *Claims) { c.Issued = "1969-12-31" }, "Issued: must be 1970-01-01 or later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fixture
			tc.f(&c)
			text, err := Sign(c, key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if text != "" {
				t.Error("text returned with an error")
			}
			for _, v := range []string{"Zoë", "Zo\xff", "1990", "25.11", "nonbinary"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error holds the value %q: %v", v, err)
				}
			}
		})
	}
	if _, err := Sign(fixture, nil); err == nil {
		t.Error("Sign with a nil key succeeded")
	}
	// an empty gender is allowed: the card may print none
	c := fixture
	c.Gender = ""
	c.Issue = 0
	if _, err := Sign(c, key); err != nil {
		t.Errorf("empty gender, issue 0: %v", err)
	}
}

func TestSignNFC(t *testing.T) {
	key, pub := newKey(t, keyfile.Ed25519)
	c := fixture
	c.Name = "Zoe\u0308 Testperson-Exampleton" // decomposed ë
	text, err := Sign(c, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Verify(text, []keyfile.Public{pub})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != fixture.Name {
		t.Errorf("name not signed in NFC: %q", got.Name)
	}
	if err := Compare(got, c); err != nil {
		t.Errorf("Compare with the decomposed name: %v", err)
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		field string
		f     func(c *Claims)
	}{
		{"Issuer", func(c *Claims) { c.Issuer = "TOWN" }},
		{"Issued", func(c *Claims) { c.Issued = "2026-11-26" }},
		{"Expires", func(c *Claims) { c.Expires = "2036-11-25" }},
		{"Number", func(c *Claims) { c.Number = "C-000123-8" }},
		{"Issue", func(c *Claims) { c.Issue = 3 }},
		{"Name", func(c *Claims) { c.Name = "Zoe Testperson-Exampleton" }},
		{"DOB", func(c *Claims) { c.DOB = "1990-02-27" }},
		{"Gender", func(c *Claims) { c.Gender = "" }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			want := fixture
			tc.f(&want)
			got := fixture
			err := Compare(&got, want)
			var me *MismatchError
			if !errors.As(err, &me) || me.Field != tc.field || !errors.Is(err, ErrMismatch) {
				t.Fatalf("err = %v, want a mismatch of %s", err, tc.field)
			}
			for _, v := range []string{"Zoe", "1990", "TOWN", "C-000", "nonbinary"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error holds the value %q: %v", v, err)
				}
			}
		})
	}
	got := fixture
	if err := Compare(&got, fixture); err != nil {
		t.Errorf("equal claims: %v", err)
	}
	if err := Compare(nil, fixture); !errors.Is(err, ErrMismatch) {
		t.Errorf("nil claims: %v", err)
	}
}

// FuzzVerify feeds arbitrary text to Verify: it must never panic, never
// accept a text it cannot verify, and never put a claim value in an error.
func FuzzVerify(f *testing.F) {
	key, err := keyfile.New(keyfile.ES256)
	if err != nil {
		f.Fatal(err)
	}
	kid, _ := keyfile.KIDHex(key.Public())
	keys := []keyfile.Public{{KID: kid, Key: key.Public()}}
	text, err := Sign(fixture, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(text)
	f.Add(text[:len(text)/2])
	f.Add(text[:len(text)-3])
	f.Add(strings.Replace(text, "A", "B", 1))
	f.Add("")
	f.Add("HC1:NCFOXN%TS3DH")
	f.Add("6BF5YZB2")
	f.Add(Base45Encode([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}))
	f.Fuzz(func(t *testing.T, s string) {
		c, k, err := Verify(s, keys)
		if err != nil {
			if c != nil || k != "" {
				t.Fatal("claims or kid returned with an error")
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("untyped error: %v", err)
			}
			if strings.Contains(err.Error(), fixture.Name) || strings.Contains(err.Error(), "19900228") {
				t.Fatalf("error holds personal data: %v", err)
			}
			return
		}
		if k != kid || c == nil {
			t.Fatalf("accepted with kid %q", k)
		}
	})
}

// TestIssueRange: the issue counter signs and verifies up to the largest
// int the job contract can carry (the contract sets no maximum).
func TestIssueRange(t *testing.T) {
	key, pub := newKey(t, keyfile.ES256)
	c := fixture
	c.Issue = math.MaxInt
	text, err := Sign(c, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Verify(text, []keyfile.Public{pub})
	if err != nil || got.Issue != math.MaxInt {
		t.Fatalf("issue %d: %v, %v", c.Issue, got, err)
	}
}
