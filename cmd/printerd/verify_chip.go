package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cityid/printerd/drivers/chip/t4t"
	"github.com/cityid/printerd/layout/credential"
)

// maxChipFile bounds what verify --chip reads: a chip image of the largest
// Type 4 tag NDEF file, in hex.
const maxChipFile = 256 << 10

// verifyChipFlags adds verify's --chip and --can flags.
func verifyChipFlags(fs *flag.FlagSet) (chipPath, can *string) {
	chipPath = fs.String("chip", "", "the card's chip: a chip image (printerd-chip-image/1 JSON, as the simulator keeps it), an NDEF file (2-byte length and message) or an NDEF message")
	can = fs.String("can", "", "the card access number printed on the card (12 digits; spaces and hyphens are ignored); the chip does not open without it")
	return chipPath, can
}

// verifyInputs counts the inputs given.
func verifyInputs(inputs ...string) int {
	n := 0
	for _, s := range inputs {
		if s != "" {
			n++
		}
	}
	return n
}

// verifyChip reads a chip file, opens its credential with the access
// number and returns the signed barcode text it carries, which verify then
// checks like --text. Errors never hold the credential or the number.
func verifyChip(path, can string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("chip: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxChipFile+1))
	if err != nil {
		return "", fmt.Errorf("chip %s: %w", path, err)
	}
	if len(b) > maxChipFile {
		return "", fmt.Errorf("chip %s: more than %d bytes: not a chip image or NDEF file", path, maxChipFile)
	}
	msg, err := chipMessage(b)
	if err != nil {
		return "", fmt.Errorf("chip %s: %w", path, err)
	}
	text, err := credential.Decode(msg, can)
	if err != nil {
		return "", fmt.Errorf("chip %s: %w", path, err)
	}
	return text, nil
}

// chipMessage finds the NDEF message in a chip file: a JSON chip image
// (starts with "{"), an NDEF message (its first record header has the MB
// bit, 0x80, set) or an NDEF file (a 2-byte length below 0x8000, then the
// message).
func chipMessage(b []byte) ([]byte, error) {
	switch t := bytes.TrimLeft(b, " \t\r\n"); {
	case len(t) > 0 && t[0] == '{':
		im, err := t4t.ParseImage(t)
		if err != nil {
			return nil, err
		}
		return im.Message()
	case len(b) > 0 && b[0]&0x80 != 0:
		return b, nil
	}
	return t4t.MessageFromFile(b)
}
