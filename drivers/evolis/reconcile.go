package evolis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cityid/printerd/drivers"
)

// Probe reads the serial number (Rsn), the printed and rejected counters
// (Rco;p, Rco;r) and the card position (Rlr;p: OK no card, CARD, SMART
// CARD, CONTACTLESS CARD). A model without a rejected counter reports -1.
// During a Print it waits for the card like every other command.
func (p *Printer) Probe(ctx context.Context) (drivers.Snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := drivers.Snapshot{Rejected: -1, Card: drivers.CardNone}
	v, err := p.query(ctx, "probe", Command("Rsn"))
	if err != nil {
		return s, err
	}
	s.Serial = v
	for _, f := range []struct {
		letter string
		dst    *int
	}{{CounterPrinted, &s.Printed}, {CounterRejected, &s.Rejected}} {
		v, err := p.query(ctx, "probe", Command("Rco", f.letter))
		if err != nil {
			if drivers.CodeOf(err) == drivers.BadCommand && f.letter == CounterRejected {
				continue
			}
			return s, err
		}
		n, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || n < 0 {
			return s, &drivers.Error{Op: "probe Rco", Code: drivers.Protocol, Feed: drivers.BeforeFeed,
				Err: fmt.Errorf("evolis: counter %s reply is not a count: %w", f.letter, drivers.Protocol)}
		}
		*f.dst = n
	}
	v, err = p.query(ctx, "probe", Command("Rlr", "p"))
	if err != nil {
		return s, err
	}
	switch u := strings.ToUpper(strings.TrimSpace(v)); u {
	case "OK":
	case "CARD":
		s.Card, s.Station = drivers.CardInside, "print"
	case "SMART CARD":
		s.Card, s.Station = drivers.CardInside, "smart"
	case "CONTACTLESS CARD":
		s.Card, s.Station = drivers.CardInside, "contactless"
	default:
		return s, &drivers.Error{Op: "probe Rlr", Code: drivers.Protocol, Feed: drivers.BeforeFeed,
			Err: fmt.Errorf("evolis: card position reply is not OK, CARD, SMART CARD or CONTACTLESS CARD: %w", drivers.Protocol)}
	}
	return s, nil
}

// Reject sends the card in the printer to the reject tray (Ser), which
// also clears a latched error such as a jam; the printer counts it in
// Rco;r. With no card inside the printer answers OK and nothing moves.
func (p *Printer) Reject(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.motion(ctx, "reject", Command("Ser"), drivers.AfterFeed)
}
