package magicard

import (
	"context"

	"github.com/cityid/printerd/drivers"
)

// unsureCard is what the text protocol cannot tell a reconciliation.
const unsureCard = "card position: the Magicard text protocol driver reads no card sensor, so a card without an error may be inside or still printing; no rejected-card counter"

// Probe reads REQ,INF: the serial number, the card counter (field 9) and
// the error fields. The text protocol has no card-position read this
// driver trusts and no rejected counter: Card is CardInside when the
// printer reports an error raised with a card fed (a jam, a magnetic
// error), CardUnknown otherwise, Rejected is -1 and Unsure says so.
func (p *Printer) Probe(ctx context.Context) (drivers.Snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inf, err := p.inf(ctx, "probe")
	if err != nil {
		return drivers.Snapshot{}, err
	}
	s := drivers.Snapshot{Serial: inf.Serial, Printed: inf.Printed, Rejected: -1, Card: drivers.CardUnknown, Unsure: unsureCard}
	if inf.Major != ErrNone {
		s.Error = CodeOf(inf.Major).String()
		s.ErrorFeed = feedOf(inf.Major)
		if s.ErrorFeed == drivers.AfterFeed {
			s.Card = drivers.CardInside
		}
	}
	return s, nil
}

// Reject discards a card left inside: RST, which puts it in the reject
// tray (so the simulator; on hardware where RST sends it is unknown, see
// doc.go), and waits until the printer answers with no error.
func (p *Printer) Reject(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maintenance(ctx, "reject", CommandRST(), drivers.AfterFeed, resetWait(p.opts), func(inf Inf) bool { return inf.Major == ErrNone })
}
