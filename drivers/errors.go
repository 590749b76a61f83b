package drivers

import (
	"errors"
	"fmt"
)

// Code classifies a printer problem. A Code is itself an error so that
// callers can write errors.Is(err, drivers.CardJam).
type Code int

// Printer problem codes.
const (
	Unknown       Code = iota // an error the driver could not classify
	Offline                   // no answer, link down, device gone
	Timeout                   // a read timed out
	RibbonOut                 // ribbon ended or missing
	RibbonLow                 // ribbon nearly ended (a warning in Status)
	FeederEmpty               // no card to feed
	CoverOpen                 // cover open
	CardJam                   // card stuck in the printer
	NeedsCleaning             // the printer refuses to print until cleaned
	HopperFull                // output hopper full
	HeadError                 // print head problem
	BadCommand                // the printer rejected a command or parameter
	Protocol                  // the printer's reply broke the protocol
	MagError                  // magnetic encoding or verify failed
	// BadConfig: the printer's URI or this host's setup is wrong, so opening
	// it again cannot succeed until someone changes the configuration: a
	// malformed URI or parameter, a host name that does not resolve, a
	// device file that does not exist, permission denied. A transport
	// returns Offline instead when the printer may come (back): a refused
	// or unreachable connection, an unplugged USB printer, a port held
	// by another program.
	BadConfig
	// EncodeFailed: the card's chip or stripe could not be written or did
	// not read back as written. The card is spoiled: the driver has sent
	// it to the reject tray, and it is never printed on as if good.
	EncodeFailed
)

var codeNames = [...]string{
	Unknown: "unknown", Offline: "offline", Timeout: "timeout", RibbonOut: "ribbon-out",
	RibbonLow: "ribbon-low", FeederEmpty: "feeder-empty", CoverOpen: "cover-open",
	CardJam: "card-jam", NeedsCleaning: "needs-cleaning", HopperFull: "hopper-full",
	HeadError: "head-error", BadCommand: "bad-command", Protocol: "protocol", MagError: "mag-error",
	BadConfig: "bad-config", EncodeFailed: "encode-failed",
}

// String returns the code's stable kebab-case name, used in events and status.
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error makes a Code usable as an errors.Is target.
func (c Code) Error() string { return "drivers: " + c.String() }

// MarshalText writes the code's name.
func (c Code) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a code's name.
func (c *Code) UnmarshalText(b []byte) error {
	for i, n := range codeNames {
		if n == string(b) {
			*c = Code(i)
			return nil
		}
	}
	return fmt.Errorf("drivers: unknown problem code %q", b)
}

// Feed says whether a failed operation had fed a card.
type Feed int

// Feed values. The zero value is FeedUnknown, which callers must treat as
// "a card may have been fed": never print the same job again automatically.
const (
	FeedUnknown Feed = iota
	BeforeFeed       // no card moved: safe to retry the job
	AfterFeed        // a card was fed and is spoiled
)

// Error is a printer failure: what was being done, the problem code, whether
// a card had been fed, and the underlying cause.
type Error struct {
	Op   string // what the driver was doing, e.g. "print", "status"
	Code Code
	Feed Feed
	Err  error // the cause, e.g. the printer's reply or an I/O error; may be nil
}

func (e *Error) Error() string {
	msg := "drivers: " + e.Op + ": " + e.Code.String()
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

// CodeOf returns the problem code of err, or Unknown.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return Unknown
}

// Fed reports whether err may have spoiled a card: true unless the error
// says for certain that no card had been fed. A nil error returns false.
func Fed(err error) bool {
	if err == nil {
		return false
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Feed != BeforeFeed
	}
	return true
}

// String names a Feed for reasons and logs: before-feed, after-feed or
// feed-unknown.
func (f Feed) String() string {
	switch f {
	case BeforeFeed:
		return "before-feed"
	case AfterFeed:
		return "after-feed"
	}
	return "feed-unknown"
}
