package barcode

import (
	"bytes"
	"errors"
	"testing"
)

// TestBase45RFC9285 uses the examples of RFC 9285 sections 4.3 and 4.4.
func TestBase45RFC9285(t *testing.T) {
	for _, tc := range []struct{ raw, enc string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	} {
		if got := Base45Encode([]byte(tc.raw)); got != tc.enc {
			t.Errorf("Base45Encode(%q) = %q, want %q", tc.raw, got, tc.enc)
		}
		got, err := Base45Decode(tc.enc)
		if err != nil || string(got) != tc.raw {
			t.Errorf("Base45Decode(%q) = %q, %v, want %q", tc.enc, got, err, tc.raw)
		}
	}
}

func TestBase45Invalid(t *testing.T) {
	for _, s := range []string{
		"GGW",    // 65536: one more than two bytes (RFC 9285 section 6)
		":::",    // 44+44*45+44*2025
		"GH",     // pair value 16+17*45 = 781 > 255
		"A",      // a lone character
		"ABCD",   // length 1 mod 3
		"abc",    // lower case is not in the alphabet
		"AB\x00", // NUL
		"AB\xff", // non-ASCII
		"AB=",    // padding does not exist in Base45
	} {
		if b, err := Base45Decode(s); err == nil || !errors.Is(err, errBase45) {
			t.Errorf("Base45Decode(%q) = %x, %v: want an error", s, b, err)
		}
	}
}

func TestBase45AllValues(t *testing.T) {
	// every two-byte value and every single byte survives a round trip
	for n := 0; n < 1<<16; n++ {
		in := []byte{byte(n >> 8), byte(n)}
		out, err := Base45Decode(Base45Encode(in))
		if err != nil || !bytes.Equal(in, out) {
			t.Fatalf("round trip of %x: %x %v", in, out, err)
		}
		if n < 256 {
			out, err := Base45Decode(Base45Encode(in[1:]))
			if err != nil || !bytes.Equal(in[1:], out) {
				t.Fatalf("round trip of %x: %x %v", in[1:], out, err)
			}
		}
	}
}

// FuzzBase45 checks that decoding never panics and that whatever decodes
// encodes back to the same text (the encoding is unique).
func FuzzBase45(f *testing.F) {
	for _, s := range []string{"BB8", "%69 VD92EX0", "GGW", "A", "", "QED8WEX0", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Base45Decode(s)
		if err != nil {
			return
		}
		if back := Base45Encode(b); back != s {
			t.Fatalf("%q decodes to %x which encodes to %q", s, b, back)
		}
	})
}
