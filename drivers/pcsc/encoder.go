package pcsc

import (
	"context"
	"time"

	"github.com/cityid/printerd/drivers/chip"
	"github.com/cityid/printerd/drivers/chip/t4t"
)

// Options configure an Encoder. The zero value waits up to
// DefaultCardTimeout for a chip.
type Options struct {
	// CardTimeout bounds the wait for a chip at the station after the card
	// was moved there; 0 means DefaultCardTimeout. A chip that does not
	// appear in time is a NoChip error (a spoiled card).
	CardTimeout time.Duration
}

// DefaultCardTimeout is how long an Encoder waits for a chip by default:
// pcscd polls a reader without hot-plug events about every 400 ms.
const DefaultCardTimeout = 3 * time.Second

// Encoder writes NDEF messages onto Type 4 tags through PC/SC. It is safe
// for concurrent use on different readers.
type Encoder struct {
	opts Options
}

// NewEncoder returns an Encoder.
func NewEncoder(opts Options) *Encoder {
	if opts.CardTimeout <= 0 {
		opts.CardTimeout = DefaultCardTimeout
	}
	return &Encoder{opts: opts}
}

// Encode finds the reader (MatchReader: the one named, the only one whose
// name starts with reader, or with reader empty the only reader there
// is), waits for the chip there, writes payload (an NDEF message) as
// its NDEF file, reads it back and compares, locks it where the chip
// allows and returns its UID (t4t.Encode). Errors are *chip.Error; Spoiled
// tells whether the card is to be rejected.
func (e *Encoder) Encode(ctx context.Context, reader string, payload []byte) (chip.Result, error) {
	readers, err := Readers(ctx)
	if err != nil {
		return chip.Result{}, err
	}
	if reader, err = MatchReader(readers, reader); err != nil {
		return chip.Result{}, err
	}
	wait, cancel := context.WithTimeout(ctx, e.opts.CardTimeout)
	card, err := connect(ctx, wait, reader)
	cancel()
	if err != nil {
		return chip.Result{}, err
	}
	defer card.Close()
	return t4t.Encode(ctx, card, payload)
}

var _ chip.Encoder = (*Encoder)(nil)

// Ready reports whether the encoder can reach reader now (pcscd answers
// and the reader is there), without waiting for a chip: drivers ask it
// before they feed a chip card, so that a missing encoder does not spoil
// card after card. Errors are *chip.Error with code NoReader or Offline.
func (e *Encoder) Ready(ctx context.Context, reader string) error {
	readers, err := Readers(ctx)
	if err != nil {
		return err
	}
	_, err = MatchReader(readers, reader)
	return err
}
