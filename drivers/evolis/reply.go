package evolis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cityid/printerd/drivers"
)

// ACK and NACK are the bytes a printer configured with Pcom;...;ACK/NACK
// answers with; a NACK is followed by one code character.
const (
	ACK  = 0x06
	NACK = 0x15
)

// maxReply bounds one reply; a longer answer is a protocol error (garbage on
// the line), never an unbounded buffer.
const maxReply = 1024

// errorStrings maps the printer's error replies to problem codes. The
// misspellings are the printer's own.
var errorStrings = map[string]drivers.Code{
	"ERROR":              drivers.Unknown,
	"ERROR CDE":          drivers.BadCommand,
	"ERROR PARAMETRES":   drivers.BadCommand,
	"ERROR TIME OUT":     drivers.Timeout,
	"NEED CLEANING":      drivers.NeedsCleaning,
	"ERR NEED CLEANING":  drivers.NeedsCleaning,
	"ERROR HOPPER":       drivers.HopperFull,
	"HOPPER FULL":        drivers.HopperFull,
	"HOPPER DOOR":        drivers.CoverOpen,
	"ERROR HEAD":         drivers.HeadError,
	"COVER OPEN":         drivers.CoverOpen,
	"FEEDER EMPTY":       drivers.FeederEmpty,
	"NO CARD":            drivers.FeederEmpty,
	"ERR CARD":           drivers.CardJam,
	"CARD JAM":           drivers.CardJam,
	"ERROR RIBBON":       drivers.RibbonOut,
	"ERROR CHECKSUM":     drivers.Protocol,
	"ERROR FLASH UNKNOW": drivers.Unknown,
	"OPT NOT AVAILABLE":  drivers.BadCommand,
	"ERROR MAG":          drivers.MagError,
	"ERROR MAG DATA":     drivers.MagError,
	"ERROR MAG CHECKSUM": drivers.MagError,
	"ERROR UNKNOW":       drivers.Unknown,
}

// nackCodes maps the code after a NACK to a problem code.
var nackCodes = map[byte]drivers.Code{
	'1': drivers.BadCommand,
	'2': drivers.BadCommand,
	'T': drivers.Timeout,
	'C': drivers.CoverOpen,
	'F': drivers.FeederEmpty,
	'R': drivers.RibbonOut,
	'K': drivers.MagError,
	'D': drivers.MagError,
	'W': drivers.MagError,
}

// ReplyError is a printer's error reply: the text it sent and the problem
// code it maps to. It is the cause (Err) inside a *drivers.Error.
type ReplyError struct {
	Reply string
	Code  drivers.Code
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("evolis: printer replied %q", e.Reply)
}

// Is matches a drivers.Code target.
func (e *ReplyError) Is(target error) bool {
	c, ok := target.(drivers.Code)
	return ok && c == e.Code
}

// ParseReply turns the raw bytes of one reply into its text. Leading NULs
// and trailing NUL and CR bytes are stripped. An ACK byte reads as "OK". The
// result's error is a *ReplyError when the printer answered with an error
// string or a NACK, and a protocol error (wrapping drivers.Protocol) when the
// bytes are not a reply at all: empty, too long, or not printable ASCII.
func ParseReply(b []byte) (string, error) {
	b = trimNULCR(b)
	if len(b) == 0 {
		return "", fmt.Errorf("evolis: empty reply: %w", drivers.Protocol)
	}
	if len(b) > maxReply {
		return "", fmt.Errorf("evolis: reply of %d bytes is longer than %d: %w", len(b), maxReply, drivers.Protocol)
	}
	switch b[0] {
	case ACK:
		if len(b) != 1 {
			return "", fmt.Errorf("evolis: %d unexpected bytes after ACK: %w", len(b)-1, drivers.Protocol)
		}
		return "OK", nil
	case NACK:
		if len(b) != 2 {
			return "", fmt.Errorf("evolis: NACK must be followed by exactly one code byte, got %d: %w", len(b)-1, drivers.Protocol)
		}
		c, ok := nackCodes[b[1]]
		if !ok {
			return "", fmt.Errorf("evolis: NACK with unknown code byte 0x%02x: %w", b[1], drivers.Protocol)
		}
		return "", &ReplyError{Reply: "NACK " + string(b[1]), Code: c}
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("evolis: reply byte %d is 0x%02x, not printable ASCII: %w", i, c, drivers.Protocol)
		}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("evolis: reply of %d blanks: %w", len(b), drivers.Protocol)
	}
	if c, isErr := Classify(s); isErr {
		return s, &ReplyError{Reply: s, Code: c}
	}
	return s, nil
}

// Classify reports whether a reply text is one of the printer's error
// strings, and its problem code. Unlisted replies starting with "ERR" are
// errors of code Unknown.
func Classify(reply string) (drivers.Code, bool) {
	r := strings.ToUpper(strings.TrimSpace(reply))
	if c, ok := errorStrings[r]; ok {
		return c, true
	}
	if strings.HasPrefix(r, "ERR") {
		return drivers.Unknown, true
	}
	return drivers.Unknown, false
}

func trimNULCR(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == 0 || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// parseVolts reads a sensor reply such as "5,00 Volts" (the printer writes a
// decimal comma).
func parseVolts(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("evolis: empty sensor reply: %w", drivers.Protocol)
	}
	v, err := strconv.ParseFloat(strings.Replace(f[0], ",", ".", 1), 64)
	if err != nil {
		return 0, fmt.Errorf("evolis: sensor reply %q is not a voltage: %w", s, drivers.Protocol)
	}
	return v, nil
}
