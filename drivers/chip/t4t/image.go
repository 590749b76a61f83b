package t4t

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// ImageFormat names the chip image file format, version 1.
const ImageFormat = "printerd-chip-image/1"

// maxImage bounds a chip image file: a 0xFFFE-byte NDEF file in hex and
// the rest.
const maxImage = 2*MaxMaxSize + 4096

// Image is what a Type 4 tag holds, as the simulator keeps it with the
// card it printed: the UID, the capability container file and the whole
// NDEF file (its 2-byte length field, the message, and the unused rest).
type Image struct {
	UID  []byte
	CC   []byte
	NDEF []byte
}

// imageJSON is the file format: lowercase hex strings.
type imageJSON struct {
	Format string `json:"format"`
	UID    string `json:"uid"`
	CC     string `json:"cc"`
	NDEF   string `json:"ndef_file"`
}

// Marshal writes the image as JSON: {"format": ImageFormat, "uid", "cc",
// "ndef_file"}, each value lowercase hex.
func (im Image) Marshal() ([]byte, error) {
	return json.MarshalIndent(imageJSON{
		Format: ImageFormat,
		UID:    hex.EncodeToString(im.UID),
		CC:     hex.EncodeToString(im.CC),
		NDEF:   hex.EncodeToString(im.NDEF),
	}, "", "  ")
}

// ParseImage reads a chip image strictly: the format name, no unknown
// field, hex values, a valid CC, an NDEF file exactly as large as the CC
// says with a length field that fits it.
func ParseImage(b []byte) (Image, error) {
	var im Image
	if len(b) > maxImage {
		return im, fmt.Errorf("t4t: chip image: %d bytes, more than %d", len(b), maxImage)
	}
	var j imageJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return im, fmt.Errorf("t4t: chip image: %w", err)
	}
	if dec.More() {
		return im, errors.New("t4t: chip image: data after the JSON object")
	}
	if j.Format != ImageFormat {
		return im, fmt.Errorf("t4t: chip image: format %q, want %q", j.Format, ImageFormat)
	}
	for _, f := range []struct {
		name string
		s    string
		out  *[]byte
	}{{"uid", j.UID, &im.UID}, {"cc", j.CC, &im.CC}, {"ndef_file", j.NDEF, &im.NDEF}} {
		v, err := hex.DecodeString(f.s)
		if err != nil {
			return im, fmt.Errorf("t4t: chip image: %s: %w", f.name, err)
		}
		*f.out = v
	}
	if len(im.UID) > 10 {
		return im, fmt.Errorf("t4t: chip image: uid: %d bytes, more than 10", len(im.UID))
	}
	cc, err := ParseCC(im.CC)
	if err != nil {
		return im, fmt.Errorf("t4t: chip image: %w", err)
	}
	if len(im.NDEF) != int(cc.MaxSize) {
		return im, fmt.Errorf("t4t: chip image: ndef_file: %d bytes, the CC says %d", len(im.NDEF), cc.MaxSize)
	}
	if _, err := MessageFromFile(im.NDEF); err != nil {
		return im, fmt.Errorf("t4t: chip image: %w", err)
	}
	return im, nil
}

// Message returns the NDEF message the image's NDEF file holds.
func (im Image) Message() ([]byte, error) { return MessageFromFile(im.NDEF) }

// Locked reports whether the image's CC says the NDEF file is read-only.
func (im Image) Locked() bool {
	cc, err := ParseCC(im.CC)
	return err == nil && cc.Locked()
}

// MessageFromFile returns the NDEF message of an NDEF file: the 2-byte
// big-endian length field NLEN and NLEN bytes of message; the rest of the
// file is ignored. An empty file (NLEN 0) is an error.
func MessageFromFile(f []byte) ([]byte, error) {
	if len(f) < 2 {
		return nil, fmt.Errorf("t4t: NDEF file: %d bytes, want at least 2 (NLEN)", len(f))
	}
	n := int(binary.BigEndian.Uint16(f))
	switch {
	case n == 0:
		return nil, errors.New("t4t: NDEF file: NLEN 0: the chip holds no message")
	case n > len(f)-2:
		return nil, fmt.Errorf("t4t: NDEF file: NLEN %d, but only %d bytes follow", n, len(f)-2)
	}
	return f[2 : 2+n], nil
}
