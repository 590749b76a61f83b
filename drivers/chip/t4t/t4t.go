// Package t4t speaks the NFC Forum Type 4 Tag protocol (NFC Forum Type 4
// Tag Technical Specification, mapping version 2.0) over ISO/IEC 7816-4
// APDUs: the NDEF tag application (AID D2760000850101), its capability
// container file (E103) and its NDEF file, read with READ BINARY and
// written with UPDATE BINARY.
//
// The host side (Read, Write, Lock) works over any chip.Transmitter: a
// PC/SC card in drivers/pcsc, or the virtual chip of drivers/chip/vchip
// directly. The chip side of the protocol lives in vchip; both share the
// capability container (CC), the status words and the chip image (Image)
// defined here.
//
// # Locking
//
// Type 4 tags make their NDEF file read-only in vendor-specific ways
// (DESFire and NTAG 4xx change the file's access rights with their own
// commands). printerd uses the one step a chip can expose through the
// standard commands: an UPDATE BINARY of the single byte FF at offset 14
// of the capability container, its NDEF file write access byte ("no write
// access"). A chip that allows it answers 9000 and from then on refuses
// every UPDATE BINARY with 6982 (security status not satisfied); a chip
// that does not allow it answers an error and stays writable. Lock reads
// the CC back to tell which happened.
package t4t

import (
	"encoding/binary"
	"fmt"
)

// AID is the NDEF tag application's identifier (mapping version 2.0).
var AID = []byte{0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01}

// File identifiers.
const (
	CCFile          uint16 = 0xE103 // capability container
	DefaultNDEFFile uint16 = 0xE104 // the NDEF file id chips commonly use
)

// Status words (ISO/IEC 7816-4 section 5.6).
const (
	SWOK             uint16 = 0x9000
	SWWrongLength    uint16 = 0x6700
	SWSecurity       uint16 = 0x6982 // security status not satisfied: read-only
	SWNotAllowed     uint16 = 0x6986 // command not allowed: no file selected
	SWWrongData      uint16 = 0x6A80
	SWFuncNotSupp    uint16 = 0x6A81
	SWNotFound       uint16 = 0x6A82 // file or application not found
	SWWrongP1P2      uint16 = 0x6A86
	SWOffsetBeyond   uint16 = 0x6B00 // wrong parameters: offset outside the file
	SWINSNotSupp     uint16 = 0x6D00
	SWCLANotSupp     uint16 = 0x6E00
	SWEndOfFile      uint16 = 0x6282 // fewer bytes than Le: end of file reached
	SWNotEnoughSpace uint16 = 0x6A84
)

// Instruction bytes.
const (
	InsSelect       = 0xA4
	InsReadBinary   = 0xB0
	InsUpdateBinary = 0xD6
	InsGetData      = 0xCA // with CLA FF: the PC/SC reader's GET DATA (UID)
)

// CC layout.
const (
	ccLen          = 15   // CCLEN of a CC holding one NDEF file control TLV
	mappingVersion = 0x20 // 2.0
	tlvNDEFFile    = 0x04
	// WriteAccessOffset is the CC byte that says whether the NDEF file may be
	// written: 00 yes, FF no (see Locking in the package comment).
	WriteAccessOffset = 14
	// AccessGranted and AccessNone are the CC's access condition values.
	AccessGranted = 0x00
	AccessNone    = 0xFF
	// MinMaxSize and MaxMaxSize bound a CC's maximum NDEF file size.
	MinMaxSize = 0x0005
	MaxMaxSize = 0xFFFE
)

// CC is a Type 4 tag's capability container.
type CC struct {
	Version     byte   // mapping version, 0x20
	MLe         uint16 // most bytes a READ BINARY returns, at least 0x000F
	MLc         uint16 // most bytes an UPDATE BINARY takes, at least 0x0001
	FileID      uint16 // the NDEF file's id
	MaxSize     uint16 // the NDEF file's size, length field included
	ReadAccess  byte   // 00: anyone may read
	WriteAccess byte   // 00: anyone may write; FF: read-only
}

// Marshal encodes the CC as the 15 bytes of the CC file.
func (c CC) Marshal() []byte {
	b := make([]byte, 0, ccLen)
	b = binary.BigEndian.AppendUint16(b, ccLen)
	b = append(b, c.Version)
	b = binary.BigEndian.AppendUint16(b, c.MLe)
	b = binary.BigEndian.AppendUint16(b, c.MLc)
	b = append(b, tlvNDEFFile, 6)
	b = binary.BigEndian.AppendUint16(b, c.FileID)
	b = binary.BigEndian.AppendUint16(b, c.MaxSize)
	return append(b, c.ReadAccess, c.WriteAccess)
}

// ParseCC decodes a CC file strictly: a CCLEN of at least 15 that the
// bytes cover, mapping version 2.x, MLe and MLc at their minimums or more,
// an NDEF file control TLV first, a valid file id and size, and access
// bytes of 00 or FF (read access must be 00: printerd does not use
// proprietary read conditions). Bytes after the TLV (proprietary TLVs) are
// ignored.
func ParseCC(b []byte) (CC, error) {
	var c CC
	if len(b) < ccLen {
		return c, fmt.Errorf("t4t: capability container: %d bytes, want at least %d", len(b), ccLen)
	}
	n := binary.BigEndian.Uint16(b)
	if n < ccLen || int(n) > len(b) {
		return c, fmt.Errorf("t4t: capability container: CCLEN %d: want %d to %d", n, ccLen, len(b))
	}
	c.Version = b[2]
	c.MLe = binary.BigEndian.Uint16(b[3:])
	c.MLc = binary.BigEndian.Uint16(b[5:])
	c.FileID = binary.BigEndian.Uint16(b[9:])
	c.MaxSize = binary.BigEndian.Uint16(b[11:])
	c.ReadAccess, c.WriteAccess = b[13], b[14]
	switch {
	case c.Version>>4 != 2:
		return c, fmt.Errorf("t4t: capability container: byte 2: mapping version %d.%d, want 2.x", c.Version>>4, c.Version&0x0f)
	case c.MLe < 0x000F:
		return c, fmt.Errorf("t4t: capability container: bytes 3-4: MLe %d, less than 15", c.MLe)
	case c.MLc < 0x0001:
		return c, fmt.Errorf("t4t: capability container: bytes 5-6: MLc 0")
	case b[7] != tlvNDEFFile || b[8] != 6:
		return c, fmt.Errorf("t4t: capability container: bytes 7-8: TLV %02X length %d, want an NDEF file control TLV 04 06", b[7], b[8])
	case c.FileID == 0x0000 || c.FileID == 0xE102 || c.FileID == CCFile || c.FileID == 0x3F00 || c.FileID == 0x3FFF || c.FileID == 0xFFFF:
		return c, fmt.Errorf("t4t: capability container: bytes 9-10: file id %04X is reserved", c.FileID)
	case c.MaxSize < MinMaxSize || c.MaxSize > MaxMaxSize:
		return c, fmt.Errorf("t4t: capability container: bytes 11-12: NDEF file size %d, want %d to %d", c.MaxSize, MinMaxSize, MaxMaxSize)
	case c.ReadAccess != AccessGranted:
		return c, fmt.Errorf("t4t: capability container: byte 13: read access %02X, want 00", c.ReadAccess)
	case c.WriteAccess != AccessGranted && c.WriteAccess != AccessNone:
		return c, fmt.Errorf("t4t: capability container: byte 14: write access %02X, want 00 or FF", c.WriteAccess)
	}
	return c, nil
}

// Locked reports whether the CC says the NDEF file is read-only.
func (c CC) Locked() bool { return c.WriteAccess == AccessNone }

// SelectApp is the SELECT of the NDEF tag application by name.
func SelectApp() []byte {
	return append(append([]byte{0x00, InsSelect, 0x04, 0x00, byte(len(AID))}, AID...), 0x00)
}

// SelectFile is the SELECT of an elementary file by id, first or only
// occurrence, no response data (P1 00, P2 0C).
func SelectFile(id uint16) []byte {
	return []byte{0x00, InsSelect, 0x00, 0x0C, 0x02, byte(id >> 8), byte(id)}
}

// ReadBinary reads n bytes (1 to 256) from offset off (at most 0x7FFF) of
// the selected file.
func ReadBinary(off uint16, n int) []byte {
	return []byte{0x00, InsReadBinary, byte(off >> 8), byte(off), byte(n)} // n 256 encodes as 00
}

// UpdateBinary writes data (1 to 255 bytes) at offset off of the selected
// file.
func UpdateBinary(off uint16, data []byte) []byte {
	return append([]byte{0x00, InsUpdateBinary, byte(off >> 8), byte(off), byte(len(data))}, data...)
}

// GetUID is the PC/SC GET DATA command that asks the reader for the
// chip's UID (PC/SC part 3, section 3.2.2.1.3).
func GetUID() []byte { return []byte{0xFF, InsGetData, 0x00, 0x00, 0x00} }

// SW splits a response APDU into its data and status word. A response of
// fewer than two bytes has status 0.
func SW(resp []byte) ([]byte, uint16) {
	if len(resp) < 2 {
		return nil, 0
	}
	n := len(resp) - 2
	return resp[:n], binary.BigEndian.Uint16(resp[n:])
}
