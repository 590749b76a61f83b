package barcode

import (
	"errors"
	"fmt"
)

// base45Alphabet is the RFC 9285 alphabet: exactly the characters of the QR
// alphanumeric mode, so Base45 text packs at 5.5 bits a character.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a byte to its Base45 value, or -1.
var base45Value = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// Base45Encode encodes b as RFC 9285 Base45 text: every two bytes become
// three characters, a last single byte two.
func Base45Encode(b []byte) string {
	out := make([]byte, 0, (len(b)/2)*3+2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[(n/45)%45], base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return string(out)
}

// errBase45 is the cause of every Base45 decoding error.
var errBase45 = errors.New("invalid base45")

// Base45Decode decodes RFC 9285 Base45 text. It refuses characters outside
// the alphabet, a length of 1 modulo 3, and triples or pairs whose value
// overflows (RFC 9285 section 6). Errors give the offset, never the text.
func Base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves a single character", errBase45, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	val := func(i int) (int, error) {
		v := base45Value[s[i]]
		if v < 0 {
			return 0, fmt.Errorf("%w: character at offset %d is not in the base45 alphabet", errBase45, i)
		}
		return int(v), nil
	}
	for i := 0; i < len(s); i += 3 {
		c, err := val(i)
		if err != nil {
			return nil, err
		}
		d, err := val(i + 1)
		if err != nil {
			return nil, err
		}
		if i+2 == len(s) {
			n := c + d*45
			if n > 0xff {
				return nil, fmt.Errorf("%w: pair at offset %d exceeds one byte", errBase45, i)
			}
			out = append(out, byte(n))
			break
		}
		e, err := val(i + 2)
		if err != nil {
			return nil, err
		}
		n := c + d*45 + e*2025
		if n > 0xffff {
			return nil, fmt.Errorf("%w: triple at offset %d exceeds two bytes", errBase45, i)
		}
		out = append(out, byte(n>>8), byte(n))
	}
	return out, nil
}
