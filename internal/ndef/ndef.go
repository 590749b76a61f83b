// Package ndef encodes and strictly decodes NFC Forum NDEF messages (NFC
// Data Exchange Format, NFCForum-TS-NDEF_1.0): a message is one or more
// records, each with a 3-bit type name format (TNF), a type, an optional
// id and a payload.
//
// Marshal writes the canonical form: the short-record layout (SR) for
// payloads under 256 bytes, the long layout otherwise, MB on the first
// record and ME on the last. Parse accepts both layouts but refuses what a
// writer of this package never produces and a careful reader should not
// guess at: chunked records (CF), the reserved TNF 7, TNF 6 (unchanged,
// only valid in chunks), an empty message, MB or ME out of place, type or
// id bytes a TNF forbids, and bytes after the last record.
package ndef

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// TNF is a record's type name format.
type TNF byte

// Type name formats (NDEF 1.0 section 3.2.6).
const (
	TNFEmpty     TNF = 0 // no type, id or payload
	TNFWellKnown TNF = 1 // NFC Forum well-known type, e.g. "U", "T"
	TNFMedia     TNF = 2 // RFC 2046 media type, e.g. "application/cbor"
	TNFURI       TNF = 3 // absolute URI as the type
	TNFExternal  TNF = 4 // NFC Forum external type "domain:type"
	TNFUnknown   TNF = 5 // no type
	TNFUnchanged TNF = 6 // middle and last chunks only: refused
)

// Record header flags.
const (
	flagMB = 0x80 // message begin
	flagME = 0x40 // message end
	flagCF = 0x20 // chunk flag
	flagSR = 0x10 // short record: 1-byte payload length
	flagIL = 0x08 // id length present
)

// MaxPayload bounds a record's payload: no chip this package writes to
// holds more than a Type 4 tag's largest NDEF file (0xFFFE bytes).
const MaxPayload = 0xFFFE

// Record is one NDEF record.
type Record struct {
	TNF     TNF
	Type    []byte
	ID      []byte
	Payload []byte
}

// ErrFormat is a malformed NDEF message; the error that wraps it names the
// record, the byte offset and the rule.
var ErrFormat = errors.New("ndef: malformed message")

func formatErr(rec, off int, format string, args ...any) error {
	return fmt.Errorf("%w: record %d at byte %d: %s", ErrFormat, rec, off, fmt.Sprintf(format, args...))
}

// check applies the per-TNF rules to r (record number i).
func (r Record) check(i int) error {
	switch {
	case r.TNF > TNFUnknown:
		return formatErr(i, 0, "TNF %d: want 0 to 5 (6 is only for chunks, 7 is reserved)", r.TNF)
	case r.TNF == TNFEmpty && (len(r.Type) > 0 || len(r.ID) > 0 || len(r.Payload) > 0):
		return formatErr(i, 0, "TNF 0 (empty) with a type, id or payload")
	case r.TNF == TNFUnknown && len(r.Type) > 0:
		return formatErr(i, 0, "TNF 5 (unknown) with a type")
	case r.TNF != TNFEmpty && r.TNF != TNFUnknown && len(r.Type) == 0:
		return formatErr(i, 0, "TNF %d without a type", r.TNF)
	case len(r.Type) > 255:
		return formatErr(i, 0, "type of %d bytes, more than 255", len(r.Type))
	case len(r.ID) > 255:
		return formatErr(i, 0, "id of %d bytes, more than 255", len(r.ID))
	case len(r.Payload) > MaxPayload:
		return formatErr(i, 0, "payload of %d bytes, more than %d", len(r.Payload), MaxPayload)
	}
	return nil
}

// Marshal encodes records as one NDEF message.
func Marshal(records ...Record) ([]byte, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: no record", ErrFormat)
	}
	var out []byte
	for i, r := range records {
		if err := r.check(i); err != nil {
			return nil, err
		}
		h := byte(r.TNF)
		if i == 0 {
			h |= flagMB
		}
		if i == len(records)-1 {
			h |= flagME
		}
		if len(r.ID) > 0 {
			h |= flagIL
		}
		short := len(r.Payload) < 256
		if short {
			h |= flagSR
		}
		out = append(out, h, byte(len(r.Type)))
		if short {
			out = append(out, byte(len(r.Payload)))
		} else {
			out = binary.BigEndian.AppendUint32(out, uint32(len(r.Payload)))
		}
		if len(r.ID) > 0 {
			out = append(out, byte(len(r.ID)))
		}
		out = append(out, r.Type...)
		out = append(out, r.ID...)
		out = append(out, r.Payload...)
	}
	return out, nil
}

// Parse decodes an NDEF message strictly (see the package comment). The
// records' slices point into b.
func Parse(b []byte) ([]Record, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrFormat)
	}
	var recs []Record
	off := 0
	for i := 0; ; i++ {
		start := off
		need := func(n int, what string) error {
			if len(b)-off < n {
				return formatErr(i, off, "%s: %d bytes needed, %d left", what, n, len(b)-off)
			}
			return nil
		}
		if err := need(2, "header"); err != nil {
			return nil, err
		}
		h := b[off]
		tlen := int(b[off+1])
		off += 2
		switch {
		case h&flagMB != 0 && i > 0:
			return nil, formatErr(i, start, "MB set on a record after the first")
		case h&flagMB == 0 && i == 0:
			return nil, formatErr(i, start, "MB not set on the first record")
		case h&flagCF != 0:
			return nil, formatErr(i, start, "chunked record (CF): not accepted")
		}
		var plen int
		if h&flagSR != 0 {
			if err := need(1, "payload length"); err != nil {
				return nil, err
			}
			plen = int(b[off])
			off++
		} else {
			if err := need(4, "payload length"); err != nil {
				return nil, err
			}
			n := binary.BigEndian.Uint32(b[off:])
			if n > MaxPayload {
				return nil, formatErr(i, off, "payload length %d, more than %d", n, MaxPayload)
			}
			plen = int(n)
			off += 4
		}
		ilen := 0
		if h&flagIL != 0 {
			if err := need(1, "id length"); err != nil {
				return nil, err
			}
			ilen = int(b[off])
			off++
		}
		if err := need(tlen+ilen+plen, "type, id and payload"); err != nil {
			return nil, err
		}
		r := Record{TNF: TNF(h & 0x07)}
		r.Type, off = b[off:off+tlen:off+tlen], off+tlen
		r.ID, off = b[off:off+ilen:off+ilen], off+ilen
		r.Payload, off = b[off:off+plen:off+plen], off+plen
		if err := r.check(i); err != nil {
			return nil, fmt.Errorf("%w (record starts at byte %d)", err, start)
		}
		recs = append(recs, r)
		if h&flagME != 0 {
			if off != len(b) {
				return nil, formatErr(i, off, "%d bytes after the record with ME", len(b)-off)
			}
			return recs, nil
		}
		if off == len(b) {
			return nil, formatErr(i, start, "last record without ME")
		}
	}
}
