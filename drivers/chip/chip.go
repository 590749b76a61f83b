// Package chip is the vocabulary shared by the card printer's chip
// encoder (drivers/pcsc), the Type 4 tag protocol (drivers/chip/t4t) and
// the virtual chip the simulator presents (drivers/chip/vchip): the
// Encoder a print worker calls with the card at the encoder station, the
// link it talks over, and the typed errors that tell the worker whether the
// card is spoiled.
package chip

import (
	"context"
	"errors"
	"fmt"
)

// Encoder writes a payload onto the chip of the card that sits at the
// encoder station seen by reader (a PC/SC reader name), reads it back and
// compares, and locks it read-only where the chip allows.
//
// On failure the error is an *Error: Spoiled reports whether the card at
// the station must be rejected (chip missing, refusing writes, removed or
// different on read-back) rather than the encoder being unusable.
type Encoder interface {
	Encode(ctx context.Context, reader string, payload []byte) (Result, error)
}

// Checker is implemented by encoders that can tell, before a card is fed,
// whether they can reach their reader at all (pcscd up, reader present).
type Checker interface {
	Ready(ctx context.Context, reader string) error
}

// Result is what an encoding did.
type Result struct {
	// UID is the chip's unique identifier as the reader reports it (GET
	// DATA FF CA). Keep it only where the card is linked to another system.
	UID []byte
	// Locked says the chip's data is now read-only.
	Locked bool
	// Written is the number of bytes of the chip's data file written
	// (length field and payload).
	Written int
}

// Transmitter sends one command APDU to a chip and returns its response
// APDU (data and the two status bytes).
type Transmitter interface {
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
}

// Code classifies a chip encoding failure.
type Code int

// Chip problem codes.
const (
	Unknown      Code = iota // not classified
	NoChip                   // no chip answered at the station within the time-out
	NotSupported             // the chip has no NFC Forum Type 4 tag application
	WriteRefused             // the chip refused to be written (read-only, access denied)
	TooLarge                 // the payload does not fit the chip's data file
	Removed                  // the chip stopped answering in the middle of the exchange
	Mismatch                 // what was read back differs from what was written
	Protocol                 // the chip's answer broke the Type 4 tag protocol
	NoReader                 // the named reader does not exist
	Offline                  // the PC/SC service cannot be reached
)

var codeNames = [...]string{
	Unknown: "unknown", NoChip: "no-chip", NotSupported: "not-supported", WriteRefused: "write-refused",
	TooLarge: "too-large", Removed: "removed", Mismatch: "mismatch", Protocol: "protocol",
	NoReader: "no-reader", Offline: "offline",
}

// String returns the code's stable kebab-case name, used in events.
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error makes a Code usable as an errors.Is target.
func (c Code) Error() string { return "chip: " + c.String() }

// Error is a failed chip operation. It never holds the payload.
type Error struct {
	Op   string // what was being done, e.g. "write", "read back", "wait"
	Code Code
	SW   uint16 // the chip's status word when it answered with an error, else 0
	Err  error  // the cause; may be nil
}

func (e *Error) Error() string {
	msg := "chip: " + e.Op + ": " + e.Code.String()
	if e.SW != 0 {
		msg += fmt.Sprintf(" (status %04X)", e.SW)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches a Code target against e.Code.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// Spoiled reports whether the failure is the card's: every chip fault is
// (reject the card, count it, go on with the next job). NoReader and
// Offline are the encoder's: the card at the station is not good either,
// but the printer needs attention before the next card.
func (e *Error) Spoiled() bool { return e.Code != NoReader && e.Code != Offline }

// Spoiled reports whether err says the card at the station is spoiled (see
// Error.Spoiled). A nil error returns false; an error that is not an
// *Error counts as spoiled, because the chip's state is unknown.
func Spoiled(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Spoiled()
	}
	return true
}

// CodeOf returns the code of err, or Unknown.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Unknown
}
