// Package lenprefix builds the length-prefixed byte strings that printerd
// signs or binds as associated data: each field is a 2-byte big-endian
// length followed by the field's bytes, so no two different field lists
// give the same string.
package lenprefix

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrTooLong is returned for a field of more than 65535 bytes.
var ErrTooLong = errors.New("lenprefix: field longer than 65535 bytes")

// Append appends len(field) as 2 bytes big-endian and then field.
func Append(b, field []byte) ([]byte, error) {
	if len(field) > math.MaxUint16 {
		return b, ErrTooLong
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(field)))
	return append(b, field...), nil
}

// AppendString is Append for a string.
func AppendString(b []byte, field string) ([]byte, error) {
	if len(field) > math.MaxUint16 {
		return b, ErrTooLong
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(field)))
	return append(b, field...), nil
}
