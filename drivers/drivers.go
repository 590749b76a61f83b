// Package drivers defines what a print worker needs from a card printer, the
// typed errors printers report, the byte links drivers talk over, and a
// registry that opens printers by URI.
//
// drivers knows nothing of NATS or jobs. Command languages live in
// subpackages (drivers/evolis), transports in others (drivers/serial,
// drivers/usb, drivers/tcp), and drivers/sim is a simulated printer.
package drivers

import (
	"context"

	"github.com/cityid/printerd/card"
)

// Printer is a card printer as a print worker sees it.
//
// Every method honours ctx and returns within a bounded time even when the
// printer stops answering. Errors from a printer are *Error values (or wrap
// one) so that callers can match codes with errors.Is and ask AfterFeed.
type Printer interface {
	// Info reads the printer's identity.
	Info(ctx context.Context) (Info, error)
	// Status reads the printer's current state.
	Status(ctx context.Context) (Status, error)
	// Counters reads the printer's counters.
	Counters(ctx context.Context) (Counters, error)
	// Print prints one card and ejects it. On failure the error tells,
	// through AfterFeed, whether a card had been fed (and is spoiled).
	Print(ctx context.Context, c card.Card) error
	// Clean runs the printer's cleaning sequence.
	Clean(ctx context.Context) error
	// Reset soft-resets the printer and clears its error state.
	Reset(ctx context.Context) error
	// Probe reads what the printer says of itself for reconciliation:
	// serial, card counters, card position (see Snapshot). It moves
	// nothing.
	Probe(ctx context.Context) (Snapshot, error)
	// Reject moves a card left inside the printer to its reject tray,
	// where it is counted as rejected (spoiled). With no card inside it
	// does nothing and returns nil.
	Reject(ctx context.Context) error
}

// Info is a printer's identity.
type Info struct {
	Model    string      `json:"model"`
	Serial   string      `json:"serial"`
	Firmware string      `json:"firmware"`
	Ribbon   card.Ribbon `json:"ribbon,omitempty"`
}

// Status is a printer's state. Ready means a card can be printed now;
// otherwise Problems says why not.
type Status struct {
	Ready    bool   `json:"ready"`
	Busy     bool   `json:"busy"`
	Problems []Code `json:"problems,omitempty"`
	// RibbonLeft is the number of cards the ribbon can still print, or -1 if unknown.
	RibbonLeft int `json:"ribbon_left"`
}

// Counters are the printer's lifetime counters.
type Counters struct {
	Printed       int `json:"printed"`
	SinceCleaning int `json:"since_cleaning"`
	Cleanings     int `json:"cleanings"`
	Rejected      int `json:"rejected"`
}
