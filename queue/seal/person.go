package seal

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/cityid/printerd/queue/internal/lenprefix"
)

// MaxPhoto is the largest photo Seal takes and Open accepts, in bytes. The
// job contract has its own, smaller, limit; this one only bounds memory.
const MaxPhoto = 1 << 20

// Person holds the personal fields of a card: everything Seal hides. They
// must never reach a log, event, metric, audit record or error. In JSON
// (a plain card file, the input of printerd submit) the photo is standard
// base64; inside a sealed part the fields are encoded by EncodePerson.
type Person struct {
	Name   string `json:"name"`
	DOB    string `json:"dob"`
	Gender string `json:"gender"`
	Photo  []byte `json:"photo"` // JPEG or PNG bytes
}

// Wipe overwrites the photo with zeros and clears the fields. The strings'
// old bytes cannot be overwritten in Go (see the package doc).
func (p *Person) Wipe() {
	clear(p.Photo)
	*p = Person{}
}

// EncodePerson returns the plaintext of a sealed part: the name, birth
// date and gender each as a 2-byte big-endian length and UTF-8 bytes, then
// the photo as a 4-byte big-endian length and its bytes; nothing else. The
// caller owns the result and should clear it after use.
func EncodePerson(p Person) ([]byte, error) {
	for _, f := range []struct{ name, value string }{{"name", p.Name}, {"dob", p.DOB}, {"gender", p.Gender}} {
		if !utf8.ValidString(f.value) {
			return nil, &FormatError{"person." + f.name, "must be valid UTF-8"}
		}
		if len(f.value) > math.MaxUint16 {
			return nil, &FormatError{"person." + f.name, "must be at most 65535 bytes"}
		}
	}
	if len(p.Photo) > MaxPhoto {
		return nil, &FormatError{"person.photo", "must be at most 1 MiB"}
	}
	b := make([]byte, 0, 2+len(p.Name)+2+len(p.DOB)+2+len(p.Gender)+4+len(p.Photo))
	b, _ = lenprefix.AppendString(b, p.Name)
	b, _ = lenprefix.AppendString(b, p.DOB)
	b, _ = lenprefix.AppendString(b, p.Gender)
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.Photo)))
	return append(b, p.Photo...), nil
}

// DecodePerson parses what EncodePerson makes. The photo is copied out of
// b, so the caller may clear b afterwards.
func DecodePerson(b []byte) (Person, error) {
	var p Person
	for _, f := range []struct {
		name string
		dst  *string
	}{{"name", &p.Name}, {"dob", &p.DOB}, {"gender", &p.Gender}} {
		if len(b) < 2 {
			return Person{}, &FormatError{"person." + f.name, "length prefix is cut short"}
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if len(b) < n {
			return Person{}, &FormatError{"person." + f.name, "is shorter than its length prefix"}
		}
		if !utf8.Valid(b[:n]) {
			return Person{}, &FormatError{"person." + f.name, "must be valid UTF-8"}
		}
		*f.dst = string(b[:n])
		b = b[n:]
	}
	if len(b) < 4 {
		return Person{}, &FormatError{"person.photo", "length prefix is cut short"}
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	switch {
	case n > MaxPhoto:
		return Person{}, &FormatError{"person.photo", "must be at most 1 MiB"}
	case uint32(len(b)) < n:
		return Person{}, &FormatError{"person.photo", "is shorter than its length prefix"}
	case uint32(len(b)) > n:
		return Person{}, &FormatError{"person", "has bytes after the photo"}
	}
	p.Photo = append([]byte(nil), b...)
	return p, nil
}
