package ndef

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMarshalParse(t *testing.T) {
	long := bytes.Repeat([]byte{0xA5}, 300)
	for _, tc := range []struct {
		name string
		recs []Record
		want []byte // nil: do not compare bytes
	}{
		{"external short", []Record{{TNF: TNFExternal, Type: []byte("a:b"), Payload: []byte{1, 2}}},
			[]byte{0xD4, 3, 2, 'a', ':', 'b', 1, 2}},
		{"well-known URI with id", []Record{{TNF: TNFWellKnown, Type: []byte("U"), ID: []byte("x"), Payload: []byte{4, 'a'}}},
			[]byte{0xD9, 1, 2, 1, 'U', 'x', 4, 'a'}},
		{"long payload", []Record{{TNF: TNFMedia, Type: []byte("application/cbor"), Payload: long}}, nil},
		{"empty record", []Record{{TNF: TNFEmpty}}, []byte{0xD0, 0, 0}},
		{"two records", []Record{{TNF: TNFUnknown, Payload: []byte{9}}, {TNF: TNFExternal, Type: []byte("a:b")}},
			[]byte{0x95, 0, 1, 9, 0x54, 3, 0, 'a', ':', 'b'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.recs...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !bytes.Equal(b, tc.want) {
				t.Fatalf("Marshal = % x, want % x", b, tc.want)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.recs) {
				t.Fatalf("Parse: %d records, want %d", len(got), len(tc.recs))
			}
			for i := range got {
				g, w := got[i], tc.recs[i]
				if g.TNF != w.TNF || !bytes.Equal(g.Type, w.Type) || !bytes.Equal(g.ID, w.ID) || !bytes.Equal(g.Payload, w.Payload) {
					t.Fatalf("record %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, rule string
		b          []byte
	}{
		{"empty", "empty", nil},
		{"no MB", "MB not set", []byte{0x54, 3, 0, 'a', ':', 'b'}},
		{"second MB", "MB set on a record after", []byte{0x95, 0, 1, 9, 0xD4, 3, 0, 'a', ':', 'b'}},
		{"no ME", "without ME", []byte{0x94, 3, 0, 'a', ':', 'b'}},
		{"chunked", "chunked", []byte{0xF4, 3, 0, 'a', ':', 'b'}},
		{"trailing", "bytes after", []byte{0xD4, 3, 0, 'a', ':', 'b', 0}},
		{"truncated payload", "type, id and payload", []byte{0xD4, 3, 5, 'a', ':', 'b', 1}},
		{"truncated header", "header", []byte{0xD4}},
		{"truncated long length", "payload length", []byte{0xC4, 3, 0, 0}},
		{"huge long length", "more than", []byte{0xC4, 3, 0xFF, 0xFF, 0xFF, 0xFF}},
		{"reserved TNF", "TNF 7", []byte{0xD7, 0, 0}},
		{"unchanged TNF", "TNF 6", []byte{0xD6, 0, 0}},
		{"empty with payload", "TNF 0", []byte{0xD0, 0, 1, 1}},
		{"unknown with type", "TNF 5", []byte{0xD5, 1, 0, 'x'}},
		{"external without type", "without a type", []byte{0xD4, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.b)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Parse(% x) = %v, want ErrFormat", tc.b, err)
			}
			if !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("error %q does not name the rule %q", err, tc.rule)
			}
		})
	}
}

func TestMarshalRefuses(t *testing.T) {
	for _, recs := range [][]Record{
		nil,
		{{TNF: 7}},
		{{TNF: TNFExternal}},
		{{TNF: TNFEmpty, Payload: []byte{1}}},
		{{TNF: TNFMedia, Type: []byte("a/b"), Payload: make([]byte, MaxPayload+1)}},
	} {
		if _, err := Marshal(recs...); !errors.Is(err, ErrFormat) {
			t.Errorf("Marshal(%d records) = %v, want ErrFormat", len(recs), err)
		}
	}
}

// FuzzParse checks that Parse never panics and that what it accepts
// re-encodes to a message that parses to the same records.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0xD4, 3, 2, 'a', ':', 'b', 1, 2})
	f.Add([]byte{0x95, 0, 1, 9, 0x54, 3, 0, 'a', ':', 'b'})
	f.Add([]byte{0xC4, 3, 0, 0, 0, 1, 'a', ':', 'b', 7})
	f.Add([]byte{0xD9, 1, 2, 1, 'U', 'x', 4, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		again, err := Marshal(recs...)
		if err != nil {
			t.Fatalf("Marshal of parsed records: %v", err)
		}
		recs2, err := Parse(again)
		if err != nil || len(recs2) != len(recs) {
			t.Fatalf("re-parse: %v", err)
		}
		for i := range recs {
			if recs[i].TNF != recs2[i].TNF || !bytes.Equal(recs[i].Type, recs2[i].Type) ||
				!bytes.Equal(recs[i].ID, recs2[i].ID) || !bytes.Equal(recs[i].Payload, recs2[i].Payload) {
				t.Fatalf("record %d changed in a round trip", i)
			}
		}
	})
}
