// Package pcsc reaches a card printer's chip encoder as the host sees it:
// a PC/SC smart-card reader served by pcscd, through
// github.com/ebfe/scard (pcsc-lite's libpcsclite). It lists readers, waits
// for a chip at a named reader, connects, transmits APDUs, and implements
// chip.Encoder by writing an NFC Forum Type 4 tag (drivers/chip/t4t).
//
// Every call honours its context: waiting for a chip is a
// SCardGetStatusChange that SCardCancel ends when the context does, and a
// Transmit whose context ends returns at once, leaving the card unusable
// (Close then waits for the reader driver to finish the exchange).
//
// Errors are *chip.Error values: Offline when pcscd cannot be reached,
// NoReader for an unknown reader, NoChip when no chip shows up in time,
// Removed when the chip stops answering.
package pcsc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/cityid/printerd/drivers/chip"
	"github.com/cityid/printerd/drivers/chip/t4t"
)

// classify turns a PC/SC error into a *chip.Error for op. A cancelled
// wait becomes ctx's error.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var se scard.Error
	if !errors.As(err, &se) {
		return &chip.Error{Op: op, Code: chip.Unknown, Err: err}
	}
	code := chip.Unknown
	switch se {
	case scard.ErrCancelled:
		if ctx.Err() != nil {
			return &chip.Error{Op: op, Code: chip.NoChip, Err: ctx.Err()}
		}
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrNoReadersAvailable, scard.ErrSharingViolation:
		code = chip.Offline // pcscd is gone, or another program holds the reader
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable:
		code = chip.NoReader
	case scard.ErrTimeout, scard.ErrNoSmartcard:
		code = chip.NoChip
	case scard.ErrRemovedCard, scard.ErrResetCard, scard.ErrNotTransacted, scard.ErrCommError,
		scard.ErrUnresponsiveCard, scard.ErrUnpoweredCard:
		code = chip.Removed
	}
	return &chip.Error{Op: op, Code: code, Err: fmt.Errorf("pcsc: %w", err)}
}

// establish opens a PC/SC context and arranges for ctx's end to cancel
// its blocking calls. release undoes both.
func establish(ctx context.Context, op string) (sc *scard.Context, release func(), err error) {
	sc, err = scard.EstablishContext()
	if err != nil {
		return nil, nil, classify(ctx, op, err)
	}
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		sc.Cancel()
	})
	return sc, func() {
		if !stop() {
			<-cancelled // Cancel must return before the context goes
		}
		sc.Release()
	}, nil
}

// Readers lists the PC/SC readers pcscd knows, in its order. No reader is
// an empty list, not an error.
func Readers(ctx context.Context) ([]string, error) {
	sc, release, err := establish(ctx, "list readers")
	if err != nil {
		return nil, err
	}
	defer release()
	r, err := sc.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(ctx, "list readers", err)
	}
	return r, nil
}

// MatchReader picks the reader a printer's encoder is: the one named want
// (exactly, or the only reader whose name starts with want), or, when want
// is empty, the only reader there is.
func MatchReader(readers []string, want string) (string, error) {
	if want == "" {
		if len(readers) == 1 {
			return readers[0], nil
		}
		return "", &chip.Error{Op: "match reader", Code: chip.NoReader,
			Err: fmt.Errorf("pcsc: %d readers and none named: set the reader in the printer's URI", len(readers))}
	}
	if slices.Contains(readers, want) {
		return want, nil
	}
	var found []string
	for _, r := range readers {
		if strings.HasPrefix(r, want) {
			found = append(found, r)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return "", &chip.Error{Op: "match reader", Code: chip.NoReader,
		Err: fmt.Errorf("pcsc: reader %q: %d readers match it among %d", want, len(found), len(readers))}
}

// WaitCard waits until reader sees a chip that answers (present, not
// mute), or ctx ends (a *chip.Error with code NoChip).
func WaitCard(ctx context.Context, reader string) error {
	sc, release, err := establish(ctx, "wait for chip")
	if err != nil {
		return err
	}
	defer release()
	return waitCard(ctx, sc, reader)
}

func waitCard(ctx context.Context, sc *scard.Context, reader string) error {
	const op = "wait for chip"
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for {
		if err := ctx.Err(); err != nil {
			return &chip.Error{Op: op, Code: chip.NoChip, Err: err}
		}
		timeout := time.Duration(-1) // infinite: ctx cancels it
		if d, ok := ctx.Deadline(); ok {
			timeout = max(time.Until(d), time.Millisecond)
		}
		if err := sc.GetStatusChange(rs, timeout); err != nil {
			return classify(ctx, op, err)
		}
		ev := rs[0].EventState
		switch {
		case ev&(scard.StateUnknown|scard.StateIgnore) != 0:
			return &chip.Error{Op: op, Code: chip.NoReader, Err: fmt.Errorf("pcsc: reader %q is not there", reader)}
		case ev&scard.StatePresent != 0 && ev&scard.StateMute == 0:
			return nil
		}
		rs[0].CurrentState = ev &^ scard.StateChanged
	}
}

// Card is a connection to the chip at a reader, held exclusively. It is a
// chip.Transmitter. Close it.
type Card struct {
	sc      *scard.Context
	release func()
	card    *scard.Card
	atr     []byte

	mu     sync.Mutex
	busy   sync.WaitGroup // a Transmit in the reader driver
	broken error          // set when a Transmit was abandoned
	closed bool
}

// Connect waits for a chip at reader (until ctx ends) and connects to it
// exclusively.
func Connect(ctx context.Context, reader string) (*Card, error) {
	return connect(ctx, ctx, reader)
}

// connect is Connect waiting for the chip only until wait ends (wait
// derives from ctx).
func connect(ctx, wait context.Context, reader string) (*Card, error) {
	sc, release, err := establish(ctx, "connect")
	if err != nil {
		return nil, err
	}
	if err := waitCard(wait, sc, reader); err != nil {
		release()
		return nil, err
	}
	card, err := sc.Connect(reader, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		release()
		return nil, classify(ctx, "connect", err)
	}
	c := &Card{sc: sc, release: release, card: card}
	if st, err := card.Status(); err == nil {
		c.atr = st.Atr
	}
	return c, nil
}

// ATR returns the chip's answer to reset as the reader reported it.
func (c *Card) ATR() []byte { return slices.Clone(c.atr) }

// Transmit sends one command APDU and returns the response APDU. When ctx
// ends first it returns at once and the card is unusable from then on.
func (c *Card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, &chip.Error{Op: "transmit", Code: chip.Removed, Err: errors.New("pcsc: card closed")}
	case c.broken != nil:
		c.mu.Unlock()
		return nil, &chip.Error{Op: "transmit", Code: chip.Removed, Err: c.broken}
	}
	if err := ctx.Err(); err != nil {
		c.mu.Unlock()
		return nil, &chip.Error{Op: "transmit", Code: chip.Removed, Err: err}
	}
	c.busy.Add(1)
	c.mu.Unlock()
	type result struct {
		resp []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer c.busy.Done()
		r, err := c.card.Transmit(apdu)
		done <- result{r, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, classify(ctx, "transmit", r.err)
		}
		return r.resp, nil
	case <-ctx.Done():
		c.mu.Lock()
		c.broken = fmt.Errorf("pcsc: an exchange was abandoned: %w", ctx.Err())
		c.mu.Unlock()
		return nil, &chip.Error{Op: "transmit", Code: chip.Removed, Err: ctx.Err()}
	}
}

// UID reads the chip's UID with the reader's GET DATA command; nil when
// the reader or chip does not give one.
func (c *Card) UID(ctx context.Context) ([]byte, error) { return t4t.ReadUID(ctx, c) }

// Close waits for an abandoned exchange to finish, disconnects leaving the
// chip powered as it is, and releases the PC/SC context. It is safe to
// call twice.
func (c *Card) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.busy.Wait()
	err := c.card.Disconnect(scard.LeaveCard)
	c.release()
	if err != nil && !errors.Is(err, scard.ErrRemovedCard) && !errors.Is(err, scard.ErrInvalidHandle) {
		return classify(context.Background(), "disconnect", err)
	}
	return nil
}

var _ chip.Transmitter = (*Card)(nil)

// WaitRemoved waits until reader holds no chip (the card has left the
// station). When ctx ends first the error is a *chip.Error with code
// Unknown wrapping context.DeadlineExceeded or ctx's error.
func WaitRemoved(ctx context.Context, reader string) error {
	const op = "wait for chip removal"
	sc, release, err := establish(ctx, op)
	if err != nil {
		return err
	}
	defer release()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for {
		if err := ctx.Err(); err != nil {
			return &chip.Error{Op: op, Code: chip.Unknown, Err: err}
		}
		timeout := time.Duration(-1)
		if d, ok := ctx.Deadline(); ok {
			timeout = max(time.Until(d), time.Millisecond)
		}
		if err := sc.GetStatusChange(rs, timeout); err != nil {
			if errors.Is(err, scard.ErrTimeout) || errors.Is(err, scard.ErrCancelled) {
				cause := ctx.Err()
				if cause == nil {
					cause = context.DeadlineExceeded
				}
				return &chip.Error{Op: op, Code: chip.Unknown, Err: cause}
			}
			return classify(ctx, op, err)
		}
		ev := rs[0].EventState
		switch {
		case ev&(scard.StateUnknown|scard.StateIgnore) != 0:
			return &chip.Error{Op: op, Code: chip.NoReader, Err: fmt.Errorf("pcsc: reader %q is not there", reader)}
		case ev&scard.StateEmpty != 0:
			return nil
		}
		rs[0].CurrentState = ev &^ scard.StateChanged
	}
}
