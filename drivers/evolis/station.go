package evolis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/chip"
)

// encodeSteps adds what the card's encodings need to its print steps:
// for a chip, the move to the encoder station (Sis for the contacts, Sic
// for the contactless station), which feeds the card, followed by the
// encoding through Options.Encoder; for a stripe, the read-back (Smr, then
// Rmb per track) compared with what Smw wrote. A chip card on a printer
// without an encoder is refused (before feed).
func (p *Printer) encodeSteps(c card.Card, steps []step) ([]step, error) {
	for i := range steps {
		if commandName(steps[i].cmd) == "Smw" {
			steps[i].check = p.verifyMag(c.Mag)
		}
	}
	if c.Chip == nil {
		return steps, nil
	}
	if p.opts.Encoder == nil {
		return nil, errors.New("evolis: the card has a chip to encode but the printer has no chip encoder (PC/SC) configured")
	}
	if len(c.Chip.NDEF) == 0 {
		return nil, errors.New("evolis: the card's chip payload is empty")
	}
	var station string
	switch c.Chip.Interface {
	case card.Contactless, "":
		station = "Sic"
	case card.Contact:
		station = "Sis"
	default:
		return nil, fmt.Errorf("evolis: chip interface %q: want contactless or contact", c.Chip.Interface)
	}
	for i := range steps {
		steps[i].feeds = false
	}
	ch := c.Chip
	enc := step{cmd: Command(station), slow: true, feeds: true, check: func(ctx context.Context) error {
		res, err := p.opts.Encoder.Encode(ctx, p.opts.Reader, ch.NDEF)
		if err != nil {
			return err
		}
		if ch.LinkUID {
			ch.UID = res.UID
		}
		return nil
	}}
	// after Pr and Ss: the card is fed to the station first
	out := make([]step, 0, len(steps)+1)
	out = append(out, steps[:2]...)
	out = append(out, enc)
	return append(out, steps[2:]...), nil
}

// ErrMagReadBack is wrapped when a track read back differs from what was
// written (the error names the track, never its data).
var ErrMagReadBack = errors.New("evolis: magnetic track read back differs from what was written")

// verifyMag returns the stripe's read-back check: Smr reads the stripe,
// Rmb;n returns each written track, which must equal what Smw wrote.
func (p *Printer) verifyMag(mag [3]string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		reply, err := p.exchange(ctx, Command("Smr"), p.opts.MotionTimeout)
		if err == nil && reply != "OK" {
			err = fmt.Errorf("evolis: Smr answered %q, want OK: %w", reply, drivers.Protocol)
		}
		if err != nil {
			return fmt.Errorf("evolis: magnetic read: %w", err)
		}
		for i, want := range mag {
			if want == "" {
				continue
			}
			got, err := p.exchange(ctx, Command("Rmb", strconv.Itoa(i+1)), p.opts.ReplyTimeout)
			if err != nil {
				return fmt.Errorf("evolis: magnetic track %d read back: %w", i+1, err)
			}
			if got != want {
				return fmt.Errorf("track %d: %w", i+1, ErrMagReadBack)
			}
		}
		return nil
	}
}

// spoil ends a card whose encoding failed (cause): the card goes to the
// reject tray (Ser) and the error is EncodeFailed, AfterFeed. The card is
// never printed on.
func (p *Printer) spoil(ctx context.Context, label, cmd string, cause error) error {
	err := fmt.Errorf("evolis: encoding after %s failed: %w", cmd, cause)
	reply, rerr := p.exchange(ctx, Command("Ser"), p.opts.MotionTimeout)
	if rerr == nil && reply != "OK" {
		rerr = fmt.Errorf("evolis: Ser answered %q, want OK: %w", reply, drivers.Protocol)
	}
	if rerr != nil {
		if needsReset(rerr) && ctx.Err() == nil {
			rerr = errors.Join(rerr, p.resetLink(ctx, rerr))
		}
		err = errors.Join(err, fmt.Errorf("evolis: rejecting the spoiled card: %w", rerr))
	}
	p.opts.Logger.Debug("evolis: card spoiled by its encoding", "label", label, "after", cmd)
	return &drivers.Error{Op: "print encode", Code: drivers.EncodeFailed, Feed: drivers.AfterFeed, Err: err}
}

// encoderReady asks an encoder that can tell (chip.Checker) whether it
// reaches its reader before a chip card is fed.
func (p *Printer) encoderReady(ctx context.Context, c card.Card) error {
	if c.Chip == nil {
		return nil
	}
	ch, ok := p.opts.Encoder.(chip.Checker)
	if !ok {
		return nil
	}
	if err := ch.Ready(ctx, p.opts.Reader); err != nil {
		return fmt.Errorf("evolis: chip encoder not ready: %w", err)
	}
	return nil
}
